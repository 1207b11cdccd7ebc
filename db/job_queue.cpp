#include "db/job_queue.hpp"
#include "db/array_literal.hpp"

#include <fmt/format.h>

#include <random>

#include "base/error.hpp"
#include "db/job_sql.hpp"
#include "db/pooled_connection.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db {
namespace {

using detail::translate_errors;

// Timestamps as the CLI shows them; "" for NULL.
#define PN_TS(column) "coalesce(to_char(" column ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'), '')"

// The columns of a JobRow, in the order job_from_row reads them; unqualified, so that they
// read from `job` and from a CTE returning job's columns alike.
constexpr const char* kJobColumns =
    "id, kind, target, level, study_uid, series_uid, sop_instance_uid, rule, content_version, firing, priority, "
    "max_attempts, state, attempts, " PN_TS("next_attempt_at") ", coalesce(lease_owner, ''), " PN_TS(
        "lease_expires_at") ", last_error, note, " PN_TS("created_at") ", " PN_TS("updated_at") ", " PN_TS(
        "started_at") ", " PN_TS("finished_at") ", (extract(epoch FROM next_attempt_at - now()) * 1000)::bigint";

JobRow job_from_row(const pqxx::row& r) {
  JobRow job;
  job.id = r[0].as<std::int64_t>();
  job.spec.kind = r[1].c_str();
  job.spec.target = r[2].c_str();
  job.spec.level = r[3].c_str();
  job.spec.study_uid = r[4].c_str();
  job.spec.series_uid = r[5].c_str();
  job.spec.sop_instance_uid = r[6].c_str();
  job.spec.rule = r[7].c_str();
  job.spec.content_version = r[8].as<std::int64_t>();
  job.spec.firing = r[9].as<int>();
  job.spec.priority = r[10].as<int>();
  job.spec.max_attempts = r[11].as<int>();
  job.state = parse_job_state(r[12].c_str()).value_or(JobState::Queued);
  job.attempts = r[13].as<int>();
  job.next_attempt_at = r[14].c_str();
  job.lease_owner = r[15].c_str();
  job.lease_expires_at = r[16].c_str();
  job.last_error = r[17].c_str();
  job.note = r[18].c_str();
  job.created_at = r[19].c_str();
  job.updated_at = r[20].c_str();
  job.started_at = r[21].c_str();
  job.finished_at = r[22].c_str();
  job.next_attempt_in_ms = r[23].as<std::int64_t>();
  return job;
}

// What a transition's statement checks besides the state, from the table's guard.
std::string guard_sql(JobEvent event) {
  switch (job_guard(event)) {
    case JobGuard::Due: return " AND next_attempt_at <= now()";
    case JobGuard::LeaseExpired: return " AND lease_expires_at < now()";
    case JobGuard::LeaseOwner: return " AND lease_owner = $2";
    case JobGuard::None: break;
  }
  return "";
}

// `state IN (…)` for the event plus its guard: the WHERE of every transition statement.
std::string leaves(JobEvent event) { return "state IN (" + job_state_sql_list(event) + ")" + guard_sql(event); }

// The one state a worker's transitions leave (Running, for every owner-guarded event).
std::string only_state_left(JobEvent event) {
  const auto states = job_states_leaving(event);
  if (states.size() != 1) throw Error(ErrorCode::Internal, "job event leaves more than one state");
  return std::string(job_state_name(states[0]));
}

std::string name(JobState state) { return std::string(job_state_name(state)); }
std::string name(JobEvent event) { return std::string(job_event_name(event)); }

// A worker's report: the owner-guarded transition of `event` to `set` (SQL assignments,
// which may read $3 = error), with its job_event row, in one statement. $1 id, $2 owner.
std::string owner_transition(JobEvent event, const std::string& set) {
  return "WITH t AS (UPDATE job SET " + set + ", lease_owner = NULL, lease_expires_at = NULL, updated_at = now()"
         " WHERE id = $1 AND " + leaves(event) + " RETURNING id, state, attempts)"
         " INSERT INTO job_event (job_id, event, from_state, to_state, attempt, owner, error)"
         " SELECT id, '" + name(event) + "', '" + only_state_left(event) + "', state, attempts, $2, $3 FROM t"
         " RETURNING to_state";
}

const std::string& expire_sql() {
  static const std::string sql =
      "WITH old AS (SELECT id, lease_owner FROM job WHERE " + leaves(JobEvent::Expire) +
      " AND attempts >= max_attempts ORDER BY lease_expires_at LIMIT 20 FOR UPDATE SKIP LOCKED),"
      " t AS (UPDATE job j SET state = '" + name(job_transition(JobState::Running, JobEvent::Expire)->next) +
      "', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(), finished_at = now(),"
      " last_error = 'attempt ' || j.attempts || ' of ' || j.max_attempts || ' never finished: ' || old.lease_owner ||"
      " ' stopped renewing its lease', note = 'gave up after ' || j.attempts || ' attempt(s)'"
      " FROM old WHERE j.id = old.id RETURNING j.id, j.state, j.attempts, j.last_error)"
      " INSERT INTO job_event (job_id, event, from_state, to_state, attempt, owner, error)"
      " SELECT id, '" + name(JobEvent::Expire) + "', '" + only_state_left(JobEvent::Expire) +
      "', state, attempts, '', last_error FROM t";
  return sql;
}

// $1 owner, $2 kinds, $3 lease ms, $4/$5 busy kinds/targets.
std::string claim_sql(JobEvent event) {
  const bool take_over = event == JobEvent::TakeOver;
  const std::string order = take_over ? "j.lease_expires_at" : "j.priority DESC, j.next_attempt_at, j.id";
  return "WITH picked AS (SELECT j.id, j.state AS from_state, j.lease_owner AS old_owner FROM job j"
         " WHERE j." + leaves(event) + (take_over ? " AND j.attempts < j.max_attempts" : "") +
         " AND j.kind = ANY($2::text[])"
         " AND NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::text[]) AS b(kind, target)"
         "                 WHERE b.kind = j.kind AND b.target = j.target)"
         " AND NOT EXISTS (SELECT 1 FROM job_target t WHERE t.kind = j.kind AND t.target = j.target"
         "                 AND t.blocked_until > now())"
         " ORDER BY " + order + " LIMIT 1 FOR UPDATE OF j SKIP LOCKED),"
         " claimed AS (UPDATE job j SET state = 'running', lease_owner = $1,"
         " lease_expires_at = now() + $3::float8 * interval '1 millisecond', attempts = j.attempts + 1,"
         " started_at = now(), updated_at = now(), note = ''"
         " FROM picked WHERE j.id = picked.id AND j.state = picked.from_state"
         " RETURNING j.*, picked.from_state, picked.old_owner),"
         " logged AS (INSERT INTO job_event (job_id, event, from_state, to_state, attempt, owner, error)"
         " SELECT id, '" + name(event) + "', from_state, state, attempts, $1, " +
         (take_over ? std::string("'the lease of ' || coalesce(old_owner, '?') || ' expired'") : std::string("''")) +
         " FROM claimed)"
         " SELECT " + kJobColumns + " FROM claimed";
}


double unit_random() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

}  // namespace

const std::string& JobSpec::resource_uid() const {
  if (level == "instance") return sop_instance_uid;
  if (level == "series") return series_uid;
  return study_uid;
}

namespace detail {

bool insert_job(pqxx::transaction_base& tx, const JobSpec& spec) {
  const auto result = tx.exec_params(
      "WITH ins AS (INSERT INTO job (kind, target, level, study_uid, series_uid, sop_instance_uid, resource_uid, rule,"
      " content_version, firing, priority, max_attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
      " ON CONFLICT ON CONSTRAINT job_idempotency DO NOTHING RETURNING id)"
      " INSERT INTO job_event (job_id, event, from_state, to_state, attempt)"
      " SELECT id, 'create', '', 'queued', 0 FROM ins RETURNING job_id",
      spec.kind, spec.target, spec.level, spec.study_uid, spec.series_uid, spec.sop_instance_uid, spec.resource_uid(),
      spec.rule, spec.content_version, spec.firing, spec.priority, spec.max_attempts);
  return !result.empty();
}

}  // namespace detail

JobQueue::JobQueue(ConnectionPool& pool) : pool_(pool) {}

bool JobQueue::enqueue(const JobSpec& spec) {
  return in_transaction(pool_, "enqueue job", [&](pqxx::work& tx) { return detail::insert_job(tx, spec); });
}

std::optional<JobRow> JobQueue::claim(const ClaimRequest& request) {
  static const std::string take_over = claim_sql(JobEvent::TakeOver);
  static const std::string claim = claim_sql(JobEvent::Claim);
  std::vector<std::string> busy_kinds, busy_targets;
  for (const auto& [kind, target] : request.busy) {
    busy_kinds.push_back(kind);
    busy_targets.push_back(target);
  }
  const std::string kinds = detail::array_literal(request.kinds), bk = detail::array_literal(busy_kinds), bt = detail::array_literal(busy_targets);
  const auto lease_ms = static_cast<std::int64_t>(request.lease.count());
  return in_transaction(pool_, "claim job", [&](pqxx::work& tx) -> std::optional<JobRow> {
    tx.exec0(expire_sql());
    for (const std::string* sql : {&take_over, &claim}) {
      const auto result = tx.exec_params(*sql, request.owner, kinds, lease_ms, bk, bt);
      if (!result.empty()) return job_from_row(result[0]);
    }
    return std::nullopt;
  });
}

bool JobQueue::renew(std::int64_t id, const std::string& owner, std::chrono::milliseconds lease) {
  // Not a change of state: the lease of a running job moves on, under the same guard.
  static const std::string sql = "UPDATE job SET lease_expires_at = now() + $3::float8 * interval '1 millisecond'"
                                 " WHERE id = $1 AND state = 'running' AND lease_owner = $2";
  return in_transaction(pool_, "renew lease", [&](pqxx::work& tx) {
    return tx.exec_params(sql, id, owner, static_cast<std::int64_t>(lease.count())).affected_rows() == 1;
  });
}

bool JobQueue::succeed(std::int64_t id, const std::string& owner, const std::string& note) {
  static const std::string sql =
      owner_transition(JobEvent::Succeed, "state = '" + name(JobState::Done) + "', finished_at = now(), note = $4");
  return in_transaction(pool_, "job done", [&](pqxx::work& tx) {
    return !tx.exec_params(sql, id, owner, std::string(), note).empty();
  });
}

std::optional<JobState> JobQueue::fail(std::int64_t id, const std::string& owner, const std::string& error,
                                       std::chrono::milliseconds retry_in, std::chrono::milliseconds max_age) {
  const auto transition = *job_transition(JobState::Running, JobEvent::Fail);
  // $4 retry in ms, $5 max age in ms (0: none). Out of attempts or time → the exhausted state.
  const std::string exhausted =
      "(attempts >= max_attempts OR ($5::bigint > 0 AND created_at <= now() - $5::float8 * interval '1 millisecond'))";
  static const std::string sql = owner_transition(
      JobEvent::Fail, "state = CASE WHEN " + exhausted + " THEN '" + name(transition.exhausted) + "' ELSE '" +
                          name(transition.next) + "' END, last_error = $3,"
                          " next_attempt_at = now() + $4::float8 * interval '1 millisecond',"
                          " finished_at = CASE WHEN " + exhausted + " THEN now() END,"
                          " note = CASE WHEN attempts >= max_attempts THEN 'gave up after ' || attempts || ' attempt(s)'"
                          " WHEN " + exhausted + " THEN 'gave up: older than jobs.max_age' ELSE '' END");
  return in_transaction(pool_, "job failed", [&](pqxx::work& tx) -> std::optional<JobState> {
    const auto result = tx.exec_params(sql, id, owner, error, static_cast<std::int64_t>(retry_in.count()),
                                       static_cast<std::int64_t>(max_age.count()));
    if (result.empty()) return std::nullopt;
    return parse_job_state(result[0][0].c_str());
  });
}

bool JobQueue::give_up(std::int64_t id, const std::string& owner, const std::string& error) {
  static const std::string sql = owner_transition(
      JobEvent::GiveUp, "state = '" + name(JobState::Dead) + "', last_error = $3, finished_at = now(),"
                                                             " note = 'failed for good: not retried'");
  return in_transaction(pool_, "job dead", [&](pqxx::work& tx) { return !tx.exec_params(sql, id, owner, error).empty(); });
}

bool JobQueue::release(std::int64_t id, const std::string& owner, const std::string& why) {
  static const std::string sql = owner_transition(
      JobEvent::Release, "state = '" + name(JobState::Queued) + "', attempts = greatest(attempts - 1, 0),"
                                                                " next_attempt_at = now(), note = $3");
  return in_transaction(pool_, "release job", [&](pqxx::work& tx) { return !tx.exec_params(sql, id, owner, why).empty(); });
}

std::vector<IndexedFile> JobQueue::instances_to_send(const JobRow& job) {
  const char* column = job.spec.level == "instance" ? "i.sop_instance_uid"
                       : job.spec.level == "series" ? "se.series_instance_uid"
                                                    : "st.study_instance_uid";
  const std::string sql = fmt::format(
      "SELECT i.sop_instance_uid, i.file_path FROM instance i JOIN series se ON se.id = i.series_pk"
      " JOIN study st ON st.id = se.study_pk WHERE {} = $2 AND NOT EXISTS (SELECT 1 FROM job_instance ji"
      " WHERE ji.job_id = $1 AND ji.sop_instance_uid = i.sop_instance_uid AND ji.outcome IN ('sent', 'warning'))"
      " ORDER BY st.id, se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id",
      column);
  return in_transaction(pool_, "job instances", [&](pqxx::work& tx) {
    std::vector<IndexedFile> files;
    for (const auto& r : tx.exec_params(sql, job.id, job.spec.resource_uid())) {
      files.push_back({r[0].c_str(), r[1].c_str()});
    }
    return files;
  });
}

void JobQueue::record_output(std::int64_t id, const std::string& tail) {
  in_transaction(pool_, "record job output", [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE job SET output_tail = $2 WHERE id = $1", id, tail);
    return 0;
  });
}

void JobQueue::note(std::int64_t id, const std::string& note) {
  in_transaction(pool_, "note on job", [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE job SET note = $2 WHERE id = $1", id, note);
    return 0;
  });
}

std::size_t JobQueue::acknowledged_count(std::int64_t id) {
  return in_transaction(pool_, "job instances", [&](pqxx::work& tx) {
    return tx
        .exec_params1("SELECT count(*) FROM job_instance WHERE job_id = $1 AND outcome IN ('sent', 'warning')", id)[0]
        .as<std::size_t>();
  });
}

void JobQueue::record_instance(std::int64_t id, const std::string& sop_instance_uid, const std::string& outcome,
                               std::optional<int> status, const std::string& error, int attempt) {
  in_transaction(pool_, "record instance outcome", [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO job_instance (job_id, sop_instance_uid, outcome, status, error, attempt)"
        " VALUES ($1, $2, $3, NULLIF($4::integer, -1), $5, $6) ON CONFLICT (job_id, sop_instance_uid) DO UPDATE SET"
        " outcome = EXCLUDED.outcome, status = EXCLUDED.status, error = EXCLUDED.error, attempt = EXCLUDED.attempt,"
        " at = now()",
        id, sop_instance_uid, outcome, status.value_or(-1), error, attempt);
    return 0;
  });
}

int JobQueue::target_failed(const std::string& kind, const std::string& target, const std::string& error,
                            std::chrono::milliseconds base, std::chrono::milliseconds max) {
  return in_transaction(pool_, "target health", [&](pqxx::work& tx) {
    const int failures = tx.exec_params1(
                               "INSERT INTO job_target (kind, target, failures, last_error) VALUES ($1, $2, 1, $3)"
                               " ON CONFLICT (kind, target) DO UPDATE SET failures = job_target.failures + 1,"
                               " last_error = EXCLUDED.last_error, updated_at = now() RETURNING failures",
                               kind, target, error)[0]
                             .as<int>();
    const auto delay = retry_delay(failures, base, max, unit_random());
    tx.exec_params0("UPDATE job_target SET blocked_until = now() + $3::float8 * interval '1 millisecond'"
                    " WHERE kind = $1 AND target = $2",
                    kind, target, static_cast<std::int64_t>(delay.count()));
    return failures;
  });
}

void JobQueue::target_ok(const std::string& kind, const std::string& target) {
  in_transaction(pool_, "target health", [&](pqxx::work& tx) {
    tx.exec_params0("UPDATE job_target SET failures = 0, blocked_until = NULL, last_error = '', updated_at = now()"
                    " WHERE kind = $1 AND target = $2 AND (failures <> 0 OR blocked_until IS NOT NULL)",
                    kind, target);
    return 0;
  });
}

int JobQueue::note_unhandled(const std::vector<std::string>& kinds, const std::string& owner) {
  return in_transaction(pool_, "note unhandled jobs", [&](pqxx::work& tx) {
    return static_cast<int>(
        tx.exec_params("UPDATE job SET note = 'no handler for kind \"' || kind || '\" on ' || $2 ||"
                       " ': waits for a pacsnode that has one' WHERE state = 'queued' AND NOT (kind = ANY($1::text[]))"
                       " AND note = ''",
                       detail::array_literal(kinds), owner)
            .affected_rows());
  });
}

namespace {

// The WHERE clause of a JobFilter: $1 state, $2 rule, $3 peer, $4 kind, $5 plug-in.
constexpr const char* kJobFilter =
    " FROM job WHERE ($1 = '' OR state = $1) AND ($2 = '' OR rule = $2)"
    " AND ($3 = '' OR (kind = 'forward' AND target = $3)) AND ($4 = '' OR kind = $4)"
    " AND ($5 = '' OR (kind = 'analyze' AND target = $5))";

}  // namespace

std::vector<JobRow> JobQueue::list(const JobFilter& filter) {
  const std::string sql = std::string("SELECT ") + kJobColumns + kJobFilter +
                          " ORDER BY id LIMIT NULLIF($6::bigint, 0) OFFSET $7::bigint";
  const std::string state = filter.state ? name(*filter.state) : std::string();
  return in_transaction(pool_, "list jobs", [&](pqxx::work& tx) {
    std::vector<JobRow> jobs;
    for (const auto& r : tx.exec_params(sql, state, filter.rule, filter.peer, filter.kind, filter.plugin,
                                        static_cast<std::int64_t>(filter.limit),
                                        static_cast<std::int64_t>(filter.offset))) {
      jobs.push_back(job_from_row(r));
    }
    return jobs;
  });
}

std::size_t JobQueue::count(const JobFilter& filter) {
  const std::string sql = std::string("SELECT count(*)") + kJobFilter;
  const std::string state = filter.state ? name(*filter.state) : std::string();
  return in_transaction(pool_, "count jobs", [&](pqxx::work& tx) {
    return static_cast<std::size_t>(
        tx.exec_params1(sql, state, filter.rule, filter.peer, filter.kind, filter.plugin)[0].as<std::int64_t>());
  });
}

std::optional<JobDetail> JobQueue::show(std::int64_t id) {
  return in_transaction(pool_, "show job", [&](pqxx::work& tx) -> std::optional<JobDetail> {
    const auto rows = tx.exec_params(std::string("SELECT ") + kJobColumns + " FROM job WHERE id = $1", id);
    if (rows.empty()) return std::nullopt;
    JobDetail detail;
    detail.job = job_from_row(rows[0]);
    for (const auto& r : tx.exec_params("SELECT " PN_TS("at") ", event, from_state, to_state, attempt, owner, error"
                                        " FROM job_event WHERE job_id = $1 ORDER BY id",
                                        id)) {
      detail.events.push_back({r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[5].c_str(), r[6].c_str(),
                               r[4].as<int>()});
    }
    for (const auto& r : tx.exec_params("SELECT sop_instance_uid, outcome, error, " PN_TS("at") ", status, attempt"
                                        " FROM job_instance WHERE job_id = $1 ORDER BY sop_instance_uid",
                                        id)) {
      JobInstanceRow row{r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), std::nullopt, r[5].as<int>()};
      if (!r[4].is_null()) row.status = r[4].as<int>();
      detail.instances.push_back(std::move(row));
    }
    detail.output_tail = tx.exec_params1("SELECT output_tail FROM job WHERE id = $1", id)[0].c_str();
    return detail;
  });
}

namespace {

// An administrator's transition of one job (or of every job in `only` state when id is 0)
// with its event, in one statement: $1 id. `set` are the assignments.
std::string admin_transition(JobEvent event, const std::string& set, const std::string& only = {}) {
  const std::string which = only.empty() ? "id = $1 AND " + leaves(event) : "state = '" + only + "'";
  return "WITH old AS (SELECT id, state FROM job WHERE " + which + " FOR UPDATE),"
         " t AS (UPDATE job j SET " + set + ", updated_at = now() FROM old WHERE j.id = old.id"
         " RETURNING j.id, old.state AS from_state, j.state, j.attempts)"
         " INSERT INTO job_event (job_id, event, from_state, to_state, attempt, owner, error)"
         " SELECT id, '" + name(event) + "', from_state, state, attempts, '', '' FROM t RETURNING job_id";
}

const std::string& retry_set() {
  static const std::string set = "state = '" + name(JobState::Queued) +
                                 "', attempts = 0, next_attempt_at = now(), finished_at = NULL, note = 'retried by "
                                 "an administrator'";
  return set;
}

AdminOutcome admin(pqxx::work& tx, const std::string& sql, std::int64_t id) {
  AdminOutcome outcome;
  outcome.changed = !tx.exec_params(sql, id).empty();
  if (!outcome.changed) {
    const auto state = tx.exec_params("SELECT state FROM job WHERE id = $1", id);
    if (!state.empty()) outcome.state = parse_job_state(state[0][0].c_str());
  }
  return outcome;
}

}  // namespace

// An administrator who retries a job wants it tried now: its destination's back-off (not
// its failure count) ends too.
void unblock_targets(pqxx::work& tx, const pqxx::result& retried) {
  std::vector<std::string> ids;
  for (const auto& r : retried) ids.push_back(r[0].c_str());
  if (ids.empty()) return;
  tx.exec_params0("UPDATE job_target t SET blocked_until = NULL FROM job j WHERE j.id = ANY($1::bigint[])"
                  " AND t.kind = j.kind AND t.target = j.target AND t.blocked_until IS NOT NULL",
                  detail::array_literal(ids));
}

AdminOutcome JobQueue::retry(std::int64_t id) {
  static const std::string sql = admin_transition(JobEvent::Retry, retry_set());
  return in_transaction(pool_, "retry job", [&](pqxx::work& tx) {
    AdminOutcome outcome = admin(tx, sql, id);
    if (outcome.changed) unblock_targets(tx, tx.exec_params("SELECT $1::bigint", id));
    return outcome;
  });
}

int JobQueue::retry_dead() {
  // Dead is one of the states Retry leaves (the table); this statement takes all of them.
  if (!job_transition(JobState::Dead, JobEvent::Retry)) throw Error(ErrorCode::Internal, "retry cannot leave dead");
  static const std::string sql = admin_transition(JobEvent::Retry, retry_set(), name(JobState::Dead));
  return in_transaction(pool_, "retry dead jobs", [&](pqxx::work& tx) {
    const auto retried = tx.exec(sql);
    unblock_targets(tx, retried);
    return static_cast<int>(retried.size());
  });
}

AdminOutcome JobQueue::cancel(std::int64_t id) {
  static const std::string sql =
      admin_transition(JobEvent::Cancel, "state = '" + name(JobState::Cancelled) +
                                             "', lease_owner = NULL, lease_expires_at = NULL, finished_at = now(),"
                                             " note = 'cancelled by an administrator'");
  return in_transaction(pool_, "cancel job", [&](pqxx::work& tx) { return admin(tx, sql, id); });
}

std::vector<JobQueue::KindStateCount> JobQueue::counts() {
  return in_transaction(pool_, "count jobs", [&](pqxx::work& tx) {
    std::vector<KindStateCount> out;
    for (const auto& row : tx.exec("SELECT kind, state::text, count(*) FROM job GROUP BY kind, state")) {
      out.push_back({row[0].c_str(), row[1].c_str(), row[2].as<std::int64_t>()});
    }
    return out;
  });
}

}  // namespace pacsnode::db
