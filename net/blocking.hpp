#pragma once
// Runs blocking work (fsync, DCMTK parsing, libpqxx) on a worker pool and resumes the
// calling coroutine on its own executor (its association's strand) with the result.
#include <exception>
#include <optional>
#include <type_traits>

#include "net/asio.hpp"

namespace pacsnode::net {

// `work` must be trivially destructible (capture by reference, not by value): GCC 12
// destroys a coroutine's by-value callable parameter twice here (seen as a double free of a
// captured std::string under valgrind), so only types without a destructor are safe.
template <typename Pool, typename F>
auto run_blocking(Pool& pool, F work) -> asio::awaitable<std::invoke_result_t<F>> {
  static_assert(std::is_trivially_destructible_v<F>,
                "run_blocking: capture by reference (GCC 12 destroys the callable twice)");
  using R = std::invoke_result_t<F>;
  co_return co_await asio::co_spawn(
      pool.get_executor(), [work = std::move(work)]() mutable -> asio::awaitable<R> { co_return work(); },
      asio::use_awaitable);
}

}  // namespace pacsnode::net

namespace pacsnode::net {

// Runs `work` to completion on a fresh io_context in the calling thread (the command-line
// tools) and returns its result, rethrowing what it threw.
template <typename T>
T run_to_completion(asio::awaitable<T> work) {
  asio::io_context io;
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace pacsnode::net
