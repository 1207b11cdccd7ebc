// The job state machine as a table (db/job_states.hpp) and the retry policy.
#include <doctest/doctest.h>

#include "db/job_states.hpp"

using namespace pacsnode::db;
using enum JobState;
using enum JobEvent;
using namespace std::chrono_literals;

namespace {

JobState next(JobState from, JobEvent event) {
  const auto t = job_transition(from, event);
  REQUIRE_MESSAGE(t.has_value(), job_state_name(from) << " " << job_event_name(event));
  return t->next;
}

bool none(JobState from, JobEvent event) { return !job_transition(from, event).has_value(); }

}  // namespace

TEST_CASE("jobs: a job's life, first attempt to done") {
  CHECK(next(Queued, Claim) == Running);
  CHECK(next(Running, Succeed) == Done);
  // Done is final: nothing at all leaves it.
  for (int e = 0; e <= static_cast<int>(Cancel); ++e) CHECK(none(Done, static_cast<JobEvent>(e)));
}

TEST_CASE("jobs: failure, retry with back-off, dead when exhausted") {
  const auto fail = job_transition(Running, Fail);
  REQUIRE(fail);
  CHECK(fail->next == Failed);
  CHECK(fail->exhausted == Dead);
  CHECK(next(Failed, Claim) == Running);  // when due
  CHECK(job_guard(Claim) == JobGuard::Due);
  CHECK(next(Running, GiveUp) == Dead);
  CHECK(none(Dead, Claim));
  CHECK(none(Failed, Succeed));
}

TEST_CASE("jobs: leases — only the owner reports, an expired lease is taken over") {
  for (auto event : {Succeed, Fail, GiveUp, Release}) {
    CHECK(job_guard(event) == JobGuard::LeaseOwner);
    CHECK(job_states_leaving(event) == std::vector{Running});
  }
  CHECK(job_guard(TakeOver) == JobGuard::LeaseExpired);
  CHECK(next(Running, TakeOver) == Running);
  CHECK(next(Running, Expire) == Dead);
  CHECK(next(Running, Release) == Queued);
  CHECK(none(Queued, TakeOver));
}

TEST_CASE("jobs: administrators retry and cancel") {
  CHECK(job_states_leaving(Retry) == std::vector{Failed, Dead, Cancelled});
  CHECK(job_states_leaving(Cancel) == std::vector{Queued, Running, Failed});
  for (auto s : {Failed, Dead, Cancelled}) CHECK(next(s, Retry) == Queued);
  for (auto s : {Queued, Running, Failed}) CHECK(next(s, Cancel) == Cancelled);
  CHECK(none(Dead, Cancel));
  CHECK(none(Running, Retry));
  CHECK(job_guard(Retry) == JobGuard::None);
}

TEST_CASE("jobs: names round-trip; SQL state lists come from the table") {
  for (int s = 0; s <= static_cast<int>(Cancelled); ++s) {
    const auto state = static_cast<JobState>(s);
    CHECK(parse_job_state(job_state_name(state)) == state);
  }
  CHECK(parse_job_state("waiting") == std::nullopt);
  CHECK(job_state_sql_list(Claim) == "'queued','failed'");
  CHECK(job_state_sql_list(Retry) == "'failed','dead','cancelled'");
  CHECK(job_event_name(TakeOver) == "take-over");
}

TEST_CASE("jobs: retry delays double, are jittered to 50-100 %, never shrink before the cap") {
  CHECK(retry_delay(1, 10s, 1h, 0.0) == 5s);
  CHECK(retry_delay(1, 10s, 1h, 1.0) == 10s);
  CHECK(retry_delay(2, 10s, 1h, 1.0) == 20s);
  CHECK(retry_delay(4, 10s, 1h, 0.5) == 60s);  // 80 s at 75 %
  CHECK(retry_delay(20, 10s, 1h, 1.0) == 1h);
  CHECK(retry_delay(1000, 10s, 1h, 0.0) == 30min);
  // Whatever the jitter, attempt n+1 waits at least as long as attempt n (below the cap).
  for (int n = 1; n < 8; ++n) {
    CHECK(retry_delay(n + 1, 1s, 1h, 0.0) >= retry_delay(n, 1s, 1h, 0.999));
  }
}
