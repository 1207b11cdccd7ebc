#include "app/jobs_cli.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <optional>

#include "app/commands.hpp"
#include "app/data_dir_lock.hpp"
#include "app/database_runtime.hpp"
#include "app/table.hpp"
#include "db/connection_pool.hpp"
#include "db/job_queue.hpp"

namespace pacsnode::app {

struct JobsCommand {
  CLI::App* jobs = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* retry = nullptr;
  CLI::App* cancel = nullptr;
  CLI::Option* retry_id = nullptr;
  std::string state, rule, peer;
  std::size_t limit = 0;
  std::int64_t id = 0;
  bool dead = false;
};

namespace {

std::string seconds_from_now(std::int64_t ms) {
  if (ms <= 0) return "now";
  return fmt::format("in {} s", (ms + 999) / 1000);
}

// What to know about a job at a glance: why it waits, or why it died.
std::string info(const db::JobRow& job) {
  switch (job.state) {
    case db::JobState::Failed:
      return "next " + seconds_from_now(job.next_attempt_in_ms) + ": " + job.last_error;
    case db::JobState::Dead: return job.note + ": " + job.last_error;
    case db::JobState::Running: return "lease " + job.lease_owner + " until " + job.lease_expires_at;
    default: return job.note;
  }
}


int list(db::JobQueue& queue, const JobsCommand& c) {
  db::JobFilter filter;
  if (!c.state.empty()) {
    filter.state = db::parse_job_state(c.state);
    if (!filter.state) {
      std::cerr << "pacsnode jobs list: --state must be queued, running, done, failed, dead or cancelled (got '"
                << c.state << "')\n";
      return kExitConfig;
    }
  }
  filter.rule = c.rule;
  filter.peer = c.peer;
  filter.limit = c.limit;
  const auto jobs = queue.list(filter);
  std::vector<std::vector<std::string>> rows;
  for (const auto& job : jobs) {
    rows.push_back({std::to_string(job.id), std::string(db::job_state_name(job.state)), job.spec.kind,
                    job.spec.target, job.spec.rule, job.spec.level, std::to_string(job.spec.firing),
                    fmt::format("{}/{}", job.attempts, job.spec.max_attempts), job.updated_at,
                    job.spec.resource_uid(), info(job)});
  }
  print_table({"ID", "STATE", "KIND", "TARGET", "RULE", "LEVEL", "FIRING", "ATTEMPTS", "UPDATED", "RESOURCE", "INFO"},
              rows);
  std::cout << jobs.size() << " job(s)\n";
  return 0;
}

int show(db::JobQueue& queue, std::int64_t id) {
  const auto detail = queue.show(id);
  if (!detail) {
    std::cerr << "pacsnode jobs show: no job " << id << "\n";
    return kExitFailure;
  }
  const auto& job = detail->job;
  const auto& s = job.spec;
  std::cout << "job " << job.id << ": " << s.kind << " " << s.target << "\n"
            << "  rule:       " << s.rule << " (priority " << s.priority << "), firing " << s.firing
            << (s.firing > 1 ? " (an amendment)" : " (the first)") << ", content version " << s.content_version
            << "\n"
            << "  resource:   " << s.level << " " << s.resource_uid() << "\n"
            << "  study:      " << s.study_uid << "\n";
  if (!s.series_uid.empty() && s.level != "series") std::cout << "  series:     " << s.series_uid << "\n";
  std::cout << "  state:      " << db::job_state_name(job.state) << " (" << job.attempts << " of " << s.max_attempts
            << " attempts made)\n";
  if (job.state == db::JobState::Failed || job.state == db::JobState::Queued) {
    std::cout << "  next:       " << job.next_attempt_at << " (" << seconds_from_now(job.next_attempt_in_ms) << ")\n";
  }
  if (job.state == db::JobState::Running) {
    std::cout << "  lease:      " << job.lease_owner << " until " << job.lease_expires_at << "\n";
  }
  if (!job.last_error.empty()) std::cout << "  last error: " << job.last_error << "\n";
  if (!job.note.empty()) std::cout << "  note:       " << job.note << "\n";
  std::cout << "  created:    " << job.created_at << "\n  updated:    " << job.updated_at << "\n";
  if (!job.finished_at.empty()) std::cout << "  finished:   " << job.finished_at << "\n";
  std::cout << "history:\n";
  for (const auto& e : detail->events) {
    const std::string change = (e.from_state.empty() ? "" : e.from_state + " -> ") + e.to_state;
    std::string line = fmt::format("  {}  {:<9}  {:<21}", e.at, e.event, change);
    if (e.attempt > 0) line += fmt::format("  attempt {}", e.attempt);
    if (!e.owner.empty()) line += "  by " + e.owner;
    if (!e.error.empty()) line += "  " + e.error;
    while (line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
  std::size_t sent = 0, warnings = 0, failed = 0;
  for (const auto& i : detail->instances) {
    sent += i.outcome == "sent";
    warnings += i.outcome == "warning";
    failed += i.outcome == "failed";
  }
  if (!detail->instances.empty() || job.spec.kind != "analyze") {
    std::cout << "instances: " << sent << " sent, " << warnings << " with a warning, " << failed << " failed\n";
  }
  for (const auto& i : detail->instances) {
    if (i.outcome == "sent") continue;
    std::cout << "  " << i.outcome << "  " << i.sop_instance_uid << "  attempt " << i.attempt;
    if (i.status) std::cout << fmt::format("  status {:#06x}", *i.status);
    if (!i.error.empty()) std::cout << "  " << i.error;
    std::cout << "\n";
  }
  if (!detail->output_tail.empty()) {
    // The plug-in's output on its last attempt: the last 40 lines.
    std::string_view tail = detail->output_tail;
    std::size_t start = tail.size(), lines = 0;
    while (start > 0 && lines <= 40) {
      --start;
      if (tail[start] == '\n' && start + 1 < tail.size()) ++lines;
    }
    if (lines > 40) ++start;
    std::cout << "plug-in output (last attempt" << (start > 0 ? ", tail" : "") << "):\n";
    std::cout << tail.substr(start);
    if (tail.back() != '\n') std::cout << "\n";
  }
  return 0;
}

int admin(const db::AdminOutcome& outcome, std::int64_t id, const char* done, const char* command,
          db::JobEvent event) {
  if (outcome.changed) {
    std::cout << "job " << id << " " << done << "\n";
    return 0;
  }
  if (!outcome.state) {
    std::cerr << "pacsnode jobs " << command << ": no job " << id << "\n";
  } else {
    std::cerr << "pacsnode jobs " << command << ": job " << id << " is " << db::job_state_name(*outcome.state)
              << "; only " << db::job_states_leaving_text(event) << " jobs can be " << done << "\n";
  }
  return kExitFailure;
}

}  // namespace

std::shared_ptr<JobsCommand> add_jobs_command(CLI::App& cli, std::string& config_path) {
  auto c = std::make_shared<JobsCommand>();
  c->jobs = cli.add_subcommand("jobs", "The job queue: list, show, retry, cancel");
  c->jobs->require_subcommand(1);
  c->list = c->jobs->add_subcommand("list", "List jobs, oldest first");
  c->list->add_option("--state", c->state, "Only jobs in this state (queued, running, done, failed, dead, cancelled)");
  c->list->add_option("--rule", c->rule, "Only jobs of this rule");
  c->list->add_option("--peer", c->peer, "Only forward jobs to this peer ([[peers]] name)");
  c->list->add_option("--limit", c->limit, "At most this many (0: all)")->capture_default_str();
  c->show = c->jobs->add_subcommand("show", "One job: its state, history of attempts, per-instance outcomes");
  c->show->add_option("id", c->id, "Job ID")->required();
  c->retry = c->jobs->add_subcommand("retry", "Queue a failed, dead or cancelled job again, with fresh attempts");
  auto* id_option = c->retry->add_option("id", c->id, "Job ID");
  auto* dead_flag = c->retry->add_flag("--dead", c->dead, "Every dead job");
  id_option->excludes(dead_flag);
  c->retry_id = id_option;
  c->cancel = c->jobs->add_subcommand("cancel", "Cancel a job that has not finished (a running one stops)");
  c->cancel->add_option("id", c->id, "Job ID")->required();
  for (auto* sub : {c->list, c->show, c->retry, c->cancel}) {
    sub->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  }
  return c;
}

bool jobs_command_parsed(const JobsCommand& command) { return command.jobs->parsed(); }

int run_jobs(const Config& config, const JobsCommand& c) {
  std::optional<DataDirLock> lock;
  if (config.database_url.empty()) lock = DataDirLock::try_acquire(config.data_dir);
  try {
    DatabaseRuntime runtime(config);
    db::ConnectionPool pool(runtime.conninfo(), 1);
    db::JobQueue queue(pool);
    if (c.list->parsed()) return list(queue, c);
    if (c.show->parsed()) return show(queue, c.id);
    if (c.retry->parsed()) {
      if (!c.dead && c.retry_id->count() == 0) {
        std::cerr << "pacsnode jobs retry: name a job ID, or --dead\n";
        return kExitConfig;
      }
      if (c.dead) {
        std::cout << queue.retry_dead() << " dead job(s) queued again\n";
        return 0;
      }
      return admin(queue.retry(c.id), c.id, "queued again", "retry", db::JobEvent::Retry);
    }
    if (c.cancel->parsed()) return admin(queue.cancel(c.id), c.id, "cancelled", "cancel", db::JobEvent::Cancel);
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "pacsnode jobs: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace pacsnode::app
