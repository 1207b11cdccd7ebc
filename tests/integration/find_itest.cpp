// C-FIND end to end: instances stored into `pacsnode serve`, queried with DCMTK's findscu
// (responses extracted with -X and read with dcmdump).
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>

#include "tests/support/findscu.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

const fs::path kPydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

void store(const Node& node, const fs::path& path) {
  auto [code, out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1", std::to_string(node.port()),
                          path.string()});
  REQUIRE_MESSAGE(code == 0, out);
}

}  // namespace

TEST_CASE("C-FIND with findscu: matching, levels, response keys, refusals") {
  Node node;
  TempDir data("gen");
  generate_instances(data.path(), 12, 3);  // PAT0000..PAT0002, one study and series each, 4 images
  store(node, data.path());
  store(node, kPydicomFiles / "CT_small.dcm");  // 1CT1, CompressedSamples^CT1, StudyDate 20040119
  REQUIRE(node.sql("SELECT count(*) FROM instance") == "13");

  // PatientID exact, Study Root STUDY: exactly the requested keys + level + Retrieve AE.
  auto r = findscu(node, "-S",
                {"QueryRetrieveLevel=STUDY", "PatientID=PAT0001", "PatientName", "StudyDate", "StudyInstanceUID",
                 "ModalitiesInStudy", "NumberOfStudyRelatedInstances"});
  CHECK_MESSAGE(r.final_success(), r.output);
  REQUIRE(r.responses.size() == 1);
  const FindResponse study = r.responses[0];
  CHECK(tags_of(study) == std::set<std::string>{"(0008,0020)", "(0008,0052)", "(0008,0054)", "(0008,0061)",
                                                "(0010,0010)", "(0010,0020)", "(0020,000d)", "(0020,1208)"});
  CHECK(study.at("(0008,0052)") == "STUDY");
  CHECK(study.at("(0008,0054)") == "PACSNODE");
  CHECK(study.at("(0010,0020)") == "PAT0001");
  CHECK(study.at("(0010,0010)") == "TEST^PATIENT0001");
  CHECK(study.at("(0008,0020)") == "20240115");
  CHECK(study.at("(0008,0061)") == "CT");
  CHECK(study.at("(0020,1208)") == "4");
  const std::string study_uid = study.at("(0020,000d)");
  CHECK_FALSE(study_uid.empty());

  // PatientName: wildcard, case-insensitive.
  r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientName=test^patient000*", "PatientID"});
  CHECK_MESSAGE(r.final_success(), r.output);
  CHECK(values_of(r.responses, "(0010,0020)") == std::set<std::string>{"PAT0000", "PAT0001", "PAT0002"});

  // StudyDate ranges.
  r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "StudyDate=20240101-20240131", "PatientID"});
  CHECK(values_of(r.responses, "(0010,0020)") == std::set<std::string>{"PAT0000", "PAT0001", "PAT0002"});
  r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "StudyDate=-20231231", "PatientID"});
  CHECK(values_of(r.responses, "(0010,0020)") == std::set<std::string>{"1CT1"});
  r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "StudyDate=20240116-", "PatientID"});
  CHECK_MESSAGE(r.final_success(), r.output);
  CHECK(r.responses.empty());

  // Patient Root PATIENT level.
  r = findscu(node, "-P", {"QueryRetrieveLevel=PATIENT", "PatientID=PAT000?", "PatientName", "PatientBirthDate"});
  CHECK(r.responses.size() == 3);
  CHECK(values_of(r.responses, "(0010,0030)") == std::set<std::string>{"19700101"});

  // SERIES level under one study.
  r = findscu(node, "-S",
           {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + study_uid, "SeriesInstanceUID", "Modality",
            "NumberOfSeriesRelatedInstances"});
  CHECK_MESSAGE(r.final_success(), r.output);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].at("(0008,0060)") == "CT");
  CHECK(r.responses[0].at("(0020,1209)") == "4");
  CHECK(r.responses[0].at("(0008,0052)") == "SERIES");
  const std::string series_uid = r.responses[0].at("(0020,000e)");

  // IMAGE level under one series, Patient Root (the full unique-key path).
  r = findscu(node, "-P",
           {"QueryRetrieveLevel=IMAGE", "PatientID=PAT0001", "StudyInstanceUID=" + study_uid,
            "SeriesInstanceUID=" + series_uid, "SOPInstanceUID", "InstanceNumber", "SOPClassUID"});
  CHECK_MESSAGE(r.final_success(), r.output);
  CHECK(r.responses.size() == 4);
  CHECK(values_of(r.responses, "(0020,0013)") == std::set<std::string>{"1", "2", "3", "4"});
  CHECK(values_of(r.responses, "(0008,0016)") == std::set<std::string>{"1.2.840.10008.5.1.4.1.1.2"});

  // A key without a column comes from the index's attributes (jsonb): Manufacturer of CT_small.
  r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID=1CT1", "StudyInstanceUID"});
  REQUIRE(r.responses.size() == 1);
  const std::string ct_study = r.responses[0].at("(0020,000d)");
  r = findscu(node, "-S", {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + ct_study, "SeriesInstanceUID"});
  REQUIRE(r.responses.size() == 1);
  r = findscu(node, "-S",
           {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + ct_study,
            "SeriesInstanceUID=" + r.responses[0].at("(0020,000e)"), "SOPInstanceUID", "Manufacturer"});
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].at("(0008,0070)") == "GE MEDICAL SYSTEMS");

  // Study Root has no PATIENT level: failure 0xA900, no match sent.
  r = findscu(node, "-S", {"QueryRetrieveLevel=PATIENT", "PatientID"});
  CHECK(r.responses.empty());
  CHECK_MESSAGE(r.output.find("Final Find Response (Error: DataSetDoesNotMatchSOPClass)") != std::string::npos, r.output);
  // A wildcard in a date: refused as well.
  r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "StudyDate=2024*"});
  CHECK(r.responses.empty());
  CHECK_MESSAGE(r.output.find("Final Find Response (Error: DataSetDoesNotMatchSOPClass)") != std::string::npos, r.output);

  // The association still works afterwards.
  CHECK(node.echo_ok());
}

TEST_CASE("C-FIND: more matches than query.max_results → the first ones, then Cancel") {
  Node node(tables("[query]\nmax_results = 2\n"));
  TempDir data("gen");
  generate_instances(data.path(), 5, 5);
  store(node, data.path());
  const auto r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID"});
  CHECK(r.responses.size() == 2);
  CHECK_MESSAGE(r.final_cancel(), r.output);
  CHECK(node.log().find("max_results") != std::string::npos);
}

TEST_CASE("C-FIND: C-CANCEL after the first response ends the query with Cancel (0xFE00)") {
  Node node;
  TempDir data("gen");
  generate_instances(data.path(), 600, 1, 8);  // one series of 600 images
  store(node, data.path());
  const std::string study_uid = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID=PAT0000", "StudyInstanceUID"})
                                    .responses.at(0).at("(0020,000d)");
  const std::string series_uid =
      findscu(node, "-S", {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + study_uid, "SeriesInstanceUID"})
          .responses.at(0).at("(0020,000e)");
  const std::vector<std::string> keys = {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study_uid,
                                         "SeriesInstanceUID=" + series_uid, "SOPInstanceUID", "PatientName",
                                         "InstanceNumber"};
  const auto all = findscu(node, "-S", keys);
  CHECK_MESSAGE(all.final_success(), all.output);
  CHECK(all.responses.size() == 600);
  const auto cancelled = findscu(node, "-S", keys, {"--cancel", "1"});
  CHECK_MESSAGE(cancelled.final_cancel(), cancelled.output);
  CHECK(cancelled.responses.size() < 600);
  CHECK(node.echo_ok());
}
