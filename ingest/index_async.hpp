#pragma once
// Ingest::index as an awaitable, for the doors' coroutines: the index writer calls back on
// its own thread, the coroutine resumes on its own executor (an association's strand, an
// HTTP connection's).
#include <memory>
#include <mutex>
#include <vector>

#include "ingest/ingest.hpp"
#include "net/asio.hpp"

namespace pacsnode::ingest {

inline asio::awaitable<Indexed> index_async(Ingest& ingest, Placed placed) {
  auto initiate = [&ingest](auto handler, Placed p) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    ingest.index(std::move(p), [shared](Indexed result) {
      auto executor = asio::get_associated_executor(*shared);
      asio::post(executor, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
    });
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Indexed)>(initiate, asio::use_awaitable,
                                                                                        std::move(placed));
}

// Many at once, so that the index writer commits them together (group commit) rather than
// one transaction each; the results in the order of `placed`.
inline asio::awaitable<std::vector<Indexed>> index_all_async(Ingest& ingest, std::vector<Placed> placed) {
  if (placed.empty()) co_return std::vector<Indexed>{};
  auto initiate = [&ingest](auto handler, std::vector<Placed> all) {
    struct State {
      State(decltype(handler) h, std::size_t n) : results(n), remaining(n), done(std::move(h)) {}
      std::mutex mutex;
      std::vector<Indexed> results;
      std::size_t remaining;
      decltype(handler) done;
    };
    auto state = std::make_shared<State>(std::move(handler), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      ingest.index(std::move(all[i]), [state, i](Indexed result) {
        std::unique_lock lock(state->mutex);
        state->results[i] = std::move(result);
        if (--state->remaining != 0) return;
        lock.unlock();
        auto executor = asio::get_associated_executor(state->done);
        asio::post(executor, [state]() mutable { state->done(std::move(state->results)); });
      });
    }
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::vector<Indexed>)>(
      initiate, asio::use_awaitable, std::move(placed));
}

}  // namespace pacsnode::ingest
