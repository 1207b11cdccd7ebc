#include <doctest/doctest.h>

#include <string>

#include "base/password.hpp"

using pacsnode::constant_time_equal;
using pacsnode::hash_password;
using pacsnode::is_password_hash;
using pacsnode::process_digest;
using pacsnode::verify_password;

namespace {

// Made by libsodium 1.0.18's crypto_pwhash_str("s3cret", OPSLIMIT_INTERACTIVE,
// MEMLIMIT_INTERACTIVE) outside pacsnode, so that verification is not checked only against
// our own hash_password.
constexpr const char* kS3cretHash =
    "$argon2id$v=19$m=65536,t=2,p=1$1+g3StKrcCON8sPX7VMGYg$gPZDmRCsBfCsECoZ3V++dydXdpvv+qE8zXI7ijRKuY0";

}  // namespace

TEST_CASE("password: a hash made elsewhere verifies the right password only") {
  CHECK(is_password_hash(kS3cretHash));
  CHECK(verify_password(kS3cretHash, "s3cret"));
  CHECK_FALSE(verify_password(kS3cretHash, "s3cret "));
  CHECK_FALSE(verify_password(kS3cretHash, "S3cret"));
  CHECK_FALSE(verify_password(kS3cretHash, ""));
}

TEST_CASE("password: hash_password makes salted argon2id hashes in libsodium's format") {
  const std::string a = hash_password("correct horse");
  const std::string b = hash_password("correct horse");
  CHECK(a.rfind("$argon2id$v=19$m=65536,t=2,p=1$", 0) == 0);
  CHECK(a != b);  // a fresh salt each time
  CHECK(is_password_hash(a));
  CHECK(verify_password(a, "correct horse"));
  CHECK(verify_password(b, "correct horse"));
  CHECK_FALSE(verify_password(a, "correct horse battery"));
}

TEST_CASE("password: malformed hashes are recognised as such and never verify") {
  const std::string good = kS3cretHash;
  for (const std::string& bad :
       {std::string(), std::string("s3cret"), std::string("$argon2id$"), good.substr(0, good.size() - 10),
        "$argon2x$" + good.substr(10), std::string("$2b$12$abcdefghijklmnopqrstuuJ5r3aK6W1Qc1Jx0c9e1y5yq7u8C9vGa"),
        good + std::string(200, 'A'), good.substr(0, 20) + std::string(1, '\0') + good.substr(21)}) {
    INFO("hash: " << bad);
    CHECK_FALSE(is_password_hash(bad));
    CHECK_FALSE(verify_password(bad, "s3cret"));
  }
}

TEST_CASE("password: constant_time_equal is equality, whatever the lengths") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("s3cret", "s3cret"));
  CHECK_FALSE(constant_time_equal("s3cret", "s3creT"));
  CHECK_FALSE(constant_time_equal("s3cret", "s3cre"));   // a prefix
  CHECK_FALSE(constant_time_equal("s3cret", "s3crett"));  // an extension
  CHECK_FALSE(constant_time_equal("", "x"));
  CHECK_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));  // past a NUL
  CHECK(constant_time_equal(std::string(1000, 'x'), std::string(1000, 'x')));
}

TEST_CASE("password: process_digest is stable within the process and tells passwords apart") {
  CHECK(process_digest("s3cret") == process_digest("s3cret"));
  CHECK(process_digest("s3cret") != process_digest("s3cret2"));
  CHECK(process_digest("s3cret").size() == 32);
}
