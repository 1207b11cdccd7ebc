// Orthanc, with its DICOMweb plug-in, as a DICOMweb client of the node: QIDO-RS through
// Orthanc's /dicom-web/servers/… API, a study retrieved by WADO-RS into Orthanc (its
// instances compared with what the node holds), and an instance sent by STOW-RS from Orthanc
// into the node, then found by C-FIND.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

#include "tests/support/findscu.hpp"
#include "tests/support/node.hpp"
#include "tests/support/orthanc.hpp"

using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

// Orthanc's /qido answers its own form of the matches: "Value" is the value itself (a string),
// not a DICOM JSON array.
std::set<std::string> values(const nlohmann::json& matches, const std::string& tag) {
  std::set<std::string> out;
  for (const auto& m : matches) {
    if (!m.contains(tag) || !m.at(tag).contains("Value")) continue;
    const auto& v = m.at(tag).at("Value");
    out.insert(v.is_array() ? v.at(0).get<std::string>() : v.get<std::string>());
  }
  return out;
}

std::set<std::string> column(const Node& node, const std::string& query) {
  const auto rows = node.sql_rows(query);
  return {rows.begin(), rows.end()};
}

// A value of the file as dcmdump reads it: "[text]" or a number.
std::string dumped(const fs::path& file, const std::string& tag) {
  auto [code, out] = run({"dcmdump", "-q", "+P", tag, file.string()});
  REQUIRE(code == 0);
  const auto open = out.find('['), close = out.find(']');
  if (open != std::string::npos && close != std::string::npos && close < out.find('#')) {
    return out.substr(open + 1, close - open - 1);
  }
  // "(0028,0010) US 128   #   2, 1 Rows"
  std::istringstream line(out);
  std::string t, vr, value;
  line >> t >> vr >> value;
  return value;
}

}  // namespace

TEST_CASE("Orthanc as a DICOMweb client: QIDO-RS, WADO-RS retrieve into Orthanc, STOW-RS from Orthanc") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n"));
  {
    auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), kData + "CT_small.dcm", kData + "MR_small.dcm",
                            kData + "JPEG2000.dcm"});
    REQUIRE_MESSAGE(code == 0, out);
  }
  OrthancOptions options;
  options.dicomweb = true;
  options.dicomweb_servers = {{"pacsnode", "http://127.0.0.1:" + std::to_string(http_port) + "/dicom-web/"}};
  Orthanc orthanc(options);

  // QIDO-RS: every study, then one patient's, then the series of a study — as the index says.
  const auto all = nlohmann::json::parse(orthanc.rest("/dicom-web/servers/pacsnode/qido", R"({"Uri": "/studies"})"));
  CHECK(values(all, "0020000D") == column(node, "SELECT study_instance_uid FROM study"));
  CHECK(all.size() == 3);
  const std::string ct_patient = node.sql(
      "SELECT p.patient_id FROM patient p JOIN study s ON s.patient_pk = p.id JOIN series se ON se.study_pk = s.id "
      "WHERE se.modality = 'CT'");
  REQUIRE(!ct_patient.empty());
  const auto one = nlohmann::json::parse(orthanc.rest(
      "/dicom-web/servers/pacsnode/qido",
      nlohmann::json{{"Uri", "/studies"}, {"Arguments", {{"PatientID", ct_patient}}}}.dump()));
  REQUIRE(one.size() == 1);
  const std::string ct_study = *values(one, "0020000D").begin();
  const auto series = nlohmann::json::parse(
      orthanc.rest("/dicom-web/servers/pacsnode/qido", nlohmann::json{{"Uri", "/studies/" + ct_study + "/series"}}.dump()));
  CHECK(values(series, "00080060") == std::set<std::string>{"CT"});

  // WADO-RS retrieve of two studies into Orthanc: the same instances, the same tags.
  const std::string j2k_study = node.sql(
      "SELECT s.study_instance_uid FROM study s JOIN series se ON se.study_pk = s.id JOIN instance i ON i.series_pk = "
      "se.id WHERE i.transfer_syntax_uid = '1.2.840.10008.1.2.4.90' OR i.transfer_syntax_uid = '1.2.840.10008.1.2.4.91'");
  REQUIRE(!j2k_study.empty());
  orthanc.rest("/dicom-web/servers/pacsnode/retrieve",
               nlohmann::json{{"Resources", {{{"Study", ct_study}}, {{"Study", j2k_study}}}}}.dump());
  const auto expected = column(node,
                               "SELECT i.sop_instance_uid FROM instance i JOIN series se ON i.series_pk = se.id JOIN "
                               "study s ON se.study_pk = s.id WHERE s.study_instance_uid IN ('" +
                                   ct_study + "', '" + j2k_study + "')");
  REQUIRE(expected.size() == 2);
  CHECK(orthanc.instance_count() == expected.size());
  for (const auto& uid : expected) {
    const auto id = orthanc.instance_id(uid);
    REQUIRE_MESSAGE(id, "Orthanc did not receive " << uid << "\n" << orthanc.log() << "\n" << node.log_tail());
    const auto tags = nlohmann::json::parse(orthanc.simplified_tags(*id));
    CHECK(tags.at("SOPInstanceUID").get<std::string>() == uid);
    CHECK(tags.at("PatientID").get<std::string>() ==
          node.sql("SELECT p.patient_id FROM patient p JOIN study s ON s.patient_pk = p.id JOIN series se ON "
                   "se.study_pk = s.id JOIN instance i ON i.series_pk = se.id WHERE i.sop_instance_uid = '" +
                   uid + "'"));
    const auto stored = node.storage() / node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + uid + "'");
    CHECK(tags.at("Rows").get<std::string>() == dumped(stored, "0028,0010"));
    CHECK(tags.at("StudyDescription").get<std::string>() == dumped(stored, "0008,1030"));
  }

  // STOW-RS from Orthanc: an instance the node does not have, then found by C-FIND.
  const std::string rt = orthanc.upload(kData + "test-SR.dcm");
  const auto rt_tags = nlohmann::json::parse(orthanc.simplified_tags(rt));
  const std::string rt_uid = rt_tags.at("SOPInstanceUID").get<std::string>();
  CHECK(node.sql("SELECT count(*) FROM instance WHERE sop_instance_uid = '" + rt_uid + "'") == "0");
  orthanc.rest("/dicom-web/servers/pacsnode/stow", nlohmann::json{{"Resources", {rt}}}.dump());
  const auto found = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + rt_tags.at("StudyInstanceUID").get<std::string>(),
                                          "SOPInstanceUID"});
  CHECK(found.final_success());
  CHECK(values_of(found.responses, "(0008,0018)") == std::set<std::string>{rt_uid});
  CHECK(node.log().find("STOW-RS 1 of 1 instance(s) stored") != std::string::npos);
}
