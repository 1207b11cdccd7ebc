// The mission's loop end to end with the real binary: a generated chest CT (our phantom)
// sent with storescu → the series rule fires → the bundled lung-density plug-in runs → a
// TID 1500 SR is stored and indexed by pacsnode, passes dciodvfy, shows in `pacsnode
// history`, and arrives at a real PACS (Orthanc, checked through its own REST API). Plus
// plug-ins that crash, hang, write garbage or say "not applicable", and the one-report-per-
// input-version rule (the same study twice; an amended series).

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "dicom/extract.hpp"
#include "tests/support/dciodvfy.hpp"
#include "tests/support/node.hpp"
#include "tests/support/orthanc.hpp"
#include "tests/support/routing.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const fs::path kLungDensity = PACSNODE_LUNG_DENSITY;

struct Phantom {
  std::vector<fs::path> files;  // sorted by name (slice order)
  nlohmann::json truth;
};

// A chest CT phantom series (tests/tools/gen_chest_phantom.py) of one patient and study.
Phantom make_phantom(const fs::path& dir, const std::string& patient_id, const std::string& study_uid,
                     const std::string& series_uid, int seed, const std::vector<std::string>& more = {}) {
  fs::create_directories(dir);
  const fs::path truth = dir / "truth.json";
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_chest_phantom.py",
                                   "chest", (dir / "dcm").string(), "--truth", truth.string(),
                                   "--patient-id", patient_id, "--study-uid", study_uid, "--series-uid", series_uid,
                                   "--seed", std::to_string(seed), "--rows", "128", "--cols", "128",
                                   "--pixel-spacing", "1.5", "1.5", "--slices", "48", "--slice-spacing", "4"};
  argv.insert(argv.end(), more.begin(), more.end());
  auto [code, out] = run(argv, 2min);
  REQUIRE_MESSAGE(code == 0, out);
  Phantom p;
  // In slice order (Instance Number), so that a test can hold back the last slices.
  std::vector<std::pair<int, fs::path>> numbered;
  for (const auto& f : files_below(dir / "dcm")) {
    numbered.emplace_back(dicom::extract_index_record(f).instance.instance_number.value_or(0), f);
  }
  std::sort(numbered.begin(), numbered.end());
  for (auto& [n, f] : numbered) p.files.push_back(f);
  std::ifstream in(truth);
  p.truth = nlohmann::json::parse(in);
  REQUIRE(!p.files.empty());
  return p;
}


int count(const Node& node, const std::string& query) { return std::stoi(node.sql_one(query)); }

std::string analysis_toml(const Orthanc& pacs, const std::string& extra_plugins = {}) {
  return peer_toml("pacs", pacs.ae_title(), pacs.dicom_port()) +
         "[[plugins]]\nname = \"lung-density\"\ncommand = [\"" + kLungDensity.string() + "\"]\ntimeout = \"5m\"\n" +
         extra_plugins +
         "[[rules]]\nname = \"chest\"\non = \"series\"\nwhen = 'Modality == \"CT\"'\n"
         "then = [\"analyze lung-density\"]\nstable_after = \"1s\"\n"
         "[reports]\nsend_to = [\"pacs\"]\n"
         "[jobs]\nretry_base_delay = 1\nretry_max_delay = 2\n";
}

// Every job done (none queued, running or failed); fails the test with the jobs' states.
void wait_all_done(const Node& node, int expected_jobs, std::chrono::seconds timeout = 180s) {
  const bool done = wait_for(
      [&] {
        return count(node, "SELECT count(*) FROM job WHERE state = 'done'") >= expected_jobs &&
               count(node, "SELECT count(*) FROM job WHERE state <> 'done'") == 0;
      },
      timeout);
  REQUIRE_MESSAGE(done, node.sql("SELECT id, kind, target, state, attempts, last_error, note FROM job ORDER BY id")
                            << "\n" << node.log_tail(40));
}

// The stored file of an instance in the node's storage.
fs::path stored_file(const Node& node, const std::string& sop_instance_uid) {
  return node.storage() / node.sql_one("SELECT file_path FROM instance WHERE sop_instance_uid = '" + sop_instance_uid + "'");
}

double truth_of(const nlohmann::json& truth, const std::string& lung, const std::string& what) {
  return truth.at(lung).at(what).get<double>();
}

}  // namespace

TEST_CASE("analysis end to end: phantom CT → lung-density → SR stored, valid, in history, at Orthanc; a second study "
          "keeps the tracking UIDs") {
  Orthanc pacs;
  Node node(tables(analysis_toml(pacs)));
  TempDir data("phantoms");
  const Phantom first = make_phantom(data.path() / "s1", "LUNG-1", "1.2.826.0.1.3680043.10.1337.99.1",
                                     "1.2.826.0.1.3680043.10.1337.99.1.1", 1);
  store(node, first.files);
  wait_all_done(node, 2);  // analyze, then forward of the SR

  const std::string sr = node.sql_one("SELECT sr_sop_instance_uid FROM analysis_report");
  CHECK(node.sql_one("SELECT state FROM job WHERE kind = 'analyze'") == "done");
  CHECK(node.sql_one("SELECT state || ' ' || target || ' ' || sop_instance_uid FROM job WHERE kind = 'forward'") ==
        "done pacs " + sr);
  // Stored and indexed like any received instance: in the same study, a series of its own.
  CHECK(node.sql_one("SELECT st.study_instance_uid || ' ' || se.modality FROM instance i JOIN series se ON se.id = "
                  "i.series_pk JOIN study st ON st.id = se.study_pk WHERE i.sop_instance_uid = '" + sr + "'") ==
        "1.2.826.0.1.3680043.10.1337.99.1 SR");
  const fs::path sr_file = stored_file(node, sr);
  CHECK(dciodvfy_errors(sr_file).empty());
  auto [dump_code, dump] = run({"dsrdump", sr_file.string()});
  CHECK(dump_code == 0);
  CHECK(dump.find("right lung") != std::string::npos);
  CHECK(dump.find("Imaging Measurement Report") != std::string::npos);
  // Each lung's largest axial section is a TID 1410 group with its outline on one slice.
  std::size_t regions = 0;
  for (auto at = dump.find("Image Region"); at != std::string::npos; at = dump.find("Image Region", at + 1)) ++regions;
  CHECK(regions == 3);

  // The measurements are the patient's findings, within the plug-in's stated accuracy.
  auto [h_code, h_out] = pacsnode_cli(node.config_path(), {"history", "LUNG-1", "--finding", "right lung", "--json"});
  REQUIRE_MESSAGE(h_code == 0, h_out);
  const auto history = nlohmann::json::parse(h_out);
  bool saw_volume = false;
  for (const auto& v : history.at("values")) {
    if (v.at("Measurement") == "Volume") {
      saw_volume = true;
      const double truth = truth_of(first.truth, "right", "volume_cm3");
      CHECK(std::abs(v.at("Value").get<double>() - truth) <= 0.02 * truth);
      CHECK(v.at("Change").is_null());
    }
  }
  CHECK(saw_volume);
  auto [t_code, table] = pacsnode_cli(node.config_path(), {"history", "LUNG-1"});
  CHECK(t_code == 0);
  CHECK(table.find("Findings") != std::string::npos);
  CHECK(table.find("left lung") != std::string::npos);

  // Orthanc has the report, as itself says.
  const auto id = pacs.instance_id(sr);
  REQUIRE_MESSAGE(id.has_value(), pacs.log());
  const auto tags = nlohmann::json::parse(pacs.simplified_tags(*id));
  CHECK(tags.value("Modality", "") == "SR");
  CHECK(tags.value("StudyInstanceUID", "") == "1.2.826.0.1.3680043.10.1337.99.1");
  CHECK(tags.value("PatientID", "") == "LUNG-1");

  // A second study of the same patient: a second SR, with the same tracking UIDs.
  const Phantom second = make_phantom(data.path() / "s2", "LUNG-1", "1.2.826.0.1.3680043.10.1337.99.2",
                                      "1.2.826.0.1.3680043.10.1337.99.2.1", 2, {"--lung-scale", "0.9"});
  store(node, second.files);
  wait_all_done(node, 4);
  CHECK(count(node, "SELECT count(*) FROM analysis_report") == 2);
  // One tracking UID per finding across both reports (a lung's volume and section groups share it).
  CHECK(count(node, "SELECT count(*) FROM (SELECT tracking_identifier FROM finding GROUP BY tracking_identifier "
                    "HAVING count(DISTINCT tracking_uid) <> 1) x") == 0);
  CHECK(count(node, "SELECT count(DISTINCT tracking_uid) FROM finding") == 3);
  const std::string sr2 =
      node.sql_one("SELECT sr_sop_instance_uid FROM analysis_report WHERE study_instance_uid = '1.2.826.0.1.3680043.10.1337.99.2'");
  CHECK(dciodvfy_errors(stored_file(node, sr2)).empty());
  CHECK(pacs.instance_id(sr2).has_value());
  auto [h2_code, h2_out] = pacsnode_cli(node.config_path(), {"history", "LUNG-1", "--finding", "right lung", "--json"});
  REQUIRE_MESSAGE(h2_code == 0, h2_out);
  std::vector<double> volumes;
  std::vector<nlohmann::json> changes;
  const auto history2 = nlohmann::json::parse(h2_out);
  for (const auto& v : history2.at("values")) {
    if (v.at("Measurement") == "Volume") {
      volumes.push_back(v.at("Value").get<double>());
      changes.push_back(v.at("Change"));
    }
  }
  REQUIRE_MESSAGE(volumes.size() == 2, h2_out << "\n" << node.sql("SELECT * FROM finding"));
  CHECK(changes[0].is_null());
  CHECK(changes[1].get<double>() == doctest::Approx(volumes[1] - volumes[0]).epsilon(1e-4));
  CHECK(volumes[1] < volumes[0]);  // the second phantom's lungs are smaller
  CHECK(node.echo_ok());
}

TEST_CASE("analysis: the same study sent twice gives one SR; the series amended gives a second that names its "
          "predecessor") {
  Orthanc pacs;
  Node node(tables(analysis_toml(pacs)));
  TempDir data("phantoms");
  const Phantom p = make_phantom(data.path() / "s", "LUNG-2", "1.2.826.0.1.3680043.10.1337.98.1",
                                 "1.2.826.0.1.3680043.10.1337.98.1.1", 3);
  // Hold back the last slices: they arrive later, as an amendment of the series.
  const std::size_t held = 4;
  const std::vector<fs::path> most(p.files.begin(), p.files.end() - static_cast<std::ptrdiff_t>(held));
  const std::vector<fs::path> rest(p.files.end() - static_cast<std::ptrdiff_t>(held), p.files.end());
  store(node, most);
  wait_all_done(node, 2);
  const std::string first_sr = node.sql_one("SELECT sr_sop_instance_uid FROM analysis_report");

  // The same instances again: nothing new to report.
  store(node, most);
  std::this_thread::sleep_for(4s);  // past stable_after: a re-firing, if any, has happened
  wait_all_done(node, 2);
  CHECK(count(node, "SELECT count(*) FROM analysis_report") == 1);
  CHECK(count(node, "SELECT count(*) FROM instance i JOIN series se ON se.id = i.series_pk WHERE se.modality = 'SR'") == 1);

  // More instances of the series: the amendment's report replaces the first.
  store(node, rest);
  REQUIRE(wait_for([&] { return count(node, "SELECT count(*) FROM analysis_report") == 2; }, 120s));
  wait_all_done(node, 4);
  CHECK(node.sql_one("SELECT firing FROM job WHERE kind = 'analyze' ORDER BY id DESC LIMIT 1") == "2");
  const std::string second_sr =
      node.sql_one("SELECT sr_sop_instance_uid || ' ' || replaces_sop_instance_uid FROM analysis_report WHERE "
                "replaces_sop_instance_uid IS NOT NULL");
  CHECK(second_sr.substr(second_sr.find(' ') + 1) == first_sr);
  const fs::path file = stored_file(node, second_sr.substr(0, second_sr.find(' ')));
  CHECK(dciodvfy_errors(file).empty());
  auto [code, dump] = run({"dcmdump", "+P", "0040,a360", "+P", "0008,1155", file.string()});
  CHECK(code == 0);
  CHECK(dump.find("PredecessorDocumentsSequence") != std::string::npos);
  CHECK(dump.find(first_sr) != std::string::npos);
  // Both reports reached the PACS.
  CHECK(pacs.instance_id(first_sr).has_value());
  CHECK(pacs.instance_id(second_sr.substr(0, second_sr.find(' '))).has_value());
}

TEST_CASE("analysis: plug-ins that crash, hang past their timeout leaving a child, write garbage, or are not "
          "applicable — each ends as documented, nothing is left running, the node keeps serving") {
  TempDir scripts("plugins");
  auto script = [&](const std::string& name, const std::string& body) {
    const fs::path path = scripts.path() / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    return path.string();
  };
  const std::string marker = "4242" + std::to_string(getpid());  // the hung plug-in's child: sleep <marker>
  std::string plugins;
  auto plugin = [&](const std::string& name, const std::string& path, const std::string& timeout) {
    plugins += "[[plugins]]\nname = \"" + name + "\"\ncommand = [\"" + path + "\"]\ntimeout = \"" + timeout + "\"\n";
  };
  plugin("crash", script("crash.sh", "echo about to crash >&2\nkill -SEGV $$"), "1m");
  plugin("hang", script("hang.sh", "sleep " + marker + " &\necho started a child\nsleep " + marker), "2s");
  plugin("garbage", script("garbage.sh", "printf '{\"contract\": 1, \"algorithm\": ' > \"$PACSNODE_OUT_DIR/result.json\""),
         "1m");
  plugin("na", script("na.sh", "echo 'not a chest CT'\nexit 3"), "1m");
  Node node(tables(plugins +
                   "[[rules]]\nname = \"all\"\non = \"series\"\nwhen = 'Modality == \"CT\"'\n"
                   "then = [\"analyze crash\", \"analyze hang\", \"analyze garbage\", \"analyze na\"]\n"
                   "stable_after = \"1s\"\n"
                   "[jobs]\nmax_attempts = 2\nretry_base_delay = 1\nretry_max_delay = 1\n"));
  TempDir data("ct");
  generate_instances(data.path(), 3, 1);
  store(node, files_below(data.path()));

  auto state = [&](const std::string& target) {
    return node.sql("SELECT state FROM job WHERE target = '" + target + "'");
  };
  REQUIRE_MESSAGE(wait_for(
                      [&] {
                        return state("crash").find("dead") == 0 && state("hang").find("dead") == 0 &&
                               state("garbage").find("dead") == 0 && state("na").find("done") == 0;
                      },
                      120s),
                  node.sql("SELECT target, state, attempts, last_error, note FROM job ORDER BY id") << node.log_tail());
  auto error_of = [&](const std::string& target) {
    return node.sql("SELECT last_error FROM job WHERE target = '" + target + "'");
  };
  CHECK(error_of("crash").find("killed by signal SIGSEGV") != std::string::npos);
  CHECK(error_of("hang").find("timed out") != std::string::npos);
  CHECK(error_of("garbage").find("result.json") != std::string::npos);
  CHECK(node.sql("SELECT note FROM job WHERE target = 'na'").find("not applicable") != std::string::npos);
  CHECK(count(node, "SELECT attempts FROM job WHERE target = 'crash'") == 2);
  // No report from any of them.
  CHECK(count(node, "SELECT count(*) FROM analysis_report") == 0);
  // `jobs show` prints the plug-in's output.
  auto [show_code, show] = pacsnode_cli(node.config_path(),
                                        {"jobs", "show", node.sql_one("SELECT id FROM job WHERE target = 'crash'")});
  CHECK(show_code == 0);
  CHECK(show.find("about to crash") != std::string::npos);
  // Nothing of the hung plug-in is left: not even the child it started.
  auto [pg_code, pg_out] = run({"pgrep", "-f", "sleep " + marker});
  CHECK_MESSAGE(pg_code != 0, "left running: " << pg_out);
  CHECK(node.echo_ok());
  CHECK(node.running());
}

TEST_CASE("analysis: DICOM objects a plug-in writes are checked, stored, indexed and sent to the PACS; one of another "
          "patient fails the attempt") {
  TempDir scripts("plugins");
  auto script = [&](const std::string& name, const std::string& body) {
    const fs::path path = scripts.path() / name;
    std::ofstream(path) << "#!/bin/sh\nset -e\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    return path.string();
  };
  // A derived object of the same patient and study (a new SOP Instance and Series UID), and
  // one that claims another patient.
  const std::string own = script("own.sh", R"(f=$(ls "$PACSNODE_IN_DIR" | head -n 1)
cp "$PACSNODE_IN_DIR/$f" "$PACSNODE_OUT_DIR/derived.dcm"
chmod u+w "$PACSNODE_OUT_DIR/derived.dcm"
dcmodify -nb -gin -gse -i "SeriesDescription=derived by a plug-in" "$PACSNODE_OUT_DIR/derived.dcm")");
  const std::string foreign = script("foreign.sh", R"(f=$(ls "$PACSNODE_IN_DIR" | head -n 1)
cp "$PACSNODE_IN_DIR/$f" "$PACSNODE_OUT_DIR/other.dcm"
chmod u+w "$PACSNODE_OUT_DIR/other.dcm"
dcmodify -nb -gin -i "PatientID=SOMEONE-ELSE" "$PACSNODE_OUT_DIR/other.dcm")");
  Orthanc pacs;
  Node node(tables(peer_toml("pacs", pacs.ae_title(), pacs.dicom_port()) +
                   "[[plugins]]\nname = \"own\"\ncommand = [\"" + own + "\"]\n" +
                   "[[plugins]]\nname = \"foreign\"\ncommand = [\"" + foreign + "\"]\n" +
                   "[[rules]]\nname = \"ct\"\non = \"series\"\nwhen = 'Modality == \"CT\"'\n"
                   "then = [\"analyze own\", \"analyze foreign\"]\nstable_after = \"1s\"\n"
                   "[reports]\nsend_to = [\"pacs\"]\n"
                   "[jobs]\nmax_attempts = 1\n"));
  TempDir data("ct");
  generate_instances(data.path(), 2, 1);
  store(node, files_below(data.path()));
  REQUIRE_MESSAGE(wait_for(
                      [&] {
                        return node.sql("SELECT state FROM job WHERE target = 'foreign'").find("dead") == 0 &&
                               node.sql("SELECT state FROM job WHERE kind = 'forward'").find("done") == 0;
                      },
                      120s),
                  node.sql("SELECT id, kind, target, state, last_error, note FROM job ORDER BY id") << node.log_tail());
  CHECK(node.sql("SELECT last_error FROM job WHERE target = 'foreign'").find("SOMEONE-ELSE") != std::string::npos);
  CHECK(node.sql("SELECT state FROM job WHERE target = 'own'").find("done") == 0);
  const std::string derived =
      node.sql_one("SELECT i.sop_instance_uid FROM instance i JOIN series se ON se.id = i.series_pk WHERE "
                "se.series_description = 'derived by a plug-in'");
  CHECK(count(node, "SELECT count(*) FROM instance i JOIN patient p ON true WHERE p.patient_id = 'SOMEONE-ELSE'") == 0);
  CHECK(node.sql_one("SELECT sop_instance_uid FROM job WHERE kind = 'forward'") == derived);
  CHECK(pacs.instance_id(derived).has_value());
  CHECK(count(node, "SELECT count(*) FROM analysis_report") == 0);
}
