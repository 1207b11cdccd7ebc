#pragma once
// Checks the DICOM User Identity (PS3.7 D.3.3.7) an association offers against the
// configured accounts: username and passcode (type 2) only, the passcode checked against an
// argon2 hash or, for accounts still configured in clear, compared in constant time.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/pdu.hpp"

namespace pacsnode::scp {

struct Credential {
  std::string username;
  std::string secret;       // hash_password's format, or the password itself when clear_text
  bool clear_text = false;
};

enum class IdentityVerdict {
  Accepted,
  Refused,  // no such user, wrong passcode, a type other than 2
  Busy,     // a hash had to be verified and max_concurrent verifications are already running
};

struct IdentityCheck {
  IdentityVerdict verdict = IdentityVerdict::Refused;
  std::string reason;  // for the log; names the user, never the passcode
};

class UserAuthenticator {
 public:
  using Verifier = std::function<bool(std::string_view hash, std::string_view candidate)>;

  // `max_concurrent`: argon2 verifications (each 64 MiB and ~90 ms of a core with
  // hash_password's parameters) that may run at once; an attempt beyond it is Busy at once
  // rather than queued, so that peers that know no password cannot occupy every thread that
  // calls check(). `verify` is verify_password unless a test substitutes one.
  UserAuthenticator(std::vector<Credential> users, unsigned max_concurrent, Verifier verify = {});

  // Thread-safe. Type 1 (username only) is always refused: every account has a passcode.
  // A passcode that verified once is remembered (as a process_digest) and later recognised
  // without argon2, so a modality that opens association after association pays once.
  IdentityCheck check(const net::UserIdentityRq& identity);

 private:
  struct Account {
    Credential credential;
    std::string verified;  // process_digest of the passcode that last verified; empty: none yet
  };
  enum class Verification { Match, Mismatch, Busy };
  Verification verify_bounded(std::string_view hash, std::string_view candidate);

  std::vector<Account> accounts_;
  const std::string* decoy_hash_ = nullptr;  // a hashed account's hash, verified for unknown names
  unsigned max_concurrent_;
  Verifier verify_;
  std::atomic<unsigned> in_flight_{0};
  std::mutex mutex_;  // guards Account::verified
};

}  // namespace pacsnode::scp
