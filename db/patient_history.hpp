#pragma once
// `pacsnode history`: every study of one patient from the index. Each call opens its own
// connection and throws pacsnode::Error: Unavailable when the server cannot be reached,
// Internal otherwise. This header does not include libpqxx.
#include <cstdint>
#include <string>
#include <vector>

namespace pacsnode::db {

struct HistoryStudy {
  std::string study_date;         // YYYYMMDD, "" when absent
  std::string study_time;         // HHMMSS[.ffffff], "" when absent
  std::string accession_number;
  std::string modalities_in_study;  // `\` between modalities
  std::string study_description;
  std::int64_t number_of_series = 0;
  std::int64_t number_of_instances = 0;
  std::string study_instance_uid;
};

// The issuers (IssuerOfPatientID, "" when absent) under which `patient_id` is indexed,
// sorted; empty when the PatientID is unknown.
std::vector<std::string> patient_issuers(const std::string& conninfo, const std::string& patient_id);

// The studies of the patient (PatientID + IssuerOfPatientID), newest first (date, then time;
// studies without a date last). Empty when the patient is unknown or has no study.
std::vector<HistoryStudy> patient_history(const std::string& conninfo, const std::string& patient_id,
                                          const std::string& issuer);

}  // namespace pacsnode::db
