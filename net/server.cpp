#include "net/server.hpp"
#include "net/listen.hpp"

#include "base/error.hpp"
#include "base/log.hpp"
#include "net/association.hpp"

namespace pacsnode::net {

using boost::system::error_code;

Server::Server(asio::io_context& io, ServerSettings settings, SessionFn session)
    : io_(io), settings_(std::move(settings)), session_(std::move(session)), acceptor_(io) {}

void Server::start() {
  listen(acceptor_, settings_.bind_address, settings_.port, "DICOM");
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
    error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    const std::string address = peer_ec ? std::string("?") : peer.address().to_string();
    bool admitted = false;
    {
      std::lock_guard lock(mutex_);
      admitted = admit(id, address);
    }
    if (!admitted) {
      socket.close(ec);
      continue;
    }
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
  forget(id);
  --active_;
}

bool Server::admit(std::uint64_t id, const std::string& address) {
  auto& from_address = pending_by_address_[address];
  if (from_address >= settings_.max_pending_per_address) {
    note_refusal(fmt::format("from {}: {} connection(s) from that address have not yet become associations "
                             "(limit {})",
                             address, from_address, settings_.max_pending_per_address));
    return false;
  }
  if (pending_.size() >= settings_.max_pending) {
    // Make room by closing the oldest pending connection that is not yet being closed.
    for (auto& [old_id, entry] : pending_) {
      if (entry.evict) continue;
      entry.evict = true;
      note_refusal(fmt::format("assoc={} from {} closed: {} connections have not yet become associations (limit {})",
                               old_id, entry.address, pending_.size(), settings_.max_pending));
      if (auto a = entry.association.lock()) {
        asio::post(a->executor(), [a]() {
          if (a->state() == State::Sta2) a->abort_provider(AbortReason::NotSpecified, "closed to make room for a new connection");
        });
      }
      break;
    }
  }
  ++from_address;
  pending_[id] = Pending{address, {}, false};
  return true;
}

void Server::note_refusal(const std::string& what) {
  // A flood must not flood the log: one line per 10 s, with the count.
  ++refused_since_log_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ >= std::chrono::seconds(10)) {
    log::warn("connection refused or closed (admission): {}{}", what,
              refused_since_log_ > 1 ? fmt::format(" ({} such since the last report)", refused_since_log_) : std::string());
    refused_since_log_ = 0;
    last_refusal_log_ = now;
  } else {
    log::debug("connection refused or closed (admission): {}", what);
  }
}

void Server::pending_started(std::uint64_t id, const std::shared_ptr<Association>& association) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  it->second.association = association;
  if (it->second.evict) {
    auto a = association;
    asio::post(a->executor(), [a]() {
      if (a->state() == State::Sta2) a->abort_provider(AbortReason::NotSpecified, "closed to make room for a new connection");
    });
  }
}

void Server::reserve_association(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  reserved_.insert(id);
}

void Server::track(std::uint64_t id, const std::shared_ptr<Association>& association) {
  std::lock_guard lock(mutex_);
  tracked_[id] = association;
  reserved_.erase(id);
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    if (--pending_by_address_[it->second.address] == 0) pending_by_address_.erase(it->second.address);
    pending_.erase(it);
  }
}

void Server::forget(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  tracked_.erase(id);
  reserved_.erase(id);
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    if (--pending_by_address_[it->second.address] == 0) pending_by_address_.erase(it->second.address);
    pending_.erase(it);
  }
}

std::size_t Server::associations() const {
  std::lock_guard lock(mutex_);
  return tracked_.size() + reserved_.size();
}

std::size_t Server::pending_connections() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
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
      std::lock_guard lock(mutex_);
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
