// GET /api/system and /api/patients[/{id}]: the node, and the patients of its index with
// their studies and findings.
#include "http/api_support.hpp"

#include <chrono>
#include <cmath>

#include "db/connection_pool.hpp"
#include "db/findings.hpp"
#include "db/node_activity.hpp"
#include "db/patient_directory.hpp"
#include "db/patient_history.hpp"
#include "http/admin_info.hpp"
#include "net/blocking.hpp"
#include "storage/store.hpp"

namespace pacsnode::http::api {
namespace {

struct SystemFacts {
  std::optional<db::IndexTotals> totals;
  std::string database_error;
  std::uint64_t free_bytes = 0;
};

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

struct PatientRecord {
  std::optional<db::PatientSummary> patient;
  std::vector<std::string> issuers;  // the ID's issuers, looked up when no issuer was given
  std::vector<db::HistoryStudy> studies;
  std::vector<db::FindingValue> findings;
};

}  // namespace

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

// Instances received per minute over the last `minutes` (default 60, at most 1440).
asio::awaitable<void> arrivals(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"minutes"});
  int minutes = 60;
  if (has_parameter(exchange, "minutes")) {
    const auto text = parameter(exchange, "minutes");
    const auto n = digits(text);
    if (!n || *n == 0 || *n > 1440) throw HttpError{400, "minutes: \"" + text + "\" is not a whole number from 1 to 1440"};
    minutes = static_cast<int>(*n);
  }
  const std::vector<db::MinuteCount> counts =
      co_await net::run_blocking(context.workers, [&]() { return db::arrivals_per_minute(context.connections, minutes); });
  json items = json::array();
  std::int64_t total = 0;
  for (const auto& c : counts) {
    items.push_back(json{{"minute", c.minute}, {"instances", c.instances}});
    total += c.instances;
  }
  const json body{{"minutes", minutes}, {"instances", total}, {"items", std::move(items)}};
  co_await reply_json(exchange, 200, body);
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

}  // namespace pacsnode::http::api
