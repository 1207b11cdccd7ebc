#include "db/patient_directory.hpp"

#include <algorithm>
#include <cctype>

#include "base/error.hpp"
#include "db/pooled_connection.hpp"

namespace pacsnode::db {
namespace {

// The patient's columns and study summary: $1 name pattern, $2 ID pattern ("" = any),
// $3, $4 birth date range ("" = open).
constexpr const char* kPatientFrom = R"sql(
FROM patient p
WHERE ($1 = '' OR p.patient_name_norm LIKE upper($1) ESCAPE '\')
  AND ($2 = '' OR p.patient_id LIKE $2 ESCAPE '\')
  AND ($3 = '' OR p.patient_birth_date >= NULLIF($3, '')::date)
  AND ($4 = '' OR p.patient_birth_date <= NULLIF($4, '')::date)
)sql";

constexpr const char* kPatientColumns = R"sql(
SELECT p.patient_id, p.issuer_of_patient_id, p.patient_name,
       coalesce(to_char(p.patient_birth_date, 'YYYYMMDD'), ''), p.patient_sex,
       (SELECT count(*) FROM study st WHERE st.patient_pk = p.id),
       coalesce((SELECT to_char(max(st.study_date), 'YYYYMMDD') FROM study st WHERE st.patient_pk = p.id), '')
)sql";

PatientSummary summary_from_row(const pqxx::row& r) {
  PatientSummary p;
  p.patient_id = r[0].c_str();
  p.issuer = r[1].c_str();
  p.name = r[2].c_str();
  p.birth_date = r[3].c_str();
  p.sex = r[4].c_str();
  p.studies = r[5].as<std::int64_t>();
  p.last_study_date = r[6].c_str();
  return p;
}

// "YYYYMMDD" as "YYYY-MM-DD" for a date parameter; "" stays "" (NULL). Throws on anything else.
std::string iso_date(const std::string& date) {
  if (date.empty()) return {};
  if (date.size() != 8 || !std::all_of(date.begin(), date.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    throw Error(ErrorCode::InvalidArgument, "birth_date: \"" + date + "\" is not YYYYMMDD or a range of them");
  }
  return date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2);
}

}  // namespace

std::string like_pattern(const std::string& wildcard) {
  std::string out;
  for (const char c : wildcard) {
    if (c == '*') {
      out += '%';
    } else if (c == '?') {
      out += '_';
    } else {
      if (c == '\\' || c == '%' || c == '_') out += '\\';
      out += c;
    }
  }
  return out;
}

IndexTotals index_totals(ConnectionPool& pool) {
  return in_transaction(pool, "index totals", [&](pqxx::work& tx) {
    const auto r = tx.exec1(
        "SELECT (SELECT count(*) FROM patient), (SELECT count(*) FROM study), (SELECT count(*) FROM series),"
        " count(*), coalesce(sum(file_size), 0)::bigint FROM instance");
    return IndexTotals{r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::int64_t>(),
                       r[3].as<std::int64_t>(), r[4].as<std::int64_t>()};
  });
}

PatientPage find_patients(ConnectionPool& pool, const PatientFilter& filter) {
  std::string from, to;
  if (const auto dash = filter.birth_date.find('-'); dash != std::string::npos) {
    from = iso_date(filter.birth_date.substr(0, dash));
    to = iso_date(filter.birth_date.substr(dash + 1));
  } else {
    from = to = iso_date(filter.birth_date);
  }
  const std::string name = filter.name.empty() || filter.name == "*" ? std::string() : like_pattern(filter.name);
  const std::string id =
      filter.patient_id.empty() || filter.patient_id == "*" ? std::string() : like_pattern(filter.patient_id);
  const std::string select = std::string(kPatientColumns) + kPatientFrom +
                             " ORDER BY p.patient_name, p.patient_id, p.issuer_of_patient_id LIMIT $5 OFFSET $6";
  const std::string count = std::string("SELECT count(*)") + kPatientFrom;
  return in_transaction(pool, "find patients", [&](pqxx::work& tx) {
    PatientPage page;
    for (const auto& r : tx.exec_params(select, name, id, from, to,
                                        static_cast<std::int64_t>(filter.limit),
                                        static_cast<std::int64_t>(filter.offset))) {
      page.items.push_back(summary_from_row(r));
    }
    page.total = static_cast<std::size_t>(
        tx.exec_params1(count, name, id, from, to)[0].as<std::int64_t>());
    return page;
  });
}

std::optional<PatientSummary> find_patient(ConnectionPool& pool, const std::string& patient_id,
                                           const std::string& issuer) {
  const std::string sql =
      std::string(kPatientColumns) + " FROM patient p WHERE p.patient_id = $1 AND p.issuer_of_patient_id = $2";
  return in_transaction(pool, "find patient", [&](pqxx::work& tx) -> std::optional<PatientSummary> {
    const auto rows = tx.exec_params(sql, patient_id, issuer);
    if (rows.empty()) return std::nullopt;
    return summary_from_row(rows[0]);
  });
}

}  // namespace pacsnode::db
