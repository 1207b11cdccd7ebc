// The plug-in host (plugins/host.hpp) running real scripts: job folder, environment,
// descriptors, user switch, exit codes, timeout and group kill, memory limit, stop, and the
// example plug-in on a real CT image.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <dcmtk/dcmdata/dctk.h>

#include "plugins/host.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using namespace pacsnode::plugins;
namespace fs = std::filesystem;

namespace {

const fs::path kCtSmall = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_script(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  fs::permissions(path, fs::perms(0755));
}

// A stored file as storage/ writes it (0640) or world-readable (0644).
InputFile stored(const fs::path& dir, const std::string& sop, mode_t mode) {
  fs::create_directories(dir / "store");
  const fs::path path = dir / "store" / (sop + ".dcm");
  fs::copy_file(kCtSmall, path, fs::copy_options::overwrite_existing);
  ::chmod(path.c_str(), mode);
  return InputFile{path, sop, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4", "1"};
}

RunRequest request_for(const pacsnode::test::TempDir& dir, const fs::path& script) {
  RunRequest request;
  request.plugin = PluginSpec{"test-plugin", {script.string()}, 60s, 0};
  request.job_id = 42;
  request.attempt = 1;
  request.rule = "ct-chest";
  request.firing = 2;
  request.level = "series";
  request.patient = {{"PatientID", "P1"}, {"IssuerOfPatientID", ""}, {"PatientName", "Doe^Jane"}};
  request.study = {{"StudyInstanceUID", "1.2.3"}, {"AccessionNumber", "A1"}};
  request.series = {{"SeriesInstanceUID", "1.2.3.4"}, {"Modality", "CT"}};
  request.files = {stored(dir.path(), "1.2.3.4.1", 0640), stored(dir.path(), "1.2.3.4.2", 0644)};
  request.work_root = dir.path() / "work";
  return request;
}

// Gone or a zombie (an orphan that init has not reaped yet): no longer running. Bounded
// poll: a SIGKILLed process takes a moment to die.
bool process_gone(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && (line[close + 2] == 'Z' || line[close + 2] == 'X')) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

pid_t pid_in(const fs::path& file) {
  pid_t pid = 0;
  std::ifstream(file) >> pid;
  return pid;
}

const char* kResultJson = R"({"contract": 1, "algorithm": {"name": "t", "version": "1"}, "Measurements": [
 {"TrackingIdentifier": "x", "Finding": {"CodeValue": "39607008", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Lung"},
  "measurementItems": [{"quantity": {"CodeValue": "118565006", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Volume"},
   "value": 12.5, "units": {"CodeValue": "cm3", "CodingSchemeDesignator": "UCUM", "CodeMeaning": "cubic centimeter"}}]}]})";

}  // namespace

TEST_CASE("plugin host: a plug-in sees its job folder, environment and nothing else of the node") {
  pacsnode::test::TempDir dir("pnplug");
  // Descriptors the node holds without O_CLOEXEC: must not reach the plug-in.
  const int leaked_file = ::open((dir.path() / "marker").c_str(), O_WRONLY | O_CREAT, 0600);
  const int leaked_socket = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(leaked_file >= 3);
  REQUIRE(leaked_socket >= 3);
  ::setenv("PACSNODE_TEST_SECRET", "leaked", 1);

  const fs::path script = dir.path() / "ok.py";
  write_script(script, std::string(R"(#!/usr/bin/python3
import json, os, pwd, sys
out = os.environ["PACSNODE_OUT_DIR"]
fds = [n for n in sorted(os.listdir("/proc/self/fd"), key=int) if os.path.exists("/proc/self/fd/" + n)]
task = json.load(open(os.environ["PACSNODE_TASK"]))
heads = [open(f["path"], "rb").read(132)[128:].decode() for f in task["files"]]
open(os.path.join(os.environ["TMPDIR"], "scratch"), "w").write("x")
info = {"fds": fds, "stdin": os.readlink("/proc/self/fd/0"), "cwd": os.getcwd(),
        "user": pwd.getpwuid(os.getuid()).pw_name, "env": dict(os.environ), "heads": heads, "task": task}
json.dump(info, open(os.path.join(out, "info.json"), "w"))
open(os.path.join(out, "result.json"), "w").write(sys.argv[1])
print("hello from the plug-in")
)"));
  RunRequest request = request_for(dir, script);
  request.plugin.command.push_back(kResultJson);
  const RunOutcome outcome = run_plugin(request);
  ::close(leaked_file);
  ::close(leaked_socket);
  ::unsetenv("PACSNODE_TEST_SECRET");

  INFO(outcome.message);
  INFO(outcome.output_tail);
  REQUIRE(outcome.kind == RunOutcome::Kind::Done);
  CHECK(outcome.message == "done");
  CHECK(outcome.exit_code == 0);
  CHECK_FALSE(outcome.timed_out);
  CHECK(outcome.output_tail == "hello from the plug-in\n");
  CHECK(read_text(outcome.job_dir / "plugin.log") == "hello from the plug-in\n");
  REQUIRE(outcome.result.has_value());
  CHECK(outcome.result->algorithm_name == "t");
  REQUIRE(outcome.result->groups.size() == 1);
  CHECK(outcome.result->groups[0].items[0].value == 12.5);
  CHECK(outcome.dicom_outputs.empty());

  const fs::path job = dir.path() / "work" / "42-1";
  CHECK(outcome.job_dir == job);
  const std::string info_text = read_text(job / "out" / "info.json");
  REQUIRE_FALSE(info_text.empty());
  // A light parse: the values are plain strings.
  const auto has = [&](const std::string& fragment) {
    INFO(fragment);
    CHECK(info_text.find(fragment) != std::string::npos);
  };
  has(R"("fds": ["0", "1", "2"])");
  has(R"("stdin": "/dev/null")");
  has(R"("cwd": ")" + job.string() + "\"");
  has(R"("user": ")" + std::string(::geteuid() == 0 ? "nobody" : "") );
  has(R"("heads": ["DICM", "DICM"])");
  has(R"("PACSNODE_TASK": ")" + (job / "task.json").string() + "\"");
  has(R"("PACSNODE_IN_DIR": ")" + (job / "in").string() + "\"");
  has(R"("PACSNODE_OUT_DIR": ")" + (job / "out").string() + "\"");
  has(R"("PACSNODE_JOB_ID": "42")");
  has(R"("MERCURE_IN_DIR": ")" + (job / "in").string() + "\"");
  has(R"("MONAI_OUTPUTPATH": ")" + (job / "out").string() + "\"");
  has(R"("MONAI_JOBID": "42")");
  has(R"("MONAI_TIMEOUT": "60")");
  has(R"("TMPDIR": ")" + (job / "tmp").string() + "\"");
  has(R"("LANG": "C.UTF-8")");
  has(R"("PATH": "/usr/local/bin:/usr/bin:/bin")");
  CHECK(info_text.find("PACSNODE_TEST_SECRET") == std::string::npos);
  CHECK(fs::exists(job / "tmp" / "scratch"));

  // task.json as the README shows it.
  const std::string task = read_text(job / "task.json");
  CHECK(task.find(R"("job": {
    "id": 42,
    "attempt": 1
  })") != std::string::npos);
  CHECK(task.find(R"("rule": {
    "name": "ct-chest",
    "firing": 2,
    "amendment": true
  })") != std::string::npos);
  CHECK(task.find(R"("path": "in/1.2.3.4#1.2.3.4.1.dcm")") != std::string::npos);
  CHECK(task.find(R"("PatientName": "Doe^Jane")") != std::string::npos);
  CHECK(task.find(R"("series": {)") != std::string::npos);

  // The world-readable stored file is hard-linked; the 0640 one is copied when the plug-in
  // runs as another user (it could not read the link), linked otherwise.
  struct stat stored_st {}, link_st {};
  ::stat(request.files[1].path.c_str(), &stored_st);
  ::stat((job / "in" / "1.2.3.4#1.2.3.4.2.dcm").c_str(), &link_st);
  CHECK(stored_st.st_ino == link_st.st_ino);
  ::stat(request.files[0].path.c_str(), &stored_st);
  ::stat((job / "in" / "1.2.3.4#1.2.3.4.1.dcm").c_str(), &link_st);
  CHECK((stored_st.st_ino == link_st.st_ino) == (::geteuid() != 0));
  // The stored files are untouched.
  CHECK((stored_st.st_mode & 07777) == 0640);
  CHECK(stored_st.st_uid == ::geteuid());

  remove_job_dir(job);
  CHECK_FALSE(fs::exists(job));
  CHECK(fs::exists(request.files[1].path));
}

TEST_CASE("plugin host: exit codes 3 and 75, a crash, garbage, and nothing written") {
  pacsnode::test::TempDir dir("pnplug");
  const fs::path script = dir.path() / "p.sh";

  write_script(script, "#!/bin/sh\necho 'no lungs in this series' >&2\nexit 3\n");
  RunOutcome outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::NotApplicable);
  CHECK(outcome.message == "not applicable: no lungs in this series");
  CHECK(outcome.exit_code == 3);

  write_script(script, "#!/bin/sh\necho 'license server down'\nexit 75\n");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::TemporaryFailure);
  CHECK(outcome.message == "temporary failure (exit code 75): license server down");

  write_script(script, "#!/bin/sh\necho 'about to crash'\nkill -SEGV $$\n");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "killed by signal SIGSEGV (11): about to crash");
  CHECK_FALSE(outcome.exit_code.has_value());

  write_script(script, "#!/bin/sh\nexit 9\n");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "exit code 9");
  CHECK(outcome.exit_code == 9);

  write_script(script, "#!/bin/sh\nexit 0\n");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "no result.json and no DICOM output");

  write_script(script, R"(#!/bin/sh
cat > out/result.json <<'END'
{"contract": 1, "algorithm": {"name": "t"}, "Measurements": [
 {"TrackingIdentifier": "x", "Finding": {"CodeValue": "1", "CodingSchemeDesignator": "SCT", "CodeMeaning": "m"},
  "measurementItems": [{"quantity": {"CodeValue": "1", "CodingSchemeDesignator": "SCT", "CodeMeaning": "q"}, "value": 1}]}]}
END
)");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "out/result.json: Measurements[0].measurementItems[0].units: missing");
  CHECK_FALSE(outcome.result.has_value());

  write_script(script, "#!/bin/sh\nprintf 'not json' > out/result.json\n");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "out/result.json: not valid JSON (at byte 2)");

  // A link to a file the plug-in cannot read itself is never read by the host for it.
  write_script(script, "#!/bin/sh\nln -s /etc/shadow out/result.json\nln -s /etc/passwd out/x.dcm\n");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "out/x.dcm: a symbolic link, not a file");

  // DICOM output only: Done, with the files listed.
  write_script(script, "#!/bin/sh\ncp in/*1.dcm out/b.dcm && cp in/*2.dcm out/a.dcm && echo x > out/notes.txt\n");
  outcome = run_plugin(request_for(dir, script));
  CHECK(outcome.kind == RunOutcome::Kind::Done);
  CHECK_FALSE(outcome.result.has_value());
  REQUIRE(outcome.dicom_outputs.size() == 2);
  CHECK(outcome.dicom_outputs[0] == outcome.job_dir / "out" / "a.dcm");
  CHECK(outcome.dicom_outputs[1] == outcome.job_dir / "out" / "b.dcm");

  // A program that cannot be run.
  RunRequest missing = request_for(dir, dir.path() / "no-such-plugin");
  outcome = run_plugin(missing);
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message.find("No such file or directory") != std::string::npos);
}

TEST_CASE("plugin host: the timeout kills the plug-in and the children it started") {
  pacsnode::test::TempDir dir("pnplug");
  const fs::path script = dir.path() / "hang.sh";
  write_script(script, "#!/bin/sh\nsleep 1000 &\necho $! > out/child.pid\necho $$ > out/leader.pid\nwait\n");
  RunRequest request = request_for(dir, script);
  request.plugin.timeout = 2s;
  const RunOutcome outcome = run_plugin(request);
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.timed_out);
  CHECK(outcome.message == "timed out after 2s");
  CHECK_FALSE(outcome.exit_code.has_value());
  const pid_t child = pid_in(outcome.job_dir / "out" / "child.pid");
  const pid_t leader = pid_in(outcome.job_dir / "out" / "leader.pid");
  REQUIRE(child > 0);
  REQUIRE(leader > 0);
  CHECK(process_gone(leader));
  CHECK(process_gone(child));
}

TEST_CASE("plugin host: a child left behind by a plug-in that exited is killed") {
  pacsnode::test::TempDir dir("pnplug");
  const fs::path script = dir.path() / "leave.sh";
  write_script(script, std::string("#!/bin/sh\nsleep 1000 > /dev/null 2>&1 &\necho $! > out/child.pid\ncat > out/result.json <<'END'\n") +
                           kResultJson + "\nEND\n");
  const RunOutcome outcome = run_plugin(request_for(dir, script));
  INFO(outcome.message);
  CHECK(outcome.kind == RunOutcome::Kind::Done);
  const pid_t child = pid_in(outcome.job_dir / "out" / "child.pid");
  REQUIRE(child > 0);
  CHECK(process_gone(child));
}

TEST_CASE("plugin host: stop kills a running plug-in") {
  pacsnode::test::TempDir dir("pnplug");
  const fs::path script = dir.path() / "wait.sh";
  write_script(script, "#!/bin/sh\nsleep 1000 &\necho $! > out/child.pid\nwait\n");
  RunRequest request = request_for(dir, script);
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    const fs::path pid_file = dir.path() / "work" / "42-1" / "out" / "child.pid";
    for (int i = 0; i < 3000 && pid_in(pid_file) <= 0; ++i) std::this_thread::sleep_for(10ms);
    stop = true;
  });
  const RunOutcome outcome = run_plugin(request, &stop);
  stopper.join();
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "stopped");
  CHECK_FALSE(outcome.timed_out);
  const pid_t child = pid_in(outcome.job_dir / "out" / "child.pid");
  REQUIRE(child > 0);
  CHECK(process_gone(child));
}

TEST_CASE("plugin host: memory_mb limits what a plug-in can allocate") {
  pacsnode::test::TempDir dir("pnplug");
  const fs::path script = dir.path() / "big.py";
  write_script(script, "#!/usr/bin/python3\nblock = bytearray(1 << 30)\nprint('allocated')\n");
  RunRequest request = request_for(dir, script);
  request.plugin.memory_mb = 200;
  RunOutcome outcome = run_plugin(request);
  CHECK(outcome.kind == RunOutcome::Kind::Failed);
  CHECK(outcome.message == "exit code 1: MemoryError");
  // The same plug-in without the limit gets its gigabyte (so the limit is what failed it).
  request.plugin.memory_mb = 0;
  write_script(script, "#!/usr/bin/python3\nblock = bytearray(1 << 30)\nprint('allocated')\nexit(3)\n");
  outcome = run_plugin(request);
  CHECK(outcome.kind == RunOutcome::Kind::NotApplicable);
  CHECK(outcome.message == "not applicable: allocated");
}

TEST_CASE("plugin host: the example plug-in measures the mean CT number of a real image") {
  pacsnode::test::TempDir dir("pnplug");
  const fs::path script = dir.path() / "mean-intensity.py";
  fs::copy_file(fs::path(PACSNODE_SOURCE_DIR) / "plugins/examples/mean-intensity.py", script);
  CHECK((fs::status(fs::path(PACSNODE_SOURCE_DIR) / "plugins/examples/mean-intensity.py").permissions() &
         fs::perms::owner_exec) != fs::perms::none);
  RunRequest request = request_for(dir, script);
  request.files.resize(1);
  const RunOutcome outcome = run_plugin(request);
  INFO(outcome.message);
  INFO(outcome.output_tail);
  REQUIRE(outcome.kind == RunOutcome::Kind::Done);
  REQUIRE(outcome.result.has_value());
  REQUIRE(outcome.result->groups.size() == 1);
  const MeasurementItem& item = outcome.result->groups[0].items.at(0);
  CHECK(item.unit.value == "[hnsf'U]");
  CHECK(outcome.result->groups[0].image_references == std::vector<std::string>{"1.2.3.4.1"});

  // The truth, computed with DCMTK from the same file.
  DcmFileFormat file;
  REQUIRE(file.loadFile(kCtSmall.c_str()).good());
  DcmDataset* ds = file.getDataset();
  const Uint16* pixels = nullptr;
  unsigned long count = 0;
  REQUIRE(ds->findAndGetUint16Array(DCM_PixelData, pixels, &count).good());
  Uint16 representation = 0;
  ds->findAndGetUint16(DCM_PixelRepresentation, representation);
  Float64 slope = 1, intercept = 0;
  ds->findAndGetFloat64(DCM_RescaleSlope, slope);
  ds->findAndGetFloat64(DCM_RescaleIntercept, intercept);
  double sum = 0;
  for (unsigned long i = 0; i < count; ++i) {
    sum += representation != 0 ? static_cast<double>(static_cast<Sint16>(pixels[i])) : static_cast<double>(pixels[i]);
  }
  const double expected = slope * sum / static_cast<double>(count) + intercept;
  CHECK(item.value == doctest::Approx(expected).epsilon(1e-5));
  CHECK(item.value > -1024);
  CHECK(item.value < 3000);
}
