#pragma once
// Runs blocking work (fsync, DCMTK parsing, libpqxx) on a worker pool and resumes the
// calling coroutine on its own executor (its association's strand) with the result.
#include <type_traits>

#include "net/asio.hpp"

namespace pacsnode::net {

template <typename Pool, typename F>
auto run_blocking(Pool& pool, F work) -> asio::awaitable<std::invoke_result_t<F>> {
  using R = std::invoke_result_t<F>;
  co_return co_await asio::co_spawn(
      pool.get_executor(), [work = std::move(work)]() mutable -> asio::awaitable<R> { co_return work(); },
      asio::use_awaitable);
}

}  // namespace pacsnode::net
