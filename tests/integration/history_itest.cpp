// `pacsnode history`: the studies of one patient, read from the index of a running node.
#include <doctest/doctest.h>

#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

void store(const Node& node, const fs::path& path) {
  auto [code, out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1", std::to_string(node.port()),
                          path.string()});
  REQUIRE_MESSAGE(code == 0, out);
}

std::pair<int, std::string> history(const Node& node, std::vector<std::string> args) {
  std::vector<std::string> argv = {PACSNODE_BINARY, "history", "--config", node.config_path().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

}  // namespace

TEST_CASE("history: the studies of one patient, newest first, table and JSON") {
  Node node;
  TempDir data("gen");
  // PAT0000: 3 studies (2024-01-10, -11, -12), 2 images each; one series each.
  auto [gen_code, gen_out] =
      run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_instances.py",
           data.path().string(), "6", "--studies", "3", "--pixels", "8", "--same-patient"});
  REQUIRE_MESSAGE(gen_code == 0, gen_out);
  store(node, data.path());
  REQUIRE(node.sql("SELECT count(*) FROM study") == "3");

  auto [code, out] = history(node, {"PAT0000"});
  REQUIRE_MESSAGE(code == 0, out);
  const auto d12 = out.find("20240112  100200  ACC0002");
  const auto d11 = out.find("20240111  100100  ACC0001");
  const auto d10 = out.find("20240110  100000  ACC0000");
  CHECK_MESSAGE(d12 != std::string::npos, out);
  CHECK_MESSAGE(d11 != std::string::npos, out);
  CHECK_MESSAGE(d10 != std::string::npos, out);
  CHECK(d12 < d11);
  CHECK(d11 < d10);
  CHECK(out.find("Synthetic CT") != std::string::npos);
  CHECK(out.find("3 studies for PatientID \"PAT0000\", issuer \"\"") != std::string::npos);

  std::tie(code, out) = history(node, {"PAT0000", "--json"});
  REQUIRE_MESSAGE(code == 0, out);
  CHECK(out.find("\"PatientID\":\"PAT0000\",\"IssuerOfPatientID\":\"\"") != std::string::npos);
  CHECK(out.find("\"StudyDate\":\"20240112\",\"StudyTime\":\"100200\",\"AccessionNumber\":\"ACC0002\","
                 "\"ModalitiesInStudy\":\"CT\",\"StudyDescription\":\"Synthetic CT\","
                 "\"NumberOfStudyRelatedSeries\":1,\"NumberOfStudyRelatedInstances\":2") != std::string::npos);
  CHECK(out.find("20240112") < out.find("20240110"));

  // Unknown patient: exit 1 with a message.
  std::tie(code, out) = history(node, {"NOSUCH"});
  CHECK(code == 1);
  CHECK(out.find("no patient with PatientID \"NOSUCH\"") != std::string::npos);

  // The same PatientID under a second issuer: --issuer is needed.
  TempDir other("other");
  const std::string script =
      "import sys, pydicom\n"
      "from pydicom.uid import generate_uid\n"
      "ds = pydicom.dcmread(sys.argv[1])\n"
      "ds.PatientID = 'PAT0000'\n"
      "ds.IssuerOfPatientID = 'OTHER'\n"
      "ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid()\n"
      "ds.SOPInstanceUID = generate_uid(); ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID\n"
      "ds.save_as(sys.argv[2])\n";
  const fs::path copy = other.path() / "other.dcm";
  auto [py_code, py_out] = run({"/usr/bin/python3", "-c", script,
                                "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", copy.string()});
  REQUIRE_MESSAGE(py_code == 0, py_out);
  store(node, copy);
  std::tie(code, out) = history(node, {"PAT0000"});
  CHECK(code == 1);
  CHECK_MESSAGE(out.find("several issuers (\"\", \"OTHER\"); choose one with --issuer") != std::string::npos, out);
  std::tie(code, out) = history(node, {"PAT0000", "--issuer", "OTHER"});
  CHECK_MESSAGE(code == 0, out);
  CHECK(out.find("20040119") != std::string::npos);
  CHECK(out.find("1 study for PatientID \"PAT0000\", issuer \"OTHER\"") != std::string::npos);
  std::tie(code, out) = history(node, {"PAT0000", "--issuer", ""});
  CHECK_MESSAGE(code == 0, out);
  CHECK(out.find("3 studies") != std::string::npos);
}
