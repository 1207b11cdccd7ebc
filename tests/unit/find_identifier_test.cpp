#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcwcache.h"
#include "dcmtk/dcmdata/dcxfer.h"

#include "base/error.hpp"
#include "dicom/find_identifier.hpp"
#include "tests/support/allocation_probe.hpp"
#include "tests/support/bytes.hpp"

using namespace pacsnode::dicom;

namespace {

constexpr const char* kEle = "1.2.840.10008.1.2.1";
constexpr const char* kIle = "1.2.840.10008.1.2";

std::vector<std::uint8_t> encode(DcmDataset& data_set, const char* ts) {
  const E_TransferSyntax xfer = DcmXfer(ts).getXfer();
  std::vector<std::uint8_t> out(data_set.calcElementLength(xfer, EET_ExplicitLength) + 64);
  DcmOutputBufferStream stream(out.data(), out.size());
  DcmWriteCache cache;
  data_set.transferInit();
  REQUIRE(data_set.write(stream, xfer, EET_ExplicitLength, &cache).good());
  data_set.transferEnd();
  void* buffer = nullptr;
  offile_off_t written = 0;
  stream.flushBuffer(buffer, written);
  out.resize(static_cast<std::size_t>(written));
  return out;
}

void decode(const std::vector<std::uint8_t>& bytes, const char* ts, DcmDataset& data_set) {
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  data_set.transferInit();
  REQUIRE(data_set.read(stream, DcmXfer(ts).getXfer(), EGL_noChange).good());
  data_set.transferEnd();
}

std::string get(DcmDataset& data_set, const DcmTagKey& tag) {
  OFString value;
  data_set.findAndGetOFStringArray(tag, value);
  return value.c_str();
}

}  // namespace

TEST_CASE("parse_find_identifier: level, keys in order, text decoded from the character set") {
  for (const char* ts : {kEle, kIle}) {
    CAPTURE(ts);
    DcmDataset query;
    query.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
    query.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
    query.putAndInsertString(DCM_PatientName, "M\xDCLLER*");  // Latin-1 Ü
    query.insertEmptyElement(DCM_PatientID);
    query.putAndInsertString(DCM_StudyDate, "20240101-");
    query.insertEmptyElement(DCM_ReferencedStudySequence);
    query.putAndInsertString(DCM_ModalitiesInStudy, "CT\\MR");
    query.insertEmptyElement(DCM_RetrieveAETitle);
    const auto id = parse_find_identifier(encode(query, ts), ts);
    CHECK(id.level == "STUDY");
    CHECK(id.specific_character_set == "ISO_IR 100");
    REQUIRE(id.keys.size() == 5);
    CHECK(id.keys[0].tag == 0x00080020);
    CHECK(id.keys[0].vr == "DA");
    CHECK(id.keys[0].value == "20240101-");
    CHECK(id.keys[1].tag == 0x00080061);
    CHECK(id.keys[1].value == "CT\\MR");
    CHECK(id.keys[2].tag == 0x00081110);
    CHECK(id.keys[2].vr == "SQ");
    CHECK(id.keys[2].value.empty());
    CHECK(id.keys[3].tag == 0x00100010);
    CHECK(id.keys[3].vr == "PN");
    CHECK(id.keys[3].value == "M\xC3\x9CLLER*");
    CHECK(id.keys[4].tag == 0x00100020);
    CHECK(id.keys[4].value.empty());
  }
}

TEST_CASE("parse_find_identifier: no character set, garbage") {
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "PATIENT ");
  query.putAndInsertString(DCM_PatientID, "PAT0001");
  const auto id = parse_find_identifier(encode(query, kEle), kEle);
  CHECK(id.level == "PATIENT");
  CHECK(id.specific_character_set.empty());
  REQUIRE(id.keys.size() == 1);
  CHECK(id.keys[0].value == "PAT0001");

  const std::vector<std::uint8_t> garbage = {0x08, 0x00, 0x52, 0x00, 'C', 'S', 0xFF, 0x7F, 'X'};
  CHECK_THROWS_AS(parse_find_identifier(garbage, kEle), pacsnode::Error);
  CHECK_THROWS_AS(parse_find_identifier({}, "1.2.840.10008.1.2.4.50"), pacsnode::Error);
}

TEST_CASE("build_find_response: exactly the requested keys, level, Retrieve AE, charset when needed") {
  const std::vector<IdentifierKey> keys = {{0x00100010, "PN", "*"},
                                           {0x00100020, "LO", ""},
                                           {0x00080020, "DA", ""},
                                           {0x00081110, "SQ", ""},
                                           {0x00080061, "CS", ""},
                                           {0x00080005, "CS", ""}};
  for (const char* ts : {kEle, kIle}) {
    CAPTURE(ts);
    SUBCASE("ASCII values") {
      const auto bytes = build_find_response(keys, {{0x00100010, "DOE^JOHN"}, {0x00080061, "CT\\PT"}, {0x00200010, "X"}},
                                             "STUDY", "PACSNODE", ts);
      DcmDataset rsp;
      decode(bytes, ts, rsp);
      CHECK(rsp.card() == 7);  // 5 keys + level + Retrieve AE; no charset
      CHECK(get(rsp, DCM_PatientName) == "DOE^JOHN");
      CHECK(rsp.tagExists(DCM_PatientID));
      CHECK(get(rsp, DCM_PatientID).empty());
      CHECK(rsp.tagExists(DCM_StudyDate));
      CHECK(rsp.tagExists(DCM_ReferencedStudySequence));
      CHECK(get(rsp, DCM_ModalitiesInStudy) == "CT\\PT");
      CHECK(get(rsp, DCM_QueryRetrieveLevel) == "STUDY");
      CHECK(get(rsp, DCM_RetrieveAETitle) == "PACSNODE");
      CHECK_FALSE(rsp.tagExists(DCM_SpecificCharacterSet));
      CHECK_FALSE(rsp.tagExists(DCM_StudyID));
    }
    SUBCASE("a non-ASCII value brings ISO_IR 192") {
      const auto bytes = build_find_response(keys, {{0x00100010, "M\xC3\x9CLLER^HANS"}}, "PATIENT", "NODE", ts);
      DcmDataset rsp;
      decode(bytes, ts, rsp);
      CHECK(get(rsp, DCM_SpecificCharacterSet) == "ISO_IR 192");
      CHECK(get(rsp, DCM_PatientName) == "M\xC3\x9CLLER^HANS");
      CHECK(rsp.card() == 8);
      // and it parses back as a request identifier
      const auto id = parse_find_identifier(bytes, ts);
      CHECK(id.level == "PATIENT");
      CHECK(id.specific_character_set == "ISO_IR 192");
    }
  }
}

TEST_CASE("key_for_keyword and keyword_of: DCMTK's dictionary") {
  const auto id = pacsnode::dicom::key_for_keyword("PatientID");
  REQUIRE(id);
  CHECK(id->tag == 0x00100020);
  CHECK(id->vr == "LO");
  CHECK(id->value.empty());
  const auto date = pacsnode::dicom::key_for_keyword("StudyDate");
  REQUIRE(date);
  CHECK(date->tag == 0x00080020);
  CHECK(date->vr == "DA");
  CHECK_FALSE(pacsnode::dicom::key_for_keyword("NoSuchKeyword"));
  CHECK_FALSE(pacsnode::dicom::key_for_keyword(""));
  CHECK(pacsnode::dicom::keyword_of(0x0020000D) == "StudyInstanceUID");
  CHECK(pacsnode::dicom::keyword_of(0x00091001) == "(0009,1001)");
}

// Found by tests/fuzz/dimse_fuzz (a C-FIND-RQ whose identifier was these bytes, cut short):
// DCMTK sized the value of an element from its length field, 0xF84F3BF0 here, before
// reading it from a 20-byte buffer.
TEST_CASE("parse_find_identifier: an element longer than the identifier allocates nothing of its length") {
  using pacsnode::test::lit;
  const auto bytes = lit("\x08\x00\x52\x00" "CS" "\x06\x00" "IMAGE "  // QueryRetrieveLevel
                         "\x20\x00\x0e\x00" "UZ" "\x00\x00" "\xf0\x3b\x4f\xf8"  // unknown VR: 4-byte length
                         "\xdb\x0e\xfe\x43");
  pacsnode::test::AllocationProbe probe;
  CHECK_THROWS_AS(parse_find_identifier(bytes, kEle), pacsnode::Error);
  CHECK(probe.largest() < 64 * 1024);

  // A long value that is there is still read (it is loaded on demand, past DCM_MaxReadLength).
  DcmDataset data_set;
  data_set.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  const std::string description(10000, 'x');
  data_set.putAndInsertString(DCM_StudyDescription, description.c_str());
  for (const char* ts : {kEle, kIle}) {
    CAPTURE(ts);
    const auto identifier = parse_find_identifier(encode(data_set, ts), ts);
    REQUIRE(identifier.keys.size() == 1);
    CHECK(identifier.keys[0].value == description);
  }
  CHECK_THROWS_AS(parse_find_identifier(encode(data_set, kEle), "1.2.840.10008.1.2.1.99"), pacsnode::Error);
}
