// Transcoding (dicom/transcode.hpp): which syntax an instance goes out in, and whether the
// pixels that come out are the ones independent decoders produce.
#include <doctest/doctest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <thread>

#include "base/error.hpp"
#include "base/process.hpp"
#include "dicom/jpeg2000.hpp"
#include "dicom/transcode.hpp"
#include "tests/support/temp_dir.hpp"

using namespace pacsnode;
using namespace pacsnode::dicom;
namespace fs = std::filesystem;

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

TEST_CASE("transfer_syntax_candidates: every syntax the policy allows, best first") {
  using V = std::vector<std::string>;
  // What a sender falls back on when an encoder refuses an image: the next one.
  CHECK(transfer_syntax_candidates(kEle, {kRle, kJpegLossless, kJpegLs}) == V{kJpegLs, kJpegLossless, kRle});
  CHECK(transfer_syntax_candidates(kJ2kLossless, {kRle, kIle, kJ2kLossless, kEle}) ==
        V{kJ2kLossless, kEle, kIle, kRle});
  CHECK(transfer_syntax_candidates(kEle, {kEle, kIle}) == V{kEle, kIle});
  CHECK(transfer_syntax_candidates(kJpegBaseline, {kRle, kJpegLs, kIle}) == V{kIle});
  CHECK(transfer_syntax_candidates(kMpeg2, {kEle, kMpeg2}) == V{kMpeg2});
  CHECK(transfer_syntax_candidates(kEle, {kJ2k}).empty());
  // The first candidate is always choose_transfer_syntax's choice.
  for (const auto& stored : {kEle, kRle, kJ2k, kJpegBaseline, kMpeg2}) {
    const V accepted = {kJpegLs, kRle, kIle, kMpeg2};
    const auto candidates = transfer_syntax_candidates(stored, accepted);
    CHECK(choose_transfer_syntax(stored, accepted) ==
          (candidates.empty() ? std::nullopt : std::optional<std::string>(candidates.front())));
  }
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

// ---------------------------------------------------------------------------------------
// Pixels: our transcoder against reference decoders that share no code with ours, run as
// separate processes, and against the uncompressed twins pydicom ships. Ours are DCMTK's
// dcmjpeg (its IJG 6b builds, libijg8/12/16), DCMTK's dcmjpls (its bundled CharLS 1.x fork,
// libdcmtkcharls), DCMTK's dcmrle, and OpenJPEG (dicom/jpeg2000.cpp). The references:
//  * JPEG and JPEG-LS: GDCM's gdcmconv --raw: GDCM's own IJG builds (libgdcmjpeg8/12/16)
//    and upstream CharLS 2.4 (libcharls.so.2), as ldd shows; GDCM leaves lossy YBR_FULL as
//    it is, which the test turns into RGB with JFIF's equations in IJG's fixed-point form.
//  * JPEG 2000: Grok (tests/tools/grok_decode.py → grk_decompress, libgrokj2k; a 2016 fork
//    of OpenJPEG, largely rewritten since; gdcmconv links OpenJPEG, as we do).
//  * RLE: tests/tools/rle_decode.py, PS3.5 Annex G written out in Python (GDCM's RLE codec
//    mis-orders 16- and 32-bit colour segments).

namespace {

const fs::path kFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

struct Image {
  std::string photometric;
  std::string lossy;  // (0028,2110)
  Uint16 rows = 0, columns = 0, samples = 0, bits_allocated = 0, planar = 0;
  std::vector<std::uint8_t> pixels;
};

Image image_of(DcmDataset& data_set) {
  REQUIRE_MESSAGE(!DcmXfer(data_set.getOriginalXfer()).isEncapsulated(), "pixel data still encapsulated");
  Image image;
  OFString value;
  if (data_set.findAndGetOFString(DCM_PhotometricInterpretation, value).good()) image.photometric = value.c_str();
  if (data_set.findAndGetOFString(DCM_LossyImageCompression, value).good()) image.lossy = value.c_str();
  data_set.findAndGetUint16(DCM_Rows, image.rows);
  data_set.findAndGetUint16(DCM_Columns, image.columns);
  data_set.findAndGetUint16(DCM_SamplesPerPixel, image.samples);
  data_set.findAndGetUint16(DCM_BitsAllocated, image.bits_allocated);
  data_set.findAndGetUint16(DCM_PlanarConfiguration, image.planar);
  DcmElement* element = nullptr;
  REQUIRE(data_set.findAndGetElement(DCM_PixelData, element).good());
  const Uint32 length = element->getLength();
  const std::uint8_t* bytes = nullptr;
  if (element->getVR() == EVR_OW) {
    Uint16* words = nullptr;
    REQUIRE(element->getUint16Array(words).good());
    bytes = reinterpret_cast<const std::uint8_t*>(words);  // host order: little endian here
  } else {
    Uint8* raw = nullptr;
    REQUIRE(element->getUint8Array(raw).good());
    bytes = raw;
  }
  image.pixels.assign(bytes, bytes + length);
  return image;
}

// A Part-10 file (an uncompressed source or a reference decoder's output).
Image read_file(const fs::path& file) {
  DcmFileFormat format;
  const OFCondition status = format.loadFile(file.c_str());
  REQUIRE_MESSAGE(status.good(), file.string() << ": " << status.text());
  return image_of(*format.getDataset());
}

// A bare data set as transcode_data_set returns it, in `xfer`.
void load_data_set(DcmFileFormat& format, const std::vector<std::uint8_t>& bytes, const fs::path& scratch,
                   E_TransferSyntax xfer) {
  std::ofstream(scratch, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
  const OFCondition status = format.loadFile(scratch.c_str(), xfer, EGL_noChange, DCM_MaxReadLength, ERM_dataset);
  REQUIRE_MESSAGE(status.good(), status.text());
}

Image transcoded(const fs::path& source, const fs::path& scratch) {
  DcmFileFormat format;
  load_data_set(format, transcode_data_set(source, kEle), scratch, EXS_LittleEndianExplicit);
  return image_of(*format.getDataset());
}

// Runs a tool to completion; fails the test with its output when it exits non-zero.
void run_tool(const std::vector<std::string>& argv) {
  pacsnode::ProcessOptions options;
  options.capture_output = true;
  const auto [code, output] = pacsnode::run_process(argv, options);
  REQUIRE_MESSAGE(code == 0, argv[0] << ": " << output);
}

enum class Reference { Gdcm, Grok, AnnexG };

const char* name_of(Reference r) {
  return r == Reference::Gdcm ? "gdcmconv --raw" : r == Reference::Grok ? "grok_decode.py" : "rle_decode.py";
}

// JFIF's YCbCr → RGB in IJG's fixed-point arithmetic (jdcolor.c), for 8-bit YBR_FULL.
void ybr_full_to_rgb(Image& image) {
  constexpr int kBits = 16;
  constexpr long kHalf = 1L << (kBits - 1);
  const auto fix = [](double x) { return static_cast<long>(x * (1L << kBits) + 0.5); };
  const auto clamp = [](long v) { return static_cast<std::uint8_t>(std::clamp(v, 0L, 255L)); };
  for (std::size_t i = 0; i + 2 < image.pixels.size(); i += 3) {
    const long y = image.pixels[i], cb = image.pixels[i + 1] - 128L, cr = image.pixels[i + 2] - 128L;
    image.pixels[i] = clamp(y + ((fix(1.40200) * cr + kHalf) >> kBits));
    image.pixels[i + 1] = clamp(y + ((-fix(0.34414) * cb - fix(0.71414) * cr + kHalf) >> kBits));
    image.pixels[i + 2] = clamp(y + ((fix(1.77200) * cb + kHalf) >> kBits));
  }
  image.photometric = "RGB";
}

// The reference decoder's pixels for `source` (see above). A tool that writes raw pixels
// writes them colour-by-pixel; the layout is then the source's, decoded colour being RGB.
Image reference(Reference decoder, const fs::path& source, const fs::path& out) {
  INFO("reference: " << name_of(decoder));
  if (decoder == Reference::Gdcm) {
    run_tool({"gdcmconv", "--raw", source.string(), out.string()});
    Image image = read_file(out);
    if (image.photometric == "YBR_FULL" && image.samples == 3 && image.bits_allocated == 8 && image.planar == 0) {
      ybr_full_to_rgb(image);
    }
    return image;
  }
  const std::string script = decoder == Reference::Grok ? "grok_decode.py" : "rle_decode.py";
  run_tool({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/" + script, source.string(),
            out.string()});
  DcmFileFormat format;
  REQUIRE(format.loadFile(source.c_str()).good());
  DcmDataset& data_set = *format.getDataset();
  Image image;
  OFString value;
  if (data_set.findAndGetOFString(DCM_PhotometricInterpretation, value).good()) image.photometric = value.c_str();
  data_set.findAndGetUint16(DCM_Rows, image.rows);
  data_set.findAndGetUint16(DCM_Columns, image.columns);
  data_set.findAndGetUint16(DCM_SamplesPerPixel, image.samples);
  data_set.findAndGetUint16(DCM_BitsAllocated, image.bits_allocated);
  if (decoder == Reference::Grok && image.samples == 3) image.photometric = "RGB";  // YBR_RCT/ICT undone
  std::ifstream in(out, std::ios::binary);
  image.pixels.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return image;
}

void check_same(const Image& actual, const Image& expected) {
  CHECK(actual.rows == expected.rows);
  CHECK(actual.columns == expected.columns);
  CHECK(actual.samples == expected.samples);
  CHECK(actual.bits_allocated == expected.bits_allocated);
  CHECK(actual.photometric == expected.photometric);
  if (actual.samples > 1) CHECK(actual.planar == expected.planar);
  CHECK(!expected.pixels.empty());
  CHECK(actual.pixels.size() == expected.pixels.size());
  CHECK_MESSAGE(actual.pixels == expected.pixels, "pixel bytes differ");
}

std::string transfer_syntax_of(const fs::path& file) {
  DcmFileFormat format;
  REQUIRE(format.loadFile(file.c_str()).good());
  return DcmXfer(format.getDataset()->getOriginalXfer()).getXferID();
}

std::pair<std::string, std::string> read_transfer_syntax_and_lossy(const fs::path& file) {
  DcmFileFormat format;
  REQUIRE(format.loadFile(file.c_str()).good());
  OFString lossy;
  format.getDataset()->findAndGetOFString(DCM_LossyImageCompression, lossy);
  return {DcmXfer(format.getDataset()->getOriginalXfer()).getXferID(), lossy.c_str()};
}

struct ReferenceCase {
  const char* file;
  Reference tool;
};

constexpr Reference kGdcm = Reference::Gdcm;
constexpr Reference kGrok = Reference::Grok;
constexpr Reference kAnnexG = Reference::AnnexG;

}  // namespace

TEST_CASE("transcode_data_set: lossless sources decode to the reference decoder's exact pixels") {
  const std::vector<ReferenceCase> cases = {
      {"MR_small_jp2klossless.dcm", kGrok},  // JPEG 2000 lossless (.90), 16-bit signed
      {"GDCMJ2K_TextGBR.dcm", kGrok},        // JPEG 2000 lossless, colour (YBR_RCT)
      {"J2K_pixelrep_mismatch.dcm", kGrok},  // codestream signedness differs from the data set
      {"MR_small_jpeg_ls_lossless.dcm", kGdcm},
      {"SC_rgb_jpeg_gdcm.dcm", kGdcm},  // JPEG lossless SV1, colour
      {"MR_small_RLE.dcm", kAnnexG},
      {"SC_rgb_rle.dcm", kAnnexG},
      {"SC_rgb_rle_2frame.dcm", kAnnexG},
      {"SC_rgb_rle_16bit.dcm", kAnnexG},
      {"SC_rgb_rle_16bit_2frame.dcm", kAnnexG},
      {"SC_rgb_rle_32bit.dcm", kAnnexG},
      {"SC_rgb_rle_32bit_2frame.dcm", kAnnexG},
      {"rtdose_rle.dcm", kAnnexG},  // multi-frame
      {"rtdose_rle_1frame.dcm", kAnnexG},
  };
  test::TempDir dir("tc-ref");
  for (const auto& c : cases) {
    INFO(std::string(c.file));
    const fs::path source = kFiles / c.file;
    CHECK(!is_lossy_transfer_syntax(transfer_syntax_of(source)));
    const Image ours = transcoded(source, dir.path() / "ours.dcm");
    check_same(ours, reference(c.tool, source, dir.path() / (std::string(c.file) + ".ref")));
    CHECK(ours.lossy != "01");
  }
}

TEST_CASE("transcode_data_set: lossless sources equal their uncompressed twins") {
  const std::vector<std::pair<const char*, const char*>> twins = {
      {"MR_small_jp2klossless.dcm", "MR_small.dcm"},
      {"MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"},
      {"MR_small_RLE.dcm", "MR_small.dcm"},
      {"MR_small_bigendian.dcm", "MR_small.dcm"},  // Explicit VR Big Endian
      {"rtdose_rle.dcm", "rtdose.dcm"},
      {"rtdose_rle_1frame.dcm", "rtdose_1frame.dcm"},
  };
  test::TempDir dir("tc-twin");
  for (const auto& [compressed, plain] : twins) {
    INFO(std::string(compressed));
    check_same(transcoded(kFiles / compressed, dir.path() / "ours.dcm"), read_file(kFiles / plain));
  }
}

TEST_CASE("transcode_data_set: lossy sources decode like the reference and say Lossy Image Compression 01") {
  std::vector<ReferenceCase> cases = {
      {"JPEG-lossy.dcm", kGdcm},  // JPEG extended, 12-bit
      {"JPGExtended.dcm", kGdcm},
      {"SC_rgb_jpeg_dcmtk.dcm", kGdcm},  // baseline, YBR_FULL_422 → RGB
      {"SC_rgb_jpeg_lossy_gdcm.dcm", kGdcm},
      {"SC_rgb_small_odd_jpeg.dcm", kGdcm},
      {"SC_rgb_dcmtk_+eb+cy+s4.dcm", kGdcm},
      {"693_J2KI.dcm", kGrok},  // JPEG 2000, irreversible wavelet
      {"SC_rgb_gdcm_KY.dcm", kGrok},
      {"JPEG2000.dcm", kGrok},  // .91 with the reversible wavelet: still lossy by its syntax
  };
  test::TempDir dir("tc-lossy");
  // JPEG-LS near-lossless (.81): pydicom has none, DCMTK's encoder makes one.
  const fs::path near_lossless = dir.path() / "SC_rgb_small_odd_jpls_near.dcm";
  run_tool({"dcmcjpls", "+en", "+md", "3", (kFiles / "SC_rgb_small_odd.dcm").string(), near_lossless.string()});
  cases.push_back({near_lossless.c_str(), kGdcm});
  for (const auto& c : cases) {
    INFO(std::string(c.file));
    const fs::path source = kFiles / c.file;  // an absolute c.file replaces kFiles
    const std::string stored = transfer_syntax_of(source);
    REQUIRE(is_lossy_transfer_syntax(stored));
    const Image ours = transcoded(source, dir.path() / "ours.dcm");
    check_same(ours, reference(c.tool, source, dir.path() / (source.filename().string() + ".ref")));
    CHECK(ours.lossy == "01");
    // The source's own (0028,2110) is not what makes it so: without one, we still write 01.
    {
      DcmFileFormat format;
      REQUIRE(format.loadFile(source.c_str()).good());
      format.getDataset()->findAndDeleteElement(DCM_LossyImageCompression);
      const fs::path unmarked = dir.path() / "unmarked.dcm";
      REQUIRE(format.saveFile(unmarked.c_str(), format.getDataset()->getOriginalXfer()).good());
      CHECK(read_transfer_syntax_and_lossy(unmarked).second.empty());
      const Image decoded = transcoded(unmarked, dir.path() / "ours2.dcm");
      CHECK(decoded.lossy == "01");
      CHECK(decoded.pixels == ours.pixels);
    }
    // Never offered in a lossless compressed syntax, whatever the peer takes.
    CHECK(choose_transfer_syntax(stored, {kJpegLs, kJpegLossless, kRle, kJ2kLossless}) == std::nullopt);
    CHECK(choose_transfer_syntax(stored, {kJpegLs, kIle}) == kIle);
    CHECK_THROWS_AS(transcode_data_set(source, kJpegLs), Error);
    CHECK_THROWS_AS(transcode_data_set(source, kRle), Error);
  }
}

TEST_CASE("transcode_data_set: uncompressed data re-encoded losslessly decodes (reference tools) to the original") {
  struct Target {
    std::string uid;
    E_TransferSyntax xfer;
    Reference tool;
  };
  const std::vector<Target> targets = {
      {kJpegLs, EXS_JPEGLSLossless, kGdcm},
      {kJpegLossless, EXS_JPEGProcess14SV1, kGdcm},
      {kRle, EXS_RLELossless, kAnnexG},
  };
  // 16-bit signed grey, 8-bit RGB with odd dimensions, 32-bit multi-frame dose (RLE only).
  const std::vector<const char*> sources = {"MR_small.dcm", "CT_small.dcm", "SC_rgb_small_odd.dcm", "rtdose.dcm"};
  test::TempDir dir("tc-enc");
  for (const char* name : sources) {
    const fs::path source = kFiles / name;
    const Image original = read_file(source);
    for (const auto& target : targets) {
      INFO(std::string(name) << " → " << target.uid);
      if (original.bits_allocated > 16 && target.uid != kRle) continue;  // JPEG and JPEG-LS: up to 16 bits
      DcmFileFormat format;
      load_data_set(format, transcode_data_set(source, target.uid), dir.path() / "encoded.ds", target.xfer);
      const fs::path encoded = dir.path() / "encoded.dcm";
      REQUIRE(format.saveFile(encoded.c_str(), target.xfer).good());
      CHECK(transfer_syntax_of(encoded) == target.uid);
      const Image decoded = reference(target.tool, encoded, dir.path() / "decoded.dcm");
      CHECK(decoded.pixels == original.pixels);
      CHECK(decoded.lossy != "01");
      // And back through our own decoder.
      CHECK(transcoded(encoded, dir.path() / "back.dcm").pixels == original.pixels);
    }
  }
}

TEST_CASE("transcode_data_set: corrupt compressed pixel data is an Error, not a crash") {
  test::TempDir dir("tc-bad");
  for (const char* name : {"MR_small_jp2klossless.dcm", "JPEG2000.dcm", "MR_small_jpeg_ls_lossless.dcm",
                           "SC_rgb_jpeg_gdcm.dcm", "JPEG-lossy.dcm", "MR_small_RLE.dcm", "SC_rgb_rle_2frame.dcm"}) {
    INFO(std::string(name));
    const fs::path source = kFiles / name;
    std::string bytes;
    {
      std::ifstream in(source, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    // Truncated in the middle of the pixel data.
    const fs::path cut = dir.path() / "cut.dcm";
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - bytes.size() / 5);
    CHECK_THROWS_AS(transcode_data_set(cut, kEle), Error);
    // Well-formed encapsulation whose fragments hold garbage.
    DcmFileFormat format;
    REQUIRE(format.loadFile(source.c_str()).good());
    DcmDataset& data_set = *format.getDataset();
    const E_TransferSyntax xfer = data_set.getOriginalXfer();
    DcmElement* element = nullptr;
    REQUIRE(data_set.findAndGetElement(DCM_PixelData, element).good());
    DcmPixelSequence* sequence = nullptr;
    REQUIRE(dynamic_cast<DcmPixelData*>(element)->getEncapsulatedRepresentation(xfer, nullptr, sequence).good());
    for (unsigned long i = 1; i < sequence->card(); ++i) {
      DcmPixelItem* item = nullptr;
      Uint8* fragment = nullptr;
      REQUIRE(sequence->getItem(item, i).good());
      REQUIRE(item->getUint8Array(fragment).good());
      for (Uint32 k = 0; k < item->getLength(); ++k) fragment[k] = static_cast<Uint8>(k * 37 + 11);
    }
    const fs::path garbage = dir.path() / "garbage.dcm";
    REQUIRE(format.saveFile(garbage.c_str(), xfer).good());
    CHECK_THROWS_AS(transcode_data_set(garbage, kEle), Error);
  }
}

TEST_CASE("transcode_data_set: a JPEG 2000 fragment that is not a codestream is an Error") {
  // pydicom's parser test: a 250-byte fragment whose SIZ marker holds the bytes of a Sequence
  // Delimitation Item. DCMTK reads the fragment by its length; OpenJPEG then finds no image
  // (gdcmconv refuses the file too).
  CHECK_THROWS_AS(transcode_data_set(kFiles / "JPEG2000-embedded-sequence-delimiter.dcm", kEle), Error);
}

namespace {

// Re-wraps the frames of `source` (one fragment per frame) as two fragments per frame, with
// or without a Basic Offset Table, the other two layouts PS3.5 A.4 allows.
void split_fragments(const fs::path& source, const fs::path& target, bool offset_table) {
  DcmFileFormat format;
  REQUIRE(format.loadFile(source.c_str()).good());
  DcmDataset& data_set = *format.getDataset();
  const E_TransferSyntax xfer = data_set.getOriginalXfer();
  DcmElement* element = nullptr;
  REQUIRE(data_set.findAndGetElement(DCM_PixelData, element).good());
  auto* pixel_data = dynamic_cast<DcmPixelData*>(element);
  DcmPixelSequence* old_sequence = nullptr;
  REQUIRE(pixel_data->getEncapsulatedRepresentation(xfer, nullptr, old_sequence).good());
  std::vector<std::vector<Uint8>> fragments;
  std::vector<Uint8> table;
  Uint32 offset = 0;
  for (unsigned long i = 1; i < old_sequence->card(); ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* bytes = nullptr;
    REQUIRE(old_sequence->getItem(item, i).good());
    REQUIRE(item->getUint8Array(bytes).good());
    const Uint32 length = item->getLength();
    REQUIRE(length % 2 == 0);
    for (int b = 0; b < 4; ++b) table.push_back(static_cast<Uint8>(offset >> (8 * b)));
    const Uint32 half = (length / 4) * 2;
    fragments.emplace_back(bytes, bytes + half);
    fragments.emplace_back(bytes + half, bytes + length);
    offset += 8 + half + 8 + (length - half);
  }
  auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
  auto* bot = new DcmPixelItem(DCM_PixelItemTag);
  if (offset_table) REQUIRE(bot->putUint8Array(table.data(), static_cast<Uint32>(table.size())).good());
  sequence->insert(bot);
  for (const auto& f : fragments) {
    auto* item = new DcmPixelItem(DCM_PixelItemTag);
    REQUIRE(item->putUint8Array(f.data(), static_cast<Uint32>(f.size())).good());
    sequence->insert(item);
  }
  pixel_data->putOriginalRepresentation(xfer, nullptr, sequence);
  REQUIRE(format.saveFile(target.c_str(), xfer).good());
}

}  // namespace

TEST_CASE("transcode_data_set: multi-frame JPEG 2000 in each fragment layout") {
  // pydicom has no multi-frame JPEG 2000 file: GDCM encodes one from a 2-frame RGB image.
  test::TempDir dir("tc-j2kmf");
  const fs::path plain = dir.path() / "plain.dcm", one_per_frame = dir.path() / "j2k.dcm";
  run_tool({"dcmdrle", (kFiles / "SC_rgb_rle_2frame.dcm").string(), plain.string()});
  run_tool({"gdcmconv", "--j2k", plain.string(), one_per_frame.string()});
  REQUIRE(transfer_syntax_of(one_per_frame) == kJ2kLossless);
  const Image original = read_file(plain);
  const fs::path with_table = dir.path() / "bot.dcm", without_table = dir.path() / "nobot.dcm";
  split_fragments(one_per_frame, with_table, true);
  split_fragments(one_per_frame, without_table, false);
  // pydicom (in grok_decode.py) finds the frames of every layout: by the offset table, or
  // by each frame's end-of-codestream marker.
  for (const auto& source : {one_per_frame, with_table, without_table}) {
    INFO(source.filename().string());
    const Image ours = transcoded(source, dir.path() / "ours.dcm");
    check_same(ours, reference(kGrok, source, dir.path() / "ref.raw"));
    check_same(ours, original);
  }
}

TEST_CASE("transcode_data_set: threads transcoding at once get what one thread gets") {
  // Retrieve runs transcoding on a worker pool: codec registration and DCMTK's codec list
  // are shared by every thread.
  const std::vector<std::pair<std::string, std::string>> jobs = {
      {"MR_small_jp2klossless.dcm", kEle}, {"MR_small_jpeg_ls_lossless.dcm", kEle}, {"SC_rgb_jpeg_gdcm.dcm", kIle},
      {"SC_rgb_rle_2frame.dcm", kEle},     {"JPEG-lossy.dcm", kEle},                {"MR_small.dcm", kJpegLs},
      {"CT_small.dcm", kRle},              {"SC_rgb_small_odd.dcm", kJpegLossless}};
  std::vector<std::vector<std::uint8_t>> serial;
  for (const auto& [file, target] : jobs) serial.push_back(transcode_data_set(kFiles / file, target));
  constexpr int kRounds = 4;
  std::vector<std::vector<std::vector<std::uint8_t>>> parallel(kRounds, std::vector<std::vector<std::uint8_t>>(jobs.size()));
  std::vector<std::thread> threads;
  for (int round = 0; round < kRounds; ++round) {
    threads.emplace_back([&jobs, &parallel, round] {
      for (std::size_t n = 0; n < jobs.size(); ++n) {
        try {
          parallel[round][n] = transcode_data_set(kFiles / jobs[n].first, jobs[n].second);
        } catch (const std::exception&) {  // left empty: the comparison below fails
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t n = 0; n < jobs.size(); ++n) CHECK(parallel[round][n] == serial[n]);
  }
}
