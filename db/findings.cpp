#include "db/findings.hpp"

#include <map>

#include <fmt/format.h>

#include <algorithm>

#include "db/pooled_connection.hpp"

namespace pacsnode::db {
namespace {

#define PN_DATE(column) "coalesce(to_char(" column ", 'YYYYMMDD'), '')"

const char* uid_column(const std::string& level) {
  if (level == "instance") return "i.sop_instance_uid";
  if (level == "series") return "se.series_instance_uid";
  return "st.study_instance_uid";
}

constexpr const char* kReportColumns =
    "id, plugin, plugin_version, level, resource_uid, input_fingerprint, study_instance_uid, sr_sop_class_uid,"
    " sr_sop_instance_uid, sr_series_instance_uid, coalesce(replaces_sop_instance_uid, ''),"
    " to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF')";

ReportRow report_from_row(const pqxx::row& r) {
  ReportRow row;
  row.id = r[0].as<std::int64_t>();
  row.plugin = r[1].c_str();
  row.plugin_version = r[2].c_str();
  row.level = r[3].c_str();
  row.resource_uid = r[4].c_str();
  row.input_fingerprint = r[5].c_str();
  row.study_instance_uid = r[6].c_str();
  row.sr_sop_class_uid = r[7].c_str();
  row.sr_sop_instance_uid = r[8].c_str();
  row.sr_series_instance_uid = r[9].c_str();
  row.replaces_sop_instance_uid = r[10].c_str();
  row.created_at = r[11].c_str();
  return row;
}

}  // namespace

std::optional<AnalysisInput> analysis_input(ConnectionPool& pool, const std::string& level, const std::string& uid) {
  const std::string where = fmt::format("{} = $1", uid_column(level));
  const std::string instances_sql = fmt::format(
      "SELECT i.sop_instance_uid, i.sop_class_uid, se.series_instance_uid, coalesce(i.instance_number::text, ''),"
      " i.file_path, i.checksum FROM instance i JOIN series se ON se.id = i.series_pk JOIN study st ON st.id = "
      "se.study_pk WHERE {} ORDER BY st.id, se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id",
      where);
  const std::string head_sql = fmt::format(
      "SELECT p.patient_id, p.issuer_of_patient_id, p.patient_name, " PN_DATE("p.patient_birth_date") ", p.patient_sex,"
      " st.study_instance_uid, " PN_DATE("st.study_date") ","
      " coalesce(rtrim(rtrim(to_char(st.study_time, 'HH24MISS.US'), '0'), '.'), ''), st.accession_number,"
      " st.study_description, se.series_instance_uid, se.modality, coalesce(se.series_number::text, ''),"
      " se.series_description, se.body_part_examined"
      " FROM instance i JOIN series se ON se.id = i.series_pk JOIN study st ON st.id = se.study_pk"
      " JOIN patient p ON p.id = st.patient_pk WHERE {} LIMIT 1",
      where);
  return in_transaction(pool, "analysis input", [&](pqxx::work& tx) -> std::optional<AnalysisInput> {
    const auto head = tx.exec_params(head_sql, uid);
    if (head.empty()) return std::nullopt;
    const auto& h = head[0];
    AnalysisInput input;
    input.patient_id = h[0].c_str();
    input.issuer_of_patient_id = h[1].c_str();
    input.study_instance_uid = h[5].c_str();
    input.study_date = h[6].c_str();
    input.patient = {{"PatientID", h[0].c_str()},
                     {"IssuerOfPatientID", h[1].c_str()},
                     {"PatientName", h[2].c_str()},
                     {"PatientBirthDate", h[3].c_str()},
                     {"PatientSex", h[4].c_str()}};
    input.study = {{"StudyInstanceUID", h[5].c_str()},
                   {"StudyDate", h[6].c_str()},
                   {"StudyTime", h[7].c_str()},
                   {"AccessionNumber", h[8].c_str()},
                   {"StudyDescription", h[9].c_str()}};
    if (level != "study") {
      input.series = {{"SeriesInstanceUID", h[10].c_str()},
                      {"Modality", h[11].c_str()},
                      {"SeriesNumber", h[12].c_str()},
                      {"SeriesDescription", h[13].c_str()},
                      {"BodyPartExamined", h[14].c_str()}};
    }
    std::string digest_input;
    std::vector<std::string> keys;
    for (const auto& r : tx.exec_params(instances_sql, uid)) {
      input.instances.push_back({r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str(), r[5].c_str()});
      keys.push_back(fmt::format("{}:{}", r[0].c_str(), r[5].c_str()));
    }
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys) digest_input += k + "\n";
    input.fingerprint = "md5:" + tx.exec_params1("SELECT md5($1)", digest_input)[0].as<std::string>();
    return input;
  });
}

std::string tracking_uid(ConnectionPool& pool, const TrackingKey& key, const std::string& candidate) {
  return in_transaction(pool, "tracking UID", [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO tracking_identity (patient_id, issuer_of_patient_id, plugin, finding, finding_site, laterality,"
        " tracking_identifier, tracking_uid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT ON CONSTRAINT tracking_identity_key DO NOTHING",
        key.patient_id, key.issuer_of_patient_id, key.plugin, key.finding, key.finding_site, key.laterality,
        key.tracking_identifier, candidate);
    return tx
        .exec_params1(
            "SELECT tracking_uid FROM tracking_identity WHERE patient_id = $1 AND issuer_of_patient_id = $2 AND plugin "
            "= $3 AND finding = $4 AND finding_site = $5 AND laterality = $6 AND tracking_identifier = $7",
            key.patient_id, key.issuer_of_patient_id, key.plugin, key.finding, key.finding_site, key.laterality,
            key.tracking_identifier)[0]
        .as<std::string>();
  });
}

std::optional<ReportRow> find_report(ConnectionPool& pool, const std::string& plugin, const std::string& version,
                                     const std::string& level, const std::string& resource_uid,
                                     const std::string& fingerprint) {
  return in_transaction(pool, "find report", [&](pqxx::work& tx) -> std::optional<ReportRow> {
    const auto r = tx.exec_params(fmt::format("SELECT {} FROM analysis_report WHERE plugin = $1 AND plugin_version = $2"
                                              " AND level = $3 AND resource_uid = $4 AND input_fingerprint = $5",
                                              kReportColumns),
                                  plugin, version, level, resource_uid, fingerprint);
    if (r.empty()) return std::nullopt;
    return report_from_row(r[0]);
  });
}

std::optional<ReportRow> latest_report(ConnectionPool& pool, const std::string& plugin, const std::string& level,
                                       const std::string& resource_uid) {
  return in_transaction(pool, "latest report", [&](pqxx::work& tx) -> std::optional<ReportRow> {
    const auto r = tx.exec_params(fmt::format("SELECT {} FROM analysis_report WHERE plugin = $1 AND level = $2 AND"
                                              " resource_uid = $3 ORDER BY created_at DESC, id DESC LIMIT 1",
                                              kReportColumns),
                                  plugin, level, resource_uid);
    if (r.empty()) return std::nullopt;
    return report_from_row(r[0]);
  });
}

bool record_report(ConnectionPool& pool, const NewReport& report, const std::vector<NewFinding>& findings) {
  return in_transaction(pool, "record report", [&](pqxx::work& tx) {
    const auto inserted = tx.exec_params(
        "INSERT INTO analysis_report (plugin, plugin_version, level, resource_uid, input_fingerprint,"
        " input_instances, job_id, patient_id, issuer_of_patient_id, study_instance_uid, study_date,"
        " sr_sop_class_uid, sr_sop_instance_uid, sr_series_instance_uid, replaces_sop_instance_uid, summary)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_date(NULLIF($11, ''), 'YYYYMMDD'), $12, $13, $14,"
        " NULLIF($15, ''), $16) ON CONFLICT DO NOTHING RETURNING id",
        report.plugin, report.plugin_version, report.level, report.resource_uid, report.input_fingerprint,
        report.input_instances, report.job_id, report.patient_id, report.issuer_of_patient_id,
        report.study_instance_uid, report.study_date, report.sr_sop_class_uid, report.sr_sop_instance_uid,
        report.sr_series_instance_uid, report.replaces_sop_instance_uid, report.summary);
    if (inserted.empty()) return false;
    const auto id = inserted[0][0].as<std::int64_t>();
    for (const auto& f : findings) {
      tx.exec_params0(
          "INSERT INTO finding (report_pk, tracking_uid, tracking_identifier, finding_meaning, laterality_meaning,"
          " concept, concept_meaning, derivation_meaning, value, unit, unit_meaning)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
          id, f.tracking_uid, f.tracking_identifier, f.finding_meaning, f.laterality_meaning, f.concept_code,
          f.concept_meaning, f.derivation_meaning, f.value, f.unit, f.unit_meaning);
    }
    return true;
  });
}

std::vector<FindingValue> patient_findings(const std::string& conninfo, const std::string& patient_id,
                                           const std::string& issuer, const FindingFilter& filter) {
  return detail::translate_errors("patient findings", [&] {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    std::vector<FindingValue> values;
    const auto rows = tx.exec_params(
        "SELECT " PN_DATE("r.study_date") ", r.study_instance_uid, r.sr_sop_instance_uid, r.plugin, r.plugin_version,"
        " f.tracking_uid, f.tracking_identifier, f.finding_meaning, f.laterality_meaning, f.concept_meaning,"
        " f.derivation_meaning, f.unit, f.unit_meaning, f.value"
        " FROM finding f JOIN analysis_report r ON r.id = f.report_pk"
        " WHERE r.patient_id = $1 AND r.issuer_of_patient_id = $2"
        " AND ($3 = '' OR lower(f.tracking_identifier) = lower($3) OR lower(f.finding_meaning) = lower($3))"
        " AND ($4 = '' OR f.tracking_uid = $4)"
        " ORDER BY r.study_date NULLS FIRST, r.created_at, r.id, f.tracking_identifier, f.id",
        patient_id, issuer, filter.name, filter.tracking_uid);
    for (const auto& r : rows) {
      FindingValue v;
      v.study_date = r[0].c_str();
      v.study_instance_uid = r[1].c_str();
      v.sr_sop_instance_uid = r[2].c_str();
      v.plugin = r[3].c_str();
      v.plugin_version = r[4].c_str();
      v.tracking_uid = r[5].c_str();
      v.tracking_identifier = r[6].c_str();
      v.finding_meaning = r[7].c_str();
      v.laterality_meaning = r[8].c_str();
      v.concept_meaning = r[9].c_str();
      v.derivation_meaning = r[10].c_str();
      v.unit = r[11].c_str();
      v.unit_meaning = r[12].c_str();
      v.value = r[13].as<double>();
      values.push_back(std::move(v));
    }
    return values;
  });
}

std::string measurement_of(const FindingValue& v) {
  return v.derivation_meaning.empty() ? v.concept_meaning : v.concept_meaning + " (" + v.derivation_meaning + ")";
}

std::vector<std::optional<double>> changes_from_previous(const std::vector<FindingValue>& values) {
  std::map<std::pair<std::string, std::string>, double> previous;
  std::vector<std::optional<double>> change(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto key = std::make_pair(values[i].tracking_uid, measurement_of(values[i]) + "\n" + values[i].unit);
    if (auto it = previous.find(key); it != previous.end()) change[i] = values[i].value - it->second;
    previous[key] = values[i].value;
  }
  return change;
}

}  // namespace pacsnode::db
