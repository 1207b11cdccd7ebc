// The bundled OHIF viewer in a real browser (Debian's chromium, headless, driven by
// tests/browser/ohif_check.mjs with puppeteer-core) against the real node: the study list
// shows the stored studies (QIDO-RS), and each study opens with its image drawn (WADO-RS
// metadata and frames, as stored: Explicit VR LE and JPEG 2000); and a chest CT phantom
// analysed by the bundled lung-density plug-in shows its SR series, which opens with each
// lung's outline drawn on its slice and the lung's measurements beside it (OHIF read the
// TID 1410 regions). Screenshots are kept in <build>/artifacts/ohif/.
#include <doctest/doctest.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "tests/support/node.hpp"
#include "tests/support/routing.hpp"

using namespace pacsnode::test;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

std::filesystem::path viewer_dir() {
  const auto viewer = std::filesystem::path(PACSNODE_SOURCE_DIR) / "web" / "vendor" / "ohif";
  REQUIRE_MESSAGE(std::filesystem::exists(viewer / "index.html"), "scripts/viewer installs the viewer into " << viewer);
  REQUIRE_MESSAGE(std::filesystem::exists(std::filesystem::path(PACSNODE_SOURCE_DIR) / "tests" / "browser" / "node_modules" /
                                          "puppeteer-core"),
                  "scripts/viewer installs puppeteer-core into tests/browser/node_modules");
  return viewer;
}

std::string http_toml(std::uint16_t port) {
  const std::filesystem::path source(PACSNODE_SOURCE_DIR);
  return "[http]\nenabled = true\nport = " + std::to_string(port) + "\nviewer = \"" + viewer_dir().string() +
         "\"\nviewer_config = \"" + (source / "web" / "ohif" / "app-config.js").string() + "\"\n";
}

std::filesystem::path artifacts_dir() {
  const auto artifacts = std::filesystem::path(PACSNODE_BINARY).parent_path().parent_path() / "artifacts" / "ohif";
  std::filesystem::create_directories(artifacts);
  return artifacts;
}

}  // namespace

TEST_CASE("The OHIF viewer lists the studies and draws their images") {
  const std::filesystem::path source(PACSNODE_SOURCE_DIR);
  const auto http_port = free_port();
  Node node(tables(http_toml(http_port)));
  auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), kData + "CT_small.dcm", kData + "693_J2KI.dcm"});
  REQUIRE_MESSAGE(code == 0, out);

  std::vector<std::string> uids;
  for (const char* name : {"CT_small.dcm", "693_J2KI.dcm"}) {
    auto [c, uid] = run({"/usr/bin/python3", "-c", "import sys, pydicom; print(pydicom.dcmread(sys.argv[1]).StudyInstanceUID)",
                         kData + name});
    REQUIRE_MESSAGE(c == 0, uid);
    while (!uid.empty() && uid.back() == '\n') uid.pop_back();
    uids.push_back(uid);
  }
  const auto artifacts = artifacts_dir();
  auto [check, report] = run({"node", (source / "tests" / "browser" / "ohif_check.mjs").string(), "--base",
                              "http://127.0.0.1:" + std::to_string(http_port) + "/", "--out", artifacts.string(),
                              "--expect-studies", "2", "--study", uids[0] + "," + uids[1], "--timeout", "90"},
                             std::chrono::seconds(600));
  MESSAGE(report);
  CHECK_MESSAGE(check == 0, node.log_tail(40));
  CHECK(std::filesystem::exists(artifacts / "study-list.png"));
}

TEST_CASE("The OHIF viewer opens a lung-density SR with each lung's outline and measurements on its slice") {
  const auto http_port = free_port();
  Node node(tables(http_toml(http_port) + "[[plugins]]\nname = \"lung-density\"\ncommand = [\"" +
                   std::string(PACSNODE_LUNG_DENSITY) + "\"]\ntimeout = \"5m\"\n"
                   "[[rules]]\nname = \"chest\"\non = \"series\"\nwhen = 'Modality == \"CT\"'\n"
                   "then = [\"analyze lung-density\"]\nstable_after = \"1s\"\n"
                   "[jobs]\nretry_base_delay = 1\nretry_max_delay = 2\n"));
  TempDir data("viewer-sr");
  const std::string study_uid = "1.2.826.0.1.3680043.10.1337.98.1";
  auto [gen_code, gen_out] =
      run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_chest_phantom.py", "chest",
           (data.path() / "dcm").string(), "--truth", (data.path() / "truth.json").string(), "--patient-id", "VIEWER-SR",
           "--study-uid", study_uid, "--series-uid", study_uid + ".1", "--seed", "5", "--rows", "128", "--cols", "128",
           "--pixel-spacing", "1.5", "1.5", "--slices", "48", "--slice-spacing", "4"},
          std::chrono::minutes(2));
  REQUIRE_MESSAGE(gen_code == 0, gen_out);
  store(node, files_below(data.path() / "dcm"));
  const bool analysed = wait_for(
      [&] {
        const std::string done = node.sql("SELECT count(*) FROM job WHERE kind = 'analyze' AND state = 'done'");
        return done.find('1') != std::string::npos;
      },
      std::chrono::seconds(180));
  REQUIRE_MESSAGE(analysed, node.sql("SELECT id, kind, state, last_error FROM job") << "\n" << node.log_tail(40));

  // What OHIF writes beside the right lung's outline, from the plug-in's own values as the
  // node recorded them: "<concept meaning>: <value to 2 decimals> <unit>".
  std::vector<std::string> expected;
  for (const char* quantity : {"SCT:118565006", "SCT:42798000"}) {
    const std::string row = node.sql("SELECT concept_meaning || '|' || value || '|' || unit FROM finding WHERE "
                                     "tracking_identifier = 'right lung' AND concept = '" + std::string(quantity) + "'");
    const auto bar1 = row.find('|'), bar2 = row.find('|', bar1 + 1);
    REQUIRE_MESSAGE(bar2 != std::string::npos, quantity << ": " << row);
    char value[64];
    std::snprintf(value, sizeof value, "%.2f", std::stod(row.substr(bar1 + 1, bar2 - bar1 - 1)));
    std::string unit = row.substr(bar2 + 1);
    while (!unit.empty() && (unit.back() == '\n' || unit.back() == ' ')) unit.pop_back();
    expected.push_back(row.substr(0, bar1) + ": " + value + " " + unit);
  }
  const std::string description = node.sql("SELECT series_description FROM series WHERE modality = 'SR'");
  std::string sr_description = description;
  while (!sr_description.empty() && (sr_description.back() == '\n' || sr_description.back() == ' ')) sr_description.pop_back();
  REQUIRE_MESSAGE(sr_description.starts_with("pacsnode lung-density"), description);

  const auto artifacts = artifacts_dir();
  std::vector<std::string> argv = {"node", (std::filesystem::path(PACSNODE_SOURCE_DIR) / "tests" / "browser" / "ohif_check.mjs").string(),
                                   "--base", "http://127.0.0.1:" + std::to_string(http_port) + "/", "--out", artifacts.string(),
                                   "--expect-studies", "1", "--sr-study", study_uid, "--sr-series", sr_description,
                                   "--timeout", "90"};
  for (const auto& text : expected) {
    argv.push_back("--sr-text");
    argv.push_back(text);
  }
  auto [check, report] = run(argv, std::chrono::seconds(600));
  MESSAGE(report);
  CHECK_MESSAGE(check == 0, node.log_tail(40));
  CHECK(std::filesystem::exists(artifacts / "sr-viewer.png"));
}
