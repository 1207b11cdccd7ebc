#pragma once
// Translation of libpqxx's exceptions into pacsnode::Error, shared by db/ sources. This
// header does not include libpqxx (only db/*.cpp do).
#include <utility>

namespace pacsnode::db::detail {

// Call only from a catch block. Rethrows the exception being handled: a pacsnode::Error
// unchanged; a lost or refused connection as Error(Unavailable) (retryable); any other
// libpqxx condition as Error(Internal) with the server's message and SQLSTATE; anything
// else unchanged.
[[noreturn]] void rethrow_translated(const char* what);

// Runs fn(), translating what it throws as rethrow_translated does.
template <typename Fn>
auto translate_errors(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    rethrow_translated(what);
  }
}

}  // namespace pacsnode::db::detail
