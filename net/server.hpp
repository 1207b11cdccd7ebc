#pragma once
// The TCP side of the acceptor: listens, hands each connection to a session coroutine on its
// own strand, counts live sessions, and stops gracefully (close the acceptor, let sessions
// finish until a deadline, then abort the associations still open).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/asio.hpp"

namespace pacsnode::net {

class Association;

struct ServerSettings {
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 11112;  // 0: any free port (tests)
};

class Server {
 public:
  // Runs one connection from accept to close; `id` is unique per connection (for logs).
  using SessionFn = std::function<asio::awaitable<void>(tcp::socket socket, std::uint64_t id)>;

  Server(asio::io_context& io, ServerSettings settings, SessionFn session);
  // Binds and listens. Throws pacsnode::Error(Unavailable) naming the address if it cannot.
  void start();
  std::uint16_t port() const { return port_; }
  // Sessions accepted and not finished (includes the one being decided).
  std::size_t active_sessions() const { return active_.load(); }

  // An established association, so that shutdown can abort it. Sessions call this and
  // untrack() when done.
  void track(std::uint64_t id, const std::shared_ptr<Association>& association);
  void untrack(std::uint64_t id);

  // Stops accepting at once; sessions may finish until `grace` has passed, then every
  // association still open is aborted. Calls `done` (on the io_context) when no session is
  // left. Callable from any thread.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done);

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> run_session(tcp::socket socket, std::uint64_t id);
  asio::awaitable<void> drain(std::chrono::milliseconds grace, std::function<void()> done);

  asio::io_context& io_;
  ServerSettings settings_;
  SessionFn session_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> active_{0};
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<bool> stopping_{false};
  std::mutex tracked_mutex_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Association>> tracked_;
};

}  // namespace pacsnode::net
