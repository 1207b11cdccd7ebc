#pragma once
// Analysis results in PostgreSQL (migration 0007): what an `analyze` job reads of its
// resource, the Tracking Unique Identifiers kept per patient, one row per report pacsnode
// wrote and one per measurement, and a patient's findings over time for `pacsnode
// history`. Thread-safe (connections from the pool). Throws pacsnode::Error: Unavailable
// when the server cannot be reached, Internal otherwise. No libpqxx here.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "db/connection_pool.hpp"

namespace pacsnode::db {

using KeywordValues = std::vector<std::pair<std::string, std::string>>;  // keyword → value

struct AnalysisInstance {
  std::string sop_instance_uid, sop_class_uid, series_instance_uid, instance_number;  // "" when absent
  std::string file_path;  // relative to the storage root
  std::string checksum;
};

// A resource as an analysis sees it.
struct AnalysisInput {
  std::string patient_id, issuer_of_patient_id, study_instance_uid, study_date;  // date YYYYMMDD or ""
  KeywordValues patient, study, series;  // series: empty at study level
  std::vector<AnalysisInstance> instances;  // study, series number, instance number order
  // A digest of the instances' UIDs and checksums: changes when any instance is added,
  // removed or replaced.
  std::string fingerprint;
};

// nullopt when the resource (level "instance", "series" or "study") is not in the index.
std::optional<AnalysisInput> analysis_input(ConnectionPool& pool, const std::string& level, const std::string& uid);

struct TrackingKey {
  std::string patient_id, issuer_of_patient_id, plugin;
  std::string finding, finding_site, laterality;  // "<scheme>:<value>", "" when absent
  std::string tracking_identifier;
};
// The patient's Tracking Unique Identifier for `key`: the existing one, or `candidate`
// stored as the new one (of two racing callers, both get the same UID).
std::string tracking_uid(ConnectionPool& pool, const TrackingKey& key, const std::string& candidate);

struct ReportRow {
  std::int64_t id = 0;
  std::string plugin, plugin_version, level, resource_uid, input_fingerprint;
  std::string study_instance_uid, sr_sop_class_uid, sr_sop_instance_uid, sr_series_instance_uid;
  std::string replaces_sop_instance_uid, created_at;
};
// The report written for exactly this input (plug-in version and fingerprint), if any.
std::optional<ReportRow> find_report(ConnectionPool& pool, const std::string& plugin, const std::string& version,
                                     const std::string& level, const std::string& resource_uid,
                                     const std::string& fingerprint);
// The newest report of the plug-in on the resource (any version or input), if any.
std::optional<ReportRow> latest_report(ConnectionPool& pool, const std::string& plugin, const std::string& level,
                                       const std::string& resource_uid);

struct NewFinding {
  std::string tracking_uid, tracking_identifier, finding_meaning, laterality_meaning;
  std::string concept_code, concept_meaning, derivation_meaning;
  double value = 0;
  std::string unit, unit_meaning;
};
struct NewReport {
  std::string plugin, plugin_version, level, resource_uid, input_fingerprint;
  int input_instances = 0;
  std::int64_t job_id = 0;
  std::string patient_id, issuer_of_patient_id, study_instance_uid, study_date;  // date YYYYMMDD or ""
  std::string sr_sop_class_uid, sr_sop_instance_uid, sr_series_instance_uid, replaces_sop_instance_uid, summary;
};
// Records the report and its findings in one transaction. False when a report for the same
// input (or with the same SR UID) is already recorded: nothing changes then.
bool record_report(ConnectionPool& pool, const NewReport& report, const std::vector<NewFinding>& findings);

// ---- pacsnode history ----
struct FindingValue {
  std::string study_date, study_instance_uid, sr_sop_instance_uid, plugin, plugin_version;
  std::string tracking_uid, tracking_identifier, finding_meaning, laterality_meaning;
  std::string concept_meaning, derivation_meaning, unit, unit_meaning;
  double value = 0;
};
struct FindingFilter {
  std::string name;          // tracking identifier or finding meaning, case-insensitive; "" = any
  std::string tracking_uid;  // "" = any
};
// The patient's findings, oldest study first (by study date, then when reported), then by
// tracking identifier and concept.
std::vector<FindingValue> patient_findings(const std::string& conninfo, const std::string& patient_id,
                                           const std::string& issuer, const FindingFilter& filter);

// "Volume (Mean)": the concept, with its derivation when there is one.
std::string measurement_of(const FindingValue& value);
// For each value (as patient_findings orders them), the change from the previous study's
// value of the same measurement (and unit) of the same finding (tracking UID); nullopt for
// the first. What `pacsnode history` and the admin API show.
std::vector<std::optional<double>> changes_from_previous(const std::vector<FindingValue>& values);

}  // namespace pacsnode::db
