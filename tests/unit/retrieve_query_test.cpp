// C-MOVE / C-GET identifier → SQL (db/retrieve_query.hpp): which keys select, which refuse.
#include <doctest/doctest.h>

#include "base/error.hpp"
#include "db/retrieve_query.hpp"

using namespace pacsnode;
using namespace pacsnode::db;

namespace {

FindRequest request(InformationModel model, QueryLevel level, std::vector<FindKey> keys) {
  return FindRequest{model, level, std::move(keys)};
}

bool refused(const FindRequest& r) {
  try {
    build_retrieve_sql(r);
    return false;
  } catch (const Error& e) {
    return e.code() == ErrorCode::InvalidArgument;
  }
}

}  // namespace

TEST_CASE("retrieve SQL: the level's unique key selects, lists become arrays, other keys are ignored") {
  const auto q = build_retrieve_sql(request(InformationModel::StudyRoot, QueryLevel::Study,
                                            {{0x0020000D, "UI", "1.2.3\\1.2.4 "}, {0x00100010, "PN", "SMITH*"}}));
  REQUIRE(q.params.size() == 1);
  CHECK(q.params[0] == "{\"1.2.3\",\"1.2.4\"}");
  CHECK(q.sql.find("st.study_instance_uid = ANY($1::text[])") != std::string::npos);
  CHECK(q.sql.find("patient_name") == std::string::npos);
  CHECK(q.sql.find("ORDER BY") != std::string::npos);

  const auto image = build_retrieve_sql(request(InformationModel::StudyRoot, QueryLevel::Image,
                                                {{0x0020000D, "UI", "1.2"}, {0x0020000E, "UI", "1.2.1"},
                                                 {0x00080018, "UI", "1.2.1.1\\1.2.1.2"}}));
  CHECK(image.params.size() == 3);
  CHECK(image.sql.find("i.sop_instance_uid = ANY($3::text[])") != std::string::npos);

  const auto patient = build_retrieve_sql(request(InformationModel::PatientRoot, QueryLevel::Patient,
                                                  {{0x00100020, "LO", "PAT1"}, {0x00100021, "LO", "HOSP"}}));
  CHECK(patient.params == std::vector<std::string>{"PAT1", "HOSP"});
  CHECK(patient.sql.find("p.patient_id = $1") != std::string::npos);
  CHECK(patient.sql.find("p.issuer_of_patient_id = $2") != std::string::npos);

  // Patient Root below PATIENT: PatientID narrows when present.
  const auto narrowed = build_retrieve_sql(request(InformationModel::PatientRoot, QueryLevel::Series,
                                                   {{0x00100020, "LO", "PAT1"}, {0x0020000E, "UI", "1.2.1"}}));
  CHECK(narrowed.params.size() == 2);
}

TEST_CASE("retrieve SQL: a quote or backslash in a UID cannot leave its array element") {
  const auto q = build_retrieve_sql(request(InformationModel::StudyRoot, QueryLevel::Study,
                                            {{0x0020000D, "UI", "1.2\",\"3"}}));
  CHECK(q.params[0] == "{\"1.2\\\",\\\"3\"}");
}

TEST_CASE("retrieve SQL: refusals") {
  using IM = InformationModel;
  using L = QueryLevel;
  CHECK(refused(request(IM::StudyRoot, L::Patient, {{0x00100020, "LO", "PAT1"}})));
  CHECK(refused(request(IM::StudyRoot, L::Study, {})));
  CHECK(refused(request(IM::StudyRoot, L::Study, {{0x0020000D, "UI", ""}})));
  CHECK(refused(request(IM::StudyRoot, L::Study, {{0x0020000D, "UI", "1.2.*"}})));
  CHECK(refused(request(IM::StudyRoot, L::Study, {{0x0020000D, "UI", "1.2\\\\1.3"}})));  // empty list element
  CHECK(refused(request(IM::StudyRoot, L::Series, {{0x0020000D, "UI", "1.2"}})));
  CHECK(refused(request(IM::StudyRoot, L::Image, {{0x0020000E, "UI", "1.2"}})));
  CHECK(refused(request(IM::PatientRoot, L::Patient, {})));
  CHECK(refused(request(IM::PatientRoot, L::Patient, {{0x00100020, "LO", "PAT*"}})));
  CHECK(refused(request(IM::PatientRoot, L::Patient, {{0x00100020, "LO", "A\\B"}})));
}
