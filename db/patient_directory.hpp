#pragma once
// The index at a glance for the admin API: how much it holds, and its patients found by
// name, ID and birth date (C-FIND's `*` and `?` wildcards) with their study counts. Thread-
// safe (connections from the pool). Throws pacsnode::Error: Unavailable when the server
// cannot be reached, Internal otherwise. No libpqxx here.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/connection_pool.hpp"

namespace pacsnode::db {

struct IndexTotals {
  std::int64_t patients = 0, studies = 0, series = 0, instances = 0;
  std::int64_t file_bytes = 0;  // the sum of the indexed files' sizes
};
IndexTotals index_totals(ConnectionPool& pool);

struct PatientFilter {
  std::string name;        // PatientName, case-insensitive, `*` and `?` wildcards; "" = any
  std::string patient_id;  // PatientID, `*` and `?` wildcards; "" = any
  std::string birth_date;  // YYYYMMDD, or a range YYYYMMDD-YYYYMMDD (either end may be open); "" = any
  std::size_t limit = 100;
  std::size_t offset = 0;
};

struct PatientSummary {
  std::string patient_id, issuer, name, birth_date, sex;  // birth_date YYYYMMDD or ""
  std::int64_t studies = 0;
  std::string last_study_date;  // YYYYMMDD or ""
};

struct PatientPage {
  std::vector<PatientSummary> items;  // by name, then ID and issuer
  std::size_t total = 0;              // every match, regardless of limit and offset
};

// Throws Error(InvalidArgument) for a malformed birth date.
PatientPage find_patients(ConnectionPool& pool, const PatientFilter& filter);
// The patient with exactly this ID and issuer, or nullopt.
std::optional<PatientSummary> find_patient(ConnectionPool& pool, const std::string& patient_id,
                                           const std::string& issuer);

// A C-FIND wildcard value as a LIKE pattern (ESCAPE '\'): `*` → `%`, `?` → `_`, and
// `\`, `%`, `_` escaped.
std::string like_pattern(const std::string& wildcard);

}  // namespace pacsnode::db
