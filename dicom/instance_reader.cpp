#include "dicom/instance_reader.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cstdio>
#include <fmt/format.h>

#include "base/error.hpp"
#include "dicom/dicom_json.hpp"
#include "dicom/pixel_frames.hpp"
#include "dicom/text_decoding.hpp"

namespace pacsnode::dicom {
namespace {

const std::string kExplicitLittle = "1.2.840.10008.1.2.1";
const std::string kImplicitLittle = "1.2.840.10008.1.2";

// Values longer than this stay in the file until read.
constexpr Uint32 kMaxReadLength = 4 * 1024;
// Above this a top-level binary value is bulk data (the index's limit, dicom/extract.cpp).
constexpr Uint32 kMaxInlineBinary = 1024;
// Inside sequences binary values up to this are inlined, longer ones left out.
constexpr Uint32 kMaxNestedBinary = 64 * 1024;

std::uint32_t tag_of(const DcmElement& element) {
  const DcmTag& tag = element.getTag();
  return static_cast<std::uint32_t>(tag.getGTag()) << 16 | tag.getETag();
}

bool is_binary(DcmEVR ident) {
  switch (DcmVR(ident).getValidEVR()) {
    case EVR_OB: case EVR_OW: case EVR_OF: case EVR_OD: case EVR_OL: case EVR_OV: case EVR_UN:
    case EVR_ox: case EVR_px:
      return true;
    default:
      return false;
  }
}

bool is_pixel_tag(std::uint32_t tag) {
  return tag == 0x7FE00010 || tag == 0x7FE00008 || tag == 0x7FE00009;
}

// True when a top-level element goes out as a BulkDataURI.
bool is_bulk(DcmElement& element) {
  if (element.ident() == EVR_SQ) return false;
  if (is_pixel_tag(tag_of(element)) || element.ident() == EVR_pixelSQ) return true;
  const Uint32 length = element.getLengthField();
  return is_binary(element.ident()) && (length == DCM_UndefinedLength || length > kMaxInlineBinary);
}

// Removes, inside the items of `sequence` at every depth, binary values too long to inline.
void prune_nested(DcmSequenceOfItems& sequence) {
  for (unsigned long i = 0; i < sequence.card(); ++i) {
    DcmItem* item = sequence.getItem(i);
    if (item == nullptr) continue;
    std::vector<DcmElement*> doomed;
    for (unsigned long k = 0; k < item->card(); ++k) {
      DcmElement* element = item->getElement(k);
      if (element == nullptr) continue;
      if (element->ident() == EVR_SQ) {
        prune_nested(static_cast<DcmSequenceOfItems&>(*element));
      } else if (element->ident() == EVR_pixelSQ ||
                 (is_binary(element->ident()) && (element->getLengthField() == DCM_UndefinedLength ||
                                                  element->getLengthField() > kMaxNestedBinary))) {
        doomed.push_back(element);
      }
    }
    for (DcmElement* element : doomed) delete item->remove(element);
  }
}

std::string vr_name(DcmElement& element) {
  if (element.ident() == EVR_pixelSQ) return "OB";
  DcmVR vr(DcmVR(element.ident()).getValidEVR());
  std::string name = vr.getValidVRName();
  if (name == "ox" || name == "px") name = "OW";
  return name;
}

Uint16 get_us(DcmItem& item, const DcmTagKey& tag, Uint16 fallback) {
  Uint16 value = fallback;
  item.findAndGetUint16(tag, value);
  return value;
}

}  // namespace

struct InstanceReader::State {
  std::filesystem::path file;
  DcmFileFormat format;
  std::string transfer_syntax;
  std::string sop_instance_uid;
  std::string series_instance_uid;
  bool text_decoded = false;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::InvalidArgument, fmt::format("{}: {}", file.filename().string(), why));
  }

  DcmElement* top_level(std::uint32_t tag) {
    DcmElement* element = nullptr;
    const DcmTagKey key(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
    if (format.getDataset()->findAndGetElement(key, element, OFFalse).bad()) return nullptr;
    return element;
  }
};

InstanceReader::InstanceReader(const std::filesystem::path& file) : state_(std::make_unique<State>()) {
  state_->file = file;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw Error(ErrorCode::NotFound, fmt::format("{}: no such file", file.string()));
  }
  detail::configure_dcmtk();
  const OFCondition loaded =
      state_->format.loadFile(OFFilename(file.c_str()), EXS_Unknown, EGL_noChange, kMaxReadLength, ERM_fileOnly);
  if (loaded.bad()) state_->fail(std::string("not a readable DICOM Part-10 file: ") + loaded.text());
  OFString value;
  if (state_->format.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, value).good()) {
    state_->transfer_syntax = value.c_str();
  }
  if (state_->format.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, value).good()) {
    state_->sop_instance_uid = value.c_str();
  }
  if (state_->format.getDataset()->findAndGetOFString(DCM_SeriesInstanceUID, value).good()) {
    state_->series_instance_uid = value.c_str();
  }
}

InstanceReader::~InstanceReader() = default;

const std::string& InstanceReader::transfer_syntax() const { return state_->transfer_syntax; }
const std::string& InstanceReader::sop_instance_uid() const { return state_->sop_instance_uid; }
const std::string& InstanceReader::series_instance_uid() const { return state_->series_instance_uid; }

std::string InstanceReader::metadata_json(std::string_view bulk_base) {
  DcmDataset& data_set = *state_->format.getDataset();
  if (!state_->text_decoded) {
    detail::decode_text(data_set, state_->file);
    state_->text_decoded = true;
  }
  std::string out = "{";
  bool first = true;
  const auto separate = [&] {
    if (!first) out += ',';
    first = false;
  };
  if (!state_->transfer_syntax.empty()) {
    separate();
    out += R"("00020010":{"vr":"UI","Value":[")" + state_->transfer_syntax + "\"]}";
  }
  for (unsigned long i = 0; i < data_set.card(); ++i) {
    DcmElement* element = data_set.getElement(i);
    if (element == nullptr) continue;
    const std::uint32_t tag = tag_of(*element);
    if ((tag & 0xFFFF) == 0 || (tag >> 16) == 0xFFFA || tag == 0xFFFCFFFC) continue;  // group lengths, signatures, padding
    if (tag == 0x00080005) {
      separate();
      out += R"("00080005":{"vr":"CS","Value":["ISO_IR 192"]})";
      continue;
    }
    if (is_bulk(*element)) {
      char key[9];
      std::snprintf(key, sizeof key, "%08X", static_cast<unsigned>(tag));
      separate();
      out += fmt::format(R"("{}":{{"vr":"{}","BulkDataURI":"{}/{}"}})", key, vr_name(*element), bulk_base, key);
      continue;
    }
    if (element->ident() == EVR_SQ) prune_nested(static_cast<DcmSequenceOfItems&>(*element));
    separate();
    detail::append_json_attribute(out, *element);
  }
  out += '}';
  return out;
}

std::uint32_t InstanceReader::number_of_frames() {
  DcmDataset& data_set = *state_->format.getDataset();
  if (state_->top_level(0x7FE00010) == nullptr) return 0;
  Sint32 frames = 1;
  data_set.findAndGetSint32(DCM_NumberOfFrames, frames);
  return frames < 1 ? 1u : static_cast<std::uint32_t>(frames);
}

FrameSet InstanceReader::frames(std::span<const std::uint32_t> numbers, bool decode) {
  const std::uint32_t count = number_of_frames();
  if (count == 0) throw Error(ErrorCode::NotFound, "the instance has no pixel data");
  for (const auto n : numbers) {
    if (n < 1 || n > count) {
      throw Error(ErrorCode::NotFound, fmt::format("frame {} does not exist: the instance has {} frame(s)", n, count));
    }
  }
  const DcmXfer stored(state_->transfer_syntax.c_str());
  FrameSet out;
  if (stored.isEncapsulated() && !decode) {
    auto* pixel_data = dynamic_cast<DcmPixelData*>(state_->top_level(0x7FE00010));
    DcmPixelSequence* sequence = nullptr;
    if (pixel_data == nullptr || pixel_data->getEncapsulatedRepresentation(stored.getXfer(), nullptr, sequence).bad() ||
        sequence == nullptr) {
      state_->fail("no encapsulated pixel data");
    }
    auto all = detail::frames_of(*sequence, count, state_->file);
    out.transfer_syntax = state_->transfer_syntax;
    for (const auto n : numbers) out.frames.push_back(std::move(all.at(n - 1)));
    return out;
  }

  // Native little-endian pixels: read in place for the uncompressed little-endian syntaxes,
  // else from the data set decoded in memory.
  std::unique_ptr<DcmFileFormat> decoded;
  DcmItem* data_set = state_->format.getDataset();
  if (state_->transfer_syntax != kExplicitLittle && state_->transfer_syntax != kImplicitLittle) {
    decoded = detail::load_transcoded(state_->file, kExplicitLittle);
    data_set = decoded->getDataset();
  }
  DcmElement* pixels = nullptr;
  if (data_set->findAndGetElement(DCM_PixelData, pixels, OFFalse).bad() || pixels == nullptr) {
    state_->fail("no pixel data");
  }
  const std::uint64_t rows = get_us(*data_set, DCM_Rows, 0), columns = get_us(*data_set, DCM_Columns, 0);
  const std::uint64_t samples = get_us(*data_set, DCM_SamplesPerPixel, 1);
  const std::uint64_t bits = get_us(*data_set, DCM_BitsAllocated, 16);
  if (rows == 0 || columns == 0) state_->fail("Rows or Columns missing");
  const std::uint64_t frame_bits = rows * columns * samples * bits;
  if (frame_bits % 8 != 0 && count > 1) state_->fail("frames of single-bit pixel data do not start on a byte");
  const std::uint64_t frame_bytes = (frame_bits + 7) / 8;
  const std::uint64_t length = pixels->getLengthField();
  if (length == DCM_UndefinedLength || length < frame_bytes * count) {
    state_->fail(fmt::format("pixel data of {} bytes is shorter than {} frame(s) of {} bytes", length, count, frame_bytes));
  }
  out.transfer_syntax = kExplicitLittle;
  for (const auto n : numbers) {
    std::vector<std::uint8_t> frame(frame_bytes);
    const OFCondition read = pixels->getPartialValue(frame.data(), static_cast<Uint32>((n - 1) * frame_bytes),
                                                      static_cast<Uint32>(frame_bytes), nullptr, EBO_LittleEndian);
    if (read.bad()) state_->fail(std::string("cannot read the pixel data: ") + read.text());
    out.frames.push_back(std::move(frame));
  }
  return out;
}

std::optional<std::uint64_t> InstanceReader::bulk_length(std::uint32_t tag) {
  DcmElement* element = state_->top_level(tag);
  if (element == nullptr || element->ident() == EVR_SQ || element->ident() == EVR_pixelSQ) return std::nullopt;
  if (is_pixel_tag(tag) && DcmXfer(state_->transfer_syntax.c_str()).isEncapsulated()) return std::nullopt;
  const Uint32 length = element->getLengthField();
  if (length == DCM_UndefinedLength) return std::nullopt;
  return length;
}

void InstanceReader::read_bulk(std::uint32_t tag, std::uint64_t offset, std::span<std::uint8_t> into) {
  const auto length = bulk_length(tag);
  if (!length || offset + into.size() > *length) state_->fail(fmt::format("no bulk data {:08X} at that offset", tag));
  if (into.empty()) return;
  const OFCondition read = state_->top_level(tag)->getPartialValue(
      into.data(), static_cast<Uint32>(offset), static_cast<Uint32>(into.size()), nullptr, EBO_LittleEndian);
  if (read.bad()) state_->fail(fmt::format("cannot read {:08X}: {}", tag, read.text()));
}

}  // namespace pacsnode::dicom
