// `pacsnode rules check` and `pacsnode rules test` as a user runs them, and `serve` refusing
// a configuration with a bad rule. Test data: pydicom's CT_small.dcm and MR_small.dcm.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/node.hpp"

namespace fs = std::filesystem;
using namespace pacsnode::test;

namespace {

const fs::path kTestFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
const std::string kCt = (kTestFiles / "CT_small.dcm").string();
const std::string kMr = (kTestFiles / "MR_small.dcm").string();

// A configuration with one peer, one plug-in, rules in the file and in rules.d/.
constexpr const char* kConfig = R"(include = ["rules.d/*.toml"]

[node]
data_dir = "var"

[routing]
stable_after = "30s"

[[peers]]
name = "archive"
ae_title = "ARCHIVE"
host = "10.0.0.9"
port = 11112

[[plugins]]
name = "lung-density"
command = ["/opt/lung-density", "--fast"]
timeout = "10m"

[[rules]]
name = "ct-chest"
on = "series"
when = 'Modality == "CT" and (BodyPartExamined == "CHEST" or SeriesDescription ~ "(?i)lung|thorax")'
then = ["forward archive", "analyze lung-density"]
priority = 10

[[rules]]
name = "ct-axial"
on = "instance"
when = 'Modality == "CT" and ImageType == "AXIAL" and SliceThickness <= 5 and StudyDate >= "2004"'
then = ["forward archive"]

[[rules]]
name = "from-ct1"
on = "instance"
when = 'CallingAE == "CT1"'
then = ["forward archive"]

[[rules]]
name = "everything-else"
on = "instance"
when = "true"
then = ["forward archive"]
fallback = true
)";

constexpr const char* kIncluded = R"([[rules]]
name = "mr-study"
on = "study"
when = '''
Modality == "MR"
  and StudyDate >= "20040101"
  and not exists BodyPartExamined'''
then = ["analyze lung-density"]
stable_after = "2m"
)";

struct Setup {
  TempDir dir{"rules"};
  fs::path config = dir.path() / "pacsnode.toml";
  Setup() {
    std::ofstream(config) << kConfig;
    fs::create_directories(dir.path() / "rules.d");
    std::ofstream(dir.path() / "rules.d" / "mr.toml") << kIncluded;
  }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The lines of `out` about one file ("== <file>" up to the next "== ").
std::string section(const std::string& out, const std::string& file) {
  const auto start = out.find("== " + file + "\n");
  if (start == std::string::npos) return {};
  const auto end = out.find("\n== ", start + 1);
  return out.substr(start, end == std::string::npos ? std::string::npos : end - start + 1);
}

}  // namespace

TEST_CASE("rules check: a good configuration lists its rules in evaluation order, exit 0") {
  Setup s;
  auto [code, out] = run({PACSNODE_BINARY, "rules", "check", "--config", s.config.string()});
  CHECK_MESSAGE(code == 0, out);
  CHECK_MESSAGE(contains(out, "ct-chest  on series, stable after 30s, priority 10\n"
                              "  when  Modality == \"CT\" and (BodyPartExamined == \"CHEST\" or SeriesDescription ~ "
                              "\"(?i)lung|thorax\")\n"
                              "  then  forward archive (peer ARCHIVE@10.0.0.9:11112)\n"
                              "        analyze lung-density (plug-in: /opt/lung-density --fast; timeout 10m)\n"),
                out);
  CHECK(contains(out, "everything-else  on instance, priority 0, fallback\n"));
  CHECK(contains(out, "mr-study  on study, stable after 2m, priority 0\n"
                      "  when  Modality == \"MR\" and StudyDate >= \"20040101\" and not exists BodyPartExamined\n"));
  CHECK(contains(out, "  from  " + (s.dir.path() / "rules.d" / "mr.toml").string() + ", rules[0]\n"));
  CHECK(contains(out, "OK: 5 rule(s) (3 on instance, 1 on series, 1 on study)"));
  // ct-chest (priority 10) first, the included rule last.
  CHECK(out.find("ct-chest  on") < out.find("ct-axial  on"));
  CHECK(out.find("everything-else  on") < out.find("mr-study  on"));
}

TEST_CASE("rules check and serve: a bad rule is exit 2 naming the file, the rule and the position") {
  Setup s;
  {
    std::ofstream(s.dir.path() / "rules.d" / "mr.toml")
        << "[[rules]]\nname = \"mr-study\"\non = \"study\"\nwhen = '''\nModality == \"MR\"\n  and StudyDat >= "
           "\"2004\"'''\nthen = [\"analyze lung-density\"]\n";
  }
  const std::string included = (s.dir.path() / "rules.d" / "mr.toml").string();
  auto [code, out] = run({PACSNODE_BINARY, "rules", "check", "--config", s.config.string()});
  CHECK(code == 2);
  CHECK_MESSAGE(contains(out, included + ": rules[0].when: rule \"mr-study\": at 2:7: unknown keyword \"StudyDat\""),
                out);
  CHECK(contains(out, "(did you mean \"StudyDate\"?)"));
  CHECK(contains(out, "\n      and StudyDat >= \"2004\"\n          ^"));

  // serve refuses to start, with the same message, before touching the data directory.
  auto [serve_code, serve_out] = run({PACSNODE_BINARY, "serve", "--config", s.config.string()});
  CHECK(serve_code == 2);
  CHECK_MESSAGE(contains(serve_out, included + ": rules[0].when: rule \"mr-study\": at 2:7"), serve_out);
  CHECK_FALSE(fs::exists(s.dir.path() / "var"));

  // A rule forwarding to a peer that does not exist, in the main file.
  {
    std::string text = kConfig;
    text.replace(text.find("forward archive\", \"analyze"), 15, "forward pacs");
    std::ofstream(s.config) << text;
    std::ofstream(s.dir.path() / "rules.d" / "mr.toml") << kIncluded;
  }
  std::tie(serve_code, serve_out) = run({PACSNODE_BINARY, "serve", "--config", s.config.string()});
  CHECK(serve_code == 2);
  CHECK_MESSAGE(contains(serve_out, s.config.string() + ": rules[0].then[0]: rule \"ct-chest\": \"forward pacs\": "
                                    "no [[peers]] entry named \"pacs\""),
                serve_out);
  std::tie(code, out) = run({PACSNODE_BINARY, "rules", "check", "--config", s.config.string()});
  CHECK(code == 2);
}

TEST_CASE("rules test: CT_small and MR_small, every rule with why, and what would be done") {
  Setup s;
  auto [code, out] = run({PACSNODE_BINARY, "rules", "test", kCt, kMr, "--config", s.config.string()});
  CHECK_MESSAGE(code == 0, out);

  const std::string ct = section(out, kCt);
  INFO(ct);
  CHECK(contains(ct, "  Modality CT, SOPClassUID 1.2.840.10008.5.1.4.1.1.2, SOPInstanceUID "
                     "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322\n"));
  // CT_small has neither BodyPartExamined nor SeriesDescription: the series rule does not
  // match, and the trace says why.
  CHECK(contains(ct, "  rule ct-chest (on series: evaluated on this instance's attributes): not matched\n"
                     "    Modality == \"CT\" and (BodyPartExamined == \"CHEST\" or SeriesDescription ~ "
                     "\"(?i)lung|thorax\") at 1:1: false\n"
                     "      (BodyPartExamined == \"CHEST\" or SeriesDescription ~ \"(?i)lung|thorax\") at 1:22: false\n"
                     "        BodyPartExamined == \"CHEST\" at 1:23: false (BodyPartExamined absent)\n"
                     "        SeriesDescription ~ \"(?i)lung|thorax\" at 1:54: false (SeriesDescription absent)\n"));
  CHECK(contains(ct, "  rule ct-axial (on instance): matched\n"
                     "    Modality == \"CT\" and ImageType == \"AXIAL\" and SliceThickness <= 5 and StudyDate >= \"2004\" "
                     "at 1:1: true\n"
                     "      Modality == \"CT\" at 1:1: true (Modality is \"CT\")\n"
                     "      ImageType == \"AXIAL\" at 1:22: true (ImageType is \"ORIGINAL\\PRIMARY\\AXIAL\")\n"
                     "      SliceThickness <= 5 at 1:47: true (SliceThickness is \"5.000000\")\n"
                     "      StudyDate >= \"2004\" at 1:71: true (StudyDate is \"20040119\")\n"
                     "    would forward to archive (peer ARCHIVE@10.0.0.9:11112)\n"));
  // No --calling-ae: CallingAE is absent.
  CHECK(contains(ct, "  rule from-ct1 (on instance): not matched\n"
                     "    CallingAE == \"CT1\" at 1:1: false (CallingAE absent)\n"));
  // The fallback's condition holds, but ct-axial matched on instance.
  CHECK(contains(ct, "  rule everything-else (on instance, fallback): not matched (a fallback: its condition holds, "
                     "but rule ct-axial on instance matched)\n"));
  CHECK(contains(ct, "  rule mr-study (on study: evaluated on this instance's attributes): not matched\n"
                     "    Modality == \"MR\" and StudyDate >= \"20040101\" and not exists BodyPartExamined at 1:1: false\n"
                     "      Modality == \"MR\" at 1:1: false (Modality is \"CT\")\n"));
  CHECK(contains(ct, "  1 of 5 rule(s) matched; would do:\n"
                     "    forward to archive (peer ARCHIVE@10.0.0.9:11112) (rule ct-axial, on instance)\n"));

  const std::string mr = section(out, kMr);
  INFO(mr);
  // No instance rule matches MR: the fallback runs.
  CHECK(contains(mr, "  rule ct-axial (on instance): not matched\n"
                     "    Modality == \"CT\" and ImageType == \"AXIAL\" and SliceThickness <= 5 and StudyDate >= \"2004\" "
                     "at 1:1: false\n"
                     "      Modality == \"CT\" at 1:1: false (Modality is \"MR\")\n"));
  CHECK(contains(mr, "  rule everything-else (on instance, fallback): matched\n"
                     "    true at 1:1: true\n"
                     "    would forward to archive (peer ARCHIVE@10.0.0.9:11112)\n"));
  // The included multi-line rule: positions inside its `when`.
  CHECK(contains(mr, "  rule mr-study (on study: evaluated on this instance's attributes): matched\n"
                     "    Modality == \"MR\" and StudyDate >= \"20040101\" and not exists BodyPartExamined at 1:1: true\n"
                     "      Modality == \"MR\" at 1:1: true (Modality is \"MR\")\n"
                     "      StudyDate >= \"20040101\" at 2:7: true (StudyDate is \"20040826\")\n"
                     "      not exists BodyPartExamined at 3:7: true\n"
                     "        exists BodyPartExamined at 3:11: false (BodyPartExamined absent)\n"
                     "    would analyze with lung-density\n"));
  CHECK(contains(mr, "  2 of 5 rule(s) matched; would do:\n"
                     "    forward to archive (peer ARCHIVE@10.0.0.9:11112) (rule everything-else, on instance)\n"
                     "    analyze with lung-density (rule mr-study, on study)\n"));
}

TEST_CASE("rules test: association options, folders, unreadable files, JSON") {
  Setup s;
  // --calling-ae: from-ct1 matches too.
  auto [code, out] = run({PACSNODE_BINARY, "rules", "test", kCt, "--config", s.config.string(), "--calling-ae", "CT1",
                          "--called-ae", "PACSNODE"});
  CHECK_MESSAGE(code == 0, out);
  CHECK(contains(out, "  rule from-ct1 (on instance): matched\n"
                      "    CallingAE == \"CT1\" at 1:1: true (CallingAE is \"CT1\")\n"));
  CHECK(contains(out, "  2 of 5 rule(s) matched"));

  // A folder with a file that is not DICOM: the others are still printed, exit 1.
  const fs::path folder = s.dir.path() / "in";
  fs::create_directories(folder / "sub");
  fs::copy_file(kCt, folder / "a.dcm");
  fs::copy_file(kMr, folder / "sub" / "b.dcm");
  std::ofstream(folder / "notes.txt") << "not DICOM\n";
  std::tie(code, out) = run({PACSNODE_BINARY, "rules", "test", folder.string(), "--config", s.config.string()});
  CHECK(code == 1);
  CHECK_MESSAGE(contains(out, "== " + (folder / "a.dcm").string() + "\n"), out);
  CHECK(contains(out, "== " + (folder / "sub" / "b.dcm").string() + "\n"));
  CHECK(contains(out, "== " + (folder / "notes.txt").string() + "\n  unreadable: " + (folder / "notes.txt").string() +
                          ": not a readable DICOM Part-10 file"));
  CHECK(contains(out, "rule everything-else (on instance, fallback): matched"));
  std::tie(code, out) = run({PACSNODE_BINARY, "rules", "test", (folder / "missing.dcm").string(), "--config",
                             s.config.string()});
  CHECK(code == 1);
  CHECK(contains(out, "missing.dcm: no such file or folder"));

  // JSON: one object per file.
  std::tie(code, out) = run({PACSNODE_BINARY, "rules", "test", kMr, "--json", "--config", s.config.string()});
  CHECK_MESSAGE(code == 0, out);
  CHECK(out.rfind("[\n{\"file\":\"" + kMr + "\",\"rules\":[", 0) == 0);
  CHECK(contains(out, "{\"name\":\"everything-else\",\"on\":\"instance\",\"priority\":0,\"fallback\":true,"
                      "\"matched\":true,\"suppressed\":false,\"trace\":{\"text\":\"true\",\"line\":1,\"column\":1,"
                      "\"result\":true},\"actions\":[{\"verb\":\"forward\",\"target\":\"archive\",\"would\":\"would "
                      "forward to archive (peer ARCHIVE@10.0.0.9:11112)\"}]}"));
  CHECK(contains(out, "{\"text\":\"Modality == \\\"CT\\\"\",\"line\":1,\"column\":1,\"result\":false,"
                      "\"detail\":\"Modality is \\\"MR\\\"\"}"));
  CHECK(out.size() > 3);
  CHECK(out.substr(out.size() - 3) == "\n]\n");

  // Bad usage: no file.
  std::tie(code, out) = run({PACSNODE_BINARY, "rules", "test", "--config", s.config.string()});
  CHECK(code == 2);
  std::tie(code, out) = run({PACSNODE_BINARY, "rules"});
  CHECK(code == 2);
}

namespace {

constexpr const char* kStudyRules = R"([[peers]]
name = "pacs"
ae_title = "PACS"
host = "127.0.0.1"
port = 9

[[rules]]
name = "ct-study"
on = "study"
when = 'ModalitiesInStudy == "CT" and CallingAE == "STORESCU"'
then = ["forward pacs"]
stable_after = "1h"

[[rules]]
name = "router-ct"
on = "series"
when = 'CalledAE == "ROUTER" and Modality == "CT"'
then = ["forward pacs"]
stable_after = "1h"

[[rules]]
name = "mr-series"
on = "series"
when = 'Modality == "MR"'
then = ["forward pacs"]
stable_after = "1h"

[[rules]]
name = "first-two"
on = "instance"
when = 'InstanceNumber <= 2'
then = ["forward pacs"]
)";

void storescu(std::uint16_t port, const std::string& called, const std::vector<fs::path>& files) {
  std::vector<std::string> argv = {"storescu", "-aec", called, "127.0.0.1", std::to_string(port)};
  for (const auto& f : files) argv.push_back(f.string());
  auto [code, out] = run(argv, std::chrono::minutes(2));
  REQUIRE_MESSAGE(code == 0, out);
}

// `pacsnode rules test --study UID` against the node's configuration.
std::pair<int, std::string> rules_test_study(const Node& node, const std::string& uid, bool json = false) {
  std::vector<std::string> argv = {PACSNODE_BINARY, "rules", "test", "--study", uid, "--config",
                                   node.config_path().string()};
  if (json) argv.push_back("--json");
  return run(argv, std::chrono::minutes(2));
}

}  // namespace

TEST_CASE("rules test --study: a stored study, its series and instances, from a running and a stopped node") {
  NodeOptions options = tables(kStudyRules);
  options.extra_node = "extra_ae_titles = [\"ROUTER\"]\n";
  Node node(options);
  TempDir data("study");
  generate_instances(data.path(), 4, 1, 16);
  const auto files = files_below(data.path());  // InstanceNumber 1..4, in this order
  storescu(node.port(), "ROUTER", {files[0], files[1]});
  storescu(node.port(), node.ae_title(), {files[2], files[3]});
  const std::string study = node.sql("SELECT study_instance_uid FROM study");
  const std::string series = node.sql("SELECT series_instance_uid FROM series");
  const std::string first = node.sql("SELECT sop_instance_uid FROM instance WHERE instance_number = 1");
  const std::string third = node.sql("SELECT sop_instance_uid FROM instance WHERE instance_number = 3");
  // The instance rule fires for instances 1 and 2 (the peer is not there: the jobs wait).
  for (int i = 0; i < 100 && node.sql("SELECT count(*) FROM job") != "2"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(node.sql("SELECT count(*) FROM job") == "2");

  auto check_output = [&](const std::string& out) {
    CHECK_MESSAGE(contains(out, "== study " + study + " (1 series, 4 instance(s))\n"
                                "  PatientID PAT0000, StudyDate 20240115, ModalitiesInStudy CT\n"
                                "  rule ct-study (on study): matched\n"
                                "    ModalitiesInStudy == \"CT\" and CallingAE == \"STORESCU\" at 1:1: true\n"
                                "      ModalitiesInStudy == \"CT\" at 1:1: true (ModalitiesInStudy is \"CT\")\n"
                                "      CallingAE == \"STORESCU\" at 1:31: true (CallingAE is \"STORESCU\")\n"
                                "    would forward to pacs (peer PACS@127.0.0.1:9)\n"
                                "  1 of 1 rule(s) matched; would do:\n"
                                "    forward to pacs (peer PACS@127.0.0.1:9) (rule ct-study, on study)\n"),
                  out);
    // Every instance's called AE title is the series' CalledAE.
    CHECK_MESSAGE(contains(out, "== series " + series + " (4 instance(s))\n"
                                "  Modality CT, SeriesNumber 1\n"
                                "  rule router-ct (on series): matched\n"
                                "    CalledAE == \"ROUTER\" and Modality == \"CT\" at 1:1: true\n"
                                "      CalledAE == \"ROUTER\" at 1:1: true (CalledAE is \"PACSNODE\\ROUTER\")\n"
                                "      Modality == \"CT\" at 1:26: true (Modality is \"CT\")\n"
                                "    would forward to pacs (peer PACS@127.0.0.1:9)\n"
                                "  rule mr-series (on series): not matched\n"
                                "    Modality == \"MR\" at 1:1: false (Modality is \"CT\")\n"
                                "  1 of 2 rule(s) matched; would do:\n"),
                  out);
    CHECK_MESSAGE(contains(out, "== instance " + first + "\n  Modality CT, SOPClassUID 1.2.840.10008.5.1.4.1.1.2, "
                                "SOPInstanceUID " + first + ", InstanceNumber 1\n"),
                  out);
    const auto at_first = out.find("== instance " + first + "\n");
    CHECK(contains(out.substr(at_first, out.find("\n== ", at_first + 1) + 1 - at_first),
                   "  rule first-two (on instance): matched\n"
                   "    InstanceNumber <= 2 at 1:1: true (InstanceNumber is \"1\")\n"));
    const auto at_third = out.find("== instance " + third + "\n");
    REQUIRE(at_third != std::string::npos);
    CHECK(contains(out.substr(at_third, out.find("\n== ", at_third + 1) + 1 - at_third),
                   "  rule first-two (on instance): not matched\n"
                   "    InstanceNumber <= 2 at 1:1: false (InstanceNumber is \"3\")\n"
                   "  0 of 1 rule(s) matched; nothing would be done\n"));
    CHECK(contains(out, "study " + study + ": 4 of 7 rule evaluation(s) matched (nothing was done)\n"));
    // The instances come in InstanceNumber order.
    CHECK(at_first < at_third);
  };

  auto [code, out] = rules_test_study(node, study);  // the node is running
  CHECK_MESSAGE(code == 0, out);
  check_output(out);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a job made by the command would show by now
  CHECK(node.sql("SELECT count(*) FROM job") == "2");

  auto [json_code, json] = rules_test_study(node, study, true);
  CHECK(json_code == 0);
  CHECK_MESSAGE(contains(json, "{\"level\":\"series\",\"uid\":\"" + series + "\",\"rules\":["), json);
  CHECK(contains(json, "\"name\":\"router-ct\",\"on\":\"series\",\"priority\":0,\"fallback\":false,\"matched\":true"));

  auto [unknown_code, unknown] = rules_test_study(node, "1.2.3.999");
  CHECK(unknown_code == 1);
  CHECK_MESSAGE(contains(unknown, "pacsnode rules test: study 1.2.3.999 is not in the index\n"), unknown);

  // With --study, the association comes from the index: the options are refused.
  auto [usage_code, usage] = run({PACSNODE_BINARY, "rules", "test", "--study", study, "--called-ae", "X", "--config",
                                  node.config_path().string()});
  CHECK(usage_code == 2);

  // A stopped node: the command starts the embedded cluster itself, and stops it again.
  REQUIRE(node.stop() == 0);
  auto [stopped_code, stopped] = rules_test_study(node, study);
  CHECK_MESSAGE(stopped_code == 0, stopped);
  check_output(stopped);
}
