// build_find_sql against a real index: every §4 matching row we implement, on a small
// corpus written by IndexWriter.
#include <doctest/doctest.h>

#include "db/migrations.hpp"

#include <algorithm>
#include <future>
#include <map>

#include "base/error.hpp"
#include "base/index_record.hpp"
#include "db/database.hpp"
#include "db/find_query.hpp"
#include "db/index_writer.hpp"
#include "tests/support/pg_cluster.hpp"

using pacsnode::IndexRecord;
using namespace pacsnode::db;

namespace {

constexpr std::uint32_t kPatientName = 0x00100010, kPatientId = 0x00100020, kStudyUid = 0x0020000D,
                        kStudyDate = 0x00080020, kStudyTime = 0x00080030, kModalities = 0x00080061,
                        kSeriesUid = 0x0020000E, kModality = 0x00080060;

struct Study {
  std::string patient_id, patient_name, uid, date, time;
};

IndexRecord record(const Study& s, const std::string& series, const std::string& modality, int series_number,
                   const std::string& sop, int instance_number) {
  IndexRecord r;
  r.patient = {s.patient_id, "", s.patient_name, "", "", "{}"};
  if (s.patient_id == "ABC") r.patient.attributes_json = R"({"00101010":{"vr":"AS","Value":["045Y"]}})";
  r.study = {s.uid, s.date, s.time, "ACC" + s.uid, "S", "", "", "{}"};
  r.series = {series, modality, series_number, "", "", "", "", "{}"};
  r.instance.sop_instance_uid = sop;
  r.instance.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  r.instance.instance_number = instance_number;
  r.instance.attributes_json = "{}";
  r.instance.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  r.instance.file_path = "files/" + sop;
  r.instance.file_size = 1;
  r.instance.checksum = "sha256:00";
  return r;
}

// Studies, newest first (the order STUDY-level answers come in):
//   1.5 A9C Smith^Ann 20991231 080000 US
//   1.2 abc Müller^Jürgen 20240116 1130 MR
//   1.1 ABC Doe^John^^^ 20240115 101500 CT (series 1, instances numbered 2 and 1) + PT (series 2)
//   1.3 AB  Yamada^Tarou=山田^太郎 19991231 1300 CT
//   1.4 A-1 MyName[x] no date, no time, MR
struct Corpus {
  pacsnode::test::TestCluster cluster;

  Corpus() {
    REQUIRE(Database({cluster.conninfo()}).migrate() == static_cast<int>(pacsnode::db::detail::embedded_migrations().size()));
    const Study s1{"ABC", "Doe^John^^^", "1.1", "20240115", "101500"};
    const Study s2{"abc", "Müller^Jürgen", "1.2", "20240116", "1130"};
    const Study s3{"AB", "Yamada^Tarou=山田^太郎", "1.3", "19991231", "1300"};
    const Study s4{"A-1", "MyName[x]", "1.4", "", ""};
    const Study s5{"A9C", "Smith^Ann", "1.5", "20991231", "080000"};
    std::vector<IndexRecord> records = {
        record(s1, "1.1.1", "CT", 1, "1.1.1.1", 2), record(s1, "1.1.1", "CT", 1, "1.1.1.2", 1),
        record(s1, "1.1.2", "PT", 2, "1.1.2.1", 1), record(s2, "1.2.1", "MR", 1, "1.2.1.1", 1),
        record(s3, "1.3.1", "CT", 1, "1.3.1.1", 1), record(s4, "1.4.1", "MR", 1, "1.4.1.1", 1),
        record(s5, "1.5.1", "US", 1, "1.5.1.1", 1)};
    IndexWriterSettings settings;
    settings.conninfo = cluster.conninfo();
    IndexWriter writer(settings);
    for (auto& r : records) {
      std::promise<IndexResult> done;
      writer.submit(std::move(r), [&done](IndexResult result) { done.set_value(std::move(result)); });
      REQUIRE(done.get_future().get().outcome == IndexOutcome::Inserted);
    }
  }

  std::vector<std::vector<std::string>> rows(const FindRequest& request) {
    return run_find(cluster.conninfo(), build_find_sql(request, 100));
  }

  // One column of the answer, joined with ','.
  std::string column(const FindRequest& request, std::string_view name) {
    const auto columns = find_row_columns(request.level);
    const auto index = static_cast<std::size_t>(std::find(columns.begin(), columns.end(), name) - columns.begin());
    REQUIRE(index < columns.size());
    std::string out;
    for (const auto& row : rows(request)) out += (out.empty() ? "" : ",") + row.at(index);
    return out;
  }

  // Study Root, STUDY level: the matching studies' UIDs.
  std::string studies(std::vector<FindKey> keys) {
    return column({InformationModel::StudyRoot, QueryLevel::Study, std::move(keys)}, "study_instance_uid");
  }
};

}  // namespace

TEST_CASE("find query: §4 matching rows against a real index") {
  Corpus c;

  SUBCASE("universal matching; studies newest first, absent dates last") {
    CHECK(c.studies({}) == "1.5,1.2,1.1,1.3,1.4");
    CHECK(c.studies({{kPatientId, "LO", ""}, {kPatientName, "PN", "*"}}) == "1.5,1.2,1.1,1.3,1.4");
  }
  SUBCASE("PatientID: case-sensitive single value, padding ignored, wildcards, literal hyphen") {
    CHECK(c.studies({{kPatientId, "LO", "ABC"}}) == "1.1");
    CHECK(c.studies({{kPatientId, "LO", "ABC "}}) == "1.1");
    CHECK(c.studies({{kPatientId, "LO", "AB*"}}) == "1.1,1.3");
    CHECK(c.studies({{kPatientId, "LO", "A?C"}}) == "1.5,1.1");
    CHECK(c.studies({{kPatientId, "LO", "*"}}) == "1.5,1.2,1.1,1.3,1.4");
    CHECK(c.studies({{kPatientId, "LO", "A-1"}}) == "1.4");
  }
  SUBCASE("PatientName: case-insensitive, * crosses ^, trailing components, groups, escaping") {
    CHECK(c.studies({{kPatientName, "PN", "DOE^JOHN"}}) == "1.1");
    CHECK(c.studies({{kPatientName, "PN", "DOE*"}}) == "1.1");
    CHECK(c.studies({{kPatientName, "PN", "MÜLLER^JÜRGEN"}}) == "1.2");
    CHECK(c.studies({{kPatientName, "PN", "müller*"}}) == "1.2");
    CHECK(c.studies({{kPatientName, "PN", "M?LLER*"}}) == "1.2");  // ? is one character, Ü two bytes
    CHECK(c.studies({{kPatientName, "PN", "YAMADA^TAROU"}}) == "1.3");
    CHECK(c.studies({{kPatientName, "PN", "*=*"}}) == "1.3");
    CHECK(c.studies({{kPatientName, "PN", "MyName[*]"}}) == "1.4");
    CHECK(c.studies({{kPatientName, "PN", "%"}}).empty());
  }
  SUBCASE("StudyDate: single value and inclusive ranges; an absent date matches no range") {
    CHECK(c.studies({{kStudyDate, "DA", "20240115"}}) == "1.1");
    CHECK(c.studies({{kStudyDate, "DA", "20240116"}}) == "1.2");
    CHECK(c.studies({{kStudyDate, "DA", "20240115-20240116"}}) == "1.2,1.1");
    CHECK(c.studies({{kStudyDate, "DA", "-20240131"}}) == "1.2,1.1,1.3");
    CHECK(c.studies({{kStudyDate, "DA", "20240101-"}}) == "1.5,1.2,1.1");
  }
  SUBCASE("StudyTime: ranges compared as time; reduced precision covers its interval") {
    CHECK(c.studies({{kStudyTime, "TM", "0800-1200"}}) == "1.5,1.2,1.1");
    CHECK(c.studies({{kStudyTime, "TM", "1130-1200"}}) == "1.2");
    CHECK(c.studies({{kStudyTime, "TM", "1015"}}) == "1.1");
    CHECK(c.studies({{kStudyTime, "TM", "-1000"}}) == "1.5");
    CHECK(c.studies({{kStudyDate, "DA", "20240101-"}, {kStudyTime, "TM", "1100-"}}) == "1.2");
  }
  SUBCASE("StudyInstanceUID: List of UID") {
    CHECK(c.studies({{kStudyUid, "UI", "1.3\\1.2"}}) == "1.2,1.3");
    CHECK(c.studies({{kStudyUid, "UI", "1.9"}}).empty());
  }
  SUBCASE("ModalitiesInStudy: any stored modality; several values are OR") {
    CHECK(c.studies({{kModalities, "CS", "CT"}}) == "1.1,1.3");
    CHECK(c.studies({{kModalities, "CS", "PT"}}) == "1.1");
    CHECK(c.studies({{kModalities, "CS", "PT\\MR"}}) == "1.2,1.1,1.4");
    CHECK(c.studies({{kModalities, "CS", "ct"}}).empty());
  }
  SUBCASE("a key without a column matches the attributes jsonb") {
    CHECK(c.studies({{0x00101010, "AS", "045Y"}}) == "1.1");
    CHECK(c.studies({{0x00101010, "AS", "04*"}}) == "1.1");
    CHECK(c.studies({{0x00101010, "AS", "046Y"}}).empty());
  }
}

TEST_CASE("find query: levels, models, ordering and the row shape") {
  Corpus c;

  // Patient Root PATIENT level: by upper-cased name, byte order.
  CHECK(c.column({InformationModel::PatientRoot, QueryLevel::Patient, {}}, "patient_id") == "ABC,A-1,abc,A9C,AB");
  CHECK(c.column({InformationModel::PatientRoot, QueryLevel::Study, {{kPatientId, "LO", "abc"}}},
                 "study_instance_uid") == "1.2");
  // Series by SeriesNumber; Modality is case-sensitive.
  const FindRequest series{InformationModel::StudyRoot, QueryLevel::Series, {{kStudyUid, "UI", "1.1"}}};
  CHECK(c.column(series, "series_instance_uid") == "1.1.1,1.1.2");
  auto ct = series;
  ct.keys.push_back({kModality, "CS", "ct"});
  CHECK(c.column(ct, "series_instance_uid").empty());
  ct.keys.back().value = "CT";
  CHECK(c.column(ct, "series_instance_uid") == "1.1.1");
  // Instances by InstanceNumber.
  const FindRequest images{InformationModel::PatientRoot,
                           QueryLevel::Image,
                           {{kPatientId, "LO", "ABC"}, {kStudyUid, "UI", "1.1"}, {kSeriesUid, "UI", "1.1.1"}}};
  CHECK(c.column(images, "sop_instance_uid") == "1.1.1.2,1.1.1.1");
  CHECK(c.column(images, "instance_number") == "1,2");

  // A Study Root STUDY row carries the patient's columns and DICOM-formatted values.
  const auto rows = c.rows({InformationModel::StudyRoot, QueryLevel::Study, {{kStudyUid, "UI", "1.1"}}});
  REQUIRE(rows.size() == 1);
  const auto columns = find_row_columns(QueryLevel::Study);
  REQUIRE(rows[0].size() == columns.size());
  std::map<std::string_view, std::string> row;
  for (std::size_t i = 0; i < columns.size(); ++i) row[columns[i]] = rows[0][i];
  CHECK(row["patient_id"] == "ABC");
  CHECK(row["patient_name"] == "Doe^John^^^");
  CHECK(row["patient_birth_date"] == "");
  CHECK(row["study_date"] == "20240115");
  CHECK(row["study_time"] == "101500");
  CHECK(row["modalities_in_study"] == "CT\\PT");
  CHECK(row["number_of_study_related_series"] == "2");
  CHECK(row["number_of_study_related_instances"] == "3");
  CHECK(row["patient_attributes"].find("045Y") != std::string::npos);

  CHECK(row["number_of_patient_related_studies"] == "");  // not requested: not computed

  // The patient's counts, at PATIENT level, from the studies' kept counts.
  const FindRequest counts{InformationModel::PatientRoot,
                           QueryLevel::Patient,
                           {{0x00201200, "IS", ""}, {0x00201202, "IS", ""}, {0x00201204, "IS", ""}}};
  CHECK(c.column(counts, "patient_id") == "ABC,A-1,abc,A9C,AB");
  CHECK(c.column(counts, "number_of_patient_related_studies") == "1,1,1,1,1");
  CHECK(c.column(counts, "number_of_patient_related_series") == "2,1,1,1,1");
  CHECK(c.column(counts, "number_of_patient_related_instances") == "3,1,1,1,1");
  auto three = counts;
  three.keys.back().value = "3";
  CHECK(c.column(three, "patient_id") == "ABC");

  // Refused requests never reach the database.
  CHECK_THROWS_AS(c.rows({InformationModel::StudyRoot, QueryLevel::Patient, {}}), pacsnode::Error);
}
