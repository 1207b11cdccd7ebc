#include "app/findings_cli.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "app/table.hpp"
#include "base/json.hpp"
#include "db/findings.hpp"

namespace pacsnode::app {
namespace {

std::string measurement(const db::FindingValue& v) { return db::measurement_of(v); }

std::string number(double value) { return fmt::format("{:.6g}", value); }

std::string json_number(double value) { return std::isfinite(value) ? number(value) : "null"; }

}  // namespace

std::size_t print_findings(const std::string& conninfo, const std::string& patient_id, const std::string& issuer,
                           const FindingsQuery& query, bool json, std::string* out_json) {
  const auto values = db::patient_findings(conninfo, patient_id, issuer, {query.name, query.tracking_uid});
  const auto change = db::changes_from_previous(values);
  if (json) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto& v = values[i];
      out += i ? ",\n" : "\n";
      out += "{\"StudyDate\":" + json_string(v.study_date) + ",\"StudyInstanceUID\":" + json_string(v.study_instance_uid) +
             ",\"TrackingIdentifier\":" + json_string(v.tracking_identifier) +
             ",\"TrackingUID\":" + json_string(v.tracking_uid) + ",\"Finding\":" + json_string(v.finding_meaning) +
             ",\"Laterality\":" + json_string(v.laterality_meaning) + ",\"Measurement\":" + json_string(measurement(v)) +
             ",\"Value\":" + json_number(v.value) + ",\"Unit\":" + json_string(v.unit) +
             ",\"Change\":" + (change[i] ? json_number(*change[i]) : std::string("null")) +
             ",\"Plugin\":" + json_string(v.plugin) + ",\"PluginVersion\":" + json_string(v.plugin_version) +
             ",\"ReportSOPInstanceUID\":" + json_string(v.sr_sop_instance_uid) + "}";
    }
    out += values.empty() ? "]" : "\n]";
    if (out_json) *out_json = std::move(out);
    return values.size();
  }
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& v = values[i];
    std::vector<std::string> row{v.study_date, v.tracking_identifier, measurement(v), number(v.value), v.unit};
    if (query.over_time()) {
      row.push_back(change[i] ? fmt::format("{:+.6g}", *change[i]) : std::string("-"));
      row.push_back(v.tracking_uid);
    } else {
      row.push_back(v.plugin + " " + v.plugin_version);
    }
    row.push_back(v.study_instance_uid);
    rows.push_back(std::move(row));
  }
  if (query.over_time()) {
    print_table({"DATE", "FINDING", "MEASUREMENT", "VALUE", "UNIT", "CHANGE", "TRACKING UID", "STUDY UID"}, rows);
  } else {
    print_table({"DATE", "FINDING", "MEASUREMENT", "VALUE", "UNIT", "PLUG-IN", "STUDY UID"}, rows);
  }
  return values.size();
}

}  // namespace pacsnode::app
