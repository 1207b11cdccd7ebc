// The bundled OHIF viewer in a real browser (Debian's chromium, headless, driven by
// tests/browser/ohif_check.mjs with puppeteer-core) against the real node: the study list
// shows the stored studies (QIDO-RS), and each study opens with its image drawn (WADO-RS
// metadata and frames, as stored: Explicit VR LE and JPEG 2000). Screenshots are kept in
// <build>/artifacts/ohif/.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/support/node.hpp"

using namespace pacsnode::test;

namespace {
const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";
}  // namespace

TEST_CASE("The OHIF viewer lists the studies and draws their images") {
  const std::filesystem::path source(PACSNODE_SOURCE_DIR);
  const auto viewer = source / "web" / "vendor" / "ohif";
  REQUIRE_MESSAGE(std::filesystem::exists(viewer / "index.html"), "scripts/viewer installs the viewer into " << viewer);
  REQUIRE_MESSAGE(std::filesystem::exists(source / "tests" / "browser" / "node_modules" / "puppeteer-core"),
                  "scripts/viewer installs puppeteer-core into tests/browser/node_modules");
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\nviewer = \"" + viewer.string() +
                   "\"\nviewer_config = \"" + (source / "web" / "ohif" / "app-config.js").string() + "\"\n"));
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
  const auto artifacts = std::filesystem::path(PACSNODE_BINARY).parent_path().parent_path() / "artifacts" / "ohif";
  std::filesystem::create_directories(artifacts);
  auto [check, report] = run({"node", (source / "tests" / "browser" / "ohif_check.mjs").string(), "--base",
                              "http://127.0.0.1:" + std::to_string(http_port) + "/", "--out", artifacts.string(),
                              "--expect-studies", "2", "--study", uids[0] + "," + uids[1], "--timeout", "90"},
                             std::chrono::seconds(600));
  MESSAGE(report);
  CHECK_MESSAGE(check == 0, node.log_tail(40));
  CHECK(std::filesystem::exists(artifacts / "study-list.png"));
}
