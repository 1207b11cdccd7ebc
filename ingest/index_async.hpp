#pragma once
// Ingest::index as an awaitable, for the doors' coroutines: the index writer calls back on
// its own thread, the coroutine resumes on its own executor (an association's strand, an
// HTTP connection's).
#include <memory>

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

}  // namespace pacsnode::ingest
