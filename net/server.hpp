#pragma once
// The TCP side of the acceptor: listens, hands each connection to a session coroutine on its
// own strand, counts live sessions, and stops gracefully (close the acceptor, let sessions
// finish until a deadline, then abort the associations still open).
//
// Connections are admitted apart from associations: a connection that has not (yet) become
// an association — it has sent no A-ASSOCIATE-RQ, or is still sending it — is "pending".
// Pending connections are capped per source address (a newcomer over the cap is closed at
// once) and in all (the oldest pending connection is closed to make room), so silent or
// slow sockets never take the association slots a modality needs, and never lock it out:
// a real requestor sends its RQ within milliseconds of connecting.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
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
  std::size_t max_pending = 64;              // connections not yet associated, all sources
  std::size_t max_pending_per_address = 16;  // of which from one source address
};

class Server {
 public:
  // Runs one connection from accept to close; `id` is unique per connection (for logs).
  using SessionFn = std::function<asio::awaitable<void>(tcp::socket socket, std::uint64_t id)>;

  Server(asio::io_context& io, ServerSettings settings, SessionFn session);
  // Binds and listens. Throws pacsnode::Error(Unavailable) naming the address if it cannot.
  void start();
  std::uint16_t port() const { return port_; }
  // Sessions accepted and not finished (pending connections included).
  std::size_t active_sessions() const { return active_.load(); }
  // Established associations (tracked) plus those accepted and not yet tracked (reserved).
  std::size_t associations() const;
  // The session's A-ASSOCIATE-RQ was accepted: it counts as an association from now on,
  // before its A-ASSOCIATE-AC goes out, so that the next decision sees it.
  void reserve_association(std::uint64_t id);
  std::size_t pending_connections() const;

  // The session's Association exists (still pending): it can now be closed to make room.
  void pending_started(std::uint64_t id, const std::shared_ptr<Association>& association);
  // An established association, so that shutdown can abort it; no longer pending.
  // Sessions call this; the server forgets the session when it ends.
  void track(std::uint64_t id, const std::shared_ptr<Association>& association);

  // Stops accepting at once; sessions may finish until `grace` has passed, then every
  // association still open is aborted. Calls `done` (on the io_context) when no session is
  // left. Callable from any thread.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done);

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> run_session(tcp::socket socket, std::uint64_t id);
  asio::awaitable<void> drain(std::chrono::milliseconds grace, std::function<void()> done);
  // Under mutex_: room for a connection from `address`? May close the oldest pending one.
  bool admit(std::uint64_t id, const std::string& address);
  void forget(std::uint64_t id);
  void note_refusal(const std::string& what);

  struct Pending {
    std::string address;
    std::weak_ptr<Association> association;
    bool evict = false;
  };

  asio::io_context& io_;
  ServerSettings settings_;
  SessionFn session_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> active_{0};
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Association>> tracked_;
  std::map<std::uint64_t, Pending> pending_;  // by id: the first is the oldest
  std::set<std::uint64_t> reserved_;          // accepted, not yet tracked
  std::unordered_map<std::string, std::size_t> pending_by_address_;
  std::size_t refused_since_log_ = 0;
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace pacsnode::net
