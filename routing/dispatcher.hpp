#pragma once
// The dispatcher: this node's workers for the job queue (db/job_queue.hpp). It claims jobs
// of the kinds it has handlers for — at most `workers` at once, at most `per_target` for one
// destination — runs each handler as a coroutine on its own thread, renews each job's lease
// while the handler runs, and reports the verdict: done; failed, to be retried after an
// exponential back-off with jitter (or dead when out of attempts or time); dead at once
// when the handler says no retry can help. A handler that could not reach its destination
// also backs the destination off, on every node, so that one dead PACS costs the others
// nothing. Woken by LISTEN/NOTIFY (a new job starts at once) and by a short poll.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "db/connection_pool.hpp"
#include "db/job_queue.hpp"
#include "net/asio.hpp"

namespace pacsnode::routing {

struct RetryPolicy {
  std::chrono::milliseconds base{10'000};   // delay after the first failed attempt
  std::chrono::milliseconds max{3'600'000};  // cap on any delay
  std::chrono::milliseconds max_age{0};      // a job older than this is not retried (0: no limit)
};

struct DispatcherSettings {
  std::string owner;  // this node's lease owner id (unique per process)
  unsigned workers = 4;
  unsigned per_target = 2;
  // (kind, target) → its own bound instead of per_target (a plug-in's max_parallel).
  std::map<std::pair<std::string, std::string>, unsigned> target_limits;
  std::chrono::milliseconds lease{60'000};
  std::chrono::milliseconds poll{1'000};  // look for due retries and expired leases this often
  RetryPolicy retry;
  unsigned blocking_threads = 4;  // database calls and transcoding
};

// A handler's verdict on one attempt.
struct JobVerdict {
  enum class Kind { Done, Retry, GiveUp };
  Kind kind = Kind::Done;
  std::string error;  // Retry, GiveUp: why, one line
  // Retry: the destination could not be reached at all (backs the target off).
  bool unreachable = false;
  std::string note;  // Done: how it ended, when worth saying ("not applicable: …")

  static JobVerdict done(std::string note = {}) {
    JobVerdict v;
    v.note = std::move(note);
    return v;
  }
  static JobVerdict retry(std::string why, bool unreachable = false) {
    return {Kind::Retry, std::move(why), unreachable, {}};
  }
  static JobVerdict give_up(std::string why) { return {Kind::GiveUp, std::move(why), false, {}}; }
};

// What a handler gets for one attempt.
class JobRun {
 public:
  JobRun(db::JobRow job, db::JobQueue& queue, asio::thread_pool& blocking)
      : job_(std::move(job)), queue_(queue), blocking_(blocking) {}
  const db::JobRow& job() const { return job_; }
  db::JobQueue& queue() { return queue_; }
  asio::thread_pool& blocking() { return blocking_; }
  // True once the handler should stop as soon as it can: the job was cancelled or taken
  // over (its lease could not be renewed), or the node is shutting down. Its verdict is
  // then not recorded.
  bool stopped() const { return stopped_.load(); }
  const std::atomic<bool>& stop_flag() const { return stopped_; }
  void stop() { stopped_ = true; }

 private:
  db::JobRow job_;
  db::JobQueue& queue_;
  asio::thread_pool& blocking_;
  std::atomic<bool> stopped_{false};
};

// Runs one attempt of a job of its kind, on the dispatcher's thread. Blocking work goes to
// run.blocking(). Must not throw (a throw is recorded as a retryable failure).
using JobHandler = std::function<asio::awaitable<JobVerdict>(JobRun& run)>;

class Dispatcher {
 public:
  // `handlers`: kind → handler. Jobs of other kinds are left queued, with a note.
  Dispatcher(db::ConnectionPool& pool, DispatcherSettings settings, std::map<std::string, JobHandler> handlers);
  ~Dispatcher();  // stop(0)
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // A job may have become claimable (a notification arrived). Thread-safe.
  void wake();
  // Stops claiming; gives running jobs `grace` to finish, then asks them to stop and
  // queues them again (their attempt not counted). Idempotent.
  void stop(std::chrono::milliseconds grace);

  const std::string& owner() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pacsnode::routing
