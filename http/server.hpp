#pragma once
// The HTTP listener: accepts connections, reads requests (HTTP/1.1, keep-alive), checks
// credentials, answers CORS preflights, hands every other request to the handler, and
// turns what a handler throws into an error response. Bounded: header size, body size,
// connections, and a deadline on every read and write.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/address.hpp"
#include "http/exchange.hpp"
#include "net/asio.hpp"

namespace pacsnode::http {

struct User {
  std::string username;
  std::string password_hash;  // base/password's argon2id string
};

struct ServerSettings {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (tests)
  std::vector<User> users;    // empty: no authentication (loopback binds only)
  std::size_t max_connections = 256;
  std::uint64_t max_body_bytes = 8ull << 30;  // a STOW-RS body; more → 413
  std::chrono::seconds idle_timeout{60};      // between requests, and per read or write
  // The `handler` label of a request in the HTTP metrics ("qido", "wado", …); "other" without.
  std::function<std::string_view(std::string_view method, const std::string& path)> classify;
};

class Server {
 public:
  using Handler = std::function<asio::awaitable<void>(Exchange&)>;
  // Throws Error(Config) for a non-loopback bind without users.
  Server(asio::io_context& io, ServerSettings settings, Handler handler);
  ~Server();
  // Binds and listens. Throws Error(Unavailable) naming the address when it cannot.
  void start();
  std::uint16_t port() const { return port_; }
  // Stops accepting and closes idle connections; requests in progress finish.
  void stop();
  std::size_t active_connections() const { return active_->load(); }

 private:
  asio::awaitable<void> accept_loop();
  asio::io_context& io_;
  ServerSettings settings_;
  Handler handler_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::shared_ptr<std::atomic<std::size_t>> active_;
  std::shared_ptr<std::atomic<std::size_t>> refusing_;  // connections refused, their request being drained
};

}  // namespace pacsnode::http
