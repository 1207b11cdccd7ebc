// Completion (stability) and firing against a real PostgreSQL: instances go through the
// real index writer (whose transaction records the arrivals), rules are RuleSpecs built in
// code, and the sweeper turns what is due into jobs (routing/sweeper.hpp).
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include "base/index_record.hpp"
#include "db/connection_pool.hpp"
#include "db/database.hpp"
#include "db/index_writer.hpp"
#include "db/job_queue.hpp"
#include "db/stability.hpp"
#include "routing/sweeper.hpp"
#include "tests/support/pg_cluster.hpp"

using namespace pacsnode;
using namespace std::chrono_literals;
using routing::Level;
using routing::RuleSpec;

namespace {

IndexRecord record(const std::string& sop, const std::string& series, const std::string& study,
                   const std::string& modality = "CT") {
  IndexRecord r;
  r.patient = {"P1", "", "Doe^John", "19700101", "M", "{}"};
  r.study = {study, "20240115", "101500", "ACC1", "S1", "Chest", "", "{}"};
  r.series = {series, modality, 1, "Axial", "CHEST", "20240115", "101600",
              R"({"00080070":{"vr":"LO","Value":["ACME"]}})"};
  r.instance.sop_instance_uid = sop;
  r.instance.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  r.instance.instance_number = 1;
  r.instance.calling_ae_title = "MODALITY";
  r.instance.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  r.instance.file_path = "objects/" + sop;
  r.instance.file_size = 100;
  r.instance.checksum = "xxh3:00";
  return r;
}

RuleSpec rule(std::string name, Level on, std::chrono::seconds stable_after, std::string modality = "CT",
              std::vector<routing::JobAction> actions = {{"forward", "pacs"}}) {
  RuleSpec r;
  r.name = std::move(name);
  r.on = on;
  r.stable_after = stable_after;
  r.actions = std::move(actions);
  r.matches = [modality](const routing::Attributes& a) { return a.first(0x00080060) == modality; };
  return r;
}

struct Fixture {
  test::TestCluster cluster;
  std::unique_ptr<db::IndexWriter> writer;
  db::ConnectionPool pool{cluster.conninfo(), 4};
  Fixture(bool route_arrivals = true) {
    db::Database({cluster.conninfo()}).migrate();
    db::IndexWriterSettings s;
    s.conninfo = cluster.conninfo();
    s.route_arrivals = route_arrivals;
    writer = std::make_unique<db::IndexWriter>(s);
  }
  std::string sql(const std::string& text) { return cluster.psql(text); }

  // Indexes the records in one batch and waits for the commit.
  void index(std::vector<IndexRecord> records) {
    std::vector<std::promise<db::IndexResult>> done(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      writer->submit(std::move(records[i]), [&done, i](db::IndexResult r) { done[i].set_value(std::move(r)); });
    }
    for (auto& d : done) REQUIRE(d.get_future().get().outcome == db::IndexOutcome::Inserted);
  }
  void index_series(const std::string& series, int first, int count, const std::string& study = "1.2",
                    const std::string& modality = "CT") {
    std::vector<IndexRecord> records;
    for (int i = first; i < first + count; ++i) records.push_back(record(series + "." + std::to_string(i), series, study, modality));
    index(std::move(records));
  }
  std::string jobs(const std::string& where = "true") {
    return sql("SELECT coalesce(string_agg(rule || ':' || target || ':' || level || ':' || resource_uid || ':v' || "
               "content_version || ':f' || firing, ',' ORDER BY id), '') FROM job WHERE " + where);
  }
  int job_count() { return std::stoi(sql("SELECT count(*) FROM job")); }
};

// Sweeps until `until()` or the deadline; returns whether it came true.
template <typename Pred>
bool sweep_until(routing::Sweeper& sweeper, Pred until, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    sweeper.sweep();
    if (until()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

}  // namespace

TEST_CASE("stability: a series fires once, stable_after after its last instance; every instance resets the clock") {
  Fixture f;
  routing::Sweeper sweeper(f.pool, {rule("ct", Level::Series, 2s)});
  f.index_series("1.2.3", 1, 2);
  const auto started = std::chrono::steady_clock::now();
  CHECK(sweeper.sweep().jobs == 0);
  std::this_thread::sleep_for(1200ms);
  f.index_series("1.2.3", 3, 1);  // resets the quiet period
  const auto last = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1200ms);
  CHECK(sweeper.sweep().jobs == 0);  // 2.4 s after the first, 1.2 s after the last: not yet
  REQUIRE(sweep_until(sweeper, [&] { return f.job_count() > 0; }, 5s));
  const auto fired = std::chrono::steady_clock::now();
  CHECK(fired - last >= 2s);
  CHECK(fired - started >= 3s);
  CHECK(f.jobs() == "ct:pacs:series:1.2.3:v3:f1");
  for (int i = 0; i < 5; ++i) sweeper.sweep();
  CHECK(f.job_count() == 1);  // once
  CHECK(f.sql("SELECT study_uid || '|' || series_uid || '|' || sop_instance_uid || '|' || state FROM job") ==
        "1.2|1.2.3||queued");
  CHECK(f.sql("SELECT evaluated_version = version FROM routing_resource WHERE level = 'series'") == "t");
}

TEST_CASE("stability: max_wait fires a series that never goes quiet") {
  Fixture f;
  auto busy = rule("ct", Level::Series, 60s);
  busy.max_wait = 2s;
  routing::Sweeper sweeper(f.pool, {busy});
  const auto started = std::chrono::steady_clock::now();
  int n = 0;
  while (f.job_count() == 0 && std::chrono::steady_clock::now() - started < 6s) {
    f.index_series("1.2.3", ++n, 1);  // an instance every 300 ms: never quiet for 60 s
    sweeper.sweep();
    std::this_thread::sleep_for(300ms);
  }
  const auto fired = std::chrono::steady_clock::now() - started;
  REQUIRE(f.job_count() == 1);
  CHECK(fired >= 2s);
  CHECK(fired < 4s);  // long before any quiet period of 60 s
}

TEST_CASE("stability: an instance after the firing fires once more, once per quiet period, as an amendment") {
  Fixture f;
  routing::Sweeper sweeper(f.pool, {rule("ct", Level::Series, 1s)});
  f.index_series("1.2.3", 1, 3);
  REQUIRE(sweep_until(sweeper, [&] { return f.job_count() == 1; }, 5s));
  f.index_series("1.2.3", 4, 1);
  std::this_thread::sleep_for(300ms);
  f.index_series("1.2.3", 5, 1);
  CHECK(sweeper.sweep().jobs == 0);  // within the new quiet period
  REQUIRE(sweep_until(sweeper, [&] { return f.job_count() == 2; }, 5s));
  for (int i = 0; i < 15; ++i) {
    sweeper.sweep();
    std::this_thread::sleep_for(100ms);
  }
  CHECK(f.jobs() == "ct:pacs:series:1.2.3:v3:f1,ct:pacs:series:1.2.3:v5:f2");
  CHECK(f.sql("SELECT firings FROM routing_rule_state") == "2");
}

TEST_CASE("stability: a quiet period that ended while no node was sweeping fires at the next start") {
  Fixture f;
  f.index_series("1.2.3", 1, 2);
  std::this_thread::sleep_for(1200ms);  // no sweeper: every node is down
  db::ConnectionPool fresh(f.cluster.conninfo(), 2);
  routing::Sweeper after_restart(fresh, {rule("ct", Level::Series, 1s)});
  const auto pass = after_restart.sweep();  // the very first pass
  CHECK(pass.jobs == 1);
  CHECK(f.jobs() == "ct:pacs:series:1.2.3:v2:f1");
}

TEST_CASE("stability: two sweepers (two nodes) on one database fire each series once") {
  Fixture f;
  // Quiet periods long enough that the interleaved writes below never leave one over.
  auto study = rule("study", Level::Study, 3s);
  study.matches = [](const routing::Attributes& a) { return a.first(0x00080061) == "CT"; };  // ModalitiesInStudy
  const std::vector<RuleSpec> rules = {rule("ct", Level::Series, 3s), study};
  std::atomic<bool> done{false};
  std::atomic<int> fired[2] = {0, 0};
  std::vector<std::thread> nodes;
  for (int n = 0; n < 2; ++n) {
    nodes.emplace_back([&, n] {
      db::ConnectionPool pool(f.cluster.conninfo(), 2);
      routing::Sweeper sweeper(pool, rules);
      while (!done) {
        fired[n] += static_cast<int>(sweeper.sweep().firings);
        std::this_thread::sleep_for(20ms);
      }
    });
  }
  // Twelve series in four studies, written in interleaved batches, some instances late.
  for (int round = 0; round < 3; ++round) {
    for (int s = 0; s < 12; ++s) {
      f.index_series("1.2." + std::to_string(s % 4) + "." + std::to_string(s), round * 2, 2,
                     "1.2." + std::to_string(s % 4));
    }
    std::this_thread::sleep_for(200ms);
  }
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (f.job_count() < 16 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(1500ms);  // anything fired twice would show by now
  done = true;
  for (auto& t : nodes) t.join();
  CHECK(f.job_count() == 16);
  CHECK(f.sql("SELECT count(DISTINCT resource_uid) FROM job") == "16");
  CHECK(f.sql("SELECT max(firings) FROM routing_rule_state") == "1");
  CHECK(fired[0] + fired[1] == 16);
  MESSAGE("firings by node: " << fired[0].load() << " and " << fired[1].load());
}

TEST_CASE("routing: instance rules — each instance once, nothing lost when a sweep dies before committing") {
  Fixture f;
  auto each = rule("each", Level::Instance, 0s);
  routing::Sweeper sweeper(f.pool, {each});
  f.index_series("1.2.3", 1, 3);
  {
    // A node claims the events and dies before its commit: they stay.
    db::RoutingTransaction dying(f.pool);
    CHECK(dying.claim_events(100).size() == 3);
    // A second node meanwhile skips what the first holds.
    const auto pass = sweeper.sweep();
    CHECK(pass.events == 0);
  }
  const auto pass = sweeper.sweep();
  CHECK(pass.events == 3);
  CHECK(pass.jobs == 3);
  CHECK(f.jobs() == "each:pacs:instance:1.2.3.1:v1:f1,each:pacs:instance:1.2.3.2:v2:f1,"
                    "each:pacs:instance:1.2.3.3:v3:f1");
  CHECK(f.sql("SELECT count(*) FROM routing_instance_event") == "0");
  CHECK(sweeper.sweep().jobs == 0);
}

TEST_CASE("routing: no match, no job; a fallback fires when no other rule of its level matches") {
  Fixture f;
  auto fallback = rule("rest", Level::Series, 0s, "", {{"forward", "archive"}});
  fallback.fallback = true;
  fallback.matches = nullptr;  // a fallback's own `when` is not consulted
  routing::Sweeper sweeper(f.pool, {fallback, rule("ct", Level::Series, 0s)});
  f.index_series("1.2.3", 1, 1, "1.2", "CT");
  f.index_series("1.2.4", 1, 1, "1.2", "MR");
  sweeper.sweep();
  CHECK(f.jobs() == "ct:pacs:series:1.2.3:v1:f1,rest:archive:series:1.2.4:v1:f1");
  CHECK(f.sql("SELECT count(*) FROM routing_rule_state WHERE firings = 0") == "2");  // looked, did not fire
  CHECK(f.sql("SELECT count(*) FROM routing_resource WHERE version > evaluated_version") == "0");
}

TEST_CASE("routing: every action becomes a job; priority and max attempts come along") {
  Fixture f;
  auto both = rule("both", Level::Series, 0s, "CT", {{"forward", "pacs"}, {"analyze", "lung"}});
  both.priority = 7;
  routing::SweeperSettings settings;
  settings.max_attempts = 4;
  routing::Sweeper sweeper(f.pool, {both}, settings);
  f.index_series("1.2.3", 1, 2);
  CHECK(sweeper.sweep().jobs == 2);
  CHECK(f.sql("SELECT string_agg(kind || ':' || target || ':' || priority || ':' || max_attempts, ',' ORDER BY id)"
              " FROM job") == "forward:pacs:7:4,analyze:lung:7:4");
}

TEST_CASE("routing: rules see the index's attributes — stored JSON, and the study's derived ones") {
  Fixture f;
  auto by_manufacturer = rule("acme", Level::Series, 0s);
  by_manufacturer.matches = [](const routing::Attributes& a) {
    return a.first(0x00080070) == "ACME" && a.first(0x00100010) == "Doe^John" && a.first(0x00020016) == "MODALITY";
  };
  auto study = rule("ct-study", Level::Study, 0s);
  study.matches = [](const routing::Attributes& a) {
    const auto* modalities = a.find(0x00080061);
    return modalities && *modalities == std::vector<std::string>{"CT", "SR"} && a.first(0x00201208) == "3";
  };
  routing::Sweeper sweeper(f.pool, {by_manufacturer, study});
  f.index_series("1.2.3", 1, 2, "1.2", "CT");
  f.index_series("1.2.4", 1, 1, "1.2", "SR");
  sweeper.sweep();
  CHECK(f.jobs("level = 'study'") == "ct-study:pacs:study:1.2:v3:f1");
  CHECK(f.jobs("level = 'series'") == "acme:pacs:series:1.2.3:v2:f1,acme:pacs:series:1.2.4:v1:f1");
}

TEST_CASE("routing: rules that say which tags they read see those of the stored JSON, at every level, and no others") {
  Fixture f;
  // What each rule reads: `reads` lets the sweeper ask PostgreSQL for only these keys.
  auto instance = rule("thin", Level::Instance, 0s);
  instance.reads = std::vector<std::uint32_t>{0x00080070, 0x00180050, 0x00101010};
  instance.matches = [](const routing::Attributes& a) {
    return a.first(0x00080070) == "ACME" && a.first(0x00180050) == "1.25" && a.first(0x00101010) == "085Y" &&
           !a.has(0x00280010) && !a.has(0x00081032) && a.first(0x00080018) == "1.2.3.1" && a.first(0x00080060) == "CT";
  };
  auto series = rule("acme", Level::Series, 0s);
  series.reads = std::vector<std::uint32_t>{0x00080070, 0x00280010};
  series.matches = [](const routing::Attributes& a) {
    return a.first(0x00080070) == "ACME" && a.first(0x00280010) == "512" && !a.has(0x00180050) &&
           !a.has(0x00101010) && a.first(0x00201209) == "1";
  };
  auto study = rule("old-patient", Level::Study, 0s);
  study.reads = std::vector<std::uint32_t>{0x00101010, 0x00080061};
  study.matches = [](const routing::Attributes& a) {
    return a.first(0x00101010) == "085Y" && a.first(0x00080061) == "CT" && !a.has(0x00081032) && !a.has(0x00102160) &&
           a.first(0x00100010) == "Doe^John";
  };
  routing::Sweeper sweeper(f.pool, {instance, series, study});
  IndexRecord r = record("1.2.3.1", "1.2.3", "1.2");
  r.patient.attributes_json = R"({"00101010":{"vr":"AS","Value":["085Y"]},"00102160":{"vr":"SH","Value":["X"]}})";
  r.study.attributes_json = R"({"00081032":{"vr":"SQ","Value":[]}})";
  r.instance.attributes_json =
      R"({"00180050":{"vr":"DS","Value":[1.25]},"00280010":{"vr":"US","Value":[512]},"00291010":{"vr":"OB"}})";
  f.index({r});
  sweeper.sweep();
  CHECK(f.sql("SELECT string_agg(rule || ':' || resource_uid, ',') FROM job WHERE level = 'instance'") == "thin:1.2.3.1");
  CHECK(f.jobs("level = 'series'") == "acme:pacs:series:1.2.3:v1:f1");
  CHECK(f.jobs("level = 'study'") == "old-patient:pacs:study:1.2:v1:f1");
}

TEST_CASE("routing: a rule that throws counts as not matching and does not stop the sweep") {
  Fixture f;
  auto broken = rule("broken", Level::Series, 0s);
  broken.matches = [](const routing::Attributes&) -> bool { throw std::runtime_error("bug"); };
  routing::Sweeper sweeper(f.pool, {broken, rule("ct", Level::Series, 0s)});
  f.index_series("1.2.3", 1, 1);
  sweeper.sweep();
  CHECK(f.jobs() == "ct:pacs:series:1.2.3:v1:f1");
}

TEST_CASE("routing: rebuilding the index (pacsnode.routing = off) records no arrivals") {
  Fixture f(false);
  f.index_series("1.2.3", 1, 2);
  CHECK(f.sql("SELECT count(*) FROM routing_resource") == "0");
  CHECK(f.sql("SELECT count(*) FROM routing_instance_event") == "0");
  CHECK(f.sql("SELECT count(*) FROM instance") == "2");
}
