#include "routing/engine.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "base/log.hpp"
#include "db/job_notifier.hpp"

namespace pacsnode::routing {

std::string make_lease_owner() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  std::random_device random;
  return fmt::format("{}/{}/{:08x}", host, ::getpid(), random());
}

struct Engine::Impl {
  EngineSettings settings;
  db::ConnectionPool pool;
  Sweeper sweeper;
  Dispatcher dispatcher;
  std::thread sweep_thread, listen_thread;
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> stopping{false};
  bool started = false;

  Impl(EngineSettings s, std::vector<RuleSpec> rules, std::map<std::string, JobHandler> handlers)
      : settings(with_owner(std::move(s))),
        pool(settings.conninfo, 4),
        sweeper(pool, std::move(rules), settings.sweeper),
        dispatcher(pool, settings.dispatcher, std::move(handlers)) {}

  static EngineSettings with_owner(EngineSettings s) {
    if (s.dispatcher.owner.empty()) s.dispatcher.owner = make_lease_owner();
    return s;
  }

  void sweep_loop() {
    auto last_error = std::chrono::steady_clock::time_point::min();
    while (!stopping) {
      try {
        sweeper.sweep();
      } catch (const std::exception& e) {
        if (std::chrono::steady_clock::now() - last_error > std::chrono::minutes(1)) {
          log::warn("routing: sweep failed (retrying every {} ms): {}", settings.sweep_interval.count(), e.what());
          last_error = std::chrono::steady_clock::now();
        }
      }
      std::unique_lock lock(mutex);
      wake.wait_for(lock, settings.sweep_interval, [this] { return stopping.load(); });
    }
  }

  void listen_loop() {
    db::JobNotifier notifier(settings.conninfo);
    while (!stopping) {
      if (notifier.wait(std::chrono::milliseconds(500))) dispatcher.wake();
    }
  }
};

Engine::Engine(EngineSettings settings, std::vector<RuleSpec> rules, std::map<std::string, JobHandler> handlers)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(rules), std::move(handlers))) {}

Engine::~Engine() { stop(std::chrono::milliseconds(0)); }

const std::string& Engine::owner() const { return impl_->dispatcher.owner(); }

void Engine::start() {
  auto& d = *impl_;
  if (d.started) return;
  d.started = true;
  log::info("routing: {} rule(s); jobs run as {} ({} worker(s), {} per destination, lease {} ms)",
            d.sweeper.rules().size(), d.dispatcher.owner(), d.settings.dispatcher.workers,
            d.settings.dispatcher.per_target, d.settings.dispatcher.lease.count());
  d.dispatcher.start();
  d.sweep_thread = std::thread([&d] { d.sweep_loop(); });
  d.listen_thread = std::thread([&d] { d.listen_loop(); });
}

void Engine::stop(std::chrono::milliseconds grace) {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.mutex);
    if (d.stopping.exchange(true)) return;
  }
  d.wake.notify_all();
  if (d.sweep_thread.joinable()) d.sweep_thread.join();
  if (d.listen_thread.joinable()) d.listen_thread.join();
  d.dispatcher.stop(grace);
}

}  // namespace pacsnode::routing
