// What rules read: a DICOM file's attributes (text decoded, no pixel data), an IndexRecord
// and DICOM JSON — the same answers from each.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "base/error.hpp"
#include "dicom/extract.hpp"
#include "routing/rules.hpp"
#include "routing/sources.hpp"

namespace fs = std::filesystem;
using namespace pacsnode;
using namespace pacsnode::routing;

namespace {

const fs::path kTestFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
const fs::path kCharsetFiles = "/usr/lib/python3/dist-packages/pydicom/data/charset_files";

std::vector<std::string> values(const AttributeSource& a, std::uint32_t tag) {
  const Attribute* found = a.find(tag);
  return found ? found->values : std::vector<std::string>{"<absent>"};
}

bool holds(std::string_view when, const AttributeSource& a) { return Expression::parse(when).evaluate(a, {}); }

}  // namespace

TEST_CASE("rule sources: a DICOM file's attributes as text, meta header included, pixel data opaque") {
  const AttributeSet a = read_file_attributes(kTestFiles / "CT_small.dcm");
  CHECK(values(a, 0x00080060) == std::vector<std::string>{"CT"});
  CHECK(values(a, 0x00080008) == std::vector<std::string>{"ORIGINAL", "PRIMARY", "AXIAL"});
  CHECK(values(a, 0x00280010) == std::vector<std::string>{"128"});  // US, binary
  CHECK(a.find(0x00280010)->vr == "US");
  CHECK(values(a, 0x00091001) == std::vector<std::string>{"GE_GENESIS_FF"});  // private
  CHECK(values(a, 0x00091027) == std::vector<std::string>{"862399669"});      // private SL
  CHECK(values(a, 0x00020010) == std::vector<std::string>{"1.2.840.10008.1.2.1"});  // Transfer Syntax UID
  CHECK(values(a, 0x00020016) == std::vector<std::string>{"CLUNIE1"});
  CHECK(values(a, 0x00080050).empty());  // AccessionNumber: present, no value
  CHECK(values(a, 0x00080005) == std::vector<std::string>{"ISO_IR 100"});  // as written, not the decoded set
  REQUIRE(a.find(0x00101002) != nullptr);  // OtherPatientIDsSequence
  CHECK(a.find(0x00101002)->opaque);
  REQUIRE(a.find(0x7FE00010) != nullptr);  // Pixel Data: there, never read
  CHECK(a.find(0x7FE00010)->opaque);
  CHECK(a.find(0x7FE00010)->values.empty());
  CHECK(a.find(0x00180015) == nullptr);  // BodyPartExamined: absent
  CHECK(a.find(0x00020000) == nullptr);  // group lengths are left out
  CHECK(holds(R"(Modality == "CT" and Rows == 128 and (0009,1001) ~ "^GE" and exists PixelData)", a));
}

TEST_CASE("rule sources: text is decoded to UTF-8 from Specific Character Set") {
  const AttributeSet german = read_file_attributes(kCharsetFiles / "chrGerm.dcm");
  CHECK(values(german, 0x00100010) == std::vector<std::string>{"Äneas^Rüdiger"});
  CHECK(holds(R"(PatientName ~ "^Äneas")", german));
  const AttributeSet russian = read_file_attributes(kCharsetFiles / "chrRuss.dcm");
  CHECK(values(russian, 0x00100010) == std::vector<std::string>{"Люкceмбypг"});
  const AttributeSet japanese = read_file_attributes(kCharsetFiles / "chrH31.dcm");  // ISO 2022 IR 87
  CHECK(values(japanese, 0x00100010) == std::vector<std::string>{"Yamada^Tarou=山田^太郎=やまだ^たろう"});
}

TEST_CASE("rule sources: unreadable files are errors") {
  CHECK_THROWS_AS(read_file_attributes(kTestFiles / "no_such_file.dcm"), Error);
  CHECK_THROWS_AS(read_file_attributes(kTestFiles / "README.txt"), Error);
  CHECK_THROWS_AS(read_file_attributes(kTestFiles), Error);
  try {
    read_file_attributes(kTestFiles / "README.txt");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("README.txt") != std::string::npos);
    CHECK(e.code() == ErrorCode::InvalidArgument);
  }
}

TEST_CASE("rule sources: an IndexRecord gives the same answers as its file") {
  const char* rules[] = {
      R"(Modality == "CT")",
      R"(ImageType == "AXIAL" and ImageType != "LOCALIZER")",
      R"(StudyDate == "20040119" and StudyTime < "08")",
      R"(SliceThickness == 5 and KVP >= 120)",
      R"(Rows == 128)",
      R"(PatientName ~ "^CompressedSamples\^CT1$")",
      R"(PatientID == "1CT1" and exists SOPInstanceUID and exists SeriesInstanceUID)",
      R"(SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and TransferSyntaxUID == "1.2.840.10008.1.2.1")",
      R"(InstanceNumber == 1)",
      R"(exists OtherPatientIDsSequence)",
      R"(exists BodyPartExamined or exists AccessionNumber)",
      R"(Manufacturer ~ "(?i)^ge medical")",
  };
  for (const char* file : {"CT_small.dcm", "MR_small.dcm"}) {
    const AttributeSet from_file = read_file_attributes(kTestFiles / file);
    const AttributeSet from_record = record_attributes(dicom::extract_index_record(kTestFiles / file));
    for (const char* when : rules) {
      INFO(std::string(file) << ": " << std::string(when));
      CHECK(holds(when, from_file) == holds(when, from_record));
    }
  }
  const AttributeSet ct = record_attributes(dicom::extract_index_record(kTestFiles / "CT_small.dcm"));
  for (const char* when : rules) {
    INFO(std::string(when));
    CHECK(holds(when, ct) == (std::string_view(when) != R"(exists BodyPartExamined or exists AccessionNumber)"));
  }
}

TEST_CASE("rule sources: DICOM JSON (the index's stored attributes)") {
  AttributeSet a;
  add_dicom_json(a, R"({"00080060":{"vr":"CS","Value":["MR"]},"00200032":{"vr":"DS","Value":[-1.5,2,3e2]},)"
                    R"("00100010":{"vr":"PN","Value":[{"Alphabetic":"Doe^John","Ideographic":"ドウ"}]},)"
                    R"("00081140":{"vr":"SQ","Value":[{"00081150":{"vr":"UI","Value":["1.2"]}}]},)"
                    R"("00080050":{"vr":"SH"},"00282000":{"vr":"OB","InlineBinary":"AAE="}})");
  CHECK(values(a, 0x00080060) == std::vector<std::string>{"MR"});
  CHECK(values(a, 0x00200032) == std::vector<std::string>{"-1.5", "2", "300.0"});
  CHECK(values(a, 0x00100010) == std::vector<std::string>{"Doe^John=ドウ"});
  CHECK(a.find(0x00081140)->opaque);
  CHECK(a.find(0x00282000)->opaque);
  CHECK(values(a, 0x00080050).empty());
  CHECK(holds("ImagePositionPatient == 300 and exists ReferencedImageSequence and not exists AccessionNumber", a));
  CHECK_THROWS_AS(add_dicom_json(a, "[1]"), Error);
  CHECK_THROWS_AS(add_dicom_json(a, "{not json"), Error);
}

TEST_CASE("attribute sets: kept sorted by tag, set replaces") {
  AttributeSet a;
  a.set(0x00200010, "SH", {"b"});
  a.set(0x00080060, "CS", {"CT"});
  a.set(0x00100010, "PN", {"x"});
  a.set(0x00080060, "CS", {"MR"});
  a.set_text(0x00180015, "CS", "");
  REQUIRE(a.size() == 4);
  CHECK(a.attributes()[0].tag == 0x00080060u);
  CHECK(a.attributes()[1].tag == 0x00100010u);
  CHECK(a.attributes()[3].tag == 0x00200010u);
  CHECK(values(a, 0x00080060) == std::vector<std::string>{"MR"});
  CHECK(values(a, 0x00180015).empty());
  CHECK(a.find(0x00080061) == nullptr);
}
