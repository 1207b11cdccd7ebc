// The job queue's state machine against a real PostgreSQL (db/job_queue.hpp): each
// transition one statement that checks the state it leaves, so that of two claimers or
// reporters exactly one wins.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "db/connection_pool.hpp"
#include "db/database.hpp"
#include "db/job_notifier.hpp"
#include "db/job_queue.hpp"
#include "tests/support/pg_cluster.hpp"

using namespace pacsnode;
using namespace std::chrono_literals;
using db::JobState;

namespace {

struct Fixture {
  test::TestCluster cluster;
  db::ConnectionPool pool{cluster.conninfo(), 8};
  db::JobQueue queue{pool};
  Fixture() { db::Database({cluster.conninfo()}).migrate(); }
  std::string sql(const std::string& text) { return cluster.psql(text); }
};

db::JobSpec spec(const std::string& series, const std::string& target = "pacs", std::int64_t version = 1,
                 int max_attempts = 3) {
  db::JobSpec s;
  s.kind = "forward";
  s.target = target;
  s.level = "series";
  s.study_uid = "1.2";
  s.series_uid = series;
  s.rule = "ct";
  s.content_version = version;
  s.max_attempts = max_attempts;
  return s;
}

db::ClaimRequest as(const std::string& owner, std::chrono::milliseconds lease = 30s) {
  return {owner, {"forward", "analyze"}, {}, lease};
}

JobState state_of(Fixture& f, std::int64_t id) {
  return *db::parse_job_state(f.sql("SELECT state FROM job WHERE id = " + std::to_string(id)));
}

}  // namespace

TEST_CASE("jobs: the idempotency key — the same firing never becomes two jobs") {
  Fixture f;
  CHECK(f.queue.enqueue(spec("1.2.3")));
  CHECK_FALSE(f.queue.enqueue(spec("1.2.3")));
  CHECK(f.queue.enqueue(spec("1.2.3", "other")));       // another action of the firing
  CHECK(f.queue.enqueue(spec("1.2.3", "pacs", 2)));     // a later content version: an amendment
  CHECK(f.sql("SELECT count(*) FROM job") == "3");
  CHECK(f.sql("SELECT count(*) FROM job_event WHERE event = 'create'") == "3");
}

TEST_CASE("jobs: two claimers never both win") {
  Fixture f;
  REQUIRE(f.queue.enqueue(spec("1.2.3")));
  // Eight nodes race for one job, released together.
  std::promise<void> go;
  auto start = go.get_future().share();
  std::vector<std::future<bool>> claims;
  for (int i = 0; i < 8; ++i) {
    claims.push_back(std::async(std::launch::async, [&f, start, i] {
      start.wait();
      return f.queue.claim(as("node" + std::to_string(i))).has_value();
    }));
  }
  go.set_value();
  int winners = 0;
  for (auto& c : claims) winners += c.get() ? 1 : 0;
  CHECK(winners == 1);

  // Sixty jobs, four claimers until nothing is left: every job claimed exactly once.
  for (int i = 0; i < 60; ++i) REQUIRE(f.queue.enqueue(spec("1.2.4." + std::to_string(i))));
  std::mutex mutex;
  std::multiset<std::int64_t> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (auto job = f.queue.claim(as("worker" + std::to_string(t)))) {
        std::lock_guard lock(mutex);
        claimed.insert(job->id);
        CHECK(f.queue.succeed(job->id, "worker" + std::to_string(t)));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(claimed.size() == 60);
  CHECK(std::set<std::int64_t>(claimed.begin(), claimed.end()).size() == 60);
  CHECK(f.sql("SELECT count(*) FROM job WHERE state = 'done'") == "60");
}

TEST_CASE("jobs: an expired lease lets another node take over; the first owner's word no longer counts") {
  Fixture f;
  REQUIRE(f.queue.enqueue(spec("1.2.3")));
  const auto first = f.queue.claim(as("a", 1s));
  REQUIRE(first);
  CHECK(first->attempts == 1);
  CHECK(first->state == JobState::Running);
  CHECK_FALSE(f.queue.claim(as("b")));  // held
  CHECK(f.queue.renew(first->id, "a", 1s));
  CHECK_FALSE(f.queue.renew(first->id, "b", 1s));  // not b's
  std::this_thread::sleep_for(1200ms);
  const auto taken = f.queue.claim(as("b"));
  REQUIRE(taken);
  CHECK(taken->id == first->id);
  CHECK(taken->attempts == 2);
  CHECK(taken->lease_owner == "b");
  CHECK_FALSE(f.queue.renew(first->id, "a", 1s));
  CHECK_FALSE(f.queue.succeed(first->id, "a"));
  CHECK_FALSE(f.queue.fail(first->id, "a", "late", 0ms, 0ms));
  CHECK(f.queue.succeed(taken->id, "b"));
  CHECK(f.sql("SELECT string_agg(event || ':' || to_state || ':' || owner, ',' ORDER BY id) FROM job_event") ==
        "create:queued:,claim:running:a,take-over:running:b,succeed:done:b");
  CHECK(f.sql("SELECT error FROM job_event WHERE event = 'take-over'") == "the lease of a expired");
}

TEST_CASE("jobs: a lease that expires on the last attempt ends the job, dead with the reason") {
  Fixture f;
  REQUIRE(f.queue.enqueue(spec("1.2.3", "pacs", 1, 1)));
  const auto job = f.queue.claim(as("a", 1s));
  REQUIRE(job);
  std::this_thread::sleep_for(1200ms);
  CHECK_FALSE(f.queue.claim(as("b")));
  CHECK(state_of(f, job->id) == JobState::Dead);
  const auto detail = f.queue.show(job->id);
  REQUIRE(detail);
  CHECK(detail->job.last_error == "attempt 1 of 1 never finished: a stopped renewing its lease");
  CHECK(detail->events.back().event == "expire");
}

TEST_CASE("jobs: failures wait for their retry time, back off, and end dead with the reason kept") {
  Fixture f;
  REQUIRE(f.queue.enqueue(spec("1.2.3", "pacs", 1, 3)));
  std::vector<std::int64_t> waits;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::optional<db::JobRow> job;
    for (int i = 0; i < 100 && !job; ++i) {
      job = f.queue.claim(as("a"));
      if (!job) std::this_thread::sleep_for(20ms);
    }
    REQUIRE(job);
    CHECK(job->attempts == attempt);
    const auto delay = db::retry_delay(attempt, 100ms, 10s, 0.999);
    const auto state = f.queue.fail(job->id, "a", "cannot connect (" + std::to_string(attempt) + ")", delay, 0ms);
    CHECK(state == (attempt < 3 ? JobState::Failed : JobState::Dead));
    const auto row = f.queue.show(job->id)->job;
    if (attempt < 3) {
      waits.push_back(row.next_attempt_in_ms);
      CHECK(row.next_attempt_in_ms > 0);
      CHECK_FALSE(f.queue.claim(as("a")));  // not due yet
    }
  }
  REQUIRE(waits.size() == 2);
  CHECK(waits[1] > waits[0]);  // ~200 ms after ~100 ms
  const auto dead = f.queue.show(f.queue.list({}).front().id);
  REQUIRE(dead);
  CHECK(dead->job.state == JobState::Dead);
  CHECK(dead->job.last_error == "cannot connect (3)");
  CHECK(dead->job.note == "gave up after 3 attempt(s)");
  CHECK_FALSE(dead->job.finished_at.empty());
  // The history keeps every attempt's error.
  std::vector<std::string> errors;
  for (const auto& e : dead->events) {
    if (e.event == "fail") errors.push_back(e.error);
  }
  CHECK(errors == std::vector<std::string>{"cannot connect (1)", "cannot connect (2)", "cannot connect (3)"});
}

TEST_CASE("jobs: a job older than max_age is not retried") {
  Fixture f;
  REQUIRE(f.queue.enqueue(spec("1.2.3", "pacs", 1, 10)));
  f.sql("UPDATE job SET created_at = now() - interval '2 hours'");
  const auto job = f.queue.claim(as("a"));
  REQUIRE(job);
  CHECK(f.queue.fail(job->id, "a", "refused", 1s, 1h) == JobState::Dead);
  CHECK(f.queue.show(job->id)->job.note == "gave up: older than jobs.max_age");
}

TEST_CASE("jobs: retry revives a dead job with fresh attempts and lifts its destination's back-off; --dead revives them all") {
  Fixture f;
  for (const auto* series : {"1.2.3", "1.2.4", "1.2.5"}) REQUIRE(f.queue.enqueue(spec(series, "pacs", 1, 1)));
  std::vector<std::int64_t> ids;
  while (auto job = f.queue.claim(as("a"))) {
    ids.push_back(job->id);
    CHECK(f.queue.fail(job->id, "a", "down", 0ms, 0ms) == JobState::Dead);
  }
  REQUIRE(ids.size() == 3);
  const auto revived = f.queue.retry(ids[0]);
  CHECK(revived.changed);
  CHECK(state_of(f, ids[0]) == JobState::Queued);
  CHECK(f.sql("SELECT attempts FROM job WHERE id = " + std::to_string(ids[0])) == "0");
  const auto again = f.queue.retry(ids[0]);  // queued: nothing to revive
  CHECK_FALSE(again.changed);
  CHECK(again.state == JobState::Queued);
  CHECK_FALSE(f.queue.retry(999).state.has_value());
  // The destination is backed off; an administrator's retry means "now".
  f.queue.target_failed("forward", "pacs", "down", 60s, 60s);
  CHECK_FALSE(f.queue.claim(as("b")));
  CHECK(f.queue.retry_dead() == 2);
  CHECK(f.sql("SELECT count(*) FROM job WHERE state = 'queued'") == "3");
  const auto job = f.queue.claim(as("b"));
  REQUIRE(job);
  CHECK(job->attempts == 1);
  CHECK(f.queue.succeed(job->id, "b"));
}

TEST_CASE("jobs: cancel — a queued job is never claimed, a running one loses its lease") {
  Fixture f;
  REQUIRE(f.queue.enqueue(spec("1.2.3")));
  REQUIRE(f.queue.enqueue(spec("1.2.4")));
  const auto running = f.queue.claim(as("a"));
  REQUIRE(running);
  const auto queued_id = running->id == 1 ? 2 : 1;
  CHECK(f.queue.cancel(queued_id).changed);
  CHECK(f.queue.cancel(running->id).changed);
  CHECK_FALSE(f.queue.claim(as("b")));
  CHECK_FALSE(f.queue.renew(running->id, "a", 30s));  // the worker learns it must stop
  CHECK_FALSE(f.queue.succeed(running->id, "a"));
  CHECK(state_of(f, running->id) == JobState::Cancelled);
  const auto done_twice = f.queue.cancel(running->id);
  CHECK_FALSE(done_twice.changed);
  CHECK(done_twice.state == JobState::Cancelled);
  CHECK(f.queue.retry(queued_id).changed);  // a cancelled job can be revived
}

TEST_CASE("jobs: release at shutdown queues the job again without counting the attempt") {
  Fixture f;
  REQUIRE(f.queue.enqueue(spec("1.2.3")));
  const auto job = f.queue.claim(as("a"));
  REQUIRE(job);
  CHECK(f.queue.release(job->id, "a", "interrupted by a node shutdown; queued again"));
  const auto again = f.queue.claim(as("b"));
  REQUIRE(again);
  CHECK(again->attempts == 1);
}

TEST_CASE("jobs: priority first, then the earliest; busy and backed-off destinations are skipped") {
  Fixture f;
  auto low = spec("1.2.3", "pacs");
  auto high = spec("1.2.4", "pacs");
  high.priority = 5;
  auto other = spec("1.2.5", "other");
  REQUIRE(f.queue.enqueue(low));
  REQUIRE(f.queue.enqueue(high));
  REQUIRE(f.queue.enqueue(other));
  auto request = as("a");
  const auto first = f.queue.claim(request);
  REQUIRE(first);
  CHECK(first->spec.series_uid == "1.2.4");
  // This node runs as many "pacs" jobs as it may: the other destination's comes next.
  request.busy = {{"forward", "pacs"}};
  const auto second = f.queue.claim(request);
  REQUIRE(second);
  CHECK(second->spec.target == "other");
  CHECK_FALSE(f.queue.claim(request));
  // A destination that keeps failing is backed off on every node, and only it.
  CHECK(f.queue.target_failed("forward", "pacs", "connection refused", 10s, 60s) == 1);
  CHECK_FALSE(f.queue.claim(as("b")));
  CHECK(f.queue.target_failed("forward", "pacs", "connection refused", 10s, 60s) == 2);
  CHECK(f.sql("SELECT blocked_until > now() + interval '9 s' FROM job_target") == "t");  // ≥ 10 s at 2 failures
  f.queue.target_ok("forward", "pacs");
  const auto third = f.queue.claim(as("b"));
  REQUIRE(third);
  CHECK(third->spec.series_uid == "1.2.3");
}

TEST_CASE("jobs: analyze jobs wait for a node with a handler, with a note") {
  Fixture f;
  auto analyze = spec("1.2.3", "lung");
  analyze.kind = "analyze";
  REQUIRE(f.queue.enqueue(analyze));
  db::ClaimRequest forward_only{"a", {"forward"}, {}, 30s};
  CHECK_FALSE(f.queue.claim(forward_only));
  CHECK(f.queue.note_unhandled({"forward"}, "a") == 1);
  CHECK(f.queue.note_unhandled({"forward"}, "a") == 0);  // once
  const auto job = f.queue.list({}).front();
  CHECK(job.state == JobState::Queued);
  CHECK(job.note == "no handler for kind \"analyze\" on a: waits for a pacsnode that has one");
  CHECK(f.queue.claim(as("b")));  // a node that has one takes it
}

TEST_CASE("jobs: list filters, show tells the history and the instances") {
  Fixture f;
  const auto filter = [](std::optional<JobState> state, std::string rule, std::string peer, std::size_t limit) {
    db::JobFilter out;
    out.state = state;
    out.rule = std::move(rule);
    out.peer = std::move(peer);
    out.limit = limit;
    return out;
  };
  REQUIRE(f.queue.enqueue(spec("1.2.3", "pacs")));
  auto other_rule = spec("1.2.4", "archive");
  other_rule.rule = "all";
  REQUIRE(f.queue.enqueue(other_rule));
  CHECK(f.queue.list({}).size() == 2);
  CHECK(f.queue.list(filter(JobState::Queued, "all", "", 0)).size() == 1);
  CHECK(f.queue.list(filter(std::nullopt, "", "pacs", 0)).front().spec.series_uid == "1.2.3");
  CHECK(f.queue.list(filter(JobState::Dead, "", "", 0)).empty());
  CHECK(f.queue.list(filter(std::nullopt, "", "", 1)).size() == 1);
  const auto job = f.queue.claim(as("a"));
  REQUIRE(job);
  f.queue.record_instance(job->id, "1.2.3.1", "sent", 0, "", 1);
  f.queue.record_instance(job->id, "1.2.3.2", "failed", 0xA700, "refused with status 0xa700", 1);
  f.queue.record_instance(job->id, "1.2.3.2", "sent", 0, "", 2);  // a later attempt replaces it
  f.queue.record_instance(job->id, "1.2.3.3", "failed", std::nullopt, "not sent", 2);
  CHECK(f.queue.acknowledged_count(job->id) == 2);
  const auto detail = f.queue.show(job->id);
  REQUIRE(detail);
  REQUIRE(detail->instances.size() == 3);
  CHECK(detail->instances[1].outcome == "sent");
  CHECK(detail->instances[2].status == std::nullopt);
  CHECK(detail->events.size() == 2);
  CHECK_FALSE(f.queue.show(12345));
}

TEST_CASE("jobs: a new job wakes a listening node at once") {
  Fixture f;
  db::JobNotifier notifier(f.cluster.conninfo());
  CHECK_FALSE(notifier.wait(100ms));  // connects and listens; nothing yet
  auto enqueued = std::async(std::launch::async, [&f] {
    std::this_thread::sleep_for(200ms);
    return f.queue.enqueue(spec("1.2.3"));
  });
  const auto started = std::chrono::steady_clock::now();
  bool woken = false;
  while (!woken && std::chrono::steady_clock::now() - started < 5s) woken = notifier.wait(1s);
  CHECK(woken);
  CHECK(enqueued.get());
}
