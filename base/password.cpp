#include "base/password.hpp"

#include <array>
#include <cstring>
#include <optional>

#include <sodium.h>

#include "base/error.hpp"

namespace pacsnode {
namespace {

// sodium_init() is thread-safe and idempotent; the static makes it run once per process.
void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw Error(ErrorCode::Internal, "libsodium could not be initialised");
}

// The str functions read a NUL-terminated string from a crypto_pwhash_STRBYTES buffer: copy
// into one, refusing anything that does not fit (a valid hash always does).
using HashBuffer = std::array<char, crypto_pwhash_STRBYTES>;
std::optional<HashBuffer> to_buffer(std::string_view hash) {
  if (hash.size() >= crypto_pwhash_STRBYTES || hash.find('\0') != std::string_view::npos) return std::nullopt;
  HashBuffer buffer{};
  std::memcpy(buffer.data(), hash.data(), hash.size());
  return buffer;
}

using Digest = std::array<unsigned char, crypto_generichash_BYTES>;
Digest digest(std::string_view s) {
  Digest d{};
  crypto_generichash(d.data(), d.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(), nullptr, 0);
  return d;
}

}  // namespace

// Interactive, not moderate, limits: the hash is verified while an association is being
// decided, on a thread that runs the network, and moderate's limits cost ~590 ms of CPU and
// 256 MiB per verification on this project's machine against interactive's ~90 ms and 64 MiB.
// libsodium recommends interactive for online logins; 64 MiB still make GPU guessing costly.
std::string hash_password(std::string_view password) {
  ensure_sodium();
  HashBuffer out{};
  if (crypto_pwhash_str(out.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw Error(ErrorCode::OutOfResources, "cannot hash the password: out of memory");
  }
  return std::string(out.data());
}

bool is_password_hash(std::string_view hash) {
  ensure_sodium();
  const auto buffer = to_buffer(hash);
  // needs_rehash decodes the whole string: -1 means libsodium cannot read it; 0 or 1 only
  // say whether its parameters are the ones given.
  return buffer && crypto_pwhash_str_needs_rehash(buffer->data(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                  crypto_pwhash_MEMLIMIT_INTERACTIVE) != -1;
}

bool verify_password(std::string_view hash, std::string_view candidate) {
  ensure_sodium();
  const auto buffer = to_buffer(hash);
  return buffer && crypto_pwhash_str_verify(buffer->data(), candidate.data(), candidate.size()) == 0;
}

std::string process_digest(std::string_view password) {
  ensure_sodium();
  static const auto key = [] {
    std::array<unsigned char, crypto_generichash_KEYBYTES> k{};
    randombytes_buf(k.data(), k.size());
    return k;
  }();
  std::array<unsigned char, crypto_generichash_BYTES> d{};
  crypto_generichash(d.data(), d.size(), reinterpret_cast<const unsigned char*>(password.data()), password.size(),
                     key.data(), key.size());
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  ensure_sodium();
  const Digest da = digest(a);
  const Digest db = digest(b);
  return sodium_memcmp(da.data(), db.data(), da.size()) == 0;
}

}  // namespace pacsnode
