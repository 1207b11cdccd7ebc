// /metrics after a known workload against the real binary: promtool (Debian's prometheus)
// parses and lints it, and the counts are those of what was sent — instances and bytes by
// door, refusals, DIMSE operations, associations by outcome, HTTP requests by handler,
// index commits, jobs by kind and state, the build.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <thread>
#include <sstream>

#include "tests/support/node.hpp"
#include "tests/support/temp_dir.hpp"

using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

std::string curl(std::uint16_t port, const std::string& path, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-s", "-g", "--max-time", "30"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, out);
  return out;
}

// Every sample: `name{labels}` → value.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double value(const std::map<std::string, double>& s, const std::string& key) {
  const auto found = s.find(key);
  REQUIRE_MESSAGE(found != s.end(), "no sample " << key);
  return found->second;
}

// What the workload added: the sample now less the sample before (0 when it was absent).
double delta(const std::map<std::string, double>& after, const std::map<std::string, double>& before,
             const std::string& key) {
  const auto was = before.find(key);
  return value(after, key) - (was == before.end() ? 0 : was->second);
}

}  // namespace

TEST_CASE("/metrics: promtool accepts it, and its counts are those of the workload") {
  const auto http_port = free_port();
  NodeOptions options = tables("[http]\nenabled = true\nport = " + std::to_string(http_port) +
                               "\n[[peers]]\nname = \"nowhere\"\nae_title = \"NOWHERE\"\nhost = \"127.0.0.1\"\nport = " +
                               std::to_string(free_port()) +
                               "\n[[rules]]\nname = \"to-nowhere\"\non = \"series\"\nwhen = 'Modality == \"MR\"'\n"
                               "then = [\"forward nowhere\"]\nstable_after = \"1s\"\n");
  Node node(options);
  // The fixture's own readiness echo is before this.
  const auto before = samples(curl(http_port, "/metrics"));

  // DIMSE: three instances on one association, one echo, one association rejected (unknown
  // called AE title).
  {
    auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), kData + "CT_small.dcm", kData + "MR_small.dcm",
                            kData + "test-SR.dcm"});
    REQUIRE_MESSAGE(code == 0, out);
  }
  CHECK(node.echo_ok());
  {
    auto [code, out] = run({"echoscu", "-aec", "NOT-US", "127.0.0.1", std::to_string(node.port())});
    CHECK(code != 0);
  }
  // DICOMweb: two instances stored by STOW-RS, one refused; two QIDO queries.
  TempDir dir("metrics-body");
  const auto read = [](const std::string& f) {
    std::ifstream in(kData + f, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::string body = "--B\r\nContent-Type: application/dicom\r\n\r\n" + read("JPEG2000.dcm") +
                           "\r\n--B\r\nContent-Type: application/dicom\r\n\r\n" + read("693_J2KI.dcm") +
                           "\r\n--B\r\nContent-Type: application/dicom\r\n\r\n" + read("no_meta.dcm") + "\r\n--B--\r\n";
  std::ofstream(dir.path() / "body", std::ios::binary) << body;
  curl(http_port, "/dicom-web/studies",
       {"-X", "POST", "-H", "Content-Type: multipart/related; type=\"application/dicom\"; boundary=B", "--data-binary",
        "@" + (dir.path() / "body").string()});
  curl(http_port, "/dicom-web/studies");
  curl(http_port, "/dicom-web/studies?PatientName=*");

  // The forward of the MR series to a peer that is not there: a job that fails.
  std::string jobs;
  for (int i = 0; i < 100; ++i) {
    jobs = node.sql("SELECT state FROM job");
    if (!jobs.empty() && jobs != "queued" && jobs != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  const std::string text = curl(http_port, "/metrics");
  const auto file = dir.path() / "metrics.txt";
  std::ofstream(file, std::ios::binary) << text;
  auto [pcode, pout] = run({"sh", "-c", "/usr/bin/promtool check metrics < " + file.string() + " 2>&1"});
  CHECK_MESSAGE(pcode == 0, pout << "\n" << text);

  const auto s = samples(text);
  CHECK(delta(s, before, "pacsnode_instances_received_total{door=\"dimse\"}") == 3);
  CHECK(delta(s, before, "pacsnode_instances_received_total{door=\"dicomweb\"}") == 2);
  CHECK(delta(s, before, "pacsnode_instances_failed_total{door=\"dicomweb\"}") == 1);
  const double dimse_bytes = std::stod(node.sql("SELECT sum(file_size) FROM instance WHERE calling_ae_title <> ''"));
  const double web_bytes = std::stod(node.sql("SELECT sum(file_size) FROM instance WHERE calling_ae_title = ''"));
  CHECK(delta(s, before, "pacsnode_received_bytes_total{door=\"dimse\"}") == dimse_bytes);
  CHECK(delta(s, before, "pacsnode_received_bytes_total{door=\"dicomweb\"}") == web_bytes);
  CHECK(delta(s, before, "pacsnode_dimse_request_duration_seconds_count{operation=\"c_store\"}") == 3);
  CHECK(delta(s, before, "pacsnode_dimse_request_duration_seconds_count{operation=\"c_echo\"}") == 1);
  CHECK(delta(s, before, "pacsnode_dimse_associations_total{outcome=\"released\"}") == 2);
  CHECK(delta(s, before, "pacsnode_dimse_associations_total{outcome=\"rejected\"}") == 1);
  CHECK(value(s, "pacsnode_dimse_associations_active") == 0);
  CHECK(delta(s, before, "pacsnode_http_requests_total{handler=\"qido\",code=\"2xx\"}") == 2);
  CHECK(delta(s, before, "pacsnode_http_requests_total{handler=\"stow\",code=\"2xx\"}") == 1);
  CHECK(delta(s, before, "pacsnode_http_request_duration_seconds_count{handler=\"qido\"}") == 2);
  // Every stored instance went through an index commit (the job's rows are not instances).
  CHECK(delta(s, before, "pacsnode_index_commit_batch_size_sum") == 5);
  CHECK(value(s, "pacsnode_index_commit_duration_seconds_count") >= 1);
  CHECK(value(s, "pacsnode_storage_free_bytes") > 0);
  CHECK(value(s, "pacsnode_database_up") == 1);
  REQUIRE_MESSAGE(!jobs.empty(), node.log_tail());
  CHECK(value(s, "pacsnode_jobs{kind=\"forward\",state=\"" + jobs + "\"}") == 1);
  CHECK(delta(s, before, "pacsnode_job_attempts_total{kind=\"forward\",outcome=\"retry\"}") >= 1);
  bool build = false;
  for (const auto& [key, v] : s) build = build || (key.rfind("pacsnode_build_info{version=", 0) == 0 && v == 1);
  CHECK(build);

  // Wrong method: 405, and the node still answers.
  CHECK(curl(http_port, "/metrics", {"-X", "POST", "-o", "/dev/null", "-w", "%{http_code}"}) == "405");
  CHECK(node.echo_ok());
}
