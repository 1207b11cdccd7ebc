#include "db/patient_history.hpp"

#include <pqxx/pqxx>

#include "db/pq_errors.hpp"

namespace pacsnode::db {
namespace {

using detail::translate_errors;

constexpr const char* kHistory = R"sql(
SELECT coalesce(to_char(st.study_date, 'YYYYMMDD'), ''),
       coalesce(rtrim(rtrim(to_char(st.study_time, 'HH24MISS.US'), '0'), '.'), ''),
       st.accession_number,
       array_to_string(st.modalities_in_study, '\'),
       st.study_description,
       st.number_of_series,
       st.number_of_instances,
       st.study_instance_uid
FROM study st
JOIN patient p ON p.id = st.patient_pk
WHERE p.patient_id = $1 AND p.issuer_of_patient_id = $2
ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.id DESC
)sql";

}  // namespace

std::vector<std::string> patient_issuers(const std::string& conninfo, const std::string& patient_id) {
  return translate_errors("patient lookup", [&] {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    std::vector<std::string> issuers;
    for (const auto& row : tx.exec_params(
             "SELECT issuer_of_patient_id FROM patient WHERE patient_id = $1 ORDER BY 1", patient_id)) {
      issuers.push_back(row[0].as<std::string>());
    }
    return issuers;
  });
}

std::vector<HistoryStudy> patient_history(const std::string& conninfo, const std::string& patient_id,
                                          const std::string& issuer) {
  return translate_errors("patient history", [&] {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    std::vector<HistoryStudy> studies;
    for (const auto& row : tx.exec_params(kHistory, patient_id, issuer)) {
      HistoryStudy s;
      s.study_date = row[0].as<std::string>();
      s.study_time = row[1].as<std::string>();
      s.accession_number = row[2].as<std::string>();
      s.modalities_in_study = row[3].as<std::string>();
      s.study_description = row[4].as<std::string>();
      s.number_of_series = row[5].as<std::int64_t>();
      s.number_of_instances = row[6].as<std::int64_t>();
      s.study_instance_uid = row[7].as<std::string>();
      studies.push_back(std::move(s));
    }
    return studies;
  });
}

}  // namespace pacsnode::db
