#include <doctest/doctest.h>

#include <algorithm>

#include "base/error.hpp"
#include "db/find_query.hpp"

using pacsnode::Error;
using pacsnode::ErrorCode;
using namespace pacsnode::db;

namespace {

constexpr std::uint32_t kPatientName = 0x00100010, kPatientId = 0x00100020, kStudyUid = 0x0020000D,
                        kStudyDate = 0x00080020, kStudyTime = 0x00080030, kModalities = 0x00080061,
                        kSeriesUid = 0x0020000E, kSeriesNumber = 0x00200011, kModality = 0x00080060;

SqlQuery study_root_study(std::vector<FindKey> keys) {
  return build_find_sql({InformationModel::StudyRoot, QueryLevel::Study, std::move(keys)}, 100);
}

// The outer query's WHERE clause alone (between WHERE and ORDER BY, not a subquery's), ""
// when there is none.
std::string where(const SqlQuery& q) {
  int depth = 0;
  for (std::size_t at = 0; at < q.sql.size(); ++at) {
    if (q.sql[at] == '(') ++depth;
    if (q.sql[at] == ')') --depth;
    if (depth == 0 && q.sql.compare(at, 7, " WHERE ") == 0) {
      return q.sql.substr(at + 7, q.sql.rfind(" ORDER BY ") - at - 7);
    }
  }
  return "";
}

void check_refused(const FindRequest& request) {
  try {
    build_find_sql(request, 10);
    FAIL("not refused");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
  }
}

void check_refused(std::vector<FindKey> keys) {
  check_refused({InformationModel::StudyRoot, QueryLevel::Study, std::move(keys)});
}

}  // namespace

TEST_CASE("find sql: empty and bare * are universal; the limit is bound") {
  const auto q = study_root_study({{kPatientId, "LO", ""}, {kPatientName, "PN", "*"}, {kStudyUid, "UI", ""}});
  CHECK(where(q).empty());
  CHECK(q.sql.find("FROM study st JOIN patient p ON p.id = st.patient_pk") != std::string::npos);
  CHECK(q.sql.find("ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.id LIMIT $1") !=
        std::string::npos);
  CHECK(q.params == std::vector<std::string>{"100"});
  CHECK(build_find_sql({InformationModel::StudyRoot, QueryLevel::Study, {}}, 0).sql.find("LIMIT") ==
        std::string::npos);
  // QIDO-RS's offset is skipped by PostgreSQL, bound like the limit.
  const auto paged = build_find_sql({InformationModel::StudyRoot, QueryLevel::Study, {}}, 50, 200);
  CHECK(paged.sql.find("st.id LIMIT $1 OFFSET $2") != std::string::npos);
  CHECK(paged.params == std::vector<std::string>{"50", "200"});
  CHECK(build_find_sql({InformationModel::StudyRoot, QueryLevel::Study, {}}, 50).sql.find("OFFSET") ==
        std::string::npos);
}

TEST_CASE("find sql: single value is a case-sensitive equality, padding trimmed, hyphen literal") {
  const auto q = study_root_study({{kPatientId, "LO", "A-1 "}});
  CHECK(where(q) == "p.patient_id = $1");
  CHECK(q.params[0] == "A-1");
}

TEST_CASE("find sql: wildcards become LIKE with LIKE's own characters escaped") {
  auto q = study_root_study({{kPatientId, "LO", "A?_%*"}});
  CHECK(where(q) == R"(p.patient_id LIKE $1 ESCAPE '\')");
  CHECK(q.params[0] == R"(A_\_\%%)");
  q = study_root_study({{0x00081080, "LT", R"(a\b*)"}});  // LT: a backslash is text
  CHECK(where(q) == R"(st.attributes->$1->'Value'->>0 LIKE $2 ESCAPE '\')");
  CHECK(q.params[1] == R"(a\\b%)");
}

TEST_CASE("find sql: PN is upper-cased, trailing components stripped, alphabetic group unless '=' queried") {
  auto q = study_root_study({{kPatientName, "PN", "Doe^John^^^"}});
  CHECK(where(q) == "rtrim(split_part(p.patient_name_norm, '=', 1), '^ ') = upper($1)");
  CHECK(q.params[0] == "Doe^John");
  q = study_root_study({{kPatientName, "PN", "MyName[*]"}});
  CHECK(where(q) == R"(rtrim(split_part(p.patient_name_norm, '=', 1), '^ ') LIKE upper($1) ESCAPE '\')");
  CHECK(q.params[0] == "MyName[%]");
  q = study_root_study({{kPatientName, "PN", "*=*"}});
  CHECK(where(q) == R"(rtrim(p.patient_name_norm, '^= ') LIKE upper($1) ESCAPE '\')");
  CHECK(q.params[0] == "%=%");
}

TEST_CASE("find sql: DA single value and ranges; wildcards and bad dates refused") {
  CHECK(where(study_root_study({{kStudyDate, "DA", "20240115"}})) == "st.study_date = $1::date");
  auto q = study_root_study({{kStudyDate, "DA", "20240101-20240131"}});
  CHECK(where(q) == "st.study_date >= $1::date AND st.study_date <= $2::date");
  CHECK(q.params == std::vector<std::string>{"20240101", "20240131", "100"});
  CHECK(where(study_root_study({{kStudyDate, "DA", "-20240131"}})) == "st.study_date <= $1::date");
  CHECK(where(study_root_study({{kStudyDate, "DA", "20240101-"}})) == "st.study_date >= $1::date");
  check_refused({{kStudyDate, "DA", "2024*"}});
  check_refused({{kStudyDate, "DA", "20240230"}});
  check_refused({{kStudyDate, "DA", "-"}});
}

TEST_CASE("find sql: TM is compared as time over the interval a reduced precision stands for") {
  auto q = study_root_study({{kStudyTime, "TM", "0800-1200"}});
  CHECK(where(q) == "st.study_time >= $1::time AND st.study_time <= $2::time");
  CHECK(q.params[0] == "08:00:00.000000");
  CHECK(q.params[1] == "12:00:59.999999");
  q = study_root_study({{kStudyTime, "TM", "101500.5"}});
  CHECK(q.params[0] == "10:15:00.500000");
  CHECK(q.params[1] == "10:15:00.599999");
  check_refused({{kStudyTime, "TM", "2200-0600"}});
  check_refused({{kStudyTime, "TM", "10*"}});
  check_refused({{kStudyTime, "TM", "2500"}});
}

TEST_CASE("find sql: List of UID; UID wildcards refused") {
  auto q = study_root_study({{kStudyUid, "UI", "1.2.3\\1.2.4"}});
  CHECK(where(q) == "st.study_instance_uid = ANY($1::text[])");
  CHECK(q.params[0] == R"({"1.2.3","1.2.4"})");
  q = study_root_study({{kStudyUid, "UI", std::string("1.2.3\0", 6)}});
  CHECK(where(q) == "st.study_instance_uid = $1");
  CHECK(q.params[0] == "1.2.3");
  check_refused({{kStudyUid, "UI", "1.2.*"}});
}

TEST_CASE("find sql: ModalitiesInStudy: any stored value; several values are OR") {
  auto q = study_root_study({{kModalities, "CS", "CT"}});
  CHECK(where(q) == "$1 = ANY(st.modalities_in_study)");
  q = study_root_study({{kModalities, "CS", "CT\\MR"}});
  CHECK(where(q) == "(st.modalities_in_study && $1::text[])");
  CHECK(q.params[0] == R"({"CT","MR"})");
}

TEST_CASE("find sql: keys without a column match the attributes jsonb; the tag is bound too") {
  auto q = study_root_study({{0x00081032, "SQ", ""}, {0x00321032, "PN", "SMITH*"}, {0x00080005, "CS", "ISO_IR 100"}});
  CHECK(where(q) == R"(rtrim(split_part(upper(st.attributes->$1->'Value'->0->>'Alphabetic'), '=', 1), '^ ') LIKE upper($2) ESCAPE '\')");
  CHECK(q.params[0] == "00321032");
  q = study_root_study({{0x00101010, "AS", "045Y"}});  // group 0010: the patient row
  CHECK(where(q) == "p.attributes->$1->'Value'->>0 = $2");
}

TEST_CASE("find sql: unique keys above the level are single-valued when present; lower-level keys ignored") {
  const auto q = build_find_sql({InformationModel::PatientRoot,
                                 QueryLevel::Series,
                                 {{kPatientId, "LO", "P1"},
                                  {kStudyUid, "UI", "1.2.3"},
                                  {kPatientName, "PN", "X"},  // above the level: ignored
                                  {kModality, "CS", "CT"},
                                  {kSeriesNumber, "IS", " 007"},
                                  {0x00200013, "IS", "1"}}},  // below the level: ignored
                                10);
  CHECK(where(q) == "p.patient_id = $1 AND st.study_instance_uid = $2 AND se.modality = $3 AND "
                    "se.series_number = $4::integer");
  CHECK(q.params == std::vector<std::string>{"P1", "1.2.3", "CT", "7", "10"});
  CHECK(q.sql.find("ORDER BY se.series_number NULLS LAST") != std::string::npos);

  check_refused({InformationModel::StudyRoot, QueryLevel::Patient, {}});
  check_refused({InformationModel::StudyRoot, QueryLevel::Series, {{kStudyUid, "UI", "1.2.3\\1.2.4"}}});
  check_refused({InformationModel::StudyRoot, QueryLevel::Series, {{kStudyUid, "UI", "1.2.3"}, {kSeriesNumber, "IS", "x"}}});
  check_refused({{kPatientId, "LO", "A\\B"}});
}

TEST_CASE("find sql: an absent or empty unique key above the level constrains nothing; a wildcard is refused") {
  // IMAGE level, Study Root, StudyInstanceUID only (QIDO's /studies/{s}/instances).
  auto q = build_find_sql({InformationModel::StudyRoot, QueryLevel::Image, {{kStudyUid, "UI", "1.2.3"}}}, 10);
  CHECK(where(q) == "st.study_instance_uid = $1");
  CHECK(q.params == std::vector<std::string>{"1.2.3", "10"});
  // The same with SeriesInstanceUID empty, and padded.
  q = build_find_sql({InformationModel::StudyRoot, QueryLevel::Image,
                      {{kStudyUid, "UI", "1.2.3"}, {kSeriesUid, "UI", std::string(" \0", 2)}}}, 10);
  CHECK(where(q) == "st.study_instance_uid = $1");
  // Nothing above at all: every instance (Patient Root too: no PatientID needed).
  CHECK(where(build_find_sql({InformationModel::StudyRoot, QueryLevel::Image, {}}, 10)).empty());
  CHECK(where(build_find_sql({InformationModel::PatientRoot, QueryLevel::Study, {}}, 10)).empty());
  q = build_find_sql({InformationModel::PatientRoot, QueryLevel::Image, {{kPatientId, "LO", ""}, {kStudyUid, "UI", "1.2.3"}}}, 10);
  CHECK(where(q) == "st.study_instance_uid = $1");
  // Present and not empty: still one value, no wildcard, no list.
  check_refused({InformationModel::StudyRoot, QueryLevel::Image, {{kStudyUid, "UI", "1.2.3"}, {kSeriesUid, "UI", "1.2.*"}}});
  check_refused({InformationModel::StudyRoot, QueryLevel::Image, {{kStudyUid, "UI", "1.2.3"}, {kSeriesUid, "UI", "*"}}});
  check_refused({InformationModel::StudyRoot, QueryLevel::Image, {{kSeriesUid, "UI", "1.2.3.1\\1.2.3.2"}}});
  check_refused({InformationModel::PatientRoot, QueryLevel::Study, {{kPatientId, "LO", "P*"}}});
  check_refused({InformationModel::PatientRoot, QueryLevel::Series, {{kPatientId, "LO", "P?"}, {kStudyUid, "UI", "1.2"}}});
}

TEST_CASE("find sql: the patient's counts are joined only when asked for, and match as IS") {
  constexpr std::uint32_t kStudies = 0x00201200, kSeries = 0x00201202, kInstances = 0x00201204;
  const auto patient = [](std::vector<FindKey> keys) {
    return build_find_sql({InformationModel::PatientRoot, QueryLevel::Patient, std::move(keys)}, 10);
  };
  auto q = patient({{kPatientId, "LO", ""}});
  CHECK(q.sql.find("LATERAL") == std::string::npos);
  CHECK(q.sql.find("'' AS number_of_patient_related_studies") != std::string::npos);

  q = patient({{kPatientId, "LO", "P1"}, {kStudies, "IS", ""}, {kSeries, "IS", ""}, {kInstances, "IS", ""}});
  CHECK(q.sql.find("FROM patient p CROSS JOIN LATERAL (SELECT count(*) AS number_of_studies, "
                   "coalesce(sum(c.number_of_series), 0) AS number_of_series, "
                   "coalesce(sum(c.number_of_instances), 0) AS number_of_instances "
                   "FROM study c WHERE c.patient_pk = p.id) pc WHERE ") != std::string::npos);
  CHECK(q.sql.find("pc.number_of_studies::text AS number_of_patient_related_studies") != std::string::npos);
  CHECK(where(q) == "p.patient_id = $1");  // returned only: no condition
  CHECK(q.sql.find("ORDER BY p.patient_name_norm, p.patient_id, p.id") != std::string::npos);

  q = patient({{kStudies, "IS", "+03"}, {kInstances, "IS", "*"}});
  CHECK(where(q) == "pc.number_of_studies = $1::integer");
  CHECK(q.params[0] == "3");
  check_refused({InformationModel::PatientRoot, QueryLevel::Patient, {{kSeries, "IS", "two"}}});

  // Study Root: the patient's keys are STUDY-level keys there.
  q = study_root_study({{kSeries, "IS", "4"}});
  CHECK(q.sql.find("FROM study st JOIN patient p ON p.id = st.patient_pk CROSS JOIN LATERAL") != std::string::npos);
  CHECK(where(q) == "pc.number_of_series = $1::integer");
  // Above the query level they are neither matched nor computed.
  q = build_find_sql({InformationModel::PatientRoot, QueryLevel::Study, {{kPatientId, "LO", "P1"}, {kStudies, "IS", "3"}}}, 10);
  CHECK(q.sql.find("LATERAL") == std::string::npos);
  CHECK(where(q) == "p.patient_id = $1");
}

TEST_CASE("find sql: the row shape lists each level's columns down to the query level") {
  CHECK(find_row_columns(QueryLevel::Patient).size() == 9);
  CHECK(find_row_columns(QueryLevel::Study).size() == 21);
  CHECK(find_row_columns(QueryLevel::Series).size() == 30);
  const auto image = find_row_columns(QueryLevel::Image);
  CHECK(image.size() == 36);
  CHECK(image.back() == "instance_attributes");
  // The SELECT names its columns in the same order.
  const auto q = build_find_sql({InformationModel::StudyRoot, QueryLevel::Image,
                                 {{kStudyUid, "UI", "1.2"}, {kSeriesUid, "UI", "1.2.1"}}}, 0);
  std::size_t at = 0;
  for (const auto column : image) {
    at = q.sql.find(column, at);
    REQUIRE_MESSAGE(at != std::string::npos, column);
  }
}

TEST_CASE("find sql: DT keys (jsonb) as ranges through dicom_dt(); offsets are not range separators") {
  const std::uint32_t kAcquisitionDateTime = 0x0008002A;
  auto q = study_root_study({{kAcquisitionDateTime, "DT", "20240101120000+0100-"}});
  CHECK(where(q).find("dicom_dt(") != std::string::npos);
  CHECK(std::find(q.params.begin(), q.params.end(), "20240101120000+0100") != q.params.end());
  // A range of years, not 2024 at -20:24.
  q = study_root_study({{kAcquisitionDateTime, "DT", "2024-2025"}});
  CHECK(std::find(q.params.begin(), q.params.end(), "2024") != q.params.end());
  CHECK(std::find(q.params.begin(), q.params.end(), "2025") != q.params.end());
  // A single value with an offset: both ends are that value.
  q = study_root_study({{kAcquisitionDateTime, "DT", "20240101-0500"}});
  CHECK(std::count(q.params.begin(), q.params.end(), "20240101-0500") == 2);
  check_refused({{kAcquisitionDateTime, "DT", "2024*"}});
  check_refused({{kAcquisitionDateTime, "DT", "yesterday"}});
  check_refused({{kAcquisitionDateTime, "DT", "-"}});
}

TEST_CASE("find sql: a sequence item's keys become one EXISTS over the stored items") {
  FindKey sequence{0x00081032, "SQ", ""};
  sequence.item = {{0x00080100, "SH", "CTCHEST"}, {0x00080104, "LO", ""}};
  auto q = study_root_study({sequence});
  CHECK(where(q).find("EXISTS (SELECT 1 FROM jsonb_array_elements(") != std::string::npos);
  CHECK(std::find(q.params.begin(), q.params.end(), "CTCHEST") != q.params.end());
  // An empty item, or one whose keys have no values: universal.
  sequence.item = {{0x00080100, "SH", ""}};
  CHECK(where(study_root_study({sequence})).find("EXISTS") == std::string::npos);
  sequence.item.clear();
  CHECK(where(study_root_study({sequence})).find("EXISTS") == std::string::npos);
}
