#include "db/retrieve_query.hpp"
#include "db/array_literal.hpp"

#include <optional>

#include "base/error.hpp"

namespace pacsnode::db {
namespace {

constexpr std::uint32_t kPatientId = 0x00100020;
constexpr std::uint32_t kIssuerOfPatientId = 0x00100021;
constexpr std::uint32_t kStudyInstanceUid = 0x0020000D;
constexpr std::uint32_t kSeriesInstanceUid = 0x0020000E;
constexpr std::uint32_t kSopInstanceUid = 0x00080018;

[[noreturn]] void refuse(const std::string& message) { throw Error(ErrorCode::InvalidArgument, message); }

std::string trimmed(std::string_view v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\0')) v.remove_suffix(1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return std::string(v);
}

std::optional<std::string> value_of(const FindRequest& request, std::uint32_t tag) {
  for (const auto& key : request.keys) {
    if (key.tag == tag) return trimmed(key.value);
  }
  return std::nullopt;
}

// PostgreSQL array literal text for `= ANY($n::text[])`, each value trimmed and quoted.
std::string array_literal(const std::string& list, const char* name) {
  std::string out = "{";
  std::size_t start = 0;
  bool first = true;
  for (;;) {
    const auto end = list.find('\\', start);
    const std::string uid = trimmed(std::string_view(list).substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (uid.empty()) refuse(std::string("empty value in the list of ") + name);
    if (!first) out += ',';
    detail::append_array_element(out, uid);
    first = false;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out + "}";
}

}  // namespace

SqlQuery build_retrieve_sql(const FindRequest& request, std::size_t limit) {
  if (request.model == InformationModel::StudyRoot && request.level == QueryLevel::Patient) {
    refuse("the Study Root model has no PATIENT retrieve level");
  }
  SqlQuery query;
  std::vector<std::string> conditions;
  auto uid_condition = [&](std::uint32_t tag, const char* column, const char* name, bool required) {
    const auto value = value_of(request, tag);
    if (!value || value->empty()) {
      if (required) refuse(std::string(name) + " is required at this retrieve level");
      return;
    }
    if (value->find_first_of("*?") != std::string::npos) refuse(std::string("wildcards are not allowed in ") + name);
    query.params.push_back(array_literal(*value, name));
    conditions.push_back(std::string(column) + " = ANY($" + std::to_string(query.params.size()) + "::text[])");
  };

  const auto level = request.level;
  if (request.model == InformationModel::PatientRoot) {
    const auto patient_id = value_of(request, kPatientId);
    if (level == QueryLevel::Patient && (!patient_id || patient_id->empty())) {
      refuse("PatientID is required at the PATIENT retrieve level");
    }
    if (patient_id && !patient_id->empty()) {
      if (patient_id->find_first_of("*?\\") != std::string::npos) refuse("PatientID must be a single value");
      query.params.push_back(*patient_id);
      conditions.push_back("p.patient_id = $" + std::to_string(query.params.size()));
      if (const auto issuer = value_of(request, kIssuerOfPatientId); issuer && !issuer->empty()) {
        query.params.push_back(*issuer);
        conditions.push_back("p.issuer_of_patient_id = $" + std::to_string(query.params.size()));
      }
    }
  }
  if (level != QueryLevel::Patient) {
    uid_condition(kStudyInstanceUid, "st.study_instance_uid", "StudyInstanceUID", level == QueryLevel::Study);
  }
  if (level == QueryLevel::Series || level == QueryLevel::Image) {
    uid_condition(kSeriesInstanceUid, "se.series_instance_uid", "SeriesInstanceUID", level == QueryLevel::Series);
  }
  if (level == QueryLevel::Image) {
    uid_condition(kSopInstanceUid, "i.sop_instance_uid", "SOPInstanceUID", true);
  }

  query.sql =
      "SELECT i.sop_instance_uid, i.sop_class_uid, i.transfer_syntax_uid, i.file_path"
      " FROM instance i JOIN series se ON se.id = i.series_pk JOIN study st ON st.id = se.study_pk"
      " JOIN patient p ON p.id = st.patient_pk WHERE ";
  for (std::size_t n = 0; n < conditions.size(); ++n) {
    if (n) query.sql += " AND ";
    query.sql += conditions[n];
  }
  query.sql += " ORDER BY st.id, se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id";
  if (limit != 0) query.sql += " LIMIT " + std::to_string(limit);
  return query;
}

}  // namespace pacsnode::db
