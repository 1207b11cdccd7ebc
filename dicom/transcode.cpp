#include "dicom/transcode.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dcwcache.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "base/error.hpp"
#include "dicom/data_set_bytes.hpp"
#include "dicom/jpeg2000.hpp"
#include "dicom/pixel_frames.hpp"

namespace pacsnode::dicom {
namespace {

const std::string kEle = "1.2.840.10008.1.2.1";
const std::string kIle = "1.2.840.10008.1.2";
const std::string kEbe = "1.2.840.10008.1.2.2";
const std::string kDeflate = "1.2.840.10008.1.2.1.99";
const std::string kJpegLsLossless = "1.2.840.10008.1.2.4.80";
const std::string kJpegLosslessSv1 = "1.2.840.10008.1.2.4.70";
const std::string kJpegLossless = "1.2.840.10008.1.2.4.57";
const std::string kRle = "1.2.840.10008.1.2.5";
const std::string kJ2kLossless = "1.2.840.10008.1.2.4.90";
const std::string kJ2k = "1.2.840.10008.1.2.4.91";

// What we can produce, in the order we prefer it.
const std::vector<std::string> kUncompressed = {kEle, kIle, kEbe};
const std::vector<std::string> kLosslessEncoders = {kJpegLsLossless, kJpegLosslessSv1, kRle};

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& why) {
  throw Error(ErrorCode::InvalidArgument, file.filename().string() + ": " + why);
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Registered once per process and never deregistered: DCMTK's cleanup() must not run while
// another thread may still be transcoding, and at exit it would only return memory.
void register_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The reference tools' defaults (dcmdjpeg, dcmdjpls, dcmdrle): the same pixels as they
    // produce. SOP Instance UIDs never change: an instance keeps its identity on the wire.
    DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation, EUC_never);
    DJLSDecoderRegistration::registerCodecs(EJLSUC_never);
    DcmRLEDecoderRegistration::registerCodecs();
    DJEncoderRegistration::registerCodecs(ECC_lossyYCbCr, EUC_never);
    // Raw (not "cooked") JPEG-LS encoding, dcmcjpls' default: the cooked path goes through
    // DicomImage, which without dcmimage refuses colour images.
    DJLSEncoderRegistration::registerCodecs(0, 0, 0, 0, OFFalse, 0, OFTrue, EJLSUC_never);
    DcmRLEEncoderRegistration::registerCodecs(OFFalse);
  });
}

Uint16 get_us(DcmDataset& d, const DcmTagKey& tag, Uint16 fallback) {
  Uint16 v = fallback;
  d.findAndGetUint16(tag, v);
  return v;
}

// Replaces JPEG 2000 pixel data by native pixel data (OpenJPEG). Returns whether the
// codestream used the irreversible (lossy) wavelet.
bool decode_jpeg2000(DcmDataset& data_set, E_TransferSyntax source, const std::filesystem::path& file) {
  DcmElement* element = nullptr;
  if (data_set.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) return false;
  auto* pixel_data = dynamic_cast<DcmPixelData*>(element);
  DcmPixelSequence* sequence = nullptr;
  if (pixel_data == nullptr || pixel_data->getEncapsulatedRepresentation(source, nullptr, sequence).bad() ||
      sequence == nullptr) {
    fail(file, "no encapsulated JPEG 2000 pixel data");
  }
  FrameLayout layout;
  layout.rows = get_us(data_set, DCM_Rows, 0);
  layout.columns = get_us(data_set, DCM_Columns, 0);
  layout.samples_per_pixel = get_us(data_set, DCM_SamplesPerPixel, 1);
  layout.bits_allocated = get_us(data_set, DCM_BitsAllocated, 16);
  layout.is_signed = get_us(data_set, DCM_PixelRepresentation, 0) == 1;
  Sint32 frames = 1;
  data_set.findAndGetSint32(DCM_NumberOfFrames, frames);
  if (frames < 1) frames = 1;
  if (layout.rows == 0 || layout.columns == 0) fail(file, "Rows or Columns missing");

  std::vector<std::uint8_t> native;
  bool irreversible = false;
  for (const auto& frame : detail::frames_of(*sequence, static_cast<std::uint32_t>(frames), file)) {
    irreversible = irreversible || jpeg2000_is_irreversible(frame);
    decode_jpeg2000_frame(frame, layout, native);
  }
  if (native.size() % 2) native.push_back(0);  // even length

  auto* fresh = new DcmPixelData(DCM_PixelData);
  OFCondition status;
  if (layout.bits_allocated == 8) {
    fresh->setVR(EVR_OB);
    status = fresh->putUint8Array(native.data(), static_cast<unsigned long>(native.size()));
  } else {
    fresh->setVR(EVR_OW);
    status = fresh->putUint16Array(reinterpret_cast<const Uint16*>(native.data()),
                                   static_cast<unsigned long>(native.size() / 2));
  }
  if (status.bad() || data_set.insert(fresh, OFTrue).bad()) {
    delete fresh;
    fail(file, "cannot replace the pixel data");
  }
  OFString photometric;
  data_set.findAndGetOFString(DCM_PhotometricInterpretation, photometric);
  if (photometric == "YBR_ICT" || photometric == "YBR_RCT") {
    data_set.putAndInsertString(DCM_PhotometricInterpretation, "RGB");
  }
  if (layout.samples_per_pixel > 1) data_set.putAndInsertUint16(DCM_PlanarConfiguration, 0);
  return irreversible;
}


}  // namespace

namespace detail {

std::vector<std::vector<std::uint8_t>> frames_of(DcmPixelSequence& sequence, std::uint32_t frames,
                                                 const std::filesystem::path& file) {
  const unsigned long items = sequence.card();
  if (items < 2) fail(file, "encapsulated pixel data without fragments");
  std::vector<std::pair<const Uint8*, Uint32>> fragments;
  for (unsigned long i = 0; i < items; ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* bytes = nullptr;
    if (sequence.getItem(item, i).bad() || item == nullptr) fail(file, "unreadable pixel item");
    if (item->getLength() > 0 && item->getUint8Array(bytes).bad()) fail(file, "unreadable pixel item");
    fragments.emplace_back(bytes, item->getLength());
  }
  const auto& table = fragments[0];
  fragments.erase(fragments.begin());

  std::vector<std::vector<std::uint8_t>> out;
  const auto append = [](std::vector<std::uint8_t>& frame, const std::pair<const Uint8*, Uint32>& f) {
    frame.insert(frame.end(), f.first, f.first + f.second);
  };
  if (frames <= 1) {
    out.emplace_back();
    for (const auto& f : fragments) append(out.back(), f);
  } else if (fragments.size() == frames) {
    for (const auto& f : fragments) append(out.emplace_back(), f);
  } else if (table.second == frames * 4u) {
    // Offsets are from the first fragment's item tag; each item has an 8-byte header.
    std::vector<std::uint32_t> offsets(frames);
    for (std::uint32_t k = 0; k < frames; ++k) {
      const Uint8* p = table.first + 4 * k;
      offsets[k] = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
    }
    std::uint32_t position = 0;
    for (const auto& f : fragments) {
      const auto frame = static_cast<std::size_t>(std::upper_bound(offsets.begin(), offsets.end(), position) -
                                                  offsets.begin());
      if (frame == 0) fail(file, "Basic Offset Table does not start at the first fragment");
      while (out.size() < frame) out.emplace_back();
      append(out[frame - 1], f);
      position += 8 + f.second;
    }
  } else {
    for (const auto& f : fragments) {
      const bool starts = f.second >= 2 && f.first[0] == 0xFF && f.first[1] == 0x4F;
      if (starts || out.empty()) out.emplace_back();
      append(out.back(), f);
    }
  }
  if (out.size() != frames && !(frames <= 1 && out.size() == 1)) {
    fail(file, "found " + std::to_string(out.size()) + " frame(s), NumberOfFrames says " + std::to_string(frames));
  }
  return out;
}


std::unique_ptr<DcmFileFormat> load_transcoded(const std::filesystem::path& file, const std::string& target) {
  register_codecs();
  auto format = std::make_unique<DcmFileFormat>();
  OFCondition status = format->loadFile(file.c_str());
  if (status.bad()) fail(file, std::string("cannot read: ") + status.text());
  DcmDataset& data_set = *format->getDataset();
  const DcmXfer source(data_set.getOriginalXfer());
  const std::string source_uid = source.getXferID();
  const DcmXfer to(target.c_str());
  if (to.getXfer() == EXS_Unknown) fail(file, "unknown transfer syntax " + target);
  if (source_uid == target) return format;
  const bool to_uncompressed = contains(kUncompressed, target);
  if (!to_uncompressed && !contains(kLosslessEncoders, target)) {
    fail(file, "we do not encode " + target + " (lossless JPEG-LS, JPEG lossless SV1 and RLE only)");
  }
  // A .91 codestream with the reversible wavelet may still have been truncated (rate
  // control), so the syntax, not the wavelet, decides; GDCM marks such output lossy too.
  bool lossy = is_lossy_transfer_syntax(source_uid);
  if (!to_uncompressed && lossy) fail(file, "lossy " + source_uid + " data is not re-encoded as " + target);
  if (source_uid == kJ2kLossless || source_uid == kJ2k) {
    lossy = decode_jpeg2000(data_set, source.getXfer(), file) || lossy;
  }

  const DcmRepresentationParameter* parameter = nullptr;
  const DJ_RPLossless jpeg_lossless(1, 0);
  const DJLSRepresentationParameter jpeg_ls_lossless(0, OFTrue);
  const DcmRLERepresentationParameter rle;
  if (target == kJpegLosslessSv1) parameter = &jpeg_lossless;
  if (target == kJpegLsLossless) parameter = &jpeg_ls_lossless;
  if (target == kRle) parameter = &rle;
  status = data_set.chooseRepresentation(to.getXfer(), parameter);
  if (status.bad() || !data_set.canWriteXfer(to.getXfer())) {
    fail(file, "cannot convert " + source_uid + " to " + target + (status.bad() ? std::string(": ") + status.text() : ""));
  }
  if (lossy) data_set.putAndInsertString(DCM_LossyImageCompression, "01");
  return format;
}

}  // namespace detail

bool is_lossy_transfer_syntax(const std::string& ts) {
  return ts == "1.2.840.10008.1.2.4.50" || ts == "1.2.840.10008.1.2.4.51" || ts == "1.2.840.10008.1.2.4.81" ||
         ts == kJ2k || ts == "1.2.840.10008.1.2.4.92" || ts == "1.2.840.10008.1.2.4.93" ||
         ts == "1.2.840.10008.1.2.4.100" || ts == "1.2.840.10008.1.2.4.101" || ts == "1.2.840.10008.1.2.4.102" ||
         ts == "1.2.840.10008.1.2.4.103" || ts == "1.2.840.10008.1.2.4.104" || ts == "1.2.840.10008.1.2.4.105" ||
         ts == "1.2.840.10008.1.2.4.106" || ts == "1.2.840.10008.1.2.4.201" || ts == "1.2.840.10008.1.2.4.202" ||
         ts == "1.2.840.10008.1.2.4.203";
}

std::vector<std::string> transfer_syntax_candidates(const std::string& stored, const std::vector<std::string>& accepted) {
  std::vector<std::string> out;
  if (contains(accepted, stored)) out.push_back(stored);
  // Syntaxes we decode: the uncompressed ones, Deflate, JPEG, JPEG-LS, RLE, JPEG 2000.
  static const std::vector<std::string> kDecodable = {
      kEle, kIle, kEbe, kDeflate, "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", kJpegLossless, kJpegLosslessSv1,
      kJpegLsLossless, "1.2.840.10008.1.2.4.81", kRle, kJ2kLossless, kJ2k};
  if (!contains(kDecodable, stored)) return out;
  const auto add = [&](const std::string& ts) {
    if (contains(accepted, ts) && !contains(out, ts)) out.push_back(ts);
  };
  for (const auto& ts : kUncompressed) add(ts);
  if (is_lossy_transfer_syntax(stored)) return out;
  for (const auto& ts : kLosslessEncoders) add(ts);
  return out;
}

std::optional<std::string> choose_transfer_syntax(const std::string& stored, const std::vector<std::string>& accepted) {
  auto candidates = transfer_syntax_candidates(stored, accepted);
  if (candidates.empty()) return std::nullopt;
  return std::move(candidates.front());
}

std::vector<std::uint8_t> transcode_data_set(const std::filesystem::path& file, const std::string& target) {
  const auto format = detail::load_transcoded(file, target);
  return detail::data_set_bytes(*format->getDataset(), DcmXfer(target.c_str()).getXfer());
}

}  // namespace pacsnode::dicom
