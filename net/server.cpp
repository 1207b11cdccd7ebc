#include "net/server.hpp"

#include "base/error.hpp"
#include "base/log.hpp"
#include "net/association.hpp"

namespace pacsnode::net {

using boost::system::error_code;

Server::Server(asio::io_context& io, ServerSettings settings, SessionFn session)
    : io_(io), settings_(std::move(settings)), session_(std::move(session)), acceptor_(io) {}

void Server::start() {
  error_code ec;
  const auto address = asio::ip::make_address(settings_.bind_address, ec);
  if (ec) throw Error(ErrorCode::Config, "invalid bind address " + settings_.bind_address);
  const tcp::endpoint endpoint(address, settings_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error(ErrorCode::Unavailable, "cannot listen on " + settings_.bind_address + ":" +
                                            std::to_string(settings_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

asio::awaitable<void> Server::accept_loop() {
  while (!stopping_) {
    error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::make_strand(io_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      log::warn("accept failed: {}", ec.message());
      // Out of file descriptors and the like: back off instead of spinning.
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    const std::uint64_t id = next_id_++;
    ++active_;
    auto executor = socket.get_executor();
    asio::co_spawn(executor, run_session(std::move(socket), id), asio::detached);
  }
}

asio::awaitable<void> Server::run_session(tcp::socket socket, std::uint64_t id) {
  try {
    co_await session_(std::move(socket), id);
  } catch (const std::exception& e) {
    log::error("assoc={} session failed: {}", id, e.what());
  }
  untrack(id);
  --active_;
}

void Server::track(std::uint64_t id, const std::shared_ptr<Association>& association) {
  std::lock_guard lock(tracked_mutex_);
  tracked_[id] = association;
}

void Server::untrack(std::uint64_t id) {
  std::lock_guard lock(tracked_mutex_);
  tracked_.erase(id);
}

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  asio::post(io_, [this, grace, done = std::move(done)]() mutable {
    if (stopping_.exchange(true)) return;
    error_code ec;
    acceptor_.close(ec);
    asio::co_spawn(io_, drain(grace, std::move(done)), asio::detached);
  });
}

asio::awaitable<void> Server::drain(std::chrono::milliseconds grace, std::function<void()> done) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer timer(io_);
  error_code ec;
  if (active_ > 0) log::info("waiting up to {} ms for {} association(s) to finish", grace.count(), active_.load());
  while (active_ > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (active_ > 0) {
    std::vector<std::shared_ptr<Association>> open;
    {
      std::lock_guard lock(tracked_mutex_);
      for (auto& [id, weak] : tracked_) {
        if (auto a = weak.lock()) open.push_back(std::move(a));
      }
    }
    log::warn("aborting {} association(s) still open after the shutdown grace period", open.size());
    for (auto& a : open) {
      asio::post(a->executor(), [a]() { a->abort(); });
    }
    // Sessions that never reached an association (Sta2) end by ARTIM or by their socket
    // closing; give them a moment.
    const auto hard_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (active_ > 0 && std::chrono::steady_clock::now() < hard_deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  done();
}

}  // namespace pacsnode::net
