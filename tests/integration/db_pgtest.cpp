#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "app/embedded_postgres.hpp"
#include "base/error.hpp"
#include "db/database.hpp"
#include "db/migrations.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using pacsnode::app::EmbeddedPostgres;
using pacsnode::db::Database;

namespace {

const std::size_t kMigrations = pacsnode::db::detail::embedded_migrations().size();

pid_t postmaster_pid(const fs::path& cluster_dir) {
  std::ifstream in(cluster_dir / "postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

pacsnode::app::EmbeddedPostgresSettings settings_for(const fs::path& cluster_dir) {
  pacsnode::app::EmbeddedPostgresSettings settings;
  settings.cluster_dir = cluster_dir;
  return settings;
}

// A process that exists and is not a zombie. The postmaster is an orphan (pg_ctl exits
// after starting it), so after it exits init reaps it at its own pace.
bool process_alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (pid <= 0 || !std::getline(in, stat)) return false;
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// pg_ctl stop -w returns once postmaster.pid is gone, a moment before the process ends.
bool process_ends(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (!process_alive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

ino_t inode_of(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

TEST_CASE("embedded postgres: initdb, start, migrate, stop, restart") {
  pacsnode::test::TempDir dir("pg");
  const fs::path cluster = dir.path() / "data" / "pg";
  ino_t pg_version_inode = 0;
  pid_t first_postmaster = 0;

  {
    EmbeddedPostgres postgres(settings_for(cluster));
    CHECK_FALSE(postgres.is_running());
    postgres.start();
    CHECK(postgres.is_running());
    CHECK(fs::exists(cluster / "PG_VERSION"));
    CHECK_FALSE(fs::exists(dir.path() / "data" / "pg.initdb"));
    pg_version_inode = inode_of(cluster / "PG_VERSION");
    first_postmaster = postmaster_pid(cluster);
    CHECK(process_alive(first_postmaster));

    Database db({postgres.conninfo()});
    db.ping();
    auto status = db.migration_status();
    REQUIRE(status.size() == kMigrations);
    CHECK(status[0].version == 1);
    CHECK(status[0].name == "0001_index");
    CHECK(status[1].version == 2);
    CHECK(status[1].name == "0002_name_indexes");
    CHECK_FALSE(status[0].applied);

    CHECK(db.migrate() == static_cast<int>(kMigrations));
    status = db.migration_status();
    REQUIRE(status.size() == kMigrations);
    CHECK(status[0].applied);
    CHECK(status[1].applied);
    CHECK_FALSE(status[0].applied_at.empty());
    CHECK(db.migrate() == 0);

    const std::string tables = pacsnode::test::psql(
        postgres, postgres.conninfo(),
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'");
    CHECK(tables == "analysis_report,finding,instance,job,job_event,job_instance,job_target,patient,"
                    "routing_instance_event,routing_resource,routing_rule_state,schema_migrations,series,study,"
                    "tracking_identity");
    CHECK(pacsnode::test::psql(postgres, postgres.conninfo(), "SHOW fsync") == "on");
    CHECK(pacsnode::test::psql(postgres, postgres.conninfo(), "SHOW listen_addresses").empty());

    if (::geteuid() == 0) {
      CHECK(postgres.os_user() == "postgres");
      struct stat st {};
      REQUIRE(::stat(cluster.c_str(), &st) == 0);
      CHECK(st.st_uid != 0);
    }

    // A second object on the same directory finds the running server and leaves it alone.
    {
      EmbeddedPostgres other(settings_for(cluster));
      other.start();
      CHECK(Database({other.conninfo()}).migrate() == 0);
    }
    CHECK(postgres.is_running());
    CHECK(postmaster_pid(cluster) == first_postmaster);

    postgres.stop();
    CHECK_FALSE(postgres.is_running());
    CHECK(process_ends(first_postmaster));
    postgres.stop();  // idempotent
  }

  {
    EmbeddedPostgres postgres(settings_for(cluster));
    postgres.start();
    // Same cluster, not a new initdb.
    CHECK(inode_of(cluster / "PG_VERSION") == pg_version_inode);
    Database db({postgres.conninfo()});
    auto status = db.migration_status();
    REQUIRE(status.size() == kMigrations);
    CHECK(status[0].applied);
    CHECK(db.migrate() == 0);
    const pid_t second_postmaster = postmaster_pid(cluster);
    CHECK(process_alive(second_postmaster));
    // The destructor stops what this object started.
    first_postmaster = second_postmaster;
  }
  CHECK(process_ends(first_postmaster));
  CHECK_FALSE(fs::exists(cluster / "postmaster.pid"));
}

TEST_CASE("embedded postgres: a long cluster path uses a short socket directory") {
  pacsnode::test::TempDir dir("pg");
  const fs::path cluster = dir.path() / std::string(60, 'd') / std::string(40, 'e') / "pg";
  EmbeddedPostgres postgres(settings_for(cluster));
  CHECK(postgres.socket_dir() != cluster);
  CHECK(postgres.socket_dir().string().size() < 40);
  postgres.start();
  Database db({postgres.conninfo()});
  db.ping();
  struct stat st {};
  REQUIRE(::stat(postgres.socket_dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  postgres.stop();
  fs::remove_all(postgres.socket_dir());
}

TEST_CASE("embedded postgres: a failed start reports the end of the server log") {
  pacsnode::test::TempDir dir("pg");
  const fs::path cluster = dir.path() / "pg";
  {
    EmbeddedPostgres postgres(settings_for(cluster));
    postgres.start();
  }
  // postgresql.auto.conf is read last, so this breaks the next start.
  std::ofstream(cluster / "postgresql.auto.conf", std::ios::app) << "shared_buffers = 'lots'\n";
  EmbeddedPostgres postgres(settings_for(cluster));
  try {
    postgres.start();
    FAIL("start should fail");
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::Unavailable);
    CHECK(std::string(e.what()).find("invalid value for parameter \"shared_buffers\"") != std::string::npos);
  }
  CHECK_FALSE(postgres.is_running());
}

TEST_CASE("database: errors are translated") {
  pacsnode::test::TempDir dir("pg");
  // Nothing listens there: the connection is refused, which is retryable.
  Database db({"host=" + dir.path().string() + " port=5432 dbname=x connect_timeout=2"});
  try {
    db.ping();
    FAIL("ping should throw");
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::Unavailable);
    CHECK(std::string(e.what()).find(dir.path().string()) != std::string::npos);
  }
}

TEST_CASE("database: refuses a schema newer than this binary") {
  pacsnode::test::TestCluster cluster;
  Database db({cluster.conninfo()});
  CHECK(db.migrate() == static_cast<int>(kMigrations));
  cluster.psql("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')");
  CHECK_THROWS_AS(db.migrate(), pacsnode::Error);
  auto status = db.migration_status();
  REQUIRE(status.size() == kMigrations + 1);
  CHECK(status.back().version == 9999);
  CHECK(status.back().name == "9999_future");
}

TEST_CASE("index schema: identity, counts kept by triggers, cascade") {
  pacsnode::test::TestCluster cluster;
  REQUIRE(Database({cluster.conninfo()}).migrate() == static_cast<int>(kMigrations));
  auto sql = [&](const std::string& text) { return cluster.psql(text); };

  // PatientID alone is not an identity: the same number from two issuers is two patients.
  sql("INSERT INTO patient (patient_id, issuer_of_patient_id, patient_name) VALUES "
      "('123', 'HOSP_A', 'Müller^Jürgen'), ('123', 'HOSP_B', 'Doe^John'), ('123', '', 'Roe^Jane')");
  CHECK_THROWS(sql("INSERT INTO patient (patient_id, issuer_of_patient_id) VALUES ('123', 'HOSP_A')"));
  // Names are normalised for case-insensitive matching, non-ASCII letters included.
  CHECK(sql("SELECT patient_name_norm FROM patient WHERE issuer_of_patient_id = 'HOSP_A'") == "MÜLLER^JÜRGEN");
  CHECK(sql("SELECT count(*) FROM patient WHERE patient_name_norm LIKE '%ÜLLER%'") == "1");

  sql("INSERT INTO study (patient_pk, study_instance_uid, study_date) "
      "SELECT id, '1.2.3', '2024-01-15' FROM patient WHERE issuer_of_patient_id = 'HOSP_A'");
  sql("INSERT INTO series (study_pk, series_instance_uid, modality) "
      "SELECT id, s.uid, s.modality FROM study, (VALUES ('1.2.3.1', 'CT'), ('1.2.3.2', 'SR')) AS s(uid, modality)");
  sql("INSERT INTO instance (series_pk, sop_instance_uid, sop_class_uid, transfer_syntax_uid, file_path, file_size, "
      "checksum) SELECT se.id, se.series_instance_uid || '.' || n, "
      "CASE se.modality WHEN 'CT' THEN '1.2.840.10008.5.1.4.1.1.2' ELSE '1.2.840.10008.5.1.4.1.1.88.22' END, "
      "'1.2.840.10008.1.2.1', se.series_instance_uid || '/' || n, 1000, 'sha256:00' "
      "FROM series se, generate_series(1, 3) n");
  CHECK(sql("SELECT number_of_series, number_of_instances, modalities_in_study, array_length(sop_classes_in_study, 1) "
            "FROM study") == "2|6|{CT,SR}|2");
  CHECK(sql("SELECT string_agg(number_of_instances::text, ',' ORDER BY series_instance_uid) FROM series") == "3,3");

  // Deleting an instance, then a whole series, keeps the counts right.
  sql("DELETE FROM instance WHERE sop_instance_uid = '1.2.3.1.1'");
  CHECK(sql("SELECT number_of_instances FROM study") == "5");
  sql("DELETE FROM series WHERE series_instance_uid = '1.2.3.2'");
  CHECK(sql("SELECT number_of_series, number_of_instances, modalities_in_study, array_length(sop_classes_in_study, 1) "
            "FROM study") == "1|2|{CT}|1");
  sql("UPDATE series SET modality = 'MR'");
  CHECK(sql("SELECT modalities_in_study FROM study") == "{MR}");

  // Deleting the patient removes everything below it.
  sql("DELETE FROM patient WHERE issuer_of_patient_id = 'HOSP_A'");
  CHECK(sql("SELECT (SELECT count(*) FROM study) + (SELECT count(*) FROM series) + (SELECT count(*) FROM instance)") ==
        "0");
}

TEST_CASE("embedded postgres as root: names a parent directory the cluster user cannot enter") {
  if (::geteuid() != 0) return;  // as non-root the cluster runs as us: nothing to check
  pacsnode::test::TempDir dir("pg");
  const fs::path locked = dir.path() / "locked";
  fs::create_directories(locked);
  ::chmod(locked.c_str(), 0700);
  EmbeddedPostgres postgres(settings_for(locked / "data" / "pg"));
  try {
    postgres.start();
    FAIL("start should refuse");
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::Config);
    CHECK(std::string(e.what()).find("cannot enter directory " + locked.string() + " ") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(locked / "data" / "pg"));
}

TEST_CASE("embedded postgres as root: an unknown cluster user falls back to nobody") {
  if (::geteuid() != 0) return;
  pacsnode::test::TempDir dir("pg");
  auto settings = settings_for(dir.path() / "pg");
  settings.run_as_user = "pacsnode-no-such-user";
  EmbeddedPostgres postgres(settings);
  CHECK(postgres.os_user() == "nobody");
  postgres.start();
  Database db({postgres.conninfo()});
  db.ping();
  const pid_t postmaster = postmaster_pid(dir.path() / "pg");
  struct stat st {};
  REQUIRE(::stat(("/proc/" + std::to_string(postmaster)).c_str(), &st) == 0);
  CHECK(st.st_uid == 65534);
  postgres.stop();
  CHECK(process_ends(postmaster));
}
