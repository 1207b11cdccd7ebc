// `pacsnode find` (C-FIND SCU) against `pacsnode serve` and DCMTK's dcmqrscp.
#include <doctest/doctest.h>

#include <fstream>
#include <thread>

#include "base/process.hpp"

#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

std::pair<int, std::string> pacsnode_find(const std::string& target, std::vector<std::string> args) {
  std::vector<std::string> argv = {PACSNODE_BINARY, "find", target};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

}  // namespace

TEST_CASE("find: C-FIND SCU against pacsnode serve, table and JSON, failures") {
  Node node;
  TempDir data("gen");
  generate_instances(data.path(), 6, 3, 8);  // PAT0000..PAT0002, 2 images each
  auto [store_code, store_out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1",
                                      std::to_string(node.port()), data.path().string()});
  REQUIRE_MESSAGE(store_code == 0, store_out);

  // STUDY level, Study Root: one match, requested keys as columns, summary line.
  auto [code, out] = pacsnode_find(node.target(), {"--level", "STUDY", "-k", "PatientID=PAT0001", "-k", "PatientName",
                                                   "-k", "StudyDate=20240101-", "-k", "NumberOfStudyRelatedInstances"});
  REQUIRE_MESSAGE(code == 0, out);
  CHECK_MESSAGE(out.find("PatientID  PatientName       StudyDate  NumberOfStudyRelatedInstances") != std::string::npos,
                out);
  CHECK_MESSAGE(out.find("PAT0001    TEST^PATIENT0001  20240115   2") != std::string::npos, out);
  CHECK(out.find("1 match from " + node.target()) != std::string::npos);

  // PATIENT level (Patient Root by default), wildcard, JSON.
  std::tie(code, out) =
      pacsnode_find(node.target(), {"--level", "PATIENT", "-k", "PatientID=PAT000*", "-k", "PatientBirthDate", "--json"});
  REQUIRE_MESSAGE(code == 0, out);
  for (const char* id : {"PAT0000", "PAT0001", "PAT0002"}) {
    CHECK_MESSAGE(out.find(std::string("{\"PatientID\":\"") + id + "\",\"PatientBirthDate\":\"19700101\"}") !=
                      std::string::npos,
                  out);
  }
  CHECK(out.find("3 matches") != std::string::npos);

  // No match: exit 0, "0 matches".
  std::tie(code, out) = pacsnode_find(node.target(), {"--level", "STUDY", "-k", "PatientID=NOSUCH"});
  CHECK_MESSAGE(code == 0, out);
  CHECK(out.find("0 matches") != std::string::npos);

  // A failure status from the SCP (wildcard in a date): exit 1 with the status.
  std::tie(code, out) = pacsnode_find(node.target(), {"--level", "STUDY", "-k", "StudyDate=2024*"});
  CHECK(code == 1);
  CHECK_MESSAGE(out.find("C-FIND failed with status 0xa900") != std::string::npos, out);

  // Unknown keyword: a usage error before any association.
  std::tie(code, out) = pacsnode_find(node.target(), {"--level", "STUDY", "-k", "NoSuchKeyword=1"});
  CHECK(code == 2);
  CHECK(out.find("'NoSuchKeyword' is not a DICOM keyword") != std::string::npos);

  // Association failure (nobody listening): exit 1, one line.
  std::tie(code, out) = pacsnode_find("X@127.0.0.1:" + std::to_string(free_port()), {"--level", "STUDY",
                                                                                     "--timeout", "3"});
  CHECK(code == 1);
  CHECK(out.find("pacsnode find: X@127.0.0.1:") != std::string::npos);
}

TEST_CASE("find: C-FIND SCU against DCMTK dcmqrscp") {
  TempDir dir("dcmqrscp");
  const fs::path db = dir.path() / "db";
  fs::create_directories(db);
  const std::uint16_t port = free_port();
  {
    std::ofstream cfg(dir.path() / "dcmqrscp.cfg");
    cfg << "NetworkTCPPort = " << port << "\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
        << "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
        << "AETable BEGIN\nQRSCP " << db.string() << " RW (200, 1024mb) ANY\nAETable END\n";
  }
  ProcessOptions options;
  options.env.push_back({"TCP_NODELAY", "1"});
  options.capture_output = true;
  auto qr = Process::spawn({"dcmqrscp", "-c", (dir.path() / "dcmqrscp.cfg").string(), std::to_string(port)}, options);
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    ready = run({"echoscu", "-aec", "QRSCP", "127.0.0.1", std::to_string(port)}).first == 0;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(ready, qr.output());

  TempDir data("gen");
  generate_instances(data.path(), 4, 2, 8);  // PAT0000, PAT0001
  std::vector<std::string> store_argv = {"storescu", "-aec", "QRSCP", "127.0.0.1", std::to_string(port)};
  for (const auto& file : files_below(data.path())) store_argv.push_back(file.string());
  auto [store_code, store_out] = run(store_argv);
  REQUIRE_MESSAGE(store_code == 0, store_out);

  const std::string target = "QRSCP@127.0.0.1:" + std::to_string(port);
  auto [code, out] = pacsnode_find(target, {"--level", "STUDY", "-k", "PatientID", "-k", "PatientName", "-k",
                                            "StudyDate=20240101-"});
  REQUIRE_MESSAGE(code == 0, out);
  CHECK_MESSAGE(out.find("PAT0000    TEST^PATIENT0000  20240115") != std::string::npos, out);
  CHECK_MESSAGE(out.find("PAT0001    TEST^PATIENT0001  20240115") != std::string::npos, out);
  CHECK(out.find("2 matches from " + target) != std::string::npos);

  std::tie(code, out) = pacsnode_find(target, {"--level", "PATIENT", "-k", "PatientID=PAT0001", "-k", "PatientName",
                                               "--json"});
  REQUIRE_MESSAGE(code == 0, out);
  CHECK_MESSAGE(out.find("{\"PatientID\":\"PAT0001\",\"PatientName\":\"TEST^PATIENT0001\"}") != std::string::npos, out);
  CHECK(out.find("1 match from") != std::string::npos);
  qr.stop();
}
