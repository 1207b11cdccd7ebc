#include "routing/dispatcher.hpp"

#include <condition_variable>
#include <mutex>
#include <random>
#include <set>

#include "base/log.hpp"
#include "base/node_metrics.hpp"
#include "net/blocking.hpp"

namespace pacsnode::routing {
namespace {

using Clock = std::chrono::steady_clock;
using Target = std::pair<std::string, std::string>;  // kind, target

double unit_random() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

std::string describe(const db::JobRow& job) {
  return fmt::format("job {} ({} {} of {} {}, rule {}{})", job.id, job.spec.kind, job.spec.target, job.spec.level,
                     job.spec.resource_uid(), job.spec.rule,
                     job.spec.firing > 1 ? fmt::format(", amendment {}", job.spec.firing - 1) : "");
}

}  // namespace

// One attempt in progress (io thread only, but for `run`, whose stop flag is atomic).
struct Running {
  std::shared_ptr<JobRun> run;
  bool lease_lost = false;
  bool finished = false;
  std::unique_ptr<asio::steady_timer> renew_timer;
};

struct Dispatcher::Impl {
  Impl(db::ConnectionPool& pool, DispatcherSettings s, std::map<std::string, JobHandler> h)
      : queue(pool), settings(std::move(s)), handlers(std::move(h)), guard(io.get_executor()),
        blocking(std::max(1u, settings.blocking_threads)), wake_timer(io) {
    for (const auto& [kind, handler] : handlers) kinds.push_back(kind);
  }

  db::JobQueue queue;
  DispatcherSettings settings;
  std::map<std::string, JobHandler> handlers;
  std::vector<std::string> kinds;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  asio::thread_pool blocking;
  asio::steady_timer wake_timer;
  std::thread thread;
  std::atomic<bool> stop_requested{false};

  // io thread only
  bool stopping = false;
  bool woken = false;
  std::map<Target, unsigned> per_target;
  std::set<std::shared_ptr<Running>> runs;
  Clock::time_point last_note = Clock::time_point::min();
  Clock::time_point last_claim_error = Clock::time_point::min();

  // What stop() waits on.
  std::mutex mutex;
  std::condition_variable changed;
  unsigned running = 0;
  bool loop_done = false;

  void notify_running(int delta) {
    std::lock_guard lock(mutex);
    running = static_cast<unsigned>(static_cast<int>(running) + delta);
    changed.notify_all();
  }

  std::vector<Target> busy() const {
    std::vector<Target> out;
    for (const auto& [target, n] : per_target) {
      const auto limit = settings.target_limits.find(target);
      if (n >= (limit != settings.target_limits.end() ? limit->second : settings.per_target)) out.push_back(target);
    }
    return out;
  }

  void poke() {
    woken = true;
    wake_timer.cancel();
  }

  asio::awaitable<void> claim_loop() {
    while (!stopping) {
      while (!stopping && runs.size() < settings.workers && !kinds.empty()) {
        db::ClaimRequest request{settings.owner, kinds, busy(), settings.lease};
        std::string error;
        auto job = co_await net::run_blocking(blocking, [this, &request, &error]() -> std::optional<db::JobRow> {
          try {
            return queue.claim(request);
          } catch (const std::exception& e) {
            error = e.what();
            return std::nullopt;
          }
        });
        if (!error.empty()) {
          if (Clock::now() - last_claim_error > std::chrono::minutes(1)) {
            log::warn("jobs: cannot claim jobs: {}", error);
            last_claim_error = Clock::now();
          }
          break;
        }
        if (!job) break;
        start_job(std::move(*job));
      }
      if (Clock::now() - last_note > std::chrono::seconds(30)) {
        last_note = Clock::now();
        co_await net::run_blocking(blocking, [this]() {
          try {
            queue.note_unhandled(kinds, settings.owner);
          } catch (const std::exception& e) {
            log::debug("jobs: {}", e.what());
          }
          return 0;
        });
      }
      if (stopping) break;
      if (!woken) {
        wake_timer.expires_after(settings.poll);
        boost::system::error_code ec;
        co_await wake_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      woken = false;
    }
    std::lock_guard lock(mutex);
    loop_done = true;
    changed.notify_all();
  }

  void start_job(db::JobRow job) {
    auto running_job = std::make_shared<Running>();
    running_job->run = std::make_shared<JobRun>(std::move(job), queue, blocking);
    running_job->renew_timer = std::make_unique<asio::steady_timer>(io);
    ++per_target[{running_job->run->job().spec.kind, running_job->run->job().spec.target}];
    runs.insert(running_job);
    notify_running(+1);
    asio::co_spawn(io, renew_loop(running_job), asio::detached);
    asio::co_spawn(io, run_job(running_job), asio::detached);
  }

  asio::awaitable<void> renew_loop(std::shared_ptr<Running> r) {
    const auto interval = std::max(settings.lease / 3, std::chrono::milliseconds(100));
    auto last_renewed = Clock::now();
    const std::int64_t id = r->run->job().id;
    while (!r->finished) {
      r->renew_timer->expires_after(interval);
      boost::system::error_code ec;
      co_await r->renew_timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (r->finished) break;
      bool renewed = false;
      std::string error;
      co_await net::run_blocking(blocking, [this, id, &renewed, &error]() {
        try {
          renewed = queue.renew(id, settings.owner, settings.lease);
        } catch (const std::exception& e) {
          error = e.what();
        }
        return 0;
      });
      if (r->finished) break;
      if (renewed) {
        last_renewed = Clock::now();
        continue;
      }
      if (!error.empty() && Clock::now() - last_renewed < settings.lease) {
        log::warn("{}: cannot renew the lease: {}", describe(r->run->job()), error);
        continue;
      }
      log::warn("{}: lease lost ({}): stopping", describe(r->run->job()),
                error.empty() ? "cancelled, or taken over by another node" : "the lease expired: " + error);
      r->lease_lost = true;
      r->run->stop();
      break;
    }
  }

  asio::awaitable<void> run_job(std::shared_ptr<Running> r) {
    JobRun& run = *r->run;
    const db::JobRow& job = run.job();
    log::info("{}: attempt {} of {} started", describe(job), job.attempts, job.spec.max_attempts);
    const auto started = Clock::now();
    JobVerdict verdict;
    try {
      verdict = co_await handlers.at(job.spec.kind)(run);
    } catch (const std::exception& e) {
      verdict = JobVerdict::retry(std::string("handler failed: ") + e.what());
    }
    r->finished = true;
    r->renew_timer->cancel();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (!r->lease_lost && !run.stopped()) {
      auto& m = metrics::node_metrics();
      const char* outcome = verdict.kind == JobVerdict::Kind::Done    ? "done"
                            : verdict.kind == JobVerdict::Kind::Retry ? "retry"
                                                                      : "give_up";
      m.job_attempts_total.with({job.spec.kind, outcome}).inc();
      m.job_duration_seconds.with({job.spec.kind}).observe(std::chrono::duration<double>(Clock::now() - started).count());
    }
    if (r->lease_lost) {
      log::warn("{}: stopped after {} ms; its outcome is not recorded (the job is no longer ours)", describe(job),
                elapsed);
    } else if (run.stopped()) {
      co_await report([&] {
        if (queue.release(job.id, settings.owner, "interrupted by a node shutdown; queued again")) {
          log::info("{}: interrupted by shutdown after {} ms; queued again", describe(job), elapsed);
        }
      });
    } else {
      co_await report([&] { record(job, verdict, elapsed); });
    }
    --per_target[{job.spec.kind, job.spec.target}];
    if (per_target[{job.spec.kind, job.spec.target}] == 0) per_target.erase({job.spec.kind, job.spec.target});
    runs.erase(r);
    notify_running(-1);
    if (!stopping) poke();
  }

  // Runs a report on the blocking pool; a database failure is logged (the lease then
  // expires and the job is taken over).
  template <typename Fn>
  asio::awaitable<void> report(Fn fn) {
    static_assert(std::is_trivially_destructible_v<Fn>);
    co_await net::run_blocking(blocking, [&fn]() {
      try {
        fn();
      } catch (const std::exception& e) {
        log::error("jobs: cannot record an outcome: {}", e.what());
      }
      return 0;
    });
  }

  void record(const db::JobRow& job, const JobVerdict& verdict, long long elapsed) {
    const auto& kind = job.spec.kind;
    const auto& target = job.spec.target;
    switch (verdict.kind) {
      case JobVerdict::Kind::Done:
        if (queue.succeed(job.id, settings.owner, verdict.note)) {
          log::info("{}: done in {} ms{}", describe(job), elapsed, verdict.note.empty() ? "" : ": " + verdict.note);
        }
        queue.target_ok(kind, target);
        break;
      case JobVerdict::Kind::GiveUp:
        if (queue.give_up(job.id, settings.owner, verdict.error)) {
          log::error("{}: dead: {}", describe(job), verdict.error);
        }
        break;
      case JobVerdict::Kind::Retry: {
        const auto delay = db::retry_delay(job.attempts, settings.retry.base, settings.retry.max, unit_random());
        const auto state = queue.fail(job.id, settings.owner, verdict.error, delay, settings.retry.max_age);
        if (state == db::JobState::Dead) {
          log::error("{}: attempt {} of {} failed: {}; dead", describe(job), job.attempts, job.spec.max_attempts,
                     verdict.error);
        } else if (state) {
          log::warn("{}: attempt {} of {} failed: {}; next in {} ms", describe(job), job.attempts,
                    job.spec.max_attempts, verdict.error, delay.count());
        }
        if (verdict.unreachable) {
          const int failures = queue.target_failed(kind, target, verdict.error, settings.retry.base, settings.retry.max);
          log::warn("jobs: {} {} unreachable ({} time(s) in a row): backed off", kind, target, failures);
        } else {
          queue.target_ok(kind, target);
        }
        break;
      }
    }
  }

  void stop_all_runs() {
    for (const auto& r : runs) r->run->stop();
  }
};

Dispatcher::Dispatcher(db::ConnectionPool& pool, DispatcherSettings settings, std::map<std::string, JobHandler> handlers)
    : impl_(std::make_unique<Impl>(pool, std::move(settings), std::move(handlers))) {}

Dispatcher::~Dispatcher() { stop(std::chrono::milliseconds(0)); }

const std::string& Dispatcher::owner() const { return impl_->settings.owner; }

void Dispatcher::start() {
  Impl* impl = impl_.get();
  asio::co_spawn(impl->io, impl->claim_loop(), asio::detached);
  impl->thread = std::thread([impl]() {
    try {
      impl->io.run();
    } catch (const std::exception& e) {
      log::critical("jobs: dispatcher stopped: {}", e.what());
    }
  });
}

void Dispatcher::wake() {
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl]() { impl->poke(); });
}

void Dispatcher::stop(std::chrono::milliseconds grace) {
  auto& d = *impl_;
  if (d.stop_requested.exchange(true)) return;
  if (!d.thread.joinable()) return;
  Impl* impl = &d;
  asio::post(d.io, [impl]() {
    impl->stopping = true;
    impl->poke();
  });
  std::unique_lock lock(d.mutex);
  const auto drained = [&d] { return d.running == 0 && d.loop_done; };
  if (!d.changed.wait_for(lock, grace, drained)) {
    lock.unlock();
    asio::post(d.io, [impl]() { impl->stop_all_runs(); });
    lock.lock();
    // A handler stops at its next instance; one stuck longer leaves its lease to expire.
    if (!d.changed.wait_for(lock, std::max(d.settings.lease, std::chrono::milliseconds(5000)), drained)) {
      log::warn("jobs: {} job(s) did not stop in time; their leases will expire", d.running);
    }
  }
  lock.unlock();
  d.guard.reset();
  d.io.stop();
  d.thread.join();
  d.blocking.join();
}

}  // namespace pacsnode::routing
