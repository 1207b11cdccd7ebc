// Transcoding policy (dicom/transcode.hpp): which syntax an instance goes out in.
#include <doctest/doctest.h>

#include <fstream>

#include "base/error.hpp"
#include "dicom/jpeg2000.hpp"
#include "dicom/transcode.hpp"
#include "tests/support/temp_dir.hpp"

using namespace pacsnode;
using namespace pacsnode::dicom;

namespace {
const std::string kEle = "1.2.840.10008.1.2.1";
const std::string kIle = "1.2.840.10008.1.2";
const std::string kEbe = "1.2.840.10008.1.2.2";
const std::string kJpegBaseline = "1.2.840.10008.1.2.4.50";
const std::string kJpegLossless = "1.2.840.10008.1.2.4.70";
const std::string kJpegLs = "1.2.840.10008.1.2.4.80";
const std::string kJpegLsNear = "1.2.840.10008.1.2.4.81";
const std::string kJ2kLossless = "1.2.840.10008.1.2.4.90";
const std::string kJ2k = "1.2.840.10008.1.2.4.91";
const std::string kRle = "1.2.840.10008.1.2.5";
const std::string kMpeg2 = "1.2.840.10008.1.2.4.100";
}  // namespace

TEST_CASE("choose_transfer_syntax: the stored syntax first, then uncompressed, then lossless encoders") {
  CHECK(choose_transfer_syntax(kJ2kLossless, {kEle, kJ2kLossless}) == kJ2kLossless);
  CHECK(choose_transfer_syntax(kJ2kLossless, {kIle, kEle}) == kEle);
  CHECK(choose_transfer_syntax(kJ2kLossless, {kIle}) == kIle);
  CHECK(choose_transfer_syntax(kRle, {kEbe}) == kEbe);
  CHECK(choose_transfer_syntax(kEle, {kIle}) == kIle);
  // A peer that takes only compressed syntaxes: lossless data is re-encoded losslessly.
  CHECK(choose_transfer_syntax(kEle, {kRle, kJpegLs}) == kJpegLs);
  CHECK(choose_transfer_syntax(kJ2kLossless, {kJpegLossless}) == kJpegLossless);
  CHECK(choose_transfer_syntax(kRle, {kRle}) == kRle);
  // Lossy data: decoded to uncompressed only, never re-encoded as "lossless".
  CHECK(choose_transfer_syntax(kJpegBaseline, {kEle}) == kEle);
  CHECK(choose_transfer_syntax(kJpegBaseline, {kJpegLs, kRle, kJpegLossless}) == std::nullopt);
  CHECK(choose_transfer_syntax(kJ2k, {kJpegLs}) == std::nullopt);
  CHECK(choose_transfer_syntax(kJpegLsNear, {kRle}) == std::nullopt);
  // Never lossless → lossy.
  CHECK(choose_transfer_syntax(kEle, {kJpegBaseline, kJ2k}) == std::nullopt);
  // What we cannot decode goes only as it is.
  CHECK(choose_transfer_syntax(kMpeg2, {kEle}) == std::nullopt);
  CHECK(choose_transfer_syntax(kMpeg2, {kMpeg2}) == kMpeg2);
  CHECK(choose_transfer_syntax(kEle, {}) == std::nullopt);
}

TEST_CASE("is_lossy_transfer_syntax") {
  for (const auto& ts : {kJpegBaseline, kJ2k, kJpegLsNear, kMpeg2}) CHECK(is_lossy_transfer_syntax(ts));
  for (const auto& ts : {kEle, kIle, kEbe, kJpegLossless, kJpegLs, kJ2kLossless, kRle}) CHECK(!is_lossy_transfer_syntax(ts));
}

TEST_CASE("jpeg2000: garbage and truncated codestreams are errors, not crashes") {
  FrameLayout layout{4, 4, 1, 16, false};
  std::vector<std::uint8_t> out;
  const std::vector<std::uint8_t> garbage(64, 0xAB);
  CHECK_THROWS_AS(decode_jpeg2000_frame(garbage, layout, out), Error);
  // A main header that stops after SOC and part of SIZ.
  const std::vector<std::uint8_t> truncated = {0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00};
  CHECK_THROWS_AS(decode_jpeg2000_frame(truncated, layout, out), Error);
  CHECK(!jpeg2000_is_irreversible(garbage));
  layout.bits_allocated = 32;
  CHECK_THROWS_AS(decode_jpeg2000_frame(truncated, layout, out), Error);
}

TEST_CASE("transcode_data_set: refusals") {
  const std::filesystem::path files = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  // Lossy JPEG is not re-encoded as JPEG-LS lossless; nothing is encoded lossily.
  CHECK_THROWS_AS(transcode_data_set(files / "JPEG-lossy.dcm", kJpegLs), Error);
  CHECK_THROWS_AS(transcode_data_set(files / "MR_small.dcm", kJpegBaseline), Error);
  // A truncated J2K file.
  test::TempDir dir("transcode");
  const auto cut = dir.path() / "cut.dcm";
  {
    std::ifstream in(files / "MR_small_jp2klossless.dcm", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3);
  }
  CHECK_THROWS_AS(transcode_data_set(cut, kEle), Error);
  CHECK_THROWS_AS(transcode_data_set(dir.path() / "missing.dcm", kEle), Error);
}
