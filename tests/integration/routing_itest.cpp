// Routing end to end with the real binary: rules from the configuration ([[rules]], the
// rules engine's), instances sent with DCMTK's storescu, forwarded by pacsnode's jobs to
// DCMTK storescp peers (which write every reception to a file of its own, so that
// receptions can be counted), the queue inspected with `pacsnode jobs` and SQL.

#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "dicom/part10.hpp"
#include "tests/support/node.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/storescp.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const fs::path kMrSmall = "/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm";

std::string peer_toml(const std::string& name, const std::string& ae_title, std::uint16_t port) {
  return "[[peers]]\nname = \"" + name + "\"\nae_title = \"" + ae_title + "\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(port) + "\n";
}

// A series rule on CT, as the issue writes them.
std::string rule_toml(const std::string& name, const std::vector<std::string>& then, int stable_after) {
  std::string actions;
  for (const auto& action : then) actions += (actions.empty() ? "\"" : ", \"") + action + "\"";
  return "[[rules]]\nname = \"" + name + "\"\non = \"series\"\nwhen = 'Modality == \"CT\"'\nthen = [" + actions +
         "]\nstable_after = \"" + std::to_string(stable_after) + "s\"\n";
}

template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return pred();
}

void store(std::uint16_t port, const std::string& ae_title, const std::vector<fs::path>& paths) {
  std::vector<std::string> argv = {"storescu", "-aec", ae_title, "+sd", "127.0.0.1", std::to_string(port)};
  for (const auto& p : paths) argv.push_back(p.string());
  auto [code, out] = run(argv, 3min);
  REQUIRE_MESSAGE(code == 0, out);
}
void store(const Node& node, const std::vector<fs::path>& paths) { store(node.port(), node.ae_title(), paths); }

std::vector<std::uint8_t> data_set_bytes(const fs::path& file) {
  const auto header = dicom::read_part10_header(file);
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(header.data_set_offset));
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::set<std::string> uids_of(const std::vector<fs::path>& files) {
  std::set<std::string> uids;
  for (const auto& f : files) uids.insert(dicom::read_part10_header(f).sop_instance_uid);
  return uids;
}

std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

std::pair<int, std::string> jobs_cli(const fs::path& config, std::vector<std::string> args) {
  std::vector<std::string> argv = {PACSNODE_BINARY, "jobs"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--config");
  argv.push_back(config.string());
  return run(argv, 60s);
}

// Seconds between a job's successive claims (attempts), from its history.
std::vector<double> attempt_gaps(const std::function<std::string(const std::string&)>& sql, std::int64_t id) {
  std::vector<double> starts;
  for (const auto& line : lines(sql("SELECT lpad(id::text, 12, '0') || '|' || extract(epoch FROM at) FROM job_event "
                                    "WHERE event IN ('claim', 'take-over') AND job_id = " + std::to_string(id)))) {
    starts.push_back(std::stod(line.substr(line.find('|') + 1)));
  }
  std::vector<double> gaps;
  for (std::size_t i = 1; i < starts.size(); ++i) gaps.push_back(starts[i] - starts[i - 1]);
  return gaps;
}

}  // namespace

TEST_CASE("routing end to end: a CT series fires once, stable_after after its last instance; the peer gets it byte for byte") {
  StoreScp scp;
  Node node(tables(peer_toml("pacs", "STORESCP", scp.port()) + rule_toml("ct-to-pacs", {"forward pacs"}, 2)));
  TempDir data("ct");
  generate_instances(data.path(), 6, 1, 16);
  const auto files = files_below(data.path());
  store(node, files);
  store(node, {kMrSmall});  // MR: the rule does not match

  REQUIRE_MESSAGE(wait_for([&] { return node.sql("SELECT count(*) FROM job WHERE state = 'done'") == "1"; }, 30s),
                  node.log_tail(40));
  std::this_thread::sleep_for(3s);  // a second firing would show by now
  CHECK(node.sql("SELECT count(*) FROM job") == "1");
  CHECK(node.sql("SELECT rule || '|' || kind || '|' || target || '|' || level || '|' || firing || '|' || attempts "
                 "FROM job") == "ct-to-pacs|forward|pacs|series|1|1");
  // Not before the quiet period after the last instance.
  CHECK(node.sql("SELECT j.created_at - max(i.received_at) >= interval '2 s' FROM job j JOIN series s ON "
                 "s.series_instance_uid = j.series_uid JOIN instance i ON i.series_pk = s.id GROUP BY j.created_at") ==
        "t");

  const auto receptions = scp.receptions();
  CHECK(scp.received_uids() == uids_of(files));
  for (const auto& [uid, n] : receptions) CHECK_MESSAGE(n == 1, uid);
  for (const auto& received : files_below(scp.received())) {
    const auto uid = dicom::read_part10_header(received).sop_instance_uid;
    const auto stored = node.storage() / node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + uid + "'");
    CHECK_MESSAGE(data_set_bytes(received) == data_set_bytes(stored), uid);
  }

  auto [code, list] = jobs_cli(node.config_path(), {"list"});
  CHECK(code == 0);
  CHECK(list.find("ct-to-pacs") != std::string::npos);
  CHECK(list.find("1 job(s)") != std::string::npos);
  auto [show_code, show] = jobs_cli(node.config_path(), {"show", "1"});
  CHECK(show_code == 0);
  CHECK_MESSAGE(show.find("instances: 6 sent, 0 with a warning, 0 failed") != std::string::npos, show);
  CHECK(show.find("succeed    running -> done") != std::string::npos);
  CHECK(jobs_cli(node.config_path(), {"show", "99"}).first == 1);
  CHECK(jobs_cli(node.config_path(), {"list", "--state", "sleeping"}).first == 2);
}

TEST_CASE("routing: a peer that is down — growing retry delays, the healthy peer served meanwhile, dead, jobs retry") {
  StoreScp healthy;
  const std::uint16_t later_port = free_port();  // nothing listens, until it does
  const std::uint16_t never_port = free_port();
  Node node(tables(peer_toml("pacs", "STORESCP", healthy.port()) + peer_toml("later", "STORESCP", later_port) +
                   peer_toml("never", "STORESCP", never_port) +
                   rule_toml("ct", {"forward pacs", "forward later", "forward never"}, 1) +
                   "[jobs]\nretry_base_delay = 2\nretry_max_delay = 30\nmax_attempts = 4\n"));
  const auto id_of = [&](const std::string& target, const std::string& series) {
    return std::stoll(node.sql("SELECT id FROM job WHERE target = '" + target + "' AND series_uid = '" + series + "'"));
  };
  const auto state_of = [&](std::int64_t id) { return node.sql("SELECT state FROM job WHERE id = " + std::to_string(id)); };

  // Series A: `later` comes up after its second failed attempt; everything arrives.
  TempDir a("series-a");
  generate_instances(a.path(), 4, 1, 16);
  store(node, files_below(a.path()));
  REQUIRE(wait_for([&] { return node.sql("SELECT count(*) FROM job") == "3"; }, 20s));
  const std::string series_a = node.sql("SELECT DISTINCT series_uid FROM job");
  const auto pacs_a = id_of("pacs", series_a), later_a = id_of("later", series_a), never_a = id_of("never", series_a);
  REQUIRE(wait_for([&] { return state_of(pacs_a) == "done"; }, 15s));
  CHECK(node.sql("SELECT finished_at - created_at < interval '5 s' FROM job WHERE id = " + std::to_string(pacs_a)) == "t");
  CHECK(healthy.received_uids() == uids_of(files_below(a.path())));
  REQUIRE(wait_for([&] { return node.sql("SELECT attempts FROM job WHERE id = " + std::to_string(later_a)) == "2" &&
                                state_of(later_a) == "failed"; },
                   30s));
  CHECK(node.sql("SELECT last_error FROM job WHERE id = " + std::to_string(later_a)).find("cannot connect") !=
        std::string::npos);
  // An administrator gives up on `never`.
  auto [cancel_code, cancelled] = jobs_cli(node.config_path(), {"cancel", std::to_string(never_a)});
  CHECK_MESSAGE(cancel_code == 0, cancelled);
  {
    StoreScp later({}, later_port);
    REQUIRE_MESSAGE(wait_for([&] { return state_of(later_a) == "done"; }, 30s), node.log_tail(40));
    CHECK(later.received_uids() == uids_of(files_below(a.path())));
  }
  CHECK(state_of(never_a) == "cancelled");

  // Series B: `later` stays down through its four attempts — dead — until it comes up and
  // `jobs retry --dead` revives it.
  TempDir b("series-b");
  generate_instances(b.path(), 3, 1, 16);
  store(node, files_below(b.path()));
  REQUIRE(wait_for([&] { return node.sql("SELECT count(*) FROM job") == "6"; }, 20s));
  const std::string series_b =
      node.sql("SELECT DISTINCT series_uid FROM job WHERE series_uid <> '" + series_a + "'");
  const auto pacs_b = id_of("pacs", series_b), later_b = id_of("later", series_b), never_b = id_of("never", series_b);
  CHECK(jobs_cli(node.config_path(), {"cancel", std::to_string(never_b)}).first == 0);
  REQUIRE(wait_for([&] { return state_of(pacs_b) == "done"; }, 15s));
  REQUIRE_MESSAGE(wait_for([&] { return state_of(later_b) == "dead"; }, 60s), node.log_tail(40));
  const auto gaps = attempt_gaps([&](const std::string& q) { return node.sql(q); }, later_b);
  REQUIRE(gaps.size() == 3);
  MESSAGE("seconds between attempts: " << gaps[0] << ", " << gaps[1] << ", " << gaps[2]);
  // Back-off 2 s · 2^(n-1) at 50-100 % (and the destination's own back-off), plus up to a
  // second of polling: at least 1, 2 and 4 s.
  CHECK(gaps[0] >= 0.9);
  CHECK(gaps[1] >= 1.9);
  CHECK(gaps[2] >= 3.9);
  CHECK(gaps[2] > gaps[0]);
  auto [show_code, show] = jobs_cli(node.config_path(), {"show", std::to_string(later_b)});
  CHECK(show_code == 0);
  CHECK(show.find("gave up after 4 attempt(s)") != std::string::npos);
  CHECK(show.find("attempt 4") != std::string::npos);
  auto [list_code, dead] = jobs_cli(node.config_path(), {"list", "--state", "dead"});
  CHECK(list_code == 0);
  CHECK(dead.find("1 job(s)") != std::string::npos);

  StoreScp later({}, later_port);
  auto [retry_code, retried] = jobs_cli(node.config_path(), {"retry", "--dead"});
  CHECK(retry_code == 0);
  CHECK(retried.find("1 dead job(s) queued again") != std::string::npos);
  REQUIRE_MESSAGE(wait_for([&] { return state_of(later_b) == "done"; }, 30s), node.log_tail(40));
  CHECK(later.received_uids() == uids_of(files_below(b.path())));
  CHECK(node.sql("SELECT attempts FROM job WHERE id = " + std::to_string(later_b)) == "1");  // fresh attempts
}

TEST_CASE("routing: kill -9 with queued and running jobs; after the restart every job completes once") {
  StoreScp slow({"--fork", "--sleep-after", "1"});  // a second per instance
  Node node(tables(peer_toml("slow", "STORESCP", slow.port()) + rule_toml("ct", {"forward slow"}, 1) +
                   "[jobs]\nworkers = 2\nlease = 3\n"));
  TempDir data("three");
  generate_instances(data.path(), 12, 3, 16);  // three studies of one series of four
  store(node, files_below(data.path()));
  REQUIRE_MESSAGE(wait_for([&] {
                    return node.sql("SELECT count(*) FROM job WHERE state = 'running'") == "2" &&
                           node.sql("SELECT count(*) FROM job WHERE state = 'queued'") == "1" &&
                           slow.reception_count() >= 1;
                  },
                  30s),
                  node.log_tail(40));
  node.kill();
  // What was promised before anything repairs it: the acknowledged instances.
  const auto acknowledged = lines(node.sql("SELECT sop_instance_uid FROM job_instance WHERE outcome = 'sent'"));
  const int running = std::stoi(node.sql("SELECT count(*) FROM job WHERE state = 'running'"));
  CHECK(running == 2);
  CHECK(node.sql("SELECT count(*) FROM job") == "3");

  node.restart();
  REQUIRE_MESSAGE(wait_for([&] { return node.sql("SELECT count(*) FROM job WHERE state = 'done'") == "3"; }, 90s),
                  node.log_tail(40));
  CHECK(node.sql("SELECT count(*) FROM job") == "3");  // no firing twice
  CHECK(node.sql("SELECT count(*) FROM job_event WHERE event = 'take-over'") == std::to_string(running));
  const auto receptions = slow.receptions();
  CHECK(slow.received_uids() == uids_of(files_below(data.path())));
  std::size_t total = 0;
  for (const auto& [uid, n] : receptions) {
    total += static_cast<std::size_t>(n);
    // An instance the peer acknowledged before the crash is never sent again.
    if (acknowledged.count(uid)) CHECK_MESSAGE(n == 1, uid);
  }
  // At most the instance each running job had in flight, stored by the peer but not yet
  // acknowledged when the node died, arrives twice.
  CHECK(total <= 12 + static_cast<std::size_t>(running));
  MESSAGE((total - 12) << " duplicate reception(s) of instances in flight at the kill");
}

namespace {

// Two `pacsnode serve` on one throw-away database and one storage root.
struct TwoNodes {
  TestCluster cluster;
  TempDir storage{"shared"};
  std::unique_ptr<Node> a, b;
  TwoNodes(const std::string& tables_toml) {
    const std::string shared = "[database]\nurl = \"" + cluster.conninfo() + "\"\n[storage]\npath = \"" +
                               storage.path().string() + "\"\n" + tables_toml;
    a = std::make_unique<Node>(tables(shared));
    b = std::make_unique<Node>(tables(shared));
  }
  std::string sql(const std::string& q) { return cluster.psql(q); }
};

}  // namespace

TEST_CASE("routing: two nodes on one database and storage root — a series sent half to each fires once") {
  StoreScp scp;
  TwoNodes nodes(peer_toml("pacs", "STORESCP", scp.port()) + rule_toml("ct", {"forward pacs"}, 2));
  TempDir data("halves");
  generate_instances(data.path(), 6, 1, 16);
  const auto files = files_below(data.path());
  store(*nodes.a, {files.begin(), files.begin() + 3});
  store(*nodes.b, {files.begin() + 3, files.end()});
  REQUIRE_MESSAGE(wait_for([&] { return nodes.sql("SELECT count(*) FROM job WHERE state = 'done'") == "1"; }, 30s),
                  nodes.a->log_tail(20) << nodes.b->log_tail(20));
  std::this_thread::sleep_for(3s);
  CHECK(nodes.sql("SELECT count(*) FROM job") == "1");
  CHECK(nodes.sql("SELECT count(*) FROM job_event WHERE event = 'claim'") == "1");  // ran once
  CHECK(nodes.sql("SELECT content_version FROM job") == "6");
  CHECK(scp.received_uids() == uids_of(files));
  for (const auto& [uid, n] : scp.receptions()) CHECK_MESSAGE(n == 1, uid);
}

TEST_CASE("routing: two nodes — kill the one running a job; the other finishes it after the lease expires") {
  StoreScp slow({"--sleep-after", "1"});
  TwoNodes nodes(peer_toml("slow", "STORESCP", slow.port()) + rule_toml("ct", {"forward slow"}, 1) +
                 "[jobs]\nlease = 3\n");
  TempDir data("halves");
  generate_instances(data.path(), 8, 1, 16);
  const auto files = files_below(data.path());
  store(*nodes.a, {files.begin(), files.begin() + 4});
  store(*nodes.b, {files.begin() + 4, files.end()});
  REQUIRE(wait_for([&] { return nodes.sql("SELECT state FROM job") == "running" && slow.reception_count() >= 2; }, 30s));
  const std::string owner = nodes.sql("SELECT lease_owner FROM job");
  const bool a_runs = owner.find("/" + std::to_string(nodes.a->pid()) + "/") != std::string::npos;
  Node& victim = a_runs ? *nodes.a : *nodes.b;
  Node& survivor = a_runs ? *nodes.b : *nodes.a;
  victim.kill();
  const auto acknowledged = lines(nodes.sql("SELECT sop_instance_uid FROM job_instance WHERE outcome = 'sent'"));
  const auto killed_at = std::chrono::steady_clock::now();
  REQUIRE_MESSAGE(wait_for([&] { return nodes.sql("SELECT state FROM job") == "done"; }, 60s), survivor.log_tail(30));
  CHECK(std::chrono::steady_clock::now() - killed_at >= 2s);  // not before the lease ran out
  const std::string taken_by =
      nodes.sql("SELECT owner FROM job_event WHERE event = 'take-over'");
  CHECK(taken_by.find("/" + std::to_string(survivor.pid()) + "/") != std::string::npos);
  CHECK(slow.received_uids() == uids_of(files));
  std::size_t total = 0;
  for (const auto& [uid, n] : slow.receptions()) {
    total += static_cast<std::size_t>(n);
    if (acknowledged.count(uid)) CHECK_MESSAGE(n == 1, uid);
  }
  CHECK(total <= files.size() + 1);
}

TEST_CASE("routing: instances after the firing make exactly one more firing, an amendment") {
  StoreScp scp;
  Node node(tables(peer_toml("pacs", "STORESCP", scp.port()) + rule_toml("ct", {"forward pacs"}, 2)));
  TempDir data("late");
  generate_instances(data.path(), 5, 1, 16);
  const auto files = files_below(data.path());
  store(node, {files.begin(), files.begin() + 3});
  REQUIRE(wait_for([&] { return node.sql("SELECT count(*) FROM job WHERE state = 'done'") == "1"; }, 30s));
  store(node, {files.begin() + 3, files.end()});
  REQUIRE(wait_for([&] { return node.sql("SELECT count(*) FROM job WHERE state = 'done'") == "2"; }, 30s));
  std::this_thread::sleep_for(4s);
  CHECK(node.sql("SELECT string_agg(firing || ':v' || content_version, ',' ORDER BY id) FROM job") == "1:v3,2:v5");
  // The amendment forwards the series as it now is.
  CHECK(scp.received_uids() == uids_of(files));
  CHECK(scp.reception_count() == 3 + 5);
  auto [code, show] = jobs_cli(node.config_path(), {"show", "2"});
  CHECK(code == 0);
  CHECK(show.find("firing 2 (an amendment)") != std::string::npos);
}

TEST_CASE("routing: extra_ae_titles — a series rule on CalledAE forwards what was sent to that title only") {
  StoreScp scp;
  NodeOptions options = tables(peer_toml("pacs", "STORESCP", scp.port()) +
                               "[[rules]]\nname = \"router\"\non = \"series\"\nwhen = 'CalledAE == \"ROUTER\"'\n"
                               "then = [\"forward pacs\"]\nstable_after = \"2s\"\n");
  options.extra_node = "extra_ae_titles = [\"ROUTER\"]\n";
  Node node(options);
  TempDir routed("routed"), plain("plain"), mixed("mixed");
  generate_instances(routed.path(), 3, 1, 16);
  generate_instances(plain.path(), 3, 1, 16);
  generate_instances(mixed.path(), 4, 1, 16);
  const auto routed_files = files_below(routed.path()), plain_files = files_below(plain.path()),
             mixed_files = files_below(mixed.path());
  store(node.port(), "ROUTER", routed_files);
  store(node.port(), node.ae_title(), plain_files);
  // Half of this series to the main title, half to ROUTER: CalledAE holds both values.
  store(node.port(), node.ae_title(), {mixed_files.begin(), mixed_files.begin() + 2});
  store(node.port(), "ROUTER", {mixed_files.begin() + 2, mixed_files.end()});

  // The called AE title is kept per instance (and in the file's meta header, for reindex).
  CHECK(node.sql("SELECT called_ae_title || ':' || count(*) FROM instance GROUP BY called_ae_title ORDER BY called_ae_title") ==
        "PACSNODE:5\nROUTER:5");
  for (const auto& f : routed_files) {
    const auto uid = dicom::read_part10_header(f).sop_instance_uid;
    const auto stored = node.storage() / node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + uid + "'");
    CHECK(dicom::read_part10_header(stored).receiving_ae_title == "ROUTER");
  }

  REQUIRE_MESSAGE(wait_for([&] { return node.sql("SELECT count(*) FROM job WHERE state = 'done'") == "2"; }, 40s),
                  node.log_tail(40));
  // The rule has looked at all three series (the plain one did not match).
  REQUIRE(wait_for([&] { return node.sql("SELECT count(*) FROM routing_rule_state WHERE rule = 'router'") == "3"; },
                   30s));
  CHECK(node.sql("SELECT firings FROM routing_rule_state WHERE rule = 'router' ORDER BY firings") == "0\n1\n1");
  std::this_thread::sleep_for(3s);
  CHECK(node.sql("SELECT count(*) FROM job") == "2");
  std::set<std::string> expected = uids_of(routed_files);
  for (const auto& uid : uids_of(mixed_files)) expected.insert(uid);
  CHECK(scp.received_uids() == expected);
  CHECK(scp.reception_count() == routed_files.size() + mixed_files.size());

  // C-FIND answers the same under the extra title: the three studies.
  auto [find_code, found] = run({"findscu", "-v", "-S", "-aec", "ROUTER", "-k", "QueryRetrieveLevel=STUDY", "-k",
                                 "StudyInstanceUID", "127.0.0.1", std::to_string(node.port())},
                                60s);
  CHECK_MESSAGE(find_code == 0, found);
  std::size_t pending = 0;
  for (auto at = found.find("(Pending)"); at != std::string::npos; at = found.find("(Pending)", at + 1)) ++pending;
  CHECK_MESSAGE(pending == 3, found);
  CHECK(found.find("Final Find Response (Success)") != std::string::npos);

  // A title the node does not answer to is still refused.
  auto [code, out] = run({"echoscu", "-to", "5", "-aec", "ELSEWHERE", "127.0.0.1", std::to_string(node.port())}, 30s);
  CHECK(code != 0);
  CHECK(node.log().find("called AE title 'ELSEWHERE' is not ours ('PACSNODE', 'ROUTER')") != std::string::npos);
  CHECK(node.echo_ok());
}
