#pragma once
// Password hashes in libsodium's crypto_pwhash_str format ("$argon2id$v=19$m=65536,t=2,p=1$
// salt$hash"), and a constant-time comparison for the passwords still kept in clear. Shared by
// every door that authenticates users (DICOM User Identity, later HTTP); libsodium stays
// inside password.cpp.
#include <string>
#include <string_view>

namespace pacsnode {

// A fresh salted argon2id hash of `password` with libsodium's "interactive" limits (64 MiB,
// 2 passes): what `pacsnode hash-password` prints. Throws Error (OutOfResources) when the
// memory cannot be had.
std::string hash_password(std::string_view password);

// True when `hash` is a crypto_pwhash_str string libsodium can verify against (argon2id or
// argon2i, well-formed parameters, salt and hash).
bool is_password_hash(std::string_view hash);

// True when `candidate` is the password `hash` was made from; false for a wrong candidate
// and for a malformed hash. Costs what the hash's parameters say: for hash_password's, 64 MiB
// and ~90 ms of one core (measured on this project's 2-core machine).
bool verify_password(std::string_view hash, std::string_view candidate);

// A keyed BLAKE2b digest of `password` under a key drawn at random once per process: lets a
// caller remember that a password verified, without keeping it or redoing the argon2 work,
// and recognise it again with constant_time_equal. Meaningless outside this process.
std::string process_digest(std::string_view password);

// a == b in a time that depends on neither the contents nor where they first differ: both
// are reduced to fixed-length BLAKE2b digests that are compared with sodium_memcmp.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace pacsnode
