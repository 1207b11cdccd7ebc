// The JSON admin API under /api: the node (system), its patients, the job queue, the
// routing rules and the peers. Every answer is JSON with snake_case names; lists are
// {"items", "total", "limit", "offset"}. The handlers call the same services as the command
// line (db::JobQueue for `pacsnode jobs`, routing::explain_all for `pacsnode rules test`,
// scu::echo for `pacsnode echo`); blocking work runs on context.workers.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/fd.hpp"
#include "db/connection_pool.hpp"
#include "db/findings.hpp"
#include "db/job_queue.hpp"
#include "db/patient_directory.hpp"
#include "db/patient_history.hpp"
#include "http/admin_info.hpp"
#include "http/handlers.hpp"
#include "net/blocking.hpp"
#include "routing/explanation.hpp"
#include "routing/sources.hpp"
#include "scu/echo.hpp"
#include "storage/store.hpp"

namespace pacsnode::http {
namespace {

// ordered: members in the order written (an object's identity first), not sorted.
using json = nlohmann::ordered_json;

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;
constexpr std::uint64_t kMaxPostedFile = 512ull << 20;  // POST /api/rules/test

asio::awaitable<void> reply_json(Exchange& exchange, unsigned status, const json& body) {
  // Text from DICOM files may not be valid UTF-8: replaced rather than refused.
  std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  co_await exchange.reply(status, "application/json", std::move(text));
}

// Throws 405 unless the request's method is `allowed` (GET also answers HEAD).
void allow(const Exchange& exchange, std::string_view allowed) {
  const auto method = exchange.method();
  if (method == allowed || (allowed == "GET" && method == "HEAD")) return;
  throw HttpError{405, std::string(method) + " is not allowed on " + exchange.path() + "; use " + std::string(allowed),
                  {{"Allow", allowed == "GET" ? "GET, HEAD" : std::string(allowed)}}};
}

// Throws 400 for a query parameter not in `known` (a typo should not widen a search).
void known_parameters(const Exchange& exchange, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : exchange.query()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw HttpError{400, "unknown query parameter \"" + name + "\" (known: " + (list.empty() ? "none" : list) + ")"};
    }
  }
}

std::string parameter(const Exchange& exchange, std::string_view name) {
  for (const auto& [n, v] : exchange.query()) {
    if (n == name) return v;
  }
  return {};
}

bool has_parameter(const Exchange& exchange, std::string_view name) {
  return std::any_of(exchange.query().begin(), exchange.query().end(), [&](const auto& p) { return p.first == name; });
}

std::optional<std::uint64_t> digits(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  return std::stoull(text);
}

struct Page {
  std::size_t limit = kDefaultLimit, offset = 0;
};

Page page_of(const Exchange& exchange) {
  Page page;
  if (has_parameter(exchange, "limit")) {
    const auto text = parameter(exchange, "limit");
    const auto n = digits(text);
    if (!n || *n == 0 || *n > kMaxLimit) {
      throw HttpError{400, "limit: \"" + text + "\" is not a whole number from 1 to " + std::to_string(kMaxLimit)};
    }
    page.limit = *n;
  }
  if (has_parameter(exchange, "offset")) {
    const auto text = parameter(exchange, "offset");
    const auto n = digits(text);
    if (!n) throw HttpError{400, "offset: \"" + text + "\" is not a non-negative whole number"};
    page.offset = *n;
  }
  return page;
}

json list_of(json items, std::size_t total, const Page& page) {
  return json{{"items", std::move(items)}, {"total", total}, {"limit", page.limit}, {"offset", page.offset}};
}

// A page of an in-memory list.
template <typename T, typename F>
json paged(const std::vector<T>& all, const Page& page, F to_json) {
  json items = json::array();
  for (std::size_t i = page.offset; i < all.size() && i < page.offset + page.limit; ++i) items.push_back(to_json(all[i]));
  return list_of(std::move(items), all.size(), page);
}

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

const AdminInfo& admin_of(const Context& context) {
  if (context.admin == nullptr) throw HttpError{503, "the admin API is not configured on this node"};
  return *context.admin;
}

// ---------------------------------------------------------------- system

struct SystemFacts {
  std::optional<db::IndexTotals> totals;
  std::string database_error;
  std::uint64_t free_bytes = 0;
};

asio::awaitable<void> system(Context& context, Exchange& exchange) {
  known_parameters(exchange, {});
  const AdminInfo& admin = admin_of(context);
  SystemFacts facts = co_await net::run_blocking(context.workers, [&]() {
    SystemFacts f;
    try {
      f.totals = db::index_totals(context.connections);
    } catch (const std::exception& e) {
      f.database_error = e.what();
    }
    if (admin.store != nullptr) f.free_bytes = admin.store->free_bytes();
    return f;
  });
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - admin.started);
  json body{{"version", admin.version},
            {"uptime_seconds", uptime.count()},
            {"ae_title", context.ae_title},
            {"dicom_port", admin.dicom_port}};
  json storage{{"root", admin.store != nullptr ? admin.store->root().string() : std::string()},
               {"used_bytes", facts.totals ? json(facts.totals->file_bytes) : json(nullptr)},
               {"free_bytes", facts.free_bytes}};
  body["storage"] = std::move(storage);
  body["database"] = json{{"status", facts.totals ? std::string("ok") : facts.database_error}};
  if (facts.totals) {
    body["counts"] = json{{"patients", facts.totals->patients},
                          {"studies", facts.totals->studies},
                          {"series", facts.totals->series},
                          {"instances", facts.totals->instances}};
  } else {
    body["counts"] = nullptr;
  }
  co_await reply_json(exchange, 200, body);
}

// ---------------------------------------------------------------- patients

json patient_json(const db::PatientSummary& p) {
  return json{{"patient_id", p.patient_id},
              {"issuer", p.issuer},
              {"name", p.name},
              {"birth_date", text_or_null(p.birth_date)},
              {"sex", p.sex},
              {"studies", p.studies},
              {"last_study_date", text_or_null(p.last_study_date)}};
}

std::vector<std::string> split_backslash(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (!text.empty()) {
    const auto at = text.find('\\', start);
    out.push_back(text.substr(start, at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

asio::awaitable<void> patients(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"name", "id", "birth_date", "limit", "offset"});
  const Page page = page_of(exchange);
  db::PatientFilter filter;
  filter.name = parameter(exchange, "name");
  filter.patient_id = parameter(exchange, "id");
  filter.birth_date = parameter(exchange, "birth_date");
  filter.limit = page.limit;
  filter.offset = page.offset;
  const db::PatientPage found =
      co_await net::run_blocking(context.workers, [&]() { return db::find_patients(context.connections, filter); });
  json items = json::array();
  for (const auto& p : found.items) items.push_back(patient_json(p));
  const json body = list_of(std::move(items), found.total, page);
  co_await reply_json(exchange, 200, body);
}

struct PatientRecord {
  std::optional<db::PatientSummary> patient;
  std::vector<std::string> issuers;  // when no issuer was given and the ID has several
  std::vector<db::HistoryStudy> studies;
  std::vector<db::FindingValue> findings;
};

asio::awaitable<void> patient(Context& context, Exchange& exchange, const std::string& patient_id) {
  known_parameters(exchange, {"issuer"});
  const bool issuer_given = has_parameter(exchange, "issuer");
  const std::string issuer_parameter = parameter(exchange, "issuer");
  PatientRecord record = co_await net::run_blocking(context.workers, [&]() {
    PatientRecord r;
    const std::string& conninfo = context.connections.conninfo();
    std::string issuer = issuer_parameter;
    if (!issuer_given) {
      // Without ?issuer=, the ID's only issuer (usually "").
      r.issuers = db::patient_issuers(conninfo, patient_id);
      if (r.issuers.size() != 1) return r;
      issuer = r.issuers.front();
    }
    r.patient = db::find_patient(context.connections, patient_id, issuer);
    if (!r.patient) return r;
    r.studies = db::patient_history(conninfo, patient_id, issuer);
    r.findings = db::patient_findings(conninfo, patient_id, issuer, {});
    return r;
  });
  if (!record.patient) {
    if (record.issuers.size() > 1) {
      std::string list;
      for (const auto& i : record.issuers) list += (list.empty() ? "\"" : ", \"") + i + "\"";
      throw HttpError{409, "patient " + patient_id + " is indexed under several issuers (" + list +
                               "): name one with ?issuer="};
    }
    throw HttpError{404, "no patient " + patient_id +
                             (issuer_given ? " with issuer \"" + issuer_parameter + "\"" : std::string()) +
                             " in the index"};
  }
  json body = patient_json(*record.patient);
  json studies = json::array();
  for (const auto& s : record.studies) {
    studies.push_back(json{{"study_instance_uid", s.study_instance_uid},
                           {"study_date", text_or_null(s.study_date)},
                           {"study_time", text_or_null(s.study_time)},
                           {"modalities", split_backslash(s.modalities_in_study)},
                           {"description", s.study_description},
                           {"accession_number", s.accession_number},
                           {"series", s.number_of_series},
                           {"instances", s.number_of_instances}});
  }
  body["study_list"] = std::move(studies);
  const auto change = db::changes_from_previous(record.findings);
  json findings = json::array();
  for (std::size_t i = 0; i < record.findings.size(); ++i) {
    const auto& v = record.findings[i];
    findings.push_back(json{{"study_date", text_or_null(v.study_date)},
                            {"study_instance_uid", v.study_instance_uid},
                            {"tracking_identifier", v.tracking_identifier},
                            {"tracking_uid", v.tracking_uid},
                            {"finding", v.finding_meaning},
                            {"laterality", v.laterality_meaning},
                            {"measurement", db::measurement_of(v)},
                            {"value", std::isfinite(v.value) ? json(v.value) : json(nullptr)},
                            {"unit", v.unit},
                            {"change", change[i] && std::isfinite(*change[i]) ? json(*change[i]) : json(nullptr)},
                            {"plugin", v.plugin},
                            {"plugin_version", v.plugin_version},
                            {"report_sop_instance_uid", v.sr_sop_instance_uid}});
  }
  body["findings"] = std::move(findings);
  co_await reply_json(exchange, 200, body);
}

// ---------------------------------------------------------------- jobs

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

std::int64_t job_id_of(const std::string& text) {
  const auto n = digits(text);
  if (!n || *n == 0) throw HttpError{404, "no job " + text + " (a job ID is a positive whole number)"};
  return static_cast<std::int64_t>(*n);
}

struct JobPage {
  std::vector<db::JobRow> jobs;
  std::size_t total = 0;
};

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

std::string states_leaving(db::JobEvent event) {
  std::string out;
  const auto states = db::job_states_leaving(event);
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i) out += i + 1 == states.size() ? " or " : ", ";
    out += db::job_state_name(states[i]);
  }
  return out;
}

struct AdminResult {
  db::AdminOutcome outcome;
  std::optional<db::JobRow> job;  // after the change
};

// POST /api/jobs/{id}/retry and /cancel: as `pacsnode jobs retry|cancel`.
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
                             "; only " + states_leaving(event) + " jobs can be " +
                             (retry ? "queued again" : "cancelled")};
  }
  if (!result.job) throw HttpError{404, "no job " + std::to_string(id)};
  const json body = job_json(*result.job);
  co_await reply_json(exchange, 200, body);
}

// POST /api/jobs/retry?state=dead: every dead job, as `pacsnode jobs retry --dead`.
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
  const json body{{"retried", retried}};
  co_await reply_json(exchange, 200, body);
}

// ---------------------------------------------------------------- rules

// Whitespace runs folded to one space: a `when` written over several lines, on one.
std::string folded(std::string_view text) {
  std::string out;
  bool space = false;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

json rule_json(const routing::Rule& rule, const std::vector<routing::PeerAddress>& peers) {
  json then = json::array();
  for (const auto& action : rule.then) {
    json a{{"verb", std::string(routing::to_string(action.verb))}, {"target", action.target}};
    if (action.verb == routing::Verb::Forward) {
      const auto peer = std::find_if(peers.begin(), peers.end(), [&](const auto& p) { return p.name == action.target; });
      if (peer != peers.end()) {
        a["peer"] = json{{"ae_title", peer->ae_title}, {"host", peer->host}, {"port", peer->port}};
      }
    }
    then.push_back(std::move(a));
  }
  return json{{"name", rule.name},
              {"on", std::string(routing::to_string(rule.on))},
              {"priority", rule.priority},
              {"fallback", rule.fallback},
              {"stable_after_seconds",
               rule.on == routing::Trigger::Instance ? json(nullptr) : json(rule.stable_after.count() / 1000.0)},
              {"when", folded(rule.when.text())},
              {"then", std::move(then)},
              {"origin", rule.origin}};
}

asio::awaitable<void> rules(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"limit", "offset"});
  const AdminInfo& admin = admin_of(context);
  const Page page = page_of(exchange);
  static const std::vector<routing::Rule> kNone;
  const auto& all = admin.rules != nullptr ? admin.rules->rules() : kNone;
  const json body = paged(all, page, [&](const routing::Rule& r) { return rule_json(r, admin.peers); });
  co_await reply_json(exchange, 200, body);
}

// A temporary file, removed when it goes out of scope.
struct TempFile {
  std::string path;
  Fd fd;
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    fd.reset();
    if (!path.empty()) ::unlink(path.c_str());
  }
};

struct Explained {
  std::string error;  // unreadable: why
  std::string json;   // the explanation
  std::vector<std::pair<std::string, std::string>> facts;
};

// POST /api/rules/test: the posted Part-10 file through every rule, as `pacsnode rules test
// --json` answers for a file (nothing is stored or done).
asio::awaitable<void> rules_test(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"calling_ae", "called_ae", "calling_host"});
  const AdminInfo& admin = admin_of(context);
  const auto type = exchange.header("Content-Type");
  if (!type || type->substr(0, std::min(type->find(';'), type->size())) != "application/dicom") {
    throw HttpError{415, "POST /api/rules/test takes a DICOM file: Content-Type: application/dicom"};
  }
  routing::AssociationContext association;
  if (has_parameter(exchange, "calling_ae")) {
    routing::AssociationContext::add(association.calling_ae, parameter(exchange, "calling_ae"));
  }
  if (has_parameter(exchange, "called_ae")) {
    routing::AssociationContext::add(association.called_ae, parameter(exchange, "called_ae"));
  }
  if (has_parameter(exchange, "calling_host")) {
    routing::AssociationContext::add(association.calling_host, parameter(exchange, "calling_host"));
  }

  TempFile file;
  const std::filesystem::path dir = admin.temp_dir.empty() ? std::filesystem::temp_directory_path() : admin.temp_dir;
  std::string opened_error = co_await net::run_blocking(context.workers, [&]() {
    std::string pattern = (dir / "pacsnode-rules-test-XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) return "cannot create a temporary file in " + dir.string() + ": " + std::strerror(errno);
    file.path = pattern;
    file.fd.reset(fd);
    return std::string();
  });
  if (!opened_error.empty()) throw HttpError{500, opened_error};

  // The body in bounded pieces, each written on the pool.
  std::vector<char> buffer(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t n = co_await exchange.read_body(std::span<char>(buffer.data(), buffer.size()));
    if (n == 0) break;
    total += n;
    if (total > kMaxPostedFile) throw HttpError{413, "the posted file is larger than 512 MiB"};
    const std::string write_error = co_await net::run_blocking(context.workers, [&]() {
      std::size_t done = 0;
      while (done < n) {
        const ssize_t w = ::write(file.fd.get(), buffer.data() + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return std::string("writing the temporary file: ") + std::strerror(errno);
        done += static_cast<std::size_t>(w);
      }
      return std::string();
    });
    if (!write_error.empty()) throw HttpError{500, write_error};
  }
  if (total == 0) throw HttpError{400, "POST /api/rules/test: the body is empty; post a DICOM file"};

  static const routing::RuleSet kNoRules;
  const routing::RuleSet& rule_set = admin.rules != nullptr ? *admin.rules : kNoRules;
  Explained explained = co_await net::run_blocking(context.workers, [&]() {
    Explained e;
    try {
      const auto attributes = routing::read_file_attributes(file.path);
      const auto outcomes = routing::explain_all(rule_set, attributes, association);
      e.json = routing::explanation_json(outcomes, admin.peers, "\"bytes\":" + std::to_string(total));
      constexpr std::array<std::pair<std::uint32_t, const char*>, 4> kFacts = {
          {{0x00080060u, "modality"}, {0x00080016u, "sop_class_uid"}, {0x00080018u, "sop_instance_uid"},
           {0x0020000Du, "study_instance_uid"}}};
      for (const auto& [tag, name] : kFacts) {
        if (const auto* a = attributes.find(tag); a != nullptr && !a->values.empty()) {
          e.facts.emplace_back(name, a->values.front());
        }
      }
    } catch (const std::exception& ex) {
      e.error = ex.what();
    }
    return e;
  });
  if (!explained.error.empty()) throw HttpError{400, "the posted file cannot be read as DICOM: " + explained.error};
  json body = json::parse(explained.json);
  for (const auto& [name, value] : explained.facts) body[name] = value;
  std::size_t matched = 0;
  json would_do = json::array();
  for (const auto& rule : body["rules"]) {
    if (!rule["matched"].get<bool>()) continue;
    ++matched;
    for (const auto& action : rule["actions"]) would_do.push_back(action["would"]);
  }
  body["matched"] = matched;
  body["would_do"] = std::move(would_do);
  co_await reply_json(exchange, 200, body);
}

// ---------------------------------------------------------------- peers

struct PeerJobs {
  std::size_t queued = 0, running = 0, failed = 0, dead = 0;
};

asio::awaitable<void> peers(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"limit", "offset"});
  const AdminInfo& admin = admin_of(context);
  const Page page = page_of(exchange);
  // The jobs of the page's peers, by state; null when the database cannot say.
  std::vector<std::optional<PeerJobs>> counts = co_await net::run_blocking(context.workers, [&]() {
    std::vector<std::optional<PeerJobs>> out(admin.peers.size());
    db::JobQueue queue(context.connections);
    for (std::size_t i = page.offset; i < admin.peers.size() && i < page.offset + page.limit; ++i) {
      try {
        db::JobFilter f;
        f.peer = admin.peers[i].name;
        PeerJobs c;
        f.state = db::JobState::Queued;
        c.queued = queue.count(f);
        f.state = db::JobState::Running;
        c.running = queue.count(f);
        f.state = db::JobState::Failed;
        c.failed = queue.count(f);
        f.state = db::JobState::Dead;
        c.dead = queue.count(f);
        out[i] = c;
      } catch (const std::exception&) {
        break;
      }
    }
    return out;
  });
  std::size_t index = 0;
  json body = paged(admin.peers, page, [&](const routing::PeerAddress& p) {
    json j{{"name", p.name}, {"ae_title", p.ae_title}, {"host", p.host}, {"port", p.port}};
    const auto& c = counts[page.offset + index++];
    j["jobs"] = c ? json{{"queued", c->queued}, {"running", c->running}, {"failed", c->failed}, {"dead", c->dead}}
                  : json(nullptr);
    return j;
  });
  co_await reply_json(exchange, 200, body);
}

// POST /api/peers/{name}/echo: 200 whether or not the peer answered ("ok" says which); the
// request itself succeeded, the peer's state is the answer.
asio::awaitable<void> echo(Context& context, Exchange& exchange, const std::string& name) {
  known_parameters(exchange, {});
  const AdminInfo& admin = admin_of(context);
  const auto peer = std::find_if(admin.peers.begin(), admin.peers.end(), [&](const auto& p) { return p.name == name; });
  if (peer == admin.peers.end()) throw HttpError{404, "no peer named \"" + name + "\" in the configuration"};
  const scu::RemoteNode remote{peer->ae_title, peer->host, peer->port};
  const net::AssociationSettings settings = admin.echo;
  const scu::EchoOutcome outcome =
      co_await net::run_blocking(context.workers, [&]() { return scu::echo_blocking(remote, settings); });
  json body{{"ok", outcome.ok},
            {"peer", peer->name},
            {"ae_title", peer->ae_title},
            {"host", peer->host},
            {"port", peer->port},
            {"millis", outcome.elapsed.count()}};
  if (outcome.ok) {
    body["status"] = "0x0000";
    body["message"] = outcome.message;
  } else {
    body["error"] = outcome.message;
  }
  co_await reply_json(exchange, 200, body);
}

}  // namespace

asio::awaitable<void> handle_api(Context& context, Exchange& exchange, const std::vector<std::string>& s) {
  const std::size_t n = s.size();
  if (n == 2 && s[1] == "system") {
    allow(exchange, "GET");
    co_await system(context, exchange);
    co_return;
  }
  if (n == 2 && s[1] == "patients") {
    allow(exchange, "GET");
    co_await patients(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "patients") {
    allow(exchange, "GET");
    co_await patient(context, exchange, s[2]);
    co_return;
  }
  if (n == 2 && s[1] == "jobs") {
    allow(exchange, "GET");
    co_await jobs(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "jobs" && s[2] == "retry") {
    allow(exchange, "POST");
    co_await retry_dead(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "jobs") {
    allow(exchange, "GET");
    co_await job(context, exchange, job_id_of(s[2]));
    co_return;
  }
  if (n == 4 && s[1] == "jobs" && (s[3] == "retry" || s[3] == "cancel")) {
    allow(exchange, "POST");
    const auto event = s[3] == "retry" ? db::JobEvent::Retry : db::JobEvent::Cancel;
    co_await job_action(context, exchange, job_id_of(s[2]), event);
    co_return;
  }
  if (n == 2 && s[1] == "rules") {
    allow(exchange, "GET");
    co_await rules(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "rules" && s[2] == "test") {
    allow(exchange, "POST");
    co_await rules_test(context, exchange);
    co_return;
  }
  if (n == 2 && s[1] == "peers") {
    allow(exchange, "GET");
    co_await peers(context, exchange);
    co_return;
  }
  if (n == 4 && s[1] == "peers" && s[3] == "echo") {
    allow(exchange, "POST");
    co_await echo(context, exchange, s[2]);
    co_return;
  }
  throw HttpError{404, "no admin API resource " + std::string(exchange.method()) + " " + exchange.path()};
}

}  // namespace pacsnode::http
