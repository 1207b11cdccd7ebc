#pragma once
// The durable job queue (tables of migration 0005): what routing's workers claim and
// report on, and what `pacsnode jobs` shows and changes. Every change of state is one SQL
// statement built from the table of db/job_states.hpp that names the state it leaves (and
// the lease owner where there is one), so that of two nodes racing for a transition exactly
// one wins. Thread-safe (connections come from the pool). Throws pacsnode::Error:
// Unavailable when the server cannot be reached, Internal otherwise. No libpqxx here.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/connection_pool.hpp"
#include "db/job_states.hpp"

namespace pacsnode::db {

// What a firing asks for: one action on one resource. (rule, level, resource UID, content
// version, kind, target) is the idempotency key.
struct JobSpec {
  std::string kind;    // "forward", "analyze", …
  std::string target;  // the peer's or plug-in's name
  std::string level;   // "instance", "series" or "study"
  std::string study_uid;
  std::string series_uid;        // "" at study level
  std::string sop_instance_uid;  // "" above instance level
  std::string rule;
  std::int64_t content_version = 0;
  int firing = 1;  // 1: the rule's first firing on the resource; more: an amendment
  int priority = 0;
  int max_attempts = 10;

  const std::string& resource_uid() const;  // the UID at `level`
};

struct JobRow {
  std::int64_t id = 0;
  JobSpec spec;
  JobState state = JobState::Queued;
  int attempts = 0;
  std::string next_attempt_at, lease_owner, lease_expires_at, last_error, note, created_at, updated_at,
      started_at, finished_at;  // timestamps as ISO 8601 text, "" when NULL
  std::int64_t next_attempt_in_ms = 0;  // from the query's now(); negative when due
};

struct JobEventRow {
  std::string at, event, from_state, to_state, owner, error;
  int attempt = 0;
};

struct JobInstanceRow {
  std::string sop_instance_uid, outcome, error, at;  // outcome: "sent", "warning", "failed"
  std::optional<int> status;
  int attempt = 0;
};

struct JobDetail {
  JobRow job;
  std::vector<JobEventRow> events;        // oldest first
  std::vector<JobInstanceRow> instances;  // by SOP Instance UID
  std::string output_tail;                // an analysis plug-in's last output (stdout + stderr)
};

// An instance of a job's resource, from the index.
struct IndexedFile {
  std::string sop_instance_uid;
  std::string file_path;  // relative to the storage root
};

struct JobFilter {
  std::optional<JobState> state;
  std::string rule;  // "" = any
  std::string peer;  // "" = any; else forward jobs to this peer
  std::size_t limit = 0;  // 0 = all
  std::string kind;    // "" = any; else "forward", "analyze", …
  std::string plugin;  // "" = any; else analyze jobs with this plug-in
  std::size_t offset = 0;  // skip this many (in id order) first
};

struct ClaimRequest {
  std::string owner;               // this node's lease owner id
  std::vector<std::string> kinds;  // the kinds this node has handlers for
  // (kind, target) pairs this node runs as many jobs for as it may: skipped.
  std::vector<std::pair<std::string, std::string>> busy;
  std::chrono::milliseconds lease{60'000};
};

// Outcome of an administrator's retry or cancel of one job.
struct AdminOutcome {
  bool changed = false;
  std::optional<JobState> state;  // the job's state when nothing changed; nullopt: no such job
};

class JobQueue {
 public:
  explicit JobQueue(ConnectionPool& pool);

  // Inserts the job unless its idempotency key exists. Returns whether it was inserted.
  bool enqueue(const JobSpec& spec);

  // ---- workers ----
  // Ends jobs whose lease expired on their last attempt (Expire), then takes over one whose
  // lease expired (TakeOver) or claims the most urgent due one (Claim): highest priority,
  // then earliest next attempt. Skips targets backed off (job_target) and `busy` ones.
  // nullopt when nothing is claimable.
  std::optional<JobRow> claim(const ClaimRequest& request);
  // Extends the lease; false when the job is no longer running under `owner` (cancelled,
  // or taken over after the lease expired): the worker must stop.
  bool renew(std::int64_t id, const std::string& owner, std::chrono::milliseconds lease);
  // Done; `note` (may be empty) says how, e.g. "not applicable".
  bool succeed(std::int64_t id, const std::string& owner, const std::string& note = {});
  // Failed (claimable again after `retry_in`), or Dead when the job has used its attempts
  // or is older than `max_age` (0 = no limit); nullopt when not running under `owner`.
  std::optional<JobState> fail(std::int64_t id, const std::string& owner, const std::string& error,
                               std::chrono::milliseconds retry_in, std::chrono::milliseconds max_age);
  bool give_up(std::int64_t id, const std::string& owner, const std::string& error);
  // Queued again at once, the attempt not counted (the worker stopped, e.g. at shutdown).
  bool release(std::int64_t id, const std::string& owner, const std::string& why);

  // The job's resource's instances in the index that the job has not had acknowledged yet,
  // in study, series number, instance number order.
  std::vector<IndexedFile> instances_to_send(const JobRow& job);
  // The tail of an analysis plug-in's output on the last attempt (shown by `jobs show`).
  void record_output(std::int64_t id, const std::string& tail);
  // Replaces the job's note (e.g. "not applicable", "already reported in SR …").
  void note(std::int64_t id, const std::string& note);
  // How many of the job's instances were acknowledged (sent or warning).
  std::size_t acknowledged_count(std::int64_t id);
  // One instance's outcome for the job (replacing an earlier attempt's).
  void record_instance(std::int64_t id, const std::string& sop_instance_uid, const std::string& outcome,
                       std::optional<int> status, const std::string& error, int attempt);

  // A destination's health: after a failure to reach it, no job for it is claimed for
  // `base · 2^(failures−1)` (capped at `max`, jittered to 50–100 %); a success clears it.
  // Returns the consecutive failures so far.
  int target_failed(const std::string& kind, const std::string& target, const std::string& error,
                    std::chrono::milliseconds base, std::chrono::milliseconds max);
  void target_ok(const std::string& kind, const std::string& target);
  // Notes on queued jobs of kinds no handler here runs that nobody on this node will run
  // them (once per job). Returns how many were noted.
  int note_unhandled(const std::vector<std::string>& kinds, const std::string& owner);

  // ---- administrators (pacsnode jobs) ----
  std::vector<JobRow> list(const JobFilter& filter);
  // How many jobs match the filter (its limit and offset ignored).
  std::size_t count(const JobFilter& filter);
  std::optional<JobDetail> show(std::int64_t id);
  // Queued again with fresh attempts; the destination's back-off is lifted.
  AdminOutcome retry(std::int64_t id);
  int retry_dead();
  AdminOutcome cancel(std::int64_t id);

  // ---- monitoring (/metrics) ----
  struct KindStateCount {
    std::string kind, state;
    std::int64_t count = 0;
  };
  // How many jobs there are of each kind in each state (only pairs that have some).
  std::vector<KindStateCount> counts();

 private:
  ConnectionPool& pool_;
};

}  // namespace pacsnode::db
