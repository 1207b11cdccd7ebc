// The web UI (/ui/) in a real browser — Debian's chromium, headless, driven by
// tests/browser/ui_check.mjs with puppeteer-core — against the real node with HTTP Basic
// auth on, generated data and real peers: the patient search finds a patient; the history
// page shows the patient's three studies and, for a tracked finding, a plot of three
// points whose values (read from the page) are the database's; the jobs page retries a dead
// forward once its peer (storescp) is up and the job runs; "try a file" shows the rules'
// explanation; the peer echo button reports success and failure. Screenshots of every page
// are kept in <build>/artifacts/ui/.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "tests/support/node.hpp"
#include "tests/support/routing.hpp"
#include "tests/support/storescp.hpp"

using namespace pacsnode::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";


// A water phantom series (tests/tools/gen_chest_phantom.py) of patient UI-1 on `date`.
std::vector<fs::path> water_study(const fs::path& dir, const std::string& date, double sigma, int seed) {
  auto [code, out] = run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_chest_phantom.py",
                          "water", dir.string(), "--rows", "64", "--cols", "64", "--slices", "3", "--sigma",
                          std::to_string(sigma), "--seed", std::to_string(seed), "--patient-id", "UI-1",
                          "--patient-name", "Timeline^Tess", "--study-date", date});
  REQUIRE_MESSAGE(code == 0, out);
  return files_below(dir);
}

// GET through curl with the node's credentials: the parsed JSON answer.
json get(std::uint16_t port, const std::string& path) {
  auto [code, out] = run({"curl", "-s", "-f", "-u", "admin:ui-s3cret", "--max-time", "30",
                          "http://127.0.0.1:" + std::to_string(port) + path});
  REQUIRE_MESSAGE(code == 0, path << ": " << out);
  return json::parse(out);
}

// A request's status line and headers (curl -I style, GET), with the node's credentials.
std::string head_of(std::uint16_t port, const std::string& path, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-s", "-o", "/dev/null", "-D", "-", "--path-as-is", "-u", "admin:ui-s3cret",
                                   "--max-time", "30"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, path << ": " << out);
  return out;
}

std::string peer(const std::string& name, const std::string& ae_title, std::uint16_t port) {
  return peer_toml(name, ae_title, port);
}

}  // namespace

TEST_CASE("The web UI in a real browser: patients, history with plotted findings, jobs retried, rules tried, peers "
          "echoed, node health") {
  const fs::path source(PACSNODE_SOURCE_DIR);
  REQUIRE_MESSAGE(fs::exists(source / "tests" / "browser" / "node_modules" / "puppeteer-core"),
                  "scripts/viewer installs puppeteer-core into tests/browser/node_modules");
  REQUIRE_MESSAGE(fs::exists(source / "web" / "vendor" / "uplot" / "uPlot.esm.js"),
                  "scripts/viewer installs uPlot into web/vendor/uplot");
  auto [hash_code, hash] = run({"sh", "-c", std::string("printf 'ui-s3cret\\n' | '") + PACSNODE_BINARY + "' hash-password"});
  REQUIRE_MESSAGE(hash_code == 0, hash);
  while (!hash.empty() && hash.back() == '\n') hash.pop_back();

  const auto http_port = free_port();
  const auto dicom_port = free_port();
  const auto archive_port = free_port();  // storescp comes up there later
  const auto closed_port = free_port();   // nothing ever listens there
  NodeOptions options = tables(
      "[http]\nenabled = true\nport = " + std::to_string(http_port) + "\nui = \"" + (source / "web" / "ui").string() +
      "\"\nviewer = \"" + (source / "web" / "vendor" / "ohif").string() + "\"\nviewer_config = \"" +
      (source / "web" / "ohif" / "app-config.js").string() + "\"\n[[http.users]]\nusername = \"admin\"\npassword_hash = \"" + hash + "\"\n" +
      peer("self", "PACSNODE", dicom_port) + peer("archive", "ARCHIVE", archive_port) +
      peer("offline", "NOBODY", closed_port) +
      "[[plugins]]\nname = \"series-stats\"\ncommand = [\"" PACSNODE_SERIES_STATS "\"]\ntimeout = \"2m\"\n"
      "[[rules]]\nname = \"ct-qa\"\non = \"series\"\nwhen = 'Modality == \"CT\"'\nthen = [\"analyze series-stats\"]\n"
      "stable_after = \"1s\"\n"
      "[[rules]]\nname = \"mr-archive\"\non = \"instance\"\nwhen = 'Modality == \"MR\"'\nthen = [\"forward archive\"]\n"
      "[jobs]\nmax_attempts = 1\nretry_base_delay = 1\nretry_max_delay = 1\n");
  options.port = dicom_port;
  Node node(options);

  // Three studies of one patient, a year apart, each analysed by series-stats; and an MR
  // image whose forward to the archive (down) dies.
  TempDir data("ui-data");
  const std::vector<std::pair<std::string, double>> dates = {{"20240110", 8.0}, {"20241015", 12.0}, {"20250620", 16.0}};
  for (std::size_t i = 0; i < dates.size(); ++i) {
    store(node, water_study(data.path() / ("s" + std::to_string(i)), dates[i].first, dates[i].second, int(i) + 1));
  }
  store(node, {kData + "MR_small.dcm"});
  const bool settled = wait_for(
      [&] {
        return node.sql_one("SELECT count(*) FROM job WHERE kind = 'analyze' AND state = 'done'") == "3" &&
               node.sql_one("SELECT count(*) FROM job WHERE kind = 'forward' AND state = 'dead'") == "1";
      },
      120s);
  REQUIRE_MESSAGE(settled, node.sql("SELECT id, kind, target, state, attempts, last_error FROM job ORDER BY id")
                               << "\n" << node.log_tail(40));
  const std::string dead_job = node.sql_one("SELECT id FROM job WHERE kind = 'forward'");

  // The finding the page must plot: series-stats' whole-series mean, one value per study.
  const std::string tracking_uid =
      node.sql_one("SELECT DISTINCT tracking_uid FROM finding WHERE tracking_identifier = 'whole series'");
  const std::string measurement = "Attenuation Coefficient (Mean)";
  std::map<std::string, double> expected;  // study UID → value
  for (const auto& row : node.sql_rows(
           "SELECT ar.study_instance_uid || '|' || f.value FROM finding f JOIN analysis_report ar ON ar.id = f.report_pk"
           " WHERE f.tracking_uid = '" + tracking_uid + "' AND f.concept_meaning = 'Attenuation Coefficient'"
           " AND f.derivation_meaning = 'Mean'")) {
    const auto bar = row.find('|');
    expected[row.substr(0, bar)] = std::stod(row.substr(bar + 1));
  }
  REQUIRE(expected.size() == 3);
  const auto study_uids = node.sql_rows(
      "SELECT st.study_instance_uid FROM study st JOIN patient p ON p.id = st.patient_pk WHERE p.patient_id = 'UI-1'"
      " ORDER BY st.study_date");
  REQUIRE(study_uids.size() == 3);

  // The UI's and the viewer's files (one static-file server for both): pages' addresses
  // answer index.html, files their own type, nothing outside the folders.
  {
    const auto page = head_of(http_port, "/ui/patients/UI-1?issuer=");
    CHECK_MESSAGE(page.find("HTTP/1.1 200") == 0, page);
    CHECK(page.find("text/html") != std::string::npos);
    CHECK(page.find("Content-Security-Policy: default-src 'self'") != std::string::npos);
    CHECK(head_of(http_port, "/ui").find("HTTP/1.1 200") == 0);
    const auto script = head_of(http_port, "/ui/pages/history.js");
    CHECK(script.find("text/javascript") != std::string::npos);
    CHECK(head_of(http_port, "/ui/vendor/uplot/uPlot.esm.js").find("HTTP/1.1 200") == 0);
    CHECK(head_of(http_port, "/ui/nothing.js").find("HTTP/1.1 404") == 0);
    CHECK(head_of(http_port, "/ui/vendor/uplot/../../ohif/app-config.js").find("HTTP/1.1 404") == 0);
    auto [c1, escaped] = run({"curl", "-s", "--path-as-is", "-u", "admin:ui-s3cret", "http://127.0.0.1:" +
                              std::to_string(http_port) + "/ui/../../../../etc/passwd"});
    CHECK(escaped.find("root:") == std::string::npos);  // a page address at most: index.html
    CHECK(head_of(http_port, "/ui/", {"-X", "POST"}).find("HTTP/1.1 405") == 0);
    auto [code, out] = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:" +
                            std::to_string(http_port) + "/ui/"});
    CHECK(out == "401");  // Basic auth covers the UI too
    const auto viewer = head_of(http_port, "/viewer?StudyInstanceUIDs=1.2.3");
    CHECK_MESSAGE(viewer.find("HTTP/1.1 200") == 0, viewer);
    CHECK(viewer.find("Cross-Origin-Embedder-Policy: require-corp") != std::string::npos);
    CHECK(viewer.find("Content-Security-Policy") == std::string::npos);
    auto [c2, config] = run({"curl", "-s", "-u", "admin:ui-s3cret", "http://127.0.0.1:" + std::to_string(http_port) +
                             "/app-config.js"});
    std::ifstream ours(source / "web" / "ohif" / "app-config.js");
    CHECK(config == std::string(std::istreambuf_iterator<char>(ours), {}));
    CHECK(head_of(http_port, "/no-such-bundle.js").find("HTTP/1.1 404") == 0);
  }

  // What the API added for the pages says: arrivals per minute (the hour holds every instance
  // stored: 9 images, 3 SRs, 1 MR), when each rule last fired, the archive's failing deliveries.
  {
    const json arrivals = get(http_port, "/api/system/arrivals");
    CHECK(arrivals.at("minutes") == 60);
    REQUIRE(arrivals.at("items").size() == 60);
    CHECK(std::to_string(arrivals.at("instances").get<long>()) == node.sql_one("SELECT count(*) FROM instance"));
    CHECK(arrivals.at("instances") == 13);
    long sum = 0;
    for (const auto& m : arrivals.at("items")) sum += m.at("instances").get<long>();
    CHECK(sum == 13);
    CHECK(arrivals.at("items").back().at("minute").get<std::string>().size() == 20);  // 2026-12-04T19:10:00Z
    CHECK(get(http_port, "/api/system/arrivals?minutes=1").at("items").size() == 1);
    auto [code, out] = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:ui-s3cret",
                            "http://127.0.0.1:" + std::to_string(http_port) + "/api/system/arrivals?minutes=0"});
    CHECK(out == "400");

    const json rules = get(http_port, "/api/rules");
    REQUIRE(rules.at("items").size() == 2);
    for (const auto& r : rules.at("items")) CHECK_MESSAGE(r.at("last_fired_at").is_string(), r.dump());
    CHECK(rules.at("items").at(0).at("last_fired_at").get<std::string>().substr(0, 4) ==
          node.sql_one("SELECT to_char(max(created_at) AT TIME ZONE 'UTC', 'YYYY') FROM job"));

    const json peers = get(http_port, "/api/peers");
    REQUIRE(peers.at("items").size() == 3);
    const auto& archive_peer = peers.at("items").at(1);
    CHECK(archive_peer.at("name") == "archive");
    CHECK(archive_peer.at("jobs").at("dead") == 1);
    CHECK(archive_peer.at("delivery").at("consecutive_failures").get<int>() >= 1);
    CHECK(archive_peer.at("delivery").at("last_error").is_string());
    CHECK(peers.at("items").at(0).at("delivery").at("consecutive_failures") == 0);
  }

  // The archive comes up: the dead forward can now succeed when retried from the page.
  StoreScp archive({}, archive_port);

  const auto artifacts = fs::path(PACSNODE_BINARY).parent_path().parent_path() / "artifacts" / "ui";
  fs::create_directories(artifacts);
  const json spec = {
      {"base", "http://127.0.0.1:" + std::to_string(http_port)},
      {"out", artifacts.string()},
      {"user", "admin"},
      {"password", "ui-s3cret"},
      {"patient", {{"id", "UI-1"}, {"name", "Timeline^Tess"}, {"search", "timeline"}}},
      {"studies", study_uids},
      {"finding", {{"tracking_uid", tracking_uid}, {"measurement", measurement}}},
      {"dead_job", std::stoll(dead_job)},
      {"try_file", kData + "CT_small.dcm"},
      {"echo_ok", "self"},
      {"echo_fail", "offline"},
  };
  const fs::path spec_file = data.path() / "ui-spec.json";
  std::ofstream(spec_file) << spec.dump(2);
  auto [check, out] = run({"node", (source / "tests" / "browser" / "ui_check.mjs").string(), "--spec", spec_file.string()},
                          std::chrono::seconds(300));
  MESSAGE(out);
  CHECK_MESSAGE(check == 0, node.log_tail(30));
  const auto brace = out.find('{');
  REQUIRE_MESSAGE(brace != std::string::npos, out);
  const json report = json::parse(out.substr(brace, out.find('\n', brace) - brace));

  // Patients: the search by a word of the name found the patient.
  CHECK(report.at("patients").at("found") == true);

  // History: the three studies, and three points whose values are the database's.
  const auto& history = report.at("history");
  CHECK(history.at("studies") == json(std::vector<std::string>{study_uids.rbegin(), study_uids.rend()}));
  CHECK(history.at("points") == 3);
  REQUIRE(history.at("values").size() == 3);
  for (const auto& v : history.at("values")) {
    const std::string study = v.at("study");
    REQUIRE_MESSAGE(expected.count(study) == 1, study);
    CHECK(v.at("value").get<double>() == doctest::Approx(expected[study]).epsilon(1e-12));
    // What a reader sees: the value rounded for display.
    CHECK(std::stod(v.at("text").get<std::string>()) == doctest::Approx(expected[study]).epsilon(1e-3));
  }
  CHECK(history.at("chart_drawn") == true);

  // Jobs: retried from the page, the forward ran and the archive has the MR image.
  CHECK(report.at("jobs").at("final_state") == "done");
  CHECK(node.sql_one("SELECT state FROM job WHERE id = " + dead_job) == "done");
  CHECK(archive.received_uids().count("1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457") == 1);

  // Rules: the explanation of `pacsnode rules test` for CT_small.
  const std::string explained = report.at("rules").at("text");
  CHECK_MESSAGE(explained.find("rule ct-qa (on series: evaluated on this instance's attributes): matched") !=
                    std::string::npos, explained);
  CHECK(explained.find("Modality == \"CT\" at 1:1: true (Modality is \"CT\")") != std::string::npos);
  CHECK(explained.find("rule mr-archive (on instance): not matched") != std::string::npos);
  CHECK(explained.find("Modality == \"MR\" at 1:1: false (Modality is \"CT\")") != std::string::npos);
  CHECK(explained.find("would analyze with series-stats") != std::string::npos);

  // Peers: the node itself answers, the closed port does not.
  CHECK(report.at("peers").at("ok_text").get<std::string>().find("answered (status 0x0000)") != std::string::npos);
  CHECK(report.at("peers").at("fail_text").get<std::string>().find("no answer") != std::string::npos);

  // Node: the arrivals plot has a bar per minute of the hour, and counts what was stored.
  CHECK(report.at("node").at("minutes") == 60);
  CHECK(report.at("node").at("database") == "ok");

  for (const char* shot : {"patients.png", "history.png", "jobs.png", "rules.png", "peers.png", "node.png"}) {
    CHECK_MESSAGE(fs::exists(artifacts / shot), shot);
  }
}
