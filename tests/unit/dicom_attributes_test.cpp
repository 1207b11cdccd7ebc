// The pieces of index extraction on data sets built for the purpose: the DICOM JSON model,
// the level of each attribute, text decoding.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"

#include "base/error.hpp"
#include "dicom/extract.hpp"
#include "dicom/japanese.hpp"
#include "dicom/levels.hpp"
#include "dicom/utf8.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace pacsnode::dicom;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void put_uids(DcmDataset& ds) {
  ds.putAndInsertString(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
  ds.putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.1");
  ds.putAndInsertString(DCM_StudyInstanceUID, "1.2.3.4.2");
  ds.putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4.3");
}

pacsnode::IndexRecord save_and_extract(DcmFileFormat& file, const fs::path& path) {
  REQUIRE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
  return extract_index_record(path);
}

std::string rejection(DcmFileFormat& file, const fs::path& path) {
  REQUIRE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
  try {
    extract_index_record(path);
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::InvalidArgument);
    return e.what();
  }
  FAIL("extracted");
  return {};
}

}  // namespace

// Found by tests/fuzz/dimse_fuzz: a DS of "10.00300E0002000" went into the JSON as the
// number 1.003e2002, which jsonb stores but nlohmann (C-FIND reading the stored attributes
// back) refuses, and with it the whole level's attributes.
TEST_CASE("dicom attributes: a DS or IS past a double's range stays a string") {
  pacsnode::test::TempDir dir("pn-attr");
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  put_uids(ds);
  ds.putAndInsertString(DCM_GridFrameOffsetVector, "0.0\\10.00300E0002000\\1e-400\\-2.5E+3");
  ds.putAndInsertString(DCM_ImagesInAcquisition, std::string(400, '9').c_str());
  const pacsnode::IndexRecord r = save_and_extract(file, dir.path() / "range.dcm");
  const std::string& json = r.instance.attributes_json;
  CHECK(contains(json, R"("3004000C":{"vr":"DS","Value":[0.0,"10.00300E0002000","1e-400",-2.5E+3]})"));
  CHECK(contains(json, R"("00201002":{"vr":"IS","Value":[")" + std::string(400, '9') + R"("]})"));
}

TEST_CASE("dicom attributes: values in the DICOM JSON model") {
  pacsnode::test::TempDir dir("pn-attr");
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  put_uids(ds);
  ds.putAndInsertString(DCM_ImageType, "ORIGINAL\\\\AXIAL");
  ds.putAndInsertString(DCM_SliceThickness, "+007.50");
  ds.putAndInsertString(DCM_PixelSpacing, "1\\2.5e3");
  ds.putAndInsertString(DCM_SpacingBetweenSlices, "abc");  // malformed DS: kept as a string
  ds.putAndInsertString(DCM_AcquisitionNumber, "+012");
  ds.putAndInsertString(DCM_PatientOrientation, "");
  ds.putAndInsertString(DCM_ImageComments, "  leading\\backslash \"quoted\"\nline");
  ds.putAndInsertString(DCM_OperatorsName, "Yamada^Tarou=山田^太郎");
  const Float64 gradient[] = {0.5, std::nan(""), -2.0};
  ds.putAndInsertFloat64Array(DCM_DiffusionGradientOrientation, gradient, 3);
  ds.putAndInsertTagKey(DCM_DimensionIndexPointer, DCM_ImagePositionPatient);
  const Uint8 small[] = {'a', 'b', 'c', 'd'};
  ds.putAndInsertUint8Array(DCM_ICCProfile, small, sizeof small);
  const std::vector<Uint8> large(2048, 0x42);
  ds.putAndInsertUint8Array(DCM_EncapsulatedDocument, large.data(), large.size());
  ds.putAndInsertOFStringArray(DCM_PatientComments, OFString(70 * 1024, 'x'));  // over 64 KiB
  ds.putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "ACME 1.0");
  ds.putAndInsertString(DcmTag(0x0009, 0x1001, EVR_LO), "vendor secret");
  DcmItem* item = nullptr;
  REQUIRE(ds.findOrCreateSequenceItem(DCM_ReferencedImageSequence, item, -2).good());
  item->putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
  item->putAndInsertString(DcmTag(0x0029, 0x0010, EVR_LO), "ACME 1.0");

  const pacsnode::IndexRecord r = save_and_extract(file, dir.path() / "values.dcm");
  const std::string& json = r.instance.attributes_json;
  CHECK(contains(json, R"("00080008":{"vr":"CS","Value":["ORIGINAL",null,"AXIAL"]})"));
  CHECK(contains(json, R"("00180050":{"vr":"DS","Value":[7.50]})"));
  CHECK(contains(json, R"("00280030":{"vr":"DS","Value":[1,2.5e3]})"));
  CHECK(contains(json, R"("00180088":{"vr":"DS","Value":["abc"]})"));
  CHECK(contains(json, R"("00200012":{"vr":"IS","Value":[12]})"));
  CHECK(contains(json, R"("00200020":{"vr":"CS"})"));
  CHECK(contains(json, R"("00204000":{"vr":"LT","Value":["  leading\\backslash \"quoted\"\nline"]})"));
  CHECK(contains(json, R"("00189089":{"vr":"FD","Value":[0.5,null,-2]})"));
  CHECK(contains(json, R"("00209165":{"vr":"AT","Value":["00200032"]})"));
  CHECK(contains(json, R"("00282000":{"vr":"OB","InlineBinary":"YWJjZA=="})"));
  CHECK(contains(json, R"("00081140":{"vr":"SQ","Value":[{"00081150":{"vr":"UI","Value":["1.2.840.10008.5.1.4.1.1.2"]}}]})"));
  CHECK_FALSE(contains(json, "00420011"));  // 2 KiB of OB: bulk
  CHECK_FALSE(contains(json, "ACME"));      // private, at any depth
  CHECK_FALSE(contains(json, "vendor secret"));
  CHECK(contains(r.series.attributes_json,
                 R"("00081070":{"vr":"PN","Value":[{"Alphabetic":"Yamada^Tarou","Ideographic":"山田^太郎"}]})"));
  CHECK(r.patient.attributes_json == "{}");  // 70 KiB of PatientComments: left out
}

TEST_CASE("dicom attributes: each attribute goes to its level") {
  pacsnode::test::TempDir dir("pn-attr");
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  put_uids(ds);
  ds.putAndInsertString(DCM_PatientName, "Doe^Jane");
  ds.putAndInsertString(DCM_OtherPatientNames, "Roe^Jane");
  ds.putAndInsertString(DCM_PatientIdentityRemoved, "NO");
  ds.putAndInsertString(DCM_PatientAge, "042Y");
  ds.putAndInsertString(DCM_PatientWeight, "70");
  ds.putAndInsertString(DCM_NameOfPhysiciansReadingStudy, "House^Gregory");
  ds.putAndInsertString(DCM_Manufacturer, "ACME");
  ds.putAndInsertString(DCM_AnatomicalOrientationType, "BIPED");
  ds.putAndInsertString(DCM_FrameOfReferenceUID, "1.2.3.4.9");
  ds.putAndInsertString(DCM_SeriesNumber, "abc");  // not an int: the JSON keeps it
  ds.putAndInsertString(DCM_InstanceNumber, "+12");
  ds.putAndInsertString(DCM_Rows, "8");

  const pacsnode::IndexRecord r = save_and_extract(file, dir.path() / "levels.dcm");
  CHECK(r.patient.patient_id == "");  // absent: allowed
  CHECK(r.patient.patient_name == "Doe^Jane");
  CHECK(r.patient.attributes_json ==
        R"({"00101001":{"vr":"PN","Value":[{"Alphabetic":"Roe^Jane"}]},"00120062":{"vr":"CS","Value":["NO"]}})");
  CHECK(r.study.attributes_json ==
        R"({"00081060":{"vr":"PN","Value":[{"Alphabetic":"House^Gregory"}]},)"
        R"("00101010":{"vr":"AS","Value":["042Y"]},"00101030":{"vr":"DS","Value":[70]}})");
  CHECK(r.series.attributes_json ==
        R"({"00080070":{"vr":"LO","Value":["ACME"]},"00102210":{"vr":"CS","Value":["BIPED"]},)"
        R"("00200011":{"vr":"IS","Value":["abc"]},"00200052":{"vr":"UI","Value":["1.2.3.4.9"]}})");
  CHECK_FALSE(r.series.series_number.has_value());
  CHECK(r.instance.instance_number == 12);
  CHECK(r.instance.attributes_json == R"({"00280010":{"vr":"US","Value":[8]}})");

  CHECK(level_of(0x00100020) == Level::Patient);
  CHECK(level_of(0x00101010) == Level::Study);
  CHECK(level_of(0x0020000D) == Level::Study);
  CHECK(level_of(0x00080060) == Level::Series);
  CHECK(level_of(0x00185100) == Level::Series);
  CHECK(level_of(0x00080018) == Level::Instance);
  CHECK(level_of(0x00091001) == Level::Instance);
}

TEST_CASE("dicom attributes: required UIDs") {
  pacsnode::test::TempDir dir("pn-attr");
  const fs::path path = dir.path() / "uids.dcm";
  {
    DcmFileFormat file;
    put_uids(*file.getDataset());
    file.getDataset()->findAndDeleteElement(DCM_SeriesInstanceUID);
    CHECK(contains(rejection(file, path), "SeriesInstanceUID (0020,000E) is missing"));
  }
  {
    DcmFileFormat file;
    put_uids(*file.getDataset());
    file.getDataset()->findAndDeleteElement(DCM_StudyInstanceUID);
    CHECK(contains(rejection(file, path), "StudyInstanceUID (0020,000D) is missing"));
  }
  {
    DcmFileFormat file;
    put_uids(*file.getDataset());
    file.getDataset()->putAndInsertString(DCM_SOPInstanceUID, "1.2.03.4");
    CHECK(contains(rejection(file, path), "SOPInstanceUID (0008,0018) is not a valid UID: '1.2.03.4'"));
  }
  {
    DcmFileFormat file;
    put_uids(*file.getDataset());
    file.getDataset()->putAndInsertString(DCM_SeriesInstanceUID, "1.2.3/../4");
    CHECK(contains(rejection(file, path), "SeriesInstanceUID (0020,000E) is not a valid UID"));
  }
}

TEST_CASE("dicom attributes: undeclared 8-bit text is read as Latin-1, NULs dropped") {
  pacsnode::test::TempDir dir("pn-attr");
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  put_uids(ds);
  ds.putAndInsertString(DCM_PatientName, "M\xFCller^J\xF6rg");  // no (0008,0005)
  ds.putAndInsertOFStringArray(DCM_StudyDescription, OFString("a\0b", 3));
  ds.putAndInsertOFStringArray(DCM_ImageComments, OFString("c\0d", 3));
  const pacsnode::IndexRecord r = save_and_extract(file, dir.path() / "latin1.dcm");
  CHECK(r.patient.patient_name == "Müller^Jörg");
  CHECK(r.study.study_description == "ab");
  CHECK(contains(r.instance.attributes_json, R"("00204000":{"vr":"LT","Value":["cd"]})"));
}

TEST_CASE("dicom attributes: to_valid_utf8") {
  CHECK(to_valid_utf8("plain ASCII") == "plain ASCII");
  CHECK(to_valid_utf8("Jérôme 山田 🙂") == "Jérôme 山田 🙂");
  CHECK(to_valid_utf8("J\xE9r\xF4me") == "Jérôme");
  CHECK(to_valid_utf8("\xC0\xAF") == "\xC3\x80\xC2\xAF");      // overlong '/': two Latin-1 bytes
  CHECK(to_valid_utf8("\xED\xA0\x80") == "\xC3\xAD\xC2\xA0\xC2\x80");  // a surrogate
  CHECK(to_valid_utf8("\xE5\xB1") == "\xC3\xA5\xC2\xB1");      // truncated sequence
  CHECK(to_valid_utf8(std::string("a\0b\0", 4)) == "ab");
}

TEST_CASE("dicom attributes: Japanese ISO 2022 decoding") {
  // chrH32.dcm's Patient Name: JIS X 0201 katakana in G1, then JIS X 0208 kanji and kana.
  const std::string h32 =
      "\xD4\xCF\xC0\xDE^\xC0\xDB\xB3=\x1B$B;3ED\x1B(J^\x1B$BB@O:\x1B(J="
      "\x1B$B$d$^$@\x1B(J^\x1B$B$?$m$&\x1B(J";
  CHECK(decode_japanese(h32, "ISO 2022 IR 13\\ISO 2022 IR 87", true) ==
        "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう");
  // JIS X 0212 (IR 159): ESC $ ( D, then 0x30 0x21 is U+4E02 "丂".
  CHECK(decode_japanese("\x1B$(D\x30\x21\x1B(B", "\\ISO 2022 IR 159", false) == "丂");
  // An escape sequence outside the Japanese sets, or a stray 8-bit byte: not decodable.
  CHECK_FALSE(decode_japanese("\x1B-A\xE9", "\\ISO 2022 IR 87", false).has_value());
  CHECK_FALSE(decode_japanese("\xE9", "\\ISO 2022 IR 87", false).has_value());
  CHECK(needs_japanese_decoder("\\ISO 2022 IR 87"));
  CHECK(needs_japanese_decoder("ISO 2022 IR 13\\ISO 2022 IR 159"));
  CHECK_FALSE(needs_japanese_decoder("ISO_IR 13"));
  CHECK_FALSE(needs_japanese_decoder("ISO_IR 192"));
}
