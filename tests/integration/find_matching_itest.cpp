// docs/dicom-conformance.md §4, row by row, end to end (conformance cases 34 and 35): the
// corpus of tests/tools/gen_query_corpus.py stored into `pacsnode serve` with storescu,
// queried with DCMTK's findscu in both information models at every level where the key
// applies. Each row states which patients must match; a refused row expects 0xA900.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/support/findscu.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

const std::string kRoot = "1.2.826.0.1.3680043.10.1337.9.";
const std::set<std::string> kAll = {"abc", "ABC", "AB", "A-1", "AÜC", "LAT1", "UTF8"};
const char* const kUtf8 = "SpecificCharacterSet=ISO_IR 192";

struct Row {
  const char* rule;                   // the §4 row, for the failure message
  std::vector<std::string> keys;      // matching keys (and Specific Character Set)
  std::set<std::string> expected;     // PatientIDs that match; ignored when refused
  bool refused = false;
};

// The PatientIDs of the matches (the responses carry PatientID: it is requested).
std::set<std::string> matched(const FindResult& r) { return values_of(r.responses, "(0010,0020)"); }

std::string join(const std::set<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return "{" + out + "}";
}

void check_row(const FindResult& r, const Row& row, const std::string& how) {
  INFO(how << ": " << std::string(row.rule));
  if (row.refused) {
    CHECK(r.responses.empty());
    CHECK_MESSAGE(r.refused(), r.output);
  } else {
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK_MESSAGE(matched(r) == row.expected, "matched " << join(matched(r)) << ", expected " << join(row.expected));
  }
}

bool has_key(const std::vector<std::string>& keys, const std::string& keyword) {
  for (const auto& k : keys) {
    if (k.rfind(keyword + "=", 0) == 0 || k == keyword) return true;
  }
  return false;
}


// Percent-encoding of a query parameter's value (UTF-8 bytes as they are).
std::string percent(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string latin1_to_utf8(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// The same keys as a QIDO-RS query on /studies (values in UTF-8, as QIDO has them; a key
// without a value is a return key): the status and the PatientIDs of the matches.
std::pair<int, std::set<std::string>> qido_studies(std::uint16_t port, const std::vector<std::string>& keys) {
  const bool latin1 = std::find(keys.begin(), keys.end(), "SpecificCharacterSet=ISO_IR 100") != keys.end();
  std::string query = "includefield=00100020";
  for (const auto& key : keys) {
    if (key.rfind("SpecificCharacterSet", 0) == 0) continue;
    const auto eq = key.find('=');
    if (eq == std::string::npos) {
      query += "&includefield=" + key;
      continue;
    }
    const std::string value = key.substr(eq + 1);
    query += "&" + key.substr(0, eq) + "=" + percent(latin1 ? latin1_to_utf8(value) : value);
  }
  auto [code, out] = run({"curl", "-s", "-g", "--max-time", "20", "-w", "\n%{http_code}",
                          "http://127.0.0.1:" + std::to_string(port) + "/dicom-web/studies?" + query});
  REQUIRE_MESSAGE(code == 0, out);
  const auto nl = out.rfind('\n');
  const int status = std::stoi(out.substr(nl + 1));
  std::set<std::string> ids;
  if (status == 200) {
    for (const auto& match : nlohmann::json::parse(out.substr(0, nl))) {
      ids.insert(match.at("00100020").at("Value").at(0).get<std::string>());
    }
  }
  return {status, ids};
}

}  // namespace

TEST_CASE("C-FIND matching, every row of dicom-conformance §4, both information models, every level") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n"));
  TempDir corpus("corpus");
  {
    auto [code, out] = run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_query_corpus.py",
                            corpus.path().string()});
    REQUIRE_MESSAGE(code == 0, out);
  }
  {
    auto [code, out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1", std::to_string(node.port()),
                            corpus.path().string()});
    REQUIRE_MESSAGE(code == 0, out);
  }
  REQUIRE(node.sql("SELECT count(*) FROM instance") == "8");

  // Keys of the patient (matched at PATIENT level in Patient Root, STUDY level in Study Root).
  const std::vector<Row> patient_rows = {
      {"PatientID zero length: universal, returned", {"PatientID"}, kAll},
      {"PatientID is case-sensitive, padding ignored", {"PatientID=ABC"}, {"ABC"}},
      {"PatientID AB*: * is zero or more characters", {"PatientID=AB*"}, {"AB", "ABC"}},
      {"PatientID A?C: ? is one character, not one byte", {"PatientID=A?C", kUtf8}, {"ABC", "AÜC"}},
      {"PatientID bare *: universal", {"PatientID=*"}, kAll},
      {"PatientID A-1: a hyphen is literal", {"PatientID=A-1"}, {"A-1"}},
      {"PatientName case-insensitive, trailing empty components ignored", {"PatientName=DOE^JOHN"}, {"abc", "ABC"}},
      {"PatientName DOE*: * crosses ^", {"PatientName=DOE*"}, {"abc", "ABC"}},
      {"PatientName without = matches the alphabetic group", {"PatientName=YAMADA^TARO"}, {"A-1"}},
      {"PatientName *=* is not universal", {"PatientName=*=*"}, {"A-1"}},
      {"PatientName MyName[*]: [ ] are literal", {"PatientName=MyName[*]"}, {"AB"}},
      {"case 35: MÜLLER* sent in ISO_IR 100 matches ISO_IR 100 and ISO_IR 192 values",
       {"PatientName=M\xDCLLER*", "SpecificCharacterSet=ISO_IR 100"},
       {"LAT1", "UTF8"}},
      {"case 35: MÜLLER* sent in ISO_IR 192", {"PatientName=MÜLLER*", kUtf8}, {"LAT1", "UTF8"}},
      {"PatientName case folding of non-ASCII letters", {"PatientName=müller*", kUtf8}, {"LAT1", "UTF8"}},
  };
  // Keys of the study.
  const std::vector<Row> study_rows = {
      {"StudyDate single value", {"StudyDate=20240115"}, {"abc"}},
      {"StudyDate range, inclusive at both bounds", {"StudyDate=20240101-20240131"}, {"abc", "ABC", "AB", "A-1"}},
      {"StudyDate open start", {"StudyDate=-20240131"}, {"abc", "ABC", "AB", "A-1", "AÜC"}},
      {"StudyDate open end; an empty date matches no range", {"StudyDate=20240101-"}, {"abc", "ABC", "AB", "A-1", "LAT1"}},
      {"StudyDate wildcard is refused", {"StudyDate=2024*"}, {}, true},
      {"StudyTime range; 1200 as upper bound includes 12:00:30", {"StudyTime=0800-1200"}, {"abc", "AB"}},
      {"date + time matched separately; a time range across midnight is refused",
       {"StudyDate=20240101-20240102", "StudyTime=2200-0600"},
       {},
       true},
      {"StudyInstanceUID list of UIDs", {"StudyInstanceUID=" + kRoot + "0\\" + kRoot + "3"}, {"abc", "A-1"}},
      {"StudyInstanceUID 1.2.* is not a wildcard: refused", {"StudyInstanceUID=1.2.*"}, {}, true},
      {"ModalitiesInStudy CT matches CT\\PT", {"ModalitiesInStudy=CT"}, {"abc", "AB"}},
      {"ModalitiesInStudy CT\\MR is OR", {"ModalitiesInStudy=CT\\MR"}, {"abc", "ABC", "AB", "A-1"}},
  };

  {
    INFO("Study Root, STUDY level");
    for (const auto& row : patient_rows) {
      auto keys = row.keys;
      keys.insert(keys.begin(), "QueryRetrieveLevel=STUDY");
      if (!has_key(keys, "PatientID")) keys.push_back("PatientID");
      check_row(findscu(node, "-S", keys), row, "Study Root STUDY");
    }
    for (const auto& row : study_rows) {
      auto keys = row.keys;
      keys.insert(keys.begin(), "QueryRetrieveLevel=STUDY");
      keys.push_back("PatientID");
      if (!has_key(keys, "ModalitiesInStudy")) keys.push_back("ModalitiesInStudy");
      const auto r = findscu(node, "-S", keys);
      check_row(r, row, "Study Root STUDY");
      if (std::string(row.rule).rfind("ModalitiesInStudy CT matches", 0) == 0) {
        // Every stored value is returned, not only the matching one.
        for (const auto& response : r.responses) {
          if (response.at("(0010,0020)") == "abc") CHECK(response.at("(0008,0061)") == "CT\\PT");
        }
      }
    }
    // Specific Character Set is never matched.
    const auto r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID", "SpecificCharacterSet=ISO_IR 100"});
    CHECK(matched(r) == kAll);
  }

  {
    INFO("Patient Root, PATIENT level");
    for (const auto& row : patient_rows) {
      auto keys = row.keys;
      keys.insert(keys.begin(), "QueryRetrieveLevel=PATIENT");
      if (!has_key(keys, "PatientID")) keys.push_back("PatientID");
      check_row(findscu(node, "-P", keys), row, "Patient Root PATIENT");
    }
  }

  {
    INFO("Patient Root, STUDY level (one query per patient: PatientID is the unique key above)");
    for (const auto& row : study_rows) {
      std::set<std::string> found;
      bool all_refused = true;
      // An error reply carries no match either: without its status it would read as "no match".
      bool all_success = true;
      std::string output;
      for (const auto& patient : kAll) {
        auto keys = row.keys;
        keys.insert(keys.begin(), "QueryRetrieveLevel=STUDY");
        keys.push_back("PatientID=" + patient);
        keys.push_back(kUtf8);
        const auto r = findscu(node, "-P", keys);
        all_refused = all_refused && r.refused() && r.responses.empty();
        all_success = all_success && r.final_success();
        const auto m = matched(r);
        if (!r.responses.empty()) found.insert(m.begin(), m.end());
        output += r.output;
      }
      INFO("Patient Root STUDY: " << std::string(row.rule));
      if (row.refused) {
        CHECK_MESSAGE(all_refused, output);
      } else {
        CHECK_MESSAGE(all_success, output);
        CHECK_MESSAGE(found == row.expected, "matched " << join(found) << ", expected " << join(row.expected));
      }
    }
  }

  {
    INFO("SERIES level: Modality is case-sensitive (both roots)");
    const std::string study = "StudyInstanceUID=" + kRoot + "0";
    auto r = findscu(node, "-S", {"QueryRetrieveLevel=SERIES", study, "Modality=ct", "SeriesInstanceUID"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(r.responses.empty());
    r = findscu(node, "-S", {"QueryRetrieveLevel=SERIES", study, "Modality=CT", "SeriesInstanceUID"});
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].at("(0020,000e)") == kRoot + "0.1");
    r = findscu(node, "-P", {"QueryRetrieveLevel=SERIES", "PatientID=abc", study, "Modality=PT", "SeriesInstanceUID"});
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].at("(0020,000e)") == kRoot + "0.2");
    // An absent unique key above the level (PatientID here) constrains nothing.
    r = findscu(node, "-P", {"QueryRetrieveLevel=SERIES", study, "Modality=CT", "SeriesInstanceUID"});
    CHECK_MESSAGE(r.final_success(), r.output);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].at("(0020,000e)") == kRoot + "0.1");
    // A wildcard in one is refused.
    r = findscu(node, "-P", {"QueryRetrieveLevel=SERIES", "PatientID=ab*", study, "SeriesInstanceUID"});
    CHECK_MESSAGE(r.refused(), r.output);
  }

  {
    INFO("QIDO-RS /studies: every patient and study row, the same matches as C-FIND (one matching engine)");
    for (const auto* rows : {&patient_rows, &study_rows}) {
      for (const auto& row : *rows) {
        const auto r = qido_studies(http_port, row.keys);
        INFO("QIDO-RS: " << std::string(row.rule));
        if (row.refused) {
          CHECK(r.first == 400);
        } else {
          CHECK_MESSAGE((r.first == 200 || r.first == 204), r.first);
          CHECK_MESSAGE(r.second == row.expected, join(r.second) << " != " << join(row.expected));
        }
      }
    }
  }
  {
    INFO("IMAGE level: IS values compare as integers (7 matches 007), both roots");
    const std::vector<std::string> above = {"StudyInstanceUID=" + kRoot + "2", "SeriesInstanceUID=" + kRoot + "2.1"};
    auto keys = above;
    keys.insert(keys.begin(), "QueryRetrieveLevel=IMAGE");
    keys.push_back("InstanceNumber=7");
    keys.push_back("SOPInstanceUID");
    auto r = findscu(node, "-S", keys);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].at("(0008,0018)") == kRoot + "2.1.1");
    CHECK(std::stoi(r.responses[0].at("(0020,0013)")) == 7);
    keys.push_back("PatientID=AB");
    r = findscu(node, "-P", keys);
    CHECK(r.responses.size() == 1);
    keys = {"QueryRetrieveLevel=IMAGE", above[0], above[1], "InstanceNumber=8"};
    r = findscu(node, "-S", keys);
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(r.responses.empty());
  }
  {
    INFO("sequence matching (PS3.4 C.2.2.2.6): any item matches; matching items, requested keys");
    const auto count = [](const std::string& text, const std::string& what) {
      std::size_t n = 0;
      for (std::size_t at = 0; (at = text.find(what, at)) != std::string::npos; ++at) ++n;
      return n;
    };
    auto r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID", "ProcedureCodeSequence[0].CodeValue=CTCHEST",
                                  "ProcedureCodeSequence[0].CodeMeaning"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(matched(r) == std::set<std::string>{"abc"});
    REQUIRE(r.dumps.size() == 1);
    CHECK(count(r.dumps[0], "[CTCHEST]") == 1);
    CHECK(count(r.dumps[0], "[CT Chest]") == 1);
    CHECK(count(r.dumps[0], "CTABD") == 0);         // the other item does not match
    CHECK(count(r.dumps[0], "[LOCAL]") == 0);       // not requested
    // A wildcard in the item: both items of the study match and come back.
    r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID", "ProcedureCodeSequence[0].CodeMeaning=CT*",
                             "ProcedureCodeSequence[0].CodeValue"});
    CHECK(matched(r) == std::set<std::string>{"abc"});
    REQUIRE(r.dumps.size() == 1);
    CHECK(count(r.dumps[0], "[CTCHEST]") == 1);
    CHECK(count(r.dumps[0], "[CTABD]") == 1);
    // No item matches: no study.
    r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID", "ProcedureCodeSequence[0].CodeValue=NOPE"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(r.responses.empty());
    // A zero-length sequence is universal and returns the whole sequence.
    r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID", "ProcedureCodeSequence"});
    CHECK(matched(r) == kAll);
    std::string all;
    for (const auto& d : r.dumps) all += d;
    CHECK(count(all, "[CTCHEST]") == 1);
    CHECK(count(all, "[MRBRAIN]") == 1);
    CHECK(count(all, "[LOCAL]") == 3);  // every attribute of every item
    // A series-level sequence, Patient Root.
    r = findscu(node, "-P", {"QueryRetrieveLevel=SERIES", "PatientID=abc", "StudyInstanceUID=" + kRoot + "0",
                             "SeriesInstanceUID", "RequestAttributesSequence[0].RequestedProcedureID=RP1"});
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].at("(0020,000e)") == kRoot + "0.1");
  }
  {
    INFO("DT ranges honour UTC offsets");
    // Each patient's first series at IMAGE level: does its instance's AcquisitionDateTime match?
    const auto dt_matches = [&](int patient, const std::string& value) {
      const std::string study = kRoot + std::to_string(patient);
      const auto r = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study,
                                          "SeriesInstanceUID=" + study + ".1", "AcquisitionDateTime=" + value});
      CHECK_MESSAGE(r.final_success(), r.output);
      return r.responses.size() == 1;
    };
    // 12:00 at +0100 is 11:00 UTC: 11:30 UTC is after it, 10:00 UTC (12:00 at +0200) is not.
    CHECK(dt_matches(0, "20240101120000+0100-"));
    CHECK_FALSE(dt_matches(1, "20240101120000+0100-"));
    CHECK(dt_matches(1, "-20240101120000+0100"));
    CHECK(dt_matches(1, "20240101100000+0000"));  // a single value: the same instant
    CHECK(dt_matches(0, "2024-2024"));           // reduced precision: the whole year
    CHECK(dt_matches(2, "20240101-20240101"));   // a stored day matches by its first instant
    CHECK_FALSE(dt_matches(2, "20240102-"));
    const auto r = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + kRoot + "0",
                                        "SeriesInstanceUID=" + kRoot + "0.1", "AcquisitionDateTime=2024*"});
    CHECK_MESSAGE(r.refused(), r.output);
  }
}

TEST_CASE("C-FIND: the patient's counts (0020,1200/1202/1204); IMAGE level with only StudyInstanceUID") {
  Node node;
  TempDir corpus("corpus");
  TempDir same_patient("same-patient");
  {
    auto [code, out] = run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_query_corpus.py",
                            corpus.path().string()});
    REQUIRE_MESSAGE(code == 0, out);
  }
  {
    // PAT0000 with 3 studies of one series each, 7 instances: 3, 2 and 2 (n % 3).
    auto [code, out] = run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_instances.py",
                            same_patient.path().string(), "7", "--studies", "3", "--pixels", "8", "--same-patient"});
    REQUIRE_MESSAGE(code == 0, out);
  }
  for (const auto& dir : {corpus.path(), same_patient.path()}) {
    auto [code, out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1", std::to_string(node.port()),
                            dir.string()});
    REQUIRE_MESSAGE(code == 0, out);
  }
  REQUIRE(node.sql("SELECT count(*) FROM instance") == "15");

  // What the generators wrote, per PatientID: studies, series, instances.
  const std::map<std::string, std::array<std::string, 3>> expected = {
      {"abc", {"1", "2", "2"}},  {"ABC", {"1", "1", "1"}}, {"AB", {"1", "1", "1"}},   {"A-1", {"1", "1", "1"}},
      {"AÜC", {"1", "1", "1"}}, {"LAT1", {"1", "1", "1"}}, {"UTF8", {"1", "1", "1"}}, {"PAT0000", {"3", "3", "7"}}};
  const std::vector<std::string> counts = {"NumberOfPatientRelatedStudies", "NumberOfPatientRelatedSeries",
                                           "NumberOfPatientRelatedInstances"};
  const auto check_counts = [&](const FindResult& r, std::size_t matches) {
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(r.responses.size() == matches);
    for (const auto& response : r.responses) {
      const auto& id = response.at("(0010,0020)");
      INFO("PatientID " << id);
      REQUIRE(expected.count(id) == 1);
      CHECK(response.at("(0020,1200)") == expected.at(id)[0]);
      CHECK(response.at("(0020,1202)") == expected.at(id)[1]);
      CHECK(response.at("(0020,1204)") == expected.at(id)[2]);
    }
  };
  {
    INFO("Patient Root PATIENT: every patient, the three counts returned");
    std::vector<std::string> keys = {"QueryRetrieveLevel=PATIENT", "PatientID", kUtf8};
    keys.insert(keys.end(), counts.begin(), counts.end());
    const auto r = findscu(node, "-P", keys);
    check_counts(r, expected.size());
    CHECK(matched(r).size() == expected.size());
  }
  {
    INFO("Patient Root PATIENT: one patient");
    std::vector<std::string> keys = {"QueryRetrieveLevel=PATIENT", "PatientID=PAT0000"};
    keys.insert(keys.end(), counts.begin(), counts.end());
    check_counts(findscu(node, "-P", keys), 1);
  }
  {
    INFO("the counts match as IS: 3 matches 03");
    auto r = findscu(node, "-P", {"QueryRetrieveLevel=PATIENT", "PatientID", "NumberOfPatientRelatedStudies=03",
                                  "NumberOfPatientRelatedInstances"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(matched(r) == std::set<std::string>{"PAT0000"});
    r = findscu(node, "-P", {"QueryRetrieveLevel=PATIENT", "PatientID", "NumberOfPatientRelatedSeries=2", kUtf8});
    CHECK(matched(r) == std::set<std::string>{"abc"});
    r = findscu(node, "-P", {"QueryRetrieveLevel=PATIENT", "PatientID", "NumberOfPatientRelatedInstances=x"});
    CHECK_MESSAGE(r.refused(), r.output);
  }
  {
    INFO("Study Root STUDY: the patient's keys are study keys there");
    std::vector<std::string> keys = {"QueryRetrieveLevel=STUDY", "PatientID=PAT0000", "StudyInstanceUID"};
    keys.insert(keys.end(), counts.begin(), counts.end());
    check_counts(findscu(node, "-S", keys), 3);
  }

  {
    INFO("IMAGE level, Study Root, StudyInstanceUID only: every instance of the study, all series");
    auto r = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + kRoot + "0", "SOPInstanceUID",
                                  "SeriesInstanceUID"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(values_of(r.responses, "(0008,0018)") == std::set<std::string>{kRoot + "0.1.1", kRoot + "0.2.1"});
    CHECK(values_of(r.responses, "(0020,000e)") == std::set<std::string>{kRoot + "0.1", kRoot + "0.2"});
    CHECK(r.responses.size() == 2);
    // SeriesInstanceUID sent empty: the same.
    r = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + kRoot + "0", "SeriesInstanceUID=",
                             "SOPInstanceUID"});
    CHECK(r.responses.size() == 2);

    // PAT0000's first study (the one dated 2024-01-10): 3 instances, numbered 1-3.
    r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientID=PAT0000", "StudyDate=20240110", "StudyInstanceUID",
                             "NumberOfStudyRelatedInstances"});
    REQUIRE(r.responses.size() == 1);
    const std::string study = r.responses[0].at("(0020,000d)");
    CHECK(r.responses[0].at("(0020,1208)") == "3");
    r = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study, "SOPInstanceUID", "InstanceNumber"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(r.responses.size() == 3);
    CHECK(values_of(r.responses, "(0020,0013)") == std::set<std::string>{"1", "2", "3"});
    const auto sop_uids = values_of(r.responses, "(0008,0018)");
    CHECK(sop_uids.size() == 3);
    CHECK(node.sql("SELECT count(*) FROM instance i JOIN series se ON se.id = i.series_pk JOIN study st ON st.id = "
                   "se.study_pk WHERE st.study_instance_uid = '" + study + "'") == "3");

    // Patient Root, neither PatientID nor SeriesInstanceUID: the same instances.
    r = findscu(node, "-P", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study, "SOPInstanceUID"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(values_of(r.responses, "(0008,0018)") == sop_uids);
    // Patient Root with the full path still narrows as before.
    r = findscu(node, "-P", {"QueryRetrieveLevel=IMAGE", "PatientID=abc", "StudyInstanceUID=" + study, "SOPInstanceUID"});
    CHECK_MESSAGE(r.final_success(), r.output);
    CHECK(r.responses.empty());
    // A wildcard in SeriesInstanceUID above the level is still refused.
    r = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study, "SeriesInstanceUID=1.2.*",
                             "SOPInstanceUID"});
    CHECK_MESSAGE(r.refused(), r.output);
    // So is a list.
    r = findscu(node, "-S", {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study,
                             "SeriesInstanceUID=" + kRoot + "0.1\\" + kRoot + "0.2", "SOPInstanceUID"});
    CHECK_MESSAGE(r.refused(), r.output);
  }
}
