#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"

#include "base/error.hpp"
#include "dicom/file_meta.hpp"
#include "tests/support/temp_dir.hpp"

using pacsnode::dicom::encode_file_meta;
using pacsnode::dicom::file_meta_length;
using pacsnode::dicom::FileMeta;

namespace {

FileMeta sample_meta() {
  FileMeta meta;
  meta.media_storage_sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";  // CT Image Storage
  meta.media_storage_sop_instance_uid = "1.2.3.4.5.6.7";         // odd length: NUL pad
  meta.transfer_syntax_uid = "1.2.840.10008.1.2";                // Implicit VR Little Endian
  meta.implementation_class_uid = "1.2.826.0.1.3680043.10.1337.1.0.1.0";
  meta.implementation_version_name = "PACSNODE_010";
  meta.source_ae_title = "MODALITY1";                            // odd length: space pad
  return meta;
}

// An Implicit VR Little Endian element: tag, 4-byte length, value padded to even length.
void put_ile(std::vector<std::uint8_t>& out, std::uint16_t group, std::uint16_t element,
             std::string value, char pad) {
  if (value.size() % 2 != 0) value += pad;
  for (const std::uint16_t v : {group, element}) {
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  const auto length = static_cast<std::uint32_t>(value.size());
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(length >> shift));
  out.insert(out.end(), value.begin(), value.end());
}

std::string meta_string(DcmFileFormat& file, const DcmTagKey& tag) {
  OFString value;
  REQUIRE(file.getMetaInfo()->findAndGetOFStringArray(tag, value).good());
  return value.c_str();
}

std::string data_set_string(DcmFileFormat& file, const DcmTagKey& tag) {
  OFString value;
  REQUIRE(file.getDataset()->findAndGetOFStringArray(tag, value).good());
  return value.c_str();
}

}  // namespace

TEST_CASE("dicom file meta: DCMTK reads meta and an Implicit VR data set back") {
  const FileMeta meta = sample_meta();
  std::vector<std::uint8_t> bytes = encode_file_meta(meta);
  put_ile(bytes, 0x0008, 0x0016, meta.media_storage_sop_class_uid, '\0');
  put_ile(bytes, 0x0008, 0x0018, meta.media_storage_sop_instance_uid, '\0');
  put_ile(bytes, 0x0010, 0x0010, "Doe^John", ' ');
  put_ile(bytes, 0x0010, 0x0020, "ID-42", ' ');

  pacsnode::test::TempDir dir("pn-meta");
  const auto path = dir.path() / "instance.dcm";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));

  DcmFileFormat file;
  REQUIRE(file.loadFile(OFFilename(path.c_str()), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                        ERM_fileOnly)
              .good());
  CHECK(meta_string(file, DCM_MediaStorageSOPClassUID) == meta.media_storage_sop_class_uid);
  CHECK(meta_string(file, DCM_MediaStorageSOPInstanceUID) == meta.media_storage_sop_instance_uid);
  CHECK(meta_string(file, DCM_TransferSyntaxUID) == meta.transfer_syntax_uid);
  CHECK(meta_string(file, DCM_ImplementationClassUID) == meta.implementation_class_uid);
  CHECK(meta_string(file, DCM_ImplementationVersionName) == "PACSNODE_010");
  CHECK(meta_string(file, DCM_SourceApplicationEntityTitle) == "MODALITY1");
  const Uint8* version = nullptr;
  unsigned long version_length = 0;
  REQUIRE(file.getMetaInfo()
              ->findAndGetUint8Array(DCM_FileMetaInformationVersion, version, &version_length)
              .good());
  REQUIRE(version_length == 2);
  CHECK(version[0] == 0x00);
  CHECK(version[1] == 0x01);

  CHECK(file.getDataset()->getOriginalXfer() == EXS_LittleEndianImplicit);
  CHECK(data_set_string(file, DCM_SOPInstanceUID) == meta.media_storage_sop_instance_uid);
  CHECK(data_set_string(file, DCM_PatientName) == "Doe^John");
  CHECK(data_set_string(file, DCM_PatientID) == "ID-42");
}

TEST_CASE("dicom file meta: layout, padding and group length") {
  const std::vector<std::uint8_t> bytes = encode_file_meta(sample_meta());
  REQUIRE(bytes.size() > 144);
  CHECK(std::all_of(bytes.begin(), bytes.begin() + 128, [](std::uint8_t b) { return b == 0; }));
  CHECK(std::string(bytes.begin() + 128, bytes.begin() + 132) == "DICM");
  // (0002,0000) UL 4, value = bytes after it.
  const std::vector<std::uint8_t> group_length_header = {0x02, 0x00, 0x00, 0x00, 'U', 'L', 0x04, 0x00};
  CHECK(std::equal(group_length_header.begin(), group_length_header.end(), bytes.begin() + 132));
  const std::uint32_t group_length = bytes[140] | bytes[141] << 8 | bytes[142] << 16 | bytes[143] << 24;
  CHECK(group_length == bytes.size() - 144);
  CHECK(bytes.size() % 2 == 0);
  CHECK(file_meta_length(bytes) == bytes.size());

  // "1.2.3.4.5.6.7" (13) is padded with NUL, "MODALITY1" (9) with a space.
  const std::string text(bytes.begin(), bytes.end());
  CHECK(text.find(std::string("1.2.3.4.5.6.7\0", 14)) != std::string::npos);
  CHECK(text.find("MODALITY1 ") != std::string::npos);
  // The AE title is the last element: (0002,0016) AE, length 10.
  const std::string ae_element = std::string("\x02\x00\x16\x00" "AE\x0A\x00", 8) + "MODALITY1 ";
  CHECK(text.substr(text.size() - ae_element.size()) == ae_element);
}

TEST_CASE("dicom file meta: optional elements are left out when empty") {
  FileMeta meta = sample_meta();
  meta.implementation_version_name.clear();
  meta.source_ae_title.clear();
  const std::vector<std::uint8_t> bytes = encode_file_meta(meta);
  const std::string text(bytes.begin(), bytes.end());
  CHECK(text.find(std::string("\x02\x00\x13\x00", 4)) == std::string::npos);
  CHECK(text.find(std::string("\x02\x00\x16\x00", 4)) == std::string::npos);
  CHECK(file_meta_length(bytes) == bytes.size());
}

TEST_CASE("dicom file meta: invalid values are rejected") {
  const auto rejects = [](FileMeta meta) {
    try {
      encode_file_meta(meta);
    } catch (const pacsnode::Error& e) {
      return e.code() == pacsnode::ErrorCode::InvalidArgument;
    }
    return false;
  };
  FileMeta meta = sample_meta();
  meta.media_storage_sop_instance_uid = "1.2.03";
  CHECK(rejects(meta));
  meta = sample_meta();
  meta.transfer_syntax_uid = "";
  CHECK(rejects(meta));
  meta = sample_meta();
  meta.source_ae_title = "AN_AE_TITLE_TOO_LONG";
  CHECK(rejects(meta));
  meta = sample_meta();
  meta.source_ae_title = "BAD\\AE";
  CHECK(rejects(meta));
  meta = sample_meta();
  meta.implementation_version_name = std::string("V\n1");
  CHECK(rejects(meta));
}

TEST_CASE("dicom file meta: file_meta_length needs a preamble, DICM and (0002,0000)") {
  std::vector<std::uint8_t> bytes = encode_file_meta(sample_meta());
  CHECK_FALSE(file_meta_length(std::span(bytes).first(143)).has_value());
  CHECK(file_meta_length(std::span(bytes).first(144)) == bytes.size());
  std::vector<std::uint8_t> no_dicm = bytes;
  no_dicm[128] = 'X';
  CHECK_FALSE(file_meta_length(no_dicm).has_value());
  std::vector<std::uint8_t> no_group_length = bytes;
  no_group_length[134] = 0x01;  // (0002,0001) first
  CHECK_FALSE(file_meta_length(no_group_length).has_value());
  CHECK_FALSE(file_meta_length({}).has_value());
}
