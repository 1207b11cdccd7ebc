// extract_index_record() on pydicom's test files (Debian package python3-pydicom). Expected
// values are what pydicom 2.3 reads from the same files.
#include <doctest/doctest.h>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "dicom/extract.hpp"
#include "dicom/file_meta.hpp"
#include "tests/support/allocation_probe.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using pacsnode::IndexRecord;
using pacsnode::dicom::extract_index_record;

namespace {

const fs::path kPydicomData = "/usr/lib/python3/dist-packages/pydicom/data";

fs::path test_file(const std::string& name) {
  const fs::path path = kPydicomData / "test_files" / name;
  REQUIRE_MESSAGE(fs::exists(path), path.string() << " missing: install python3-pydicom");
  return path;
}

fs::path charset_file(const std::string& name) {
  const fs::path path = kPydicomData / "charset_files" / name;
  REQUIRE_MESSAGE(fs::exists(path), path.string() << " missing: install python3-pydicom");
  return path;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// VmHWM (peak resident set, KiB) of this process, -1 if unreadable.
long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// How far `work` raises the peak resident set, in KiB, measured in a forked child so that
// only `work` counts: the child first returns the heap it inherited but does not use
// (malloc_trim) and resets its peak to its current resident set (clear_refs 5, Linux 4.0),
// so neither the parent's earlier peak nor free memory already resident can hide what
// `work` allocates. Negative when the child could not measure (-2), `work` returned false
// or threw (-3), or the child died (-4).
long peak_growth_kib(const std::function<bool()>& work) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    long result = -2;
    ::malloc_trim(0);
    const bool reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5" << std::flush);
    const long before = peak_rss_kib();
    if (reset && before > 0) {
      try {
        result = work() ? peak_rss_kib() - before : -3;
      } catch (...) {
        result = -3;
      }
    }
    [[maybe_unused]] const auto n = ::write(fds[1], &result, sizeof result);
    ::_exit(0);  // no destructors, no doctest report from the child
  }
  ::close(fds[1]);
  long result = -4;
  if (::read(fds[0], &result, sizeof result) != static_cast<ssize_t>(sizeof result)) result = -4;
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return result;
}

// Extracts or throws pacsnode::Error; anything else (another exception, a crash) fails.
bool extracts_or_rejects(const fs::path& path) {
  try {
    extract_index_record(path);
    return true;
  } catch (const pacsnode::Error&) {
    return true;
  } catch (...) {
    return false;
  }
}

pacsnode::ErrorCode error_code_of(const fs::path& path) {
  try {
    extract_index_record(path);
  } catch (const pacsnode::Error& e) {
    return e.code();
  }
  FAIL("extracted: " << path);
  return pacsnode::ErrorCode::Internal;
}

void write_file(const fs::path& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<char> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("dicom extract: CT_small.dcm (Explicit VR Little Endian)") {
  const IndexRecord r = extract_index_record(test_file("CT_small.dcm"));
  CHECK(r.patient.patient_id == "1CT1");
  CHECK(r.patient.issuer_of_patient_id == "");
  CHECK(r.patient.patient_name == "CompressedSamples^CT1");
  CHECK(r.patient.patient_birth_date == "");
  CHECK(r.patient.patient_sex == "O");
  CHECK(r.study.study_instance_uid == "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322");
  CHECK(r.study.study_date == "20040119");
  CHECK(r.study.study_time == "072730");
  CHECK(r.study.accession_number == "");
  CHECK(r.study.study_id == "1CT1");
  CHECK(r.study.study_description == "e+1");
  CHECK(r.series.series_instance_uid == "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322");
  CHECK(r.series.modality == "CT");
  CHECK(r.series.series_number == 1);
  CHECK(r.series.series_date == "19970430");
  CHECK(r.series.series_time == "112749");
  CHECK(r.instance.sop_instance_uid == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322");
  CHECK(r.instance.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2");
  CHECK(r.instance.instance_number == 1);
  CHECK(r.instance.content_date == "19970430");
  CHECK(r.instance.content_time == "113008");
  CHECK(r.instance.transfer_syntax_uid == "1.2.840.10008.1.2.1");

  // Each level's other attributes, in the DICOM JSON model.
  CHECK(contains(r.patient.attributes_json,  // OtherPatientIDsSequence, two items
                 R"("00101002":{"vr":"SQ","Value":[{"00100020":{"vr":"LO","Value":["ABCD1234"]})"));
  CHECK(contains(r.study.attributes_json, R"("00101010":{"vr":"AS","Value":["000Y"]})"));
  CHECK(contains(r.series.attributes_json, R"("00080070":{"vr":"LO","Value":["GE MEDICAL SYSTEMS"]})"));
  CHECK(contains(r.instance.attributes_json,
                 R"("00080008":{"vr":"CS","Value":["ORIGINAL","PRIMARY","AXIAL"]})"));
  CHECK(contains(r.instance.attributes_json, R"("00280010":{"vr":"US","Value":[128]})"));
  CHECK(contains(r.instance.attributes_json, R"("00280120":{"vr":"SS","Value":[-2000]})"));
  CHECK(contains(r.instance.attributes_json,
                 R"("00200032":{"vr":"DS","Value":[-158.135803,-179.035797,-75.699997]})"));
  // Own fields, bulk data, private tags and the character set stay out.
  for (const auto* json : {&r.patient.attributes_json, &r.study.attributes_json,
                           &r.series.attributes_json, &r.instance.attributes_json}) {
    CHECK(json->front() == '{');
    CHECK(json->back() == '}');
    CHECK_FALSE(contains(*json, "\"7FE00010\""));
    CHECK_FALSE(contains(*json, "\"00080005\""));
    CHECK_FALSE(contains(*json, "\"00080018\""));
    CHECK_FALSE(contains(*json, "\"00100010\""));
    CHECK_FALSE(contains(*json, "\"00431028\""));  // a GE private attribute in this file
  }
}

TEST_CASE("dicom extract: MR_small_bigendian.dcm (Explicit VR Big Endian)") {
  const IndexRecord r = extract_index_record(test_file("MR_small_bigendian.dcm"));
  CHECK(r.patient.patient_id == "4MR1");
  CHECK(r.patient.patient_name == "CompressedSamples^MR1");
  CHECK(r.patient.patient_sex == "F");
  CHECK(r.study.study_instance_uid == "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457");
  CHECK(r.study.study_date == "20040826");
  CHECK(r.study.study_time == "185059");
  CHECK(r.series.series_instance_uid == "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457");
  CHECK(r.series.modality == "MR");
  CHECK(r.instance.sop_instance_uid == "1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457");
  CHECK(r.instance.sop_class_uid == "1.2.840.10008.5.1.4.1.1.4");
  CHECK(r.instance.transfer_syntax_uid == "1.2.840.10008.1.2.2");
  // Binary numbers are byte-swapped: Rows 64.
  CHECK(contains(r.instance.attributes_json, R"("00280010":{"vr":"US","Value":[64]})"));
}

TEST_CASE("dicom extract: JPEG2000.dcm (encapsulated JPEG 2000)") {
  const IndexRecord r = extract_index_record(test_file("JPEG2000.dcm"));
  CHECK(r.patient.patient_id == "8NM1");
  CHECK(r.patient.patient_name == "CompressedSamples^NM1");
  CHECK(r.patient.patient_sex == "M");
  CHECK(r.study.study_description == "Whole Body Bone");
  CHECK(r.series.modality == "NM");
  CHECK(r.series.body_part_examined == "WHOLE BODY");
  CHECK(r.series.series_date == "19970806");
  CHECK(r.series.series_time == "122931");
  CHECK(r.instance.sop_instance_uid == "1.3.6.1.4.1.5962.1.1.8.1.3.20040826185059.5457");
  CHECK(r.instance.sop_class_uid == "1.2.840.10008.5.1.4.1.1.7");
  CHECK(r.instance.instance_number == 3);
  CHECK(r.instance.transfer_syntax_uid == "1.2.840.10008.1.2.4.91");
}

TEST_CASE("dicom extract: SC_rgb_rle.dcm (RLE, ISO_IR 192)") {
  const IndexRecord r = extract_index_record(test_file("SC_rgb_rle.dcm"));
  CHECK(r.patient.patient_id == "ID1");
  CHECK(r.patient.patient_name == "Lestrade^G");
  CHECK(r.study.study_instance_uid ==
        "1.2.826.0.1.3680043.8.498.12406831542731051035295345080039845114");
  CHECK(r.study.study_date == "20170101");
  CHECK(r.study.referring_physician_name == "Moriarty^James");
  CHECK(r.series.series_instance_uid ==
        "1.2.826.0.1.3680043.8.498.16157229083793556332623330502397121062");
  CHECK(r.series.modality == "OT");
  CHECK(r.instance.sop_instance_uid ==
        "1.2.826.0.1.3680043.8.498.49043964482360854182530167603505525116");
  CHECK(r.instance.transfer_syntax_uid == "1.2.840.10008.1.2.5");
}

TEST_CASE("dicom extract: rtdose.dcm and rtplan.dcm (Implicit VR, no Instance Number)") {
  const IndexRecord dose = extract_index_record(test_file("rtdose.dcm"));
  CHECK(dose.patient.patient_id == "id11111");
  CHECK(dose.patient.patient_name == "Lastname^Firstname");
  CHECK(dose.study.study_instance_uid == "1.2.999.999.99.9.9999.8888");
  CHECK(dose.study.study_id == "S1");
  CHECK(dose.series.series_instance_uid == "1.2.777.777.77.7.7777.7777");
  CHECK(dose.series.modality == "RTDOSE");
  CHECK(dose.instance.sop_instance_uid == "1.9.999.999.99.9.9999.9999.20030818153516");
  CHECK(dose.instance.sop_class_uid == "1.2.840.10008.5.1.4.1.1.481.2");
  CHECK_FALSE(dose.instance.instance_number.has_value());
  CHECK(dose.instance.transfer_syntax_uid == "1.2.840.10008.1.2");

  const IndexRecord plan = extract_index_record(test_file("rtplan.dcm"));
  CHECK(plan.patient.patient_name == "Last^First^mid^pre");
  CHECK(plan.study.study_instance_uid == "1.22.333.4.555555.6.7777777777777777777777777777");
  CHECK(plan.study.study_id == "study1");
  CHECK(plan.series.series_number == 2);
  CHECK(plan.series.modality == "RTPLAN");
}

TEST_CASE("dicom extract: rtdose_rle.dcm sends UIDs as UN; the dictionary's VR is used") {
  const IndexRecord r = extract_index_record(test_file("rtdose_rle.dcm"));
  CHECK(r.study.study_instance_uid == "1.2.999.999.99.9.9999.8888");
  CHECK(r.series.series_instance_uid == "1.2.777.777.77.7.7777.7777");
}

TEST_CASE("dicom extract: image_dfl.dcm (Deflated Explicit VR Little Endian)") {
  const IndexRecord r = extract_index_record(test_file("image_dfl.dcm"));
  CHECK(r.patient.patient_id == "");  // absent PatientID is allowed
  CHECK(r.patient.patient_name == "^^^^");
  CHECK(r.study.study_instance_uid == "1.3.6.1.4.1.5962.1.2.0.977067310.6001.0");
  CHECK(r.series.series_instance_uid == "1.3.6.1.4.1.5962.1.3.0.0.977067310.6001.0");
  CHECK(r.series.modality == "OT");
  CHECK(r.instance.sop_instance_uid == "1.3.6.1.4.1.5962.1.1.0.0.0.977067309.6001.0");
  CHECK(r.instance.transfer_syntax_uid == "1.2.840.10008.1.2.1.99");
}

namespace {

// An Explicit VR Little Endian element (OB and UN with their 4-byte length); `declared`
// overrides the length field.
std::string ele(std::uint16_t group, std::uint16_t number, const char* vr, std::string value,
                std::optional<std::uint32_t> declared = std::nullopt) {
  if (value.size() % 2 != 0) value += '\0';
  const std::uint32_t length = declared.value_or(static_cast<std::uint32_t>(value.size()));
  std::string out{static_cast<char>(group & 0xFF), static_cast<char>(group >> 8), static_cast<char>(number & 0xFF),
                  static_cast<char>(number >> 8), vr[0], vr[1]};
  if (std::string_view(vr) == "OB" || std::string_view(vr) == "UN") {
    out += std::string(2, '\0');
    for (int i = 0; i < 4; ++i) out += static_cast<char>((length >> (8 * i)) & 0xFF);
  } else {
    out += static_cast<char>(length & 0xFF);
    out += static_cast<char>(length >> 8);
  }
  return out + value;
}

// A Part-10 file in Deflated Explicit VR Little Endian: our meta header, then `data_set`
// (ELE bytes, `zeros` zero bytes after them) raw-deflated.
void write_deflated(const fs::path& path, const std::string& data_set, std::size_t zeros = 0) {
  pacsnode::dicom::FileMeta meta;
  meta.media_storage_sop_class_uid = "1.2.840.10008.5.1.4.1.1.7";
  meta.media_storage_sop_instance_uid = "1.2.3.4.5.6.7.8.9";
  meta.transfer_syntax_uid = "1.2.840.10008.1.2.1.99";
  meta.implementation_class_uid = "1.2.3.4";
  const std::vector<std::uint8_t> header = pacsnode::dicom::encode_file_meta(meta);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
  z_stream z{};
  REQUIRE(deflateInit2(&z, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<unsigned char> buffer(1 << 20);
  const std::string zero_chunk(1 << 20, '\0');
  const auto feed = [&](const char* data, std::size_t size, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z.avail_in = static_cast<uInt>(size);
    do {
      z.next_out = buffer.data();
      z.avail_out = static_cast<uInt>(buffer.size());
      deflate(&z, flush);
      out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size() - z.avail_out));
    } while (z.avail_out == 0);
  };
  feed(data_set.data(), data_set.size(), Z_NO_FLUSH);
  for (std::size_t left = zeros; left > 0;) {
    const std::size_t n = std::min(left, zero_chunk.size());
    feed(zero_chunk.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  feed(nullptr, 0, Z_FINISH);
  deflateEnd(&z);
}

std::string required_uids() {
  return ele(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7") + ele(0x0008, 0x0018, "UI", "1.2.3.4.5.6.7.8.9") +
         ele(0x0020, 0x000D, "UI", "1.2.3.4") + ele(0x0020, 0x000E, "UI", "1.2.3.4.5");
}

}  // namespace

// Found by tests/fuzz/dimse_fuzz: behind its inflating filter DCMTK sized a value from its
// length field before reading it, so that a C-STORE of a few hundred deflated bytes made the
// node allocate 4 GB.
TEST_CASE("dicom extract: a deflated element longer than the data set allocates nothing of its length") {
  pacsnode::test::TempDir dir("pn-dfl");
  const fs::path path = dir.path() / "claims.dcm";
  write_deflated(path, required_uids() + ele(0x0009, 0x1010, "OB", std::string(100, 'x'), 0xF0000000u));
  pacsnode::test::AllocationProbe probe;
  CHECK_THROWS_AS(extract_index_record(path), pacsnode::Error);
  CHECK(probe.largest() < 64 * 1024);

  // The same with a value that is all there, past DCM_MaxReadLength: read, and indexed.
  write_deflated(path, required_uids() + ele(0x0010, 0x0010, "PN", "Deflated^Patient") +
                           ele(0x0009, 0x1010, "OB", std::string(100000, 'x')));
  const IndexRecord r = extract_index_record(path);
  CHECK(r.patient.patient_name == "Deflated^Patient");
  CHECK(r.instance.transfer_syntax_uid == "1.2.840.10008.1.2.1.99");
}

TEST_CASE("dicom extract: a deflated data set that inflates past 256 MiB is refused") {
  pacsnode::test::TempDir dir("pn-dfl");
  const fs::path path = dir.path() / "bomb.dcm";
  const std::size_t zeros = 257u << 20;
  write_deflated(path, required_uids() + ele(0x7FE0, 0x0010, "OB", "", static_cast<std::uint32_t>(zeros)), zeros);
  CHECK(fs::file_size(path) < 2u << 20);
  try {
    extract_index_record(path);
    FAIL("extracted");
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::InvalidArgument);
    CHECK(contains(e.what(), "inflates past 256 MiB"));
  }
}

TEST_CASE("dicom extract: waveform_ecg.dcm and 693_J2KI.dcm") {
  const IndexRecord ecg = extract_index_record(test_file("waveform_ecg.dcm"));
  CHECK(ecg.patient.patient_id == "642341");
  CHECK(ecg.patient.patient_birth_date == "19710123");
  CHECK(ecg.study.accession_number == "03028041970546");
  CHECK(ecg.study.study_description == "ECG");
  CHECK(ecg.study.referring_physician_name == "2721");
  CHECK(ecg.series.modality == "ECG");
  CHECK_FALSE(ecg.series.series_number.has_value());
  CHECK(ecg.instance.content_time == "105919");
  CHECK_FALSE(contains(ecg.instance.attributes_json, "\"54001010\""));  // WaveformData: bulk

  const IndexRecord ct = extract_index_record(test_file("693_J2KI.dcm"));
  CHECK(ct.patient.patient_id == "CQ500-CT-310");
  CHECK(ct.series.series_description == "5/5mm Plain");
  CHECK(ct.series.series_number == 2);
  CHECK(ct.instance.instance_number == 21);
  CHECK(ct.instance.sop_instance_uid ==
        "1.2.826.0.1.3680043.2.1143.6234428899086018376578420169896863246");
}

TEST_CASE("dicom extract: every well-formed pydicom test file extracts") {
  for (const char* name :
       {"693_J2KI.dcm", "CT_small.dcm", "ExplVR_BigEnd.dcm", "J2K_pixelrep_mismatch.dcm",
        "JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "JPEG2000.dcm",
        "JPGExtended.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm",
        "MR_small_expb.dcm", "MR_small_implicit.dcm", "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm", "MR_small_padded.dcm", "GDCMJ2K_TextGBR.dcm",
        "SC_jpeg_no_color_transform.dcm", "SC_jpeg_no_color_transform_2.dcm",
        "SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_+eb+cy+n2.dcm",
        "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm", "SC_rgb_dcmtk_+eb+cy+s4.dcm",
        "SC_rgb_gdcm_KY.dcm", "SC_rgb_jpeg_app14_dcmd.dcm", "SC_rgb_jpeg_dcmd.dcm",
        "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_jpeg_lossy_gdcm.dcm",
        "SC_rgb_rle.dcm", "SC_rgb_rle_16bit.dcm", "SC_rgb_rle_16bit_2frame.dcm",
        "SC_rgb_rle_2frame.dcm", "SC_rgb_rle_32bit.dcm", "SC_rgb_rle_32bit_2frame.dcm",
        "SC_rgb_small_odd.dcm", "SC_rgb_small_odd_jpeg.dcm", "SC_ybr_full_422_uncompressed.dcm",
        "badVR.dcm", "image_dfl.dcm", "liver_1frame.dcm", "liver_expb_1frame.dcm",
        "reportsi.dcm", "reportsi_with_empty_number_tags.dcm", "rtdose.dcm", "rtdose_1frame.dcm",
        "rtdose_expb.dcm", "rtdose_expb_1frame.dcm", "rtdose_rle.dcm", "rtdose_rle_1frame.dcm",
        "rtplan.dcm", "test-SR.dcm", "waveform_ecg.dcm"}) {
    CAPTURE(name);
    IndexRecord r;
    CHECK_NOTHROW(r = extract_index_record(test_file(name)));
    CHECK_FALSE(r.instance.sop_instance_uid.empty());
  }
}

TEST_CASE("dicom extract: broken or incomplete files are rejected with InvalidArgument") {
  using pacsnode::ErrorCode;
  for (const char* name :
       {"no_meta.dcm", "ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm", "rtstruct.dcm",
        "meta_missing_tsyntax.dcm",              // no meta header in DCMTK's eyes
        "MR_truncated.dcm", "rtplan_truncated.dcm",  // truncated
        "SC_rgb_jpeg.dcm",                          // garbage after the meta header
        "UN_sequence.dcm", "empty_charset_LEI.dcm", "nested_priv_SQ.dcm", "priv_SQ.dcm",
        "no_meta_group_length.dcm"}) {              // no Study/Series/SOP Instance UID
    CAPTURE(name);
    CHECK(error_code_of(test_file(name)) == ErrorCode::InvalidArgument);
  }
  pacsnode::test::TempDir dir("pn-extract");
  CHECK(error_code_of(dir.path() / "absent.dcm") == ErrorCode::NotFound);
  CHECK(error_code_of(dir.path()) == ErrorCode::InvalidArgument);
  write_file(dir.path() / "empty.dcm", {});
  CHECK(error_code_of(dir.path() / "empty.dcm") == ErrorCode::InvalidArgument);
}

TEST_CASE("dicom extract: every pydicom file, truncations and corruptions never crash") {
  std::vector<fs::path> files;
  for (const char* dir : {"test_files", "charset_files"}) {
    for (const auto& entry : fs::directory_iterator(kPydicomData / dir)) {
      if (entry.path().extension() == ".dcm") files.push_back(entry.path());
    }
  }
  REQUIRE(files.size() > 60);
  for (const auto& path : files) {
    CAPTURE(path);
    CHECK(extracts_or_rejects(path));
  }

  pacsnode::test::TempDir dir("pn-fuzz");
  const fs::path damaged = dir.path() / "damaged.dcm";
  for (const char* name : {"CT_small.dcm", "rtplan.dcm", "JPEG2000.dcm", "MR_small_implicit.dcm"}) {
    const std::vector<char> original = read_file(test_file(name));
    for (std::size_t size = 0; size < original.size(); size += 173) {
      CAPTURE(name);
      CAPTURE(size);
      write_file(damaged, std::vector<char>(original.begin(), original.begin() + size));
      CHECK(extracts_or_rejects(damaged));
    }
    std::mt19937 random(42);
    for (int round = 0; round < 150; ++round) {
      std::vector<char> corrupt = original;
      for (int k = 0; k < 8; ++k) {
        // Past the preamble; lengths and VRs are the interesting bytes.
        const std::size_t at = 132 + random() % (corrupt.size() - 132);
        corrupt[at] = static_cast<char>(random() % 4 == 0 ? 0xFF : random());
      }
      CAPTURE(name);
      CAPTURE(round);
      write_file(damaged, corrupt);
      CHECK(extracts_or_rejects(damaged));
    }
  }
}

TEST_CASE("dicom extract: text is UTF-8, decoded from Specific Character Set") {
  struct Case {
    const char* file;
    const char* patient_name;  // as pydicom 2.3 decodes it
  };
  for (const Case& c : {
           Case{"chrFren.dcm", "Buc^Jérôme"},                                        // ISO_IR 100
           Case{"chrGerm.dcm", "Äneas^Rüdiger"},                                     // ISO_IR 100
           Case{"chrGreek.dcm", "Διονυσιος"},                                        // ISO_IR 126
           Case{"chrRuss.dcm", "Люкceмбypг"},                                        // ISO_IR 144
           Case{"chrArab.dcm", "قباني^لنزار"},                                       // ISO_IR 127
           Case{"chrHbrw.dcm", "שרון^דבורה"},                                        // ISO_IR 138
           Case{"chrX1.dcm", "Wang^XiaoDong=王^小東"},                               // ISO_IR 192
           Case{"chrX2.dcm", "Wang^XiaoDong=王^小东"},                               // GB18030
           Case{"chrI2.dcm", "Hong^Gildong=洪^吉洞=홍^길동"},                        // IR 149
           Case{"chrKoreanMulti.dcm", "김희중"},                                     // IR 149
           Case{"chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう"},               // IR 87
           Case{"chrH32.dcm", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"},                    // IR 13, 87
           Case{"chrJapMulti.dcm", "やまだ^たろう"},                                 // IR 87
           Case{"chrJapMultiExplicitIR6.dcm", "やまだ^たろう"},                      // IR 6, 87
       }) {
    CAPTURE(c.file);
    const IndexRecord r = extract_index_record(charset_file(c.file));
    CHECK(r.patient.patient_name == c.patient_name);
  }
  // Text in the JSON too: OtherPatientNames and AdditionalPatientHistory (study level).
  const IndexRecord japanese = extract_index_record(charset_file("chrJapMulti.dcm"));
  CHECK(contains(japanese.patient.attributes_json,
                 R"("00101001":{"vr":"PN","Value":[{"Alphabetic":"やまだ^たろう"},)"
                 R"({"Alphabetic":"やまだ^たろう"}]})"));
  CHECK(contains(japanese.study.attributes_json, R"("001021B0":{"vr":"LT","Value":["たろう"]})"));
}

TEST_CASE("dicom extract: threads extracting at once get what one thread gets") {
  const std::vector<std::string> names = {"CT_small.dcm", "MR_small_bigendian.dcm",
                                          "JPEG2000.dcm", "image_dfl.dcm", "rtplan.dcm"};
  std::vector<std::string> expected;
  for (const auto& name : names) {
    const IndexRecord r = extract_index_record(test_file(name));
    expected.push_back(r.instance.attributes_json + r.series.attributes_json);
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        for (std::size_t i = 0; i < names.size(); ++i) {
          const IndexRecord r = extract_index_record(kPydicomData / "test_files" / names[i]);
          if (r.instance.attributes_json + r.series.attributes_json != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("dicom extract: a 200 MB instance costs little memory") {
  pacsnode::test::TempDir dir("pn-big");
  const fs::path path = dir.path() / "big.dcm";
  {
    pacsnode::dicom::FileMeta meta;
    meta.media_storage_sop_class_uid = "1.2.840.10008.5.1.4.1.1.7";
    meta.media_storage_sop_instance_uid = "1.2.3.4.5.6.7.8.9";
    meta.transfer_syntax_uid = "1.2.840.10008.1.2.1";
    meta.implementation_class_uid = "1.2.3.4";
    const std::vector<std::uint8_t> header = pacsnode::dicom::encode_file_meta(meta);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    const auto element = [&](std::uint16_t group, std::uint16_t number, const char* vr,
                             std::string value) {
      if (value.size() % 2 != 0) value += vr[0] == 'U' && vr[1] == 'I' ? '\0' : ' ';
      const char head[8] = {static_cast<char>(group & 0xFF), static_cast<char>(group >> 8),
                            static_cast<char>(number & 0xFF), static_cast<char>(number >> 8),
                            vr[0], vr[1], static_cast<char>(value.size() & 0xFF),
                            static_cast<char>(value.size() >> 8)};
      out.write(head, 8);
      out << value;
    };
    element(0x0008, 0x0016, "UI", meta.media_storage_sop_class_uid);
    element(0x0008, 0x0018, "UI", meta.media_storage_sop_instance_uid);
    element(0x0010, 0x0010, "PN", "Big^Instance");
    element(0x0010, 0x0020, "LO", "BIG-1");
    element(0x0020, 0x000D, "UI", "1.2.3.4.5.6.7.8");
    element(0x0020, 0x000E, "UI", "1.2.3.4.5.6.7.8.1");
    constexpr std::uint32_t kPixelBytes = 200u * 1024 * 1024;
    const char pixel_head[12] = {'\xE0', '\x7F', 0x10, 0x00, 'O', 'W', 0, 0,
                                 static_cast<char>(kPixelBytes & 0xFF),
                                 static_cast<char>((kPixelBytes >> 8) & 0xFF),
                                 static_cast<char>((kPixelBytes >> 16) & 0xFF),
                                 static_cast<char>(kPixelBytes >> 24)};
    out.write(pixel_head, sizeof pixel_head);
    const std::vector<char> chunk(1024 * 1024, '\x5A');
    for (std::uint32_t written = 0; written < kPixelBytes; written += chunk.size()) {
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
    REQUIRE(out.good());
  }
  REQUIRE(fs::file_size(path) > 200u * 1024 * 1024);

  // Measured in a child of its own: this process's peak (ru_maxrss) is whatever an earlier
  // test reached, so a 200 MB allocation here could hide below it.
  const long grown_kib = peak_growth_kib([&] {
    const IndexRecord r = extract_index_record(path);
    return r.patient.patient_name == "Big^Instance";
  });
  REQUIRE_MESSAGE(grown_kib >= 0, "the child could not measure or extract (" << grown_kib << ")");
  MESSAGE("extract_index_record of a 200 MB instance grew the resident set by " << grown_kib << " KiB");
  CHECK(grown_kib < 50 * 1024);

  const IndexRecord r = extract_index_record(path);
  CHECK(r.patient.patient_name == "Big^Instance");
  CHECK(r.instance.sop_instance_uid == "1.2.3.4.5.6.7.8.9");
  CHECK_FALSE(contains(r.instance.attributes_json, "7FE00010"));
}
