#include <doctest/doctest.h>

#include "db/migrations.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "base/error.hpp"
#include "base/index_record.hpp"
#include "base/node_metrics.hpp"
#include "db/database.hpp"
#include "db/index_reader.hpp"
#include "db/index_writer.hpp"
#include "ingest/ingest.hpp"
#include "storage/store.hpp"
#include "tests/support/node.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using pacsnode::IndexRecord;
using pacsnode::db::DuplicatePolicy;
using pacsnode::db::IndexOutcome;
using pacsnode::db::IndexResult;
using pacsnode::db::IndexWriter;
using pacsnode::db::IndexWriterSettings;

namespace {

constexpr const char* kCtImage = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kBasicTextSr = "1.2.840.10008.5.1.4.1.1.88.11";

IndexRecord record(const std::string& sop, const std::string& series = "1.2.3.1", const std::string& study = "1.2.3",
                   const std::string& patient_id = "P1") {
  IndexRecord r;
  r.patient = {patient_id, "HOSP", "Doe^John", "19700101", "M", "{}"};
  r.study = {study, "20240115", "101500", "ACC1", "S1", "Chest", "Smith^Ann", "{}"};
  r.series = {series, "CT", 1, "Axial", "CHEST", "20240115", "101600", "{}"};
  r.instance.sop_instance_uid = sop;
  r.instance.sop_class_uid = kCtImage;
  r.instance.instance_number = 1;
  r.instance.content_date = "20240115";
  r.instance.content_time = "101700.25";
  r.instance.attributes_json = R"({"00280010":{"vr":"US","Value":[512]}})";
  r.instance.calling_ae_title = "MODALITY";
  r.instance.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  r.instance.file_path = "files/" + sop;
  r.instance.file_size = 1000;
  r.instance.checksum = "sha256:00";
  return r;
}

// A migrated throw-away cluster.
struct Fixture {
  pacsnode::test::TestCluster cluster;
  Fixture() { REQUIRE(pacsnode::db::Database({cluster.conninfo()}).migrate() == static_cast<int>(pacsnode::db::detail::embedded_migrations().size())); }
  std::string sql(const std::string& text) { return cluster.psql(text); }
  IndexWriterSettings settings(DuplicatePolicy duplicates = DuplicatePolicy::Keep) {
    IndexWriterSettings s;
    s.conninfo = cluster.conninfo();
    s.duplicates = duplicates;
    return s;
  }
};

// Submits the records together and waits for every result.
std::vector<IndexResult> write(IndexWriter& writer, std::vector<IndexRecord> records) {
  std::vector<std::promise<IndexResult>> promises(records.size());
  std::vector<std::future<IndexResult>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  for (std::size_t i = 0; i < records.size(); ++i) {
    writer.submit(std::move(records[i]), [&promises, i](IndexResult r) { promises[i].set_value(std::move(r)); });
  }
  std::vector<IndexResult> results;
  for (auto& f : futures) results.push_back(f.get());
  return results;
}

IndexResult write(IndexWriter& writer, IndexRecord record) { return write(writer, std::vector{std::move(record)})[0]; }

// A writer that commits only pairs of records, so that two submitted together share a batch.
IndexWriterSettings pairs(IndexWriterSettings settings) {
  settings.max_batch = 2;
  settings.max_wait = 10s;
  return settings;
}

// Routes the node's log into a string while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  // Call when no writer is running.
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

TEST_CASE("index writer: records become rows; triggers keep counts and modalities") {
  Fixture f;
  IndexWriter writer(f.settings());
  auto sr = record("1.2.3.2.1", "1.2.3.2");
  sr.series.modality = "SR";
  sr.instance.sop_class_uid = kBasicTextSr;
  const auto results = write(writer, {record("1.2.3.1.1"), record("1.2.3.1.2"), sr});
  for (const auto& r : results) CHECK(r.outcome == IndexOutcome::Inserted);

  CHECK(f.sql("SELECT patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex FROM patient") ==
        "P1|HOSP|Doe^John|1970-01-01|M");
  CHECK(f.sql("SELECT study_date, study_time, accession_number, number_of_series, number_of_instances, "
              "modalities_in_study, array_length(sop_classes_in_study, 1) FROM study") ==
        "2024-01-15|10:15:00|ACC1|2|3|{CT,SR}|2");
  CHECK(f.sql("SELECT string_agg(series_instance_uid || ':' || modality || ':' || number_of_instances, ',' "
              "ORDER BY series_instance_uid) FROM series") == "1.2.3.1:CT:2,1.2.3.2:SR:1");
  CHECK(f.sql("SELECT content_date, content_time, calling_ae_title, file_path, attributes->'00280010'->>'vr' "
              "FROM instance WHERE sop_instance_uid = '1.2.3.1.1'") ==
        "2024-01-15|10:17:00.25|MODALITY|files/1.2.3.1.1|US");
  CHECK(pacsnode::db::count_instances(f.cluster.conninfo()) == 3);
  CHECK(pacsnode::db::instance_exists(f.cluster.conninfo(), "1.2.3.1.2"));
  CHECK_FALSE(pacsnode::db::instance_exists(f.cluster.conninfo(), "1.2.3.1.9"));
  auto paths = pacsnode::db::all_file_paths(f.cluster.conninfo());
  std::sort(paths.begin(), paths.end());
  CHECK(paths == std::vector<std::string>{"files/1.2.3.1.1", "files/1.2.3.1.2", "files/1.2.3.2.1"});
}

TEST_CASE("index writer: Keep leaves the first instance indexed") {
  Fixture f;
  IndexWriter writer(f.settings(DuplicatePolicy::Keep));
  CHECK(write(writer, record("1.1")).outcome == IndexOutcome::Inserted);
  auto again = record("1.1");
  again.instance.file_path = "files/other";
  again.instance.instance_number = 7;
  const auto result = write(writer, again);
  CHECK(result.outcome == IndexOutcome::DuplicateKept);
  CHECK(result.replaced_file_path.empty());
  CHECK(f.sql("SELECT count(*), min(file_path), min(instance_number) FROM instance") == "1|files/1.1|1");
  CHECK(f.sql("SELECT number_of_instances FROM study") == "1");

  // Twice in one batch: the first wins.
  auto first = record("1.2");
  auto second = record("1.2");
  second.instance.file_path = "files/1.2-again";
  IndexWriter pair_writer(pairs(f.settings(DuplicatePolicy::Keep)));
  const auto both = write(pair_writer, {first, second});
  CHECK(both[0].outcome == IndexOutcome::Inserted);
  CHECK(both[1].outcome == IndexOutcome::DuplicateKept);
  CHECK(f.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '1.2'") == "files/1.2");
  CHECK(f.sql("SELECT number_of_instances FROM study") == "2");
}

TEST_CASE("index writer: Replace swaps the row, also into another series and study") {
  Fixture f;
  IndexWriter writer(f.settings(DuplicatePolicy::Replace));
  CHECK(write(writer, record("1.1")).outcome == IndexOutcome::Inserted);
  CHECK(write(writer, record("1.2")).outcome == IndexOutcome::Inserted);

  auto newer = record("1.1");
  newer.instance.file_path = "files/1.1-v2";
  newer.instance.instance_number = 9;
  auto result = write(writer, newer);
  CHECK(result.outcome == IndexOutcome::Replaced);
  CHECK(result.replaced_file_path == "files/1.1");
  CHECK(f.sql("SELECT count(*), min(file_path), min(instance_number) FROM instance WHERE sop_instance_uid = '1.1'") ==
        "1|files/1.1-v2|9");

  // Same file: nothing for the caller to delete.
  result = write(writer, newer);
  CHECK(result.outcome == IndexOutcome::Replaced);
  CHECK(result.replaced_file_path.empty());

  // Re-sent in another series of the same study: both series' counts follow.
  auto moved = record("1.1", "1.2.3.9");
  moved.instance.file_path = "files/1.1-v2";
  CHECK(write(writer, moved).outcome == IndexOutcome::Replaced);
  CHECK(f.sql("SELECT string_agg(series_instance_uid || ':' || number_of_instances, ',' ORDER BY series_instance_uid) FROM series") ==
        "1.2.3.1:1,1.2.3.9:1");
  CHECK(f.sql("SELECT number_of_series, number_of_instances FROM study") == "2|2");

  // And into another study.
  auto elsewhere = record("1.1", "4.5.6.1", "4.5.6");
  elsewhere.series.modality = "MR";
  CHECK(write(writer, elsewhere).outcome == IndexOutcome::Replaced);
  CHECK(f.sql("SELECT string_agg(study_instance_uid || ':' || number_of_instances || ':' || "
              "array_to_string(modalities_in_study, '/'), ',' ORDER BY study_instance_uid) FROM study") ==
        "1.2.3:1:CT,4.5.6:1:MR");
  CHECK(f.sql("SELECT string_agg(series_instance_uid || ':' || number_of_instances, ',' ORDER BY series_instance_uid) FROM series") ==
        "1.2.3.1:1,1.2.3.9:0,4.5.6.1:1");

  // Twice in one batch: the second replaces the first; neither file of the chain that the
  // index still references is handed back for deletion.
  auto a = record("1.2");
  a.instance.file_path = "files/1.2-a";
  auto b = record("1.2");
  b.instance.file_path = "files/1.2";
  IndexWriter pair_writer(pairs(f.settings(DuplicatePolicy::Replace)));
  const auto both = write(pair_writer, {a, b});
  CHECK(both[0].outcome == IndexOutcome::Replaced);
  CHECK(both[0].replaced_file_path.empty());  // files/1.2 is b's file again
  CHECK(both[1].outcome == IndexOutcome::Replaced);
  CHECK(both[1].replaced_file_path == "files/1.2-a");
  CHECK(f.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '1.2'") == "files/1.2");
  CHECK(pacsnode::db::count_instances(f.cluster.conninfo()) == 2);
}

TEST_CASE("index writer: patient identity, changes updated and logged") {
  Fixture f;
  LogCapture log;
  {
    IndexWriter writer(f.settings());
    CHECK(write(writer, record("1.1")).outcome == IndexOutcome::Inserted);
    auto changed = record("1.2");
    changed.patient.patient_name = "Doe^Jane";
    changed.patient.patient_sex = "F";
    CHECK(write(writer, changed).outcome == IndexOutcome::Inserted);
    // Same PatientID, another issuer: another patient.
    auto other = record("2.1", "2.1", "2");
    other.patient.issuer_of_patient_id = "OTHER";
    other.patient.patient_name = "Roe^Richard";
    CHECK(write(writer, other).outcome == IndexOutcome::Inserted);
    auto no_issuer = record("3.1", "3.1", "3");
    no_issuer.patient.issuer_of_patient_id = "";
    CHECK(write(writer, no_issuer).outcome == IndexOutcome::Inserted);
  }
  CHECK(f.sql("SELECT string_agg(issuer_of_patient_id || ':' || patient_name || ':' || patient_sex, ',' ORDER BY issuer_of_patient_id) "
              "FROM patient WHERE patient_id = 'P1'") == ":Doe^John:M,HOSP:Doe^Jane:F,OTHER:Roe^Richard:M");
  const auto text = log.text();
  CHECK(text.find("patient P1/HOSP: name 'Doe^John' -> 'Doe^Jane', sex 'M' -> 'F'") != std::string::npos);
  CHECK(text.find("patient P1/OTHER") == std::string::npos);
}

TEST_CASE("index writer: rows it remembers are not rewritten; changes still are, and a row deleted behind its back "
          "comes back") {
  Fixture f;
  LogCapture log;
  IndexWriter writer(f.settings());
  CHECK(write(writer, record("1.1")).outcome == IndexOutcome::Inserted);
  // Same patient values: its row is not touched (no new row version, not even a row lock,
  // which would set xmax). Study and series rows get a new version from the count triggers
  // in any case.
  const std::string xmin = "SELECT xmin || ',' || xmax FROM patient";
  const auto written = f.sql(xmin);
  CHECK(write(writer, record("1.2")).outcome == IndexOutcome::Inserted);
  CHECK(f.sql(xmin) == written);
  CHECK(f.sql("SELECT number_of_instances FROM series") == "2");
  // A changed series description: only the series row is written again.
  auto described = record("1.3");
  described.series.series_description = "Coronal";
  CHECK(write(writer, described).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT series_description FROM series") == "Coronal");
  CHECK(f.sql(xmin) == written);
  // Back to the first values: written again (what the writer remembers is what it wrote last).
  CHECK(write(writer, record("1.4")).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT series_description FROM series") == "Axial");
  // A changed patient name after unchanged writes is still applied and logged.
  auto renamed = record("1.5");
  renamed.patient.patient_name = "Doe^Jim";
  CHECK(write(writer, renamed).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT patient_name FROM patient") == "Doe^Jim");
  CHECK(log.text().find("name 'Doe^John' -> 'Doe^Jim'") != std::string::npos);
  // Someone deletes the series (and its instances) while the writer remembers it: the next
  // instance of that series still gets indexed, under a new series row.
  f.sql("DELETE FROM series");
  const auto again = write(writer, record("1.6"));
  CHECK_MESSAGE(again.outcome == IndexOutcome::Inserted, again.error);
  CHECK(f.sql("SELECT count(*) || ',' || sum(number_of_instances) FROM series") == "1,1");
  CHECK(f.sql("SELECT number_of_instances FROM study") == "1");
  CHECK(write(writer, record("1.7")).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT number_of_instances FROM series") == "2");
}

TEST_CASE("index writer: an unparseable date or time is NULL and kept raw in attributes") {
  Fixture f;
  IndexWriter writer(f.settings());
  auto r = record("1.1");
  r.study.study_date = "20241345";
  r.study.study_time = "2561";
  r.patient.patient_birth_date = "1970";
  r.instance.content_date = "";  // absent: NULL, nothing kept
  CHECK(write(writer, r).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT study_date IS NULL, study_time IS NULL, attributes->'00080020', attributes->'00080030' "
              "FROM study") == R"(t|t|{"vr": "DA", "Value": ["20241345"]}|{"vr": "TM", "Value": ["2561"]})");
  CHECK(f.sql("SELECT patient_birth_date IS NULL, attributes->'00100030'->'Value'->>0 FROM patient") == "t|1970");
  CHECK(f.sql("SELECT content_date IS NULL, attributes ? '00080023' FROM instance") == "t|f");
}

TEST_CASE("index writer: a record the database rejects fails alone") {
  Fixture f;
  auto settings = f.settings();
  settings.max_batch = 6;
  settings.max_wait = 10s;  // all six in one batch
  IndexWriter writer(settings);
  auto no_uid = record("");
  auto bad_json = record("1.3");
  bad_json.instance.attributes_json = "{broken";
  auto negative = record("1.4");
  negative.instance.file_size = -1;
  auto same_file = record("1.6");
  same_file.instance.file_path = "files/1.1";  // file_path is unique
  const auto results = write(writer, {record("1.1"), no_uid, bad_json, negative, record("1.5"), same_file});
  CHECK(results[0].outcome == IndexOutcome::Inserted);
  CHECK(results[1].outcome == IndexOutcome::Failed);
  CHECK(results[1].error.find("sop_instance_uid_check") != std::string::npos);
  CHECK(results[2].outcome == IndexOutcome::Failed);
  CHECK(results[2].error.find("json") != std::string::npos);
  CHECK(results[3].outcome == IndexOutcome::Failed);
  CHECK(results[4].outcome == IndexOutcome::Inserted);
  CHECK(results[5].outcome == IndexOutcome::Failed);
  CHECK(results[5].error.find("file_path") != std::string::npos);
  CHECK(f.sql("SELECT string_agg(sop_instance_uid, ',' ORDER BY sop_instance_uid) FROM instance") == "1.1,1.5");
  CHECK(f.sql("SELECT number_of_instances FROM study") == "2");
  CHECK(f.sql("SELECT number_of_instances FROM series") == "2");
  // The writer carries on normally.
  CHECK(write(writer, record("1.7")).outcome == IndexOutcome::Inserted);
}

TEST_CASE("index writer: a record announced meanwhile joins the queued one's transaction; no announcement, no wait") {
  Fixture f;
  auto settings = f.settings();
  settings.gather_wait = 60s;  // only the announcements decide when to commit
  IndexWriter writer(settings);
  auto& batches = pacsnode::metrics::node_metrics().index_commit_batch_size;
  auto submit = [&](IndexRecord r, pacsnode::db::Arrival arrival = {}) {
    auto promise = std::make_shared<std::promise<IndexResult>>();
    auto future = promise->get_future();
    writer.submit(std::move(r), [promise](IndexResult result) { promise->set_value(std::move(result)); },
                  std::move(arrival));
    return future;
  };
  const auto before = batches.snapshot();

  auto second = writer.announce();  // another association's instance, being synced
  auto a = submit(record("2.1"));
  CHECK(a.wait_for(300ms) == std::future_status::timeout);  // the writer gathers
  CHECK(f.sql("SELECT count(*) FROM instance") == "0");
  auto b = submit(record("2.2"), std::move(second));
  REQUIRE(a.wait_for(10s) == std::future_status::ready);
  REQUIRE(b.wait_for(10s) == std::future_status::ready);
  CHECK(a.get().outcome == IndexOutcome::Inserted);
  CHECK(b.get().outcome == IndexOutcome::Inserted);
  auto after = batches.snapshot();
  CHECK(after.count - before.count == 1);  // one transaction for both
  CHECK(after.sum - before.sum == 2);

  // An announced record that never comes (its instance was refused) stops the gathering.
  {
    auto refused = writer.announce();
    auto c = submit(record("2.3"));
    CHECK(c.wait_for(300ms) == std::future_status::timeout);
    refused = pacsnode::db::Arrival();  // given up
    REQUIRE(c.wait_for(10s) == std::future_status::ready);
    CHECK(c.get().outcome == IndexOutcome::Inserted);
  }
  // Nothing announced: committed at once, not after gather_wait.
  auto d = submit(record("2.4"));
  REQUIRE(d.wait_for(10s) == std::future_status::ready);
  CHECK(d.get().outcome == IndexOutcome::Inserted);
  after = batches.snapshot();
  CHECK(after.count - before.count == 3);
  CHECK(after.sum - before.sum == 4);
  CHECK(f.sql("SELECT number_of_instances FROM series") == "4");
}

TEST_CASE("index writer: the counts and routing versions an instance adds are heap-only updates") {
  // Every instance updates its series and study rows (the count triggers) and their
  // routing_resource rows (the arrival trigger). Those updates must touch no index (no
  // index on a column they change): else each instance adds an entry to every index of
  // these tables, trigram GINs included (migrations 0008, 0010). No sweeper runs here, so
  // both resources stay pending all along.
  Fixture f;
  IndexWriter writer(f.settings());
  constexpr int kInstances = 60;
  for (int i = 1; i <= kInstances; ++i) REQUIRE(write(writer, record("3." + std::to_string(i))).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT number_of_instances FROM series") == std::to_string(kInstances));
  writer.stop();  // its backend reports its statistics as it exits
  const std::string query =
      "SELECT string_agg(relname || ' ' || n_tup_upd || ' ' || n_tup_hot_upd, ' ') FROM pg_stat_user_tables"
      " WHERE relname IN ('series', 'study', 'routing_resource')";
  struct Counts {
    long updates = 0, hot = 0;
  };
  std::map<std::string, Counts> counts;
  std::string stats;
  for (int tries = 0; tries < 100; ++tries) {
    stats = f.sql(query);
    std::istringstream in(stats);
    for (std::string table; in >> table;) in >> counts[table].updates >> counts[table].hot;
    if (counts["series"].updates >= kInstances && counts["study"].updates >= kInstances &&
        counts["routing_resource"].updates >= 2 * (kInstances - 1)) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  INFO("updates, of them HOT: " << stats);
  CHECK(counts["routing_resource"].updates >= 2 * (kInstances - 1));  // its series and its study
  for (const char* table : {"series", "study", "routing_resource"}) {
    CHECK(counts[table].updates >= kInstances - 1);
    CHECK(counts[table].hot >= counts[table].updates * 9 / 10);
  }
}

TEST_CASE("index writer: attributes too large for the row are compressed with lz4") {
  Fixture f;
  IndexWriter writer(f.settings());
  auto r = record("4.1");
  std::string value;
  for (int i = 0; i < 400; ++i) value += "vendor private value " + std::to_string(i) + " ";
  r.instance.attributes_json = R"({"00091010":{"vr":"LO","Value":[")" + value + R"("]}})";
  REQUIRE(write(writer, r).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT pg_column_compression(attributes) FROM instance") == "lz4");
  CHECK(f.sql("SELECT length(attributes->'00091010'->'Value'->>0) FROM instance") == std::to_string(value.size()));
}

TEST_CASE("ingest: small instances are announced to the index writer while placed, large ones are not") {
  Fixture f;
  auto settings = f.settings();
  IndexWriter writer(settings);
  pacsnode::test::TempDir dir("pn-announce");
  pacsnode::test::generate_instances(dir.path() / "small", 1, 1);
  pacsnode::test::generate_instances(dir.path() / "large", 1, 1, 1024);  // 2 MiB of pixels
  pacsnode::storage::Store store({dir.path() / "store", 0});
  pacsnode::ingest::Ingest ingest(store, writer, false);
  auto place = [&](const std::string& which) {
    const auto files = pacsnode::test::files_below(dir.path() / which);
    REQUIRE(files.size() == 1);
    std::ifstream in(files[0], std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto temp = store.create_temp(which == "small" ? "1.2.3.1" : "1.2.3.2");
    temp.write(bytes);
    return ingest.place(temp, {}, {"MODALITY", "PACSNODE", ""});
  };
  auto index = [&](pacsnode::ingest::Placed placed) {
    std::promise<pacsnode::ingest::Indexed> promise;
    auto future = promise.get_future();
    ingest.index(std::move(placed), [&](pacsnode::ingest::Indexed indexed) { promise.set_value(std::move(indexed)); });
    return future.get();
  };
  auto small = place("small");
  CHECK(small.arrival.announced());  // a batch of another association may wait for it
  auto large = place("large");
  CHECK(!large.arrival.announced());  // its sync outlasts any gathering: nobody waits for it
  CHECK(index(std::move(small)).ok);
  CHECK(index(std::move(large)).ok);
  CHECK(f.sql("SELECT count(*) FROM instance") == "2");
}

TEST_CASE("index writer: 8 threads, 2,000 records, every callback once") {
  Fixture f;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  std::vector<std::atomic<int>> calls(kThreads * kPerThread);
  std::atomic<int> inserted{0};
  std::promise<void> all_done;
  std::atomic<int> remaining{kThreads * kPerThread};
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point end;
  {
    auto settings = f.settings();
    settings.connections = 2;
    IndexWriter writer(settings);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Each thread is an association sending one study of a few series.
        const std::string study = fmt::format("9.{}", t % 4);
        for (int i = 0; i < kPerThread; ++i) {
          const int n = t * kPerThread + i;
          auto r = record(fmt::format("{}.{}.{}", study, t, i), fmt::format("{}.{}", study, t * 10 + i / 100), study,
                          fmt::format("P{}", t % 4));
          writer.submit(std::move(r), [&, n](IndexResult result) {
            calls[n]++;
            if (result.outcome == IndexOutcome::Inserted) inserted++;
            if (--remaining == 0) {
              end = std::chrono::steady_clock::now();
              all_done.set_value();
            }
          });
        }
      });
    }
    for (auto& thread : threads) thread.join();
    all_done.get_future().wait();
  }
  const double seconds = std::chrono::duration<double>(end - start).count();
  MESSAGE(fmt::format("indexed {} instances in {:.3f} s: {:.0f} instances/s", kThreads * kPerThread, seconds,
                      kThreads * kPerThread / seconds));
  CHECK(inserted == kThreads * kPerThread);
  int wrong = 0;
  for (const auto& c : calls) wrong += c != 1;
  CHECK(wrong == 0);
  CHECK(pacsnode::db::count_instances(f.cluster.conninfo()) == kThreads * kPerThread);
  CHECK(f.sql("SELECT sum(number_of_instances) FROM study") == std::to_string(kThreads * kPerThread));
  CHECK(f.sql("SELECT count(*) FROM study WHERE number_of_instances <> "
              "(SELECT count(*) FROM instance i JOIN series se ON se.id = i.series_pk WHERE se.study_pk = study.id)") ==
        "0");
}

TEST_CASE("index writer: destruction commits what is queued; submit after stop fails at once") {
  Fixture f;
  std::atomic<int> calls{0};
  {
    IndexWriter writer(f.settings());
    for (int i = 0; i < 300; ++i) {
      writer.submit(record(fmt::format("1.{}", i)), [&](IndexResult r) {
        if (r.outcome == IndexOutcome::Inserted) calls++;
      });
    }
  }
  CHECK(calls == 300);
  CHECK(pacsnode::db::count_instances(f.cluster.conninfo()) == 300);

  IndexWriter writer(f.settings());
  writer.stop();
  writer.stop();
  std::optional<IndexResult> late;
  writer.submit(record("2.1"), [&](IndexResult r) { late = r; });
  REQUIRE(late);
  CHECK(late->outcome == IndexOutcome::Failed);
}

TEST_CASE("index writer: reconnects after the server drops its connection") {
  Fixture f;
  IndexWriter writer(f.settings());
  CHECK(write(writer, record("1.1")).outcome == IndexOutcome::Inserted);
  CHECK(f.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
              "WHERE datname = current_database() AND pid <> pg_backend_pid()") == "1");
  CHECK(write(writer, record("1.2")).outcome == IndexOutcome::Inserted);
  CHECK(pacsnode::db::count_instances(f.cluster.conninfo()) == 2);
}

TEST_CASE("index writer: refuses to start without a database") {
  IndexWriterSettings settings;
  settings.conninfo = "host=/nonexistent port=5432 dbname=x connect_timeout=2";
  try {
    IndexWriter writer(settings);
    FAIL("the constructor should throw");
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::Unavailable);
  }
}

TEST_CASE("index reader: delete by file path, clear, and a reindex reproduces the snapshot") {
  Fixture f;
  const std::string conninfo = f.cluster.conninfo();
  std::vector<IndexRecord> records;
  for (int i = 0; i < 6; ++i) records.push_back(record(fmt::format("1.{}", i), fmt::format("1.2.3.{}", i % 2)));
  records[0].study.study_date = "bogus";
  records[1].patient.patient_name = "Müller^Jürgen";  // the batch's patient value is the last one's
  records[5].patient.patient_name = "O'Brien^Pat";
  records[4].series.series_number.reset();
  {
    IndexWriter writer(f.settings());
    write(writer, records);
  }
  const auto before = pacsnode::db::index_snapshot(conninfo);
  REQUIRE(before.size() == 6);
  CHECK(before[0].find("sop_instance_uid='1.0'") != std::string::npos);
  CHECK(before[0].find("patient_name='O''Brien^Pat'") != std::string::npos);
  CHECK(before[0].find("series_number=NULL") != std::string::npos);

  CHECK(pacsnode::db::delete_instances_by_file_paths(conninfo, {"files/1.1", "files/1.3", "files/none"}) == 2);
  CHECK(pacsnode::db::count_instances(conninfo) == 4);
  CHECK(f.sql("SELECT string_agg(number_of_instances::text, ',' ORDER BY series_instance_uid) FROM series") == "3,1");

  pacsnode::db::clear_index(conninfo);
  CHECK(pacsnode::db::count_instances(conninfo) == 0);
  CHECK(f.sql("SELECT count(*) FROM patient") == "0");
  {
    IndexWriter writer(f.settings());
    write(writer, records);
  }
  CHECK(pacsnode::db::index_snapshot(conninfo) == before);
}

TEST_CASE("index writer: two writers on the same studies, locking in opposite submission orders") {
  Fixture f;
  constexpr int kPerWriter = 600;
  std::atomic<int> inserted{0}, failed{0};
  {
    auto settings = f.settings();
    settings.connections = 2;
    IndexWriter one(settings), two(settings);
    auto feed = [&](IndexWriter& writer, int writer_no, bool reverse) {
      for (int k = 0; k < kPerWriter; ++k) {
        const int i = reverse ? kPerWriter - 1 - k : k;
        // Consecutive records hop between five studies and their patients.
        const std::string study = fmt::format("7.{}", i % 5);
        auto r = record(fmt::format("{}.{}.{}", study, writer_no, i), fmt::format("{}.{}", study, i % 3), study,
                        fmt::format("Q{}", i % 5));
        writer.submit(std::move(r), [&](IndexResult result) {
          (result.outcome == IndexOutcome::Inserted ? inserted : failed)++;
        });
      }
    };
    std::thread a([&] { feed(one, 1, false); });
    std::thread b([&] { feed(two, 2, true); });
    a.join();
    b.join();
  }
  CHECK(failed == 0);
  CHECK(inserted == 2 * kPerWriter);
  CHECK(f.sql("SELECT string_agg(number_of_series || ':' || number_of_instances, ',' ORDER BY study_instance_uid) "
              "FROM study") == "3:240,3:240,3:240,3:240,3:240");
}
