#pragma once
// `pacsnode history`'s findings: what analysis plug-ins measured for one patient, per
// study, or one finding's values over time with the change from the previous study.
#include <string>

namespace pacsnode::app {

struct FindingsQuery {
  std::string name;          // --finding: tracking identifier or finding meaning ("" = all)
  std::string tracking_uid;  // --tracking
  bool over_time() const { return !name.empty() || !tracking_uid.empty(); }
};

// Prints the patient's findings (a table, or JSON); returns how many values were printed.
// With `json`, `out_json` receives a JSON array instead of anything being printed.
std::size_t print_findings(const std::string& conninfo, const std::string& patient_id, const std::string& issuer,
                           const FindingsQuery& query, bool json, std::string* out_json);

}  // namespace pacsnode::app
