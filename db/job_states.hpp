#pragma once
// The life of a job, written down as one table (like net/state_machine's PS3.8 table):
// states × events → next state. Pure. db/job_queue.cpp builds every transition's SQL
// statement from it — the states the statement may leave are exactly the table's — so the
// table and the database can not disagree, and two nodes can never both make a transition
// (each statement re-checks the state it leaves, and the lease owner where there is one).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::db {

enum class JobState : std::uint8_t {
  Queued,     // waiting to be claimed
  Running,    // claimed; held by a lease its owner renews
  Done,       // every instance acknowledged (forward), the handler succeeded
  Failed,     // an attempt failed; claimable again from next_attempt_at (will retry)
  Dead,       // out of attempts or time, or failed for good; the reason is kept
  Cancelled,  // by an administrator
};

enum class JobEvent : std::uint8_t {
  Claim,     // a worker takes a claimable job (queued, or failed and due)
  TakeOver,  // a worker takes a running job whose lease expired (its node died)
  Expire,    // a running job's lease expired on its last attempt: nobody takes it over
  Succeed,   // the owner reports success
  Fail,      // the owner reports a failure: Failed, or Dead when out of attempts/time
  GiveUp,    // the owner reports a failure no retry can cure (e.g. the peer is not configured)
  Release,   // the owner stops without a verdict (shutdown): queued again, attempt not counted
  Retry,     // an administrator revives a failed, dead or cancelled job
  Cancel,    // an administrator cancels a job that has not finished
};

// What a transition's statement must check besides the state it leaves.
enum class JobGuard : std::uint8_t {
  None,          // administrator actions
  Due,           // next_attempt_at has come
  LeaseExpired,  // lease_expires_at has passed
  LeaseOwner,    // lease_owner is the caller
};

struct JobTransition {
  JobState next;
  // Fail only: the state when attempts or age are exhausted (Dead); equal to `next` otherwise.
  JobState exhausted;
};

// The table entry for (state, event); nullopt where the table has none.
std::optional<JobTransition> job_transition(JobState from, JobEvent event);
// Every state the event leaves, in table order (what its SQL statement accepts).
std::vector<JobState> job_states_leaving(JobEvent event);
// The same in words, for messages: "dead, failed or cancelled".
std::string job_states_leaving_text(JobEvent event);
JobGuard job_guard(JobEvent event);

std::string_view job_state_name(JobState state);  // "queued", as in the database
std::optional<JobState> parse_job_state(std::string_view name);
std::string_view job_event_name(JobEvent event);  // "claim", "take-over", …
// "'queued','failed'": the states the event leaves, as an SQL list for `state IN (…)`.
std::string job_state_sql_list(JobEvent event);

}  // namespace pacsnode::db

namespace pacsnode::db {

// Exponential back-off with jitter, the one policy for jobs and destinations: attempt n
// (1-based) waits base · 2^(n−1), capped at `max`, scaled by a factor in [0.5, 1.0] taken
// from `unit_random` ∈ [0, 1). Since the factor never goes below half, the delay after
// attempt n+1 is never shorter than after attempt n until the cap.
std::chrono::milliseconds retry_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                      double unit_random);

}  // namespace pacsnode::db
