// `pacsnode find` (C-FIND SCU) against `pacsnode serve`.
#include <doctest/doctest.h>

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
