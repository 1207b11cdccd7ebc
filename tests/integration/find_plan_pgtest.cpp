// The C-FIND queries a viewer sends most reach their rows through an index, never a full
// scan: EXPLAIN of the cursor exactly as db::FindCursor declares it (parameters bound,
// cursor_tuple_fraction as db/pooled_connection.hpp sets it), on an index large enough and ANALYZEd for the
// planner to prefer an index when one fits. A change to the SQL of db/find_query.cpp that
// defeats an index (a function around a column, an ORDER BY no index provides, …) fails
// here, not only in the benchmark.
#include <doctest/doctest.h>

#include "db/connection_pool.hpp"
#include "db/database.hpp"
#include "db/find_cursor.hpp"
#include "db/find_query.hpp"
#include "db/migrations.hpp"
#include "tests/support/pg_cluster.hpp"

using namespace pacsnode::db;

namespace {

constexpr std::uint32_t kPatientName = 0x00100010, kPatientId = 0x00100020, kStudyUid = 0x0020000D,
                        kStudyDate = 0x00080020, kSeriesUid = 0x0020000E, kModality = 0x00080060,
                        kSopInstanceUid = 0x00080018;

constexpr int kPatients = 50000, kStudiesPerPatient = 2, kInstancesPerSeries = 1;
constexpr std::size_t kLimit = 10001;  // the default query.max_results + 1

const std::string kUidRoot = "1.2.826.0.1.3680043.10.1337.6.";

// Header-only rows in the shape of bench/qr_bulk_load.sql (the benchmark's 50,000 patients
// and 100,000 studies; fewer instances): 1 % of patients named SMITH, 3 % containing SMITH,
// studies over ten years, one series each, one instance per series. Smaller tables get
// plans that are right for their size but not for the one that matters: at 20,000
// patients a full scan of the patient table beats the trigram index for `*SMITH*`.
void load(pacsnode::test::TestCluster& cluster) {
  // One psql session: the summary triggers are off in it (session_replication_role), since
  // each of these statements would otherwise rewrite every study and series row once more
  // (three times slower); the counts they keep play no part in the plans.
  cluster.psql(
      "SET session_replication_role = replica; "
      "INSERT INTO patient (patient_id, patient_name, patient_birth_date, patient_sex) "
      "SELECT 'BP' || lpad(g::text, 7, '0'), "
      "  CASE g % 100 WHEN 0 THEN 'SMITH' WHEN 1 THEN 'SMITHSON' WHEN 2 THEN 'GOLDSMITH' "
      "    ELSE upper(substr(md5((g % 100)::text), 1, 8)) END || '^' || "
      "  (ARRAY['JOHN','MARY','ANNA','PETER','LUCA','YUKI','OMAR','SARA'])[1 + g / 100 % 8], "
      "  DATE '1930-01-01' + (g * 37 % 30000), (ARRAY['M','F','O'])[1 + g % 3] "
      "FROM generate_series(1, " + std::to_string(kPatients) + ") g; "
      "INSERT INTO study (patient_pk, study_instance_uid, study_date, study_time, accession_number, study_id) "
      "SELECT p.id, '" + kUidRoot + "' || (p.id * " + std::to_string(kStudiesPerPatient) + " + s), "
      "  DATE '2015-01-01' + ((p.id * 2 + s) * 13 % 3650)::int, TIME '07:00' + ((p.id + s) % 600) * INTERVAL '1 minute', "
      "  'BA' || p.id || '.' || s, s::text "
      "FROM patient p CROSS JOIN generate_series(1, " + std::to_string(kStudiesPerPatient) + ") s; "
      "INSERT INTO series (study_pk, series_instance_uid, modality, series_number) "
      "SELECT id, study_instance_uid || '.1', (ARRAY['CT','MR','CR','US','PT','DX'])[1 + id % 6], 1 FROM study; "
      "INSERT INTO instance (series_pk, sop_instance_uid, sop_class_uid, instance_number, transfer_syntax_uid, "
      "  file_path, file_size, checksum) "
      "SELECT se.id, se.series_instance_uid || '.' || i, '1.2.840.10008.5.1.4.1.1.2', i, '1.2.840.10008.1.2.1', "
      "  'bulk/' || se.series_instance_uid || '.' || i || '.dcm', 0, 'none:' "
      "FROM series se CROSS JOIN generate_series(1, " + std::to_string(kInstancesPerSeries) + ") i");
  // As autovacuum would have done by the time it matters: statistics, and the trigram
  // index's pending list merged (until then the planner rightly avoids that index).
  cluster.psql("VACUUM ANALYZE");
}

struct Plans {
  pacsnode::test::TestCluster cluster;
  std::unique_ptr<ConnectionPool> pool;

  Plans() {
    REQUIRE(Database({cluster.conninfo()}).migrate() ==
            static_cast<int>(pacsnode::db::detail::embedded_migrations().size()));
    load(cluster);
    pool = std::make_unique<ConnectionPool>(cluster.conninfo());
  }

  std::string plan(InformationModel model, QueryLevel level, std::vector<FindKey> keys) {
    return explain_find(*pool, build_find_sql({model, level, std::move(keys)}, kLimit));
  }
  std::string study_root(QueryLevel level, std::vector<FindKey> keys) {
    return plan(InformationModel::StudyRoot, level, std::move(keys));
  }
};

bool uses(const std::string& plan, const std::string& index) {
  return plan.find("on " + index + " ") != std::string::npos || plan.find("using " + index + " ") != std::string::npos;
}
// A full read of `table` (a hash join may still read a small table whole; the tables named
// in each check are the ones the keys select from).
bool scans(const std::string& plan, const std::string& table) {
  return plan.find("Seq Scan on " + table + " ") != std::string::npos;
}
bool sorts(const std::string& plan) { return plan.find("Sort") != std::string::npos; }

}  // namespace

// One test case without subcases: doctest would run the fixture (a cluster and 350,000
// rows) again for every subcase.
TEST_CASE("find plans: the common C-FIND queries use an index (100,000 studies, ANALYZEd)") {
  Plans p;
  const FindKey patient_id{kPatientId, "LO", ""}, study_uid{kStudyUid, "UI", ""};

  // PatientName: exact and SMITH* through the btree, *SMITH* through the trigram index.
  for (const auto& [value, index] : {std::pair<std::string, std::string>{"SMITH^JOHN", "patient_name_alpha_btree"},
                                     {"SMITH*", "patient_name_alpha_btree"},
                                     {"*SMITH*", "patient_name_alpha_trgm"}}) {
    auto plan = p.study_root(QueryLevel::Study, {{kPatientName, "PN", value}, patient_id, study_uid});
    INFO("Study Root STUDY PatientName=" << value << "\n" << plan);
    CHECK(uses(plan, index));
    CHECK(uses(plan, "study_patient_pk"));
    CHECK(!scans(plan, "patient"));
    CHECK(!scans(plan, "study"));
    if (value == "SMITH^JOHN") continue;
    plan = p.plan(InformationModel::PatientRoot, QueryLevel::Patient, {{kPatientName, "PN", value}, patient_id});
    INFO("Patient Root PATIENT PatientName=" << value << "\n" << plan);
    CHECK(uses(plan, index));
    CHECK(!scans(plan, "patient"));
  }
  {
    const auto plan = p.study_root(QueryLevel::Study, {{kPatientId, "LO", "BP0001234"}, study_uid});
    INFO("PatientID through the patient identity\n" << plan);
    CHECK(uses(plan, "patient_identity"));
    CHECK(!scans(plan, "patient"));
    CHECK(!scans(plan, "study"));
  }
  for (const char* value : {"20200101", "20200101-20200107", "20240601-"}) {
    const auto plan = p.study_root(QueryLevel::Study, {{kStudyDate, "DA", value}, patient_id, study_uid});
    INFO("StudyDate=" << std::string(value) << " through the newest-first study index\n" << plan);
    CHECK(uses(plan, "study_newest_first"));
    CHECK(!scans(plan, "study"));
  }
  {
    const auto plan = p.study_root(QueryLevel::Study, {patient_id, study_uid, {kStudyDate, "DA", ""}});
    INFO("every study, newest first: streamed from the index in order, not sorted in full first\n" << plan);
    CHECK(uses(plan, "study_newest_first"));
    CHECK(!sorts(plan));
    CHECK(!scans(plan, "study"));
  }
  {
    const auto plan = p.plan(InformationModel::PatientRoot, QueryLevel::Patient, {patient_id, {kPatientName, "PN", ""}});
    INFO("every patient, by name: streamed from the index in order\n" << plan);
    CHECK(uses(plan, "patient_name_order"));
    CHECK(!sorts(plan));
    CHECK(!scans(plan, "patient"));
  }
  const FindKey studies{0x00201200, "IS", ""}, series_count{0x00201202, "IS", ""}, instances{0x00201204, "IS", ""};
  {
    const auto plan = p.plan(InformationModel::PatientRoot, QueryLevel::Patient,
                             {patient_id, {kPatientName, "PN", ""}, studies, series_count, instances});
    INFO("every patient with its counts: still streamed in name order, counted per answer\n" << plan);
    CHECK(uses(plan, "patient_name_order"));
    CHECK(uses(plan, "study_patient_pk"));
    CHECK(!sorts(plan));
    CHECK(!scans(plan, "patient"));
    CHECK(!scans(plan, "study"));
  }
  {
    const auto plan = p.plan(InformationModel::PatientRoot, QueryLevel::Patient,
                             {{kPatientId, "LO", "BP0001234"}, studies, series_count, instances});
    INFO("one patient with its counts: that patient's studies only\n" << plan);
    CHECK(uses(plan, "patient_identity"));
    CHECK(uses(plan, "study_patient_pk"));
    CHECK(!scans(plan, "patient"));
    CHECK(!scans(plan, "study"));
  }
  const std::string study = kUidRoot + "4242", series = study + ".1";
  {
    const auto plan = p.study_root(QueryLevel::Series, {{kStudyUid, "UI", study}, {kSeriesUid, "UI", ""},
                                                        {kModality, "CS", ""}});
    INFO("the series of a study\n" << plan);
    CHECK(uses(plan, "study_study_instance_uid_key"));
    CHECK(uses(plan, "series_study_pk"));
    CHECK(!scans(plan, "study"));
    CHECK(!scans(plan, "series"));
  }
  {
    const auto plan = p.study_root(QueryLevel::Image, {{kStudyUid, "UI", study}, {kSeriesUid, "UI", series},
                                                       {kSopInstanceUid, "UI", ""}});
    INFO("the instances of a series\n" << plan);
    CHECK(uses(plan, "series_series_instance_uid_key"));
    CHECK(uses(plan, "instance_series_pk"));
    CHECK(!scans(plan, "series"));
    CHECK(!scans(plan, "instance"));
  }
  {
    const auto plan = p.study_root(QueryLevel::Image, {{kStudyUid, "UI", study}, {kSopInstanceUid, "UI", ""}});
    INFO("the instances of a study, no SeriesInstanceUID (QIDO /studies/{s}/instances)\n" << plan);
    CHECK(uses(plan, "study_study_instance_uid_key"));
    CHECK(uses(plan, "series_study_pk"));
    CHECK(uses(plan, "instance_series_pk"));
    CHECK(!scans(plan, "study"));
    CHECK(!scans(plan, "series"));
    CHECK(!scans(plan, "instance"));
  }
}
