// /api/jobs: the job queue, as `pacsnode jobs list|show|retry|cancel` sees and changes it
// (db::JobQueue), with the same errors: 404 no such job, 409 not in a state the action
// applies to.
#include "http/api_support.hpp"

#include "base/log.hpp"
#include "db/connection_pool.hpp"
#include "db/job_queue.hpp"
#include "net/blocking.hpp"

namespace pacsnode::http::api {
namespace {

json job_json(const db::JobRow& job) {
  const auto& s = job.spec;
  json j{{"id", job.id},
         {"kind", s.kind},
         {"state", std::string(db::job_state_name(job.state))},
         {"rule", s.rule},
         {"target", s.target},
         {"peer", s.kind == "forward" ? json(s.target) : json(nullptr)},
         {"plugin", s.kind == "analyze" ? json(s.target) : json(nullptr)},
         {"level", s.level},
         {"study_instance_uid", s.study_uid},
         {"series_instance_uid", text_or_null(s.series_uid)},
         {"sop_instance_uid", text_or_null(s.sop_instance_uid)},
         {"firing", s.firing},
         {"priority", s.priority},
         {"attempts", job.attempts},
         {"max_attempts", s.max_attempts},
         {"last_error", text_or_null(job.last_error)},
         {"note", text_or_null(job.note)},
         {"created_at", text_or_null(job.created_at)},
         {"updated_at", text_or_null(job.updated_at)},
         {"started_at", text_or_null(job.started_at)},
         {"finished_at", text_or_null(job.finished_at)}};
  const bool waits = job.state == db::JobState::Queued || job.state == db::JobState::Failed;
  j["next_attempt_at"] = waits ? text_or_null(job.next_attempt_at) : json(nullptr);
  j["lease_owner"] = job.state == db::JobState::Running ? text_or_null(job.lease_owner) : json(nullptr);
  j["lease_expires_at"] = job.state == db::JobState::Running ? text_or_null(job.lease_expires_at) : json(nullptr);
  return j;
}

std::optional<db::JobState> state_parameter(const Exchange& exchange) {
  if (!has_parameter(exchange, "state")) return std::nullopt;
  const auto text = parameter(exchange, "state");
  const auto state = db::parse_job_state(text);
  if (!state) {
    throw HttpError{400, "state: \"" + text + "\" is not queued, running, done, failed, dead or cancelled"};
  }
  return state;
}

// Who changed the queue, for the log: "admin from 10.0.0.7", "127.0.0.1".
std::string who(const Exchange& exchange) {
  return exchange.user().empty() ? exchange.remote_address() : exchange.user() + " from " + exchange.remote_address();
}

struct JobPage {
  std::vector<db::JobRow> jobs;
  std::size_t total = 0;
};


struct AdminResult {
  db::AdminOutcome outcome;
  std::optional<db::JobRow> job;  // after the change
};

}  // namespace

std::int64_t job_id_of(const std::string& text) {
  const auto n = digits(text);
  if (!n || *n == 0) throw HttpError{404, "no job " + text + " (a job ID is a positive whole number)"};
  return static_cast<std::int64_t>(*n);
}

asio::awaitable<void> jobs(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"state", "kind", "rule", "peer", "plugin", "limit", "offset"});
  const Page page = page_of(exchange);
  db::JobFilter filter;
  filter.state = state_parameter(exchange);
  filter.kind = parameter(exchange, "kind");
  filter.rule = parameter(exchange, "rule");
  filter.peer = parameter(exchange, "peer");
  filter.plugin = parameter(exchange, "plugin");
  filter.limit = page.limit;
  filter.offset = page.offset;
  JobPage found = co_await net::run_blocking(context.workers, [&]() {
    db::JobQueue queue(context.connections);
    return JobPage{queue.list(filter), queue.count(filter)};
  });
  json items = json::array();
  for (const auto& job : found.jobs) items.push_back(job_json(job));
  const json body = list_of(std::move(items), found.total, page);
  co_await reply_json(exchange, 200, body);
}

asio::awaitable<void> job(Context& context, Exchange& exchange, std::int64_t id) {
  known_parameters(exchange, {});
  const std::optional<db::JobDetail> detail = co_await net::run_blocking(context.workers, [&]() {
    db::JobQueue queue(context.connections);
    return queue.show(id);
  });
  if (!detail) throw HttpError{404, "no job " + std::to_string(id)};
  json body = job_json(detail->job);
  json events = json::array();
  for (const auto& e : detail->events) {
    events.push_back(json{{"at", e.at},
                          {"event", e.event},
                          {"from_state", text_or_null(e.from_state)},
                          {"to_state", e.to_state},
                          {"attempt", e.attempt},
                          {"owner", text_or_null(e.owner)},
                          {"error", text_or_null(e.error)}});
  }
  body["events"] = std::move(events);
  json instances = json::array();
  for (const auto& i : detail->instances) {
    instances.push_back(json{{"sop_instance_uid", i.sop_instance_uid},
                             {"outcome", i.outcome},
                             {"status", i.status ? json(*i.status) : json(nullptr)},
                             {"error", text_or_null(i.error)},
                             {"attempt", i.attempt},
                             {"at", i.at}});
  }
  body["instances"] = std::move(instances);
  body["output_tail"] = text_or_null(detail->output_tail);
  co_await reply_json(exchange, 200, body);
}

// As `pacsnode jobs retry|cancel`.
asio::awaitable<void> job_action(Context& context, Exchange& exchange, std::int64_t id, db::JobEvent event) {
  known_parameters(exchange, {});
  const bool retry = event == db::JobEvent::Retry;
  AdminResult result = co_await net::run_blocking(context.workers, [&]() {
    db::JobQueue queue(context.connections);
    AdminResult r;
    r.outcome = retry ? queue.retry(id) : queue.cancel(id);
    if (r.outcome.changed) {
      if (auto detail = queue.show(id)) r.job = std::move(detail->job);
    }
    return r;
  });
  if (!result.outcome.changed) {
    if (!result.outcome.state) throw HttpError{404, "no job " + std::to_string(id)};
    throw HttpError{409, "job " + std::to_string(id) + " is " + std::string(db::job_state_name(*result.outcome.state)) +
                             "; only " + db::job_states_leaving_text(event) + " jobs can be " +
                             (retry ? "queued again" : "cancelled")};
  }
  log::info("admin API: job {} {} by {}", id, retry ? "queued again" : "cancelled", who(exchange));
  if (!result.job) throw HttpError{404, "no job " + std::to_string(id)};
  const json body = job_json(*result.job);
  co_await reply_json(exchange, 200, body);
}

// Every dead job, as `pacsnode jobs retry --dead`.
asio::awaitable<void> retry_dead(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"state"});
  const auto state = state_parameter(exchange);
  if (state != db::JobState::Dead) {
    throw HttpError{400, "POST /api/jobs/retry retries every dead job: give ?state=dead"};
  }
  const int retried = co_await net::run_blocking(context.workers, [&]() {
    db::JobQueue queue(context.connections);
    return queue.retry_dead();
  });
  log::info("admin API: {} dead job(s) queued again by {}", retried, who(exchange));
  const json body{{"retried", retried}};
  co_await reply_json(exchange, 200, body);
}

}  // namespace pacsnode::http::api
