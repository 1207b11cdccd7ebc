#include "dicom/extract.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <charconv>
#include <fstream>
#include <mutex>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "dcmtk/config/osconfig.h"  // first, as DCMTK requires
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcvr.h"

#include "base/error.hpp"
#include "base/log.hpp"
#include "dicom/data_set_bytes.hpp"
#include "dicom/dicom_json.hpp"
#include "dicom/levels.hpp"
#include "dicom/text_decoding.hpp"
#include "dicom/nesting.hpp"
#include "dicom/part10.hpp"
#include "dicom/uid.hpp"
#include "dicom/utf8.hpp"

namespace pacsnode::dicom {
namespace {

// Values longer than this stay in the file (DCMTK remembers their offset and reads them only
// if asked): what keeps a 1 GB instance cheap to index.
constexpr Uint32 kMaxReadLength = 4 * 1024;
// Above these lengths an attribute is bulk data for the index's purposes.
constexpr Uint32 kMaxBinaryLength = 1024;
constexpr Uint32 kMaxTextLength = 64 * 1024;
constexpr int kMaxSequenceDepth = 16;

std::uint32_t tag_of(const DcmElement& element) {
  const DcmTag& tag = element.getTag();
  return static_cast<std::uint32_t>(tag.getGTag()) << 16 | tag.getETag();
}

// True for what the index never holds: private and illegal (odd) groups, group lengths,
// file meta, pixel data and its relatives, digital signatures, trailing padding, and
// values too long to be anything but bulk data.
bool is_left_out(DcmElement& element) {
  const DcmTag& tag = element.getTag();
  const Uint16 group = tag.getGTag();
  if ((group & 1) != 0 || tag.getETag() == 0x0000) return true;
  if (group == 0x0002 || group == 0x7FE0 || group == 0xFFFA || group == 0xFFFC) return true;
  const DcmEVR ident = element.ident();
  if (ident == EVR_SQ) return false;
  if (ident == EVR_pixelSQ) return true;
  const Uint32 length = element.getLengthField();
  if (length == DCM_UndefinedLength) return true;
  const DcmVR vr(DcmVR(ident).getValidEVR());
  return length > (vr.isaString() ? kMaxTextLength : kMaxBinaryLength);
}

// Removes what is_left_out() names, at every depth, and items nested too deep: afterwards
// every value left is small and safe to read.
void prune(DcmItem& item, int depth) {
  std::vector<DcmElement*> doomed;
  const unsigned long count = item.card();
  for (unsigned long i = 0; i < count; ++i) {
    DcmElement* element = item.getElement(i);
    if (element == nullptr) continue;
    if (is_left_out(*element)) {
      doomed.push_back(element);
    } else if (element->ident() == EVR_SQ) {
      if (depth >= kMaxSequenceDepth) {
        doomed.push_back(element);
        continue;
      }
      auto& sequence = static_cast<DcmSequenceOfItems&>(*element);
      for (unsigned long k = 0; k < sequence.card(); ++k) {
        if (DcmItem* nested = sequence.getItem(k)) prune(*nested, depth + 1);
      }
    }
  }
  for (DcmElement* element : doomed) delete item.remove(element);
}

// A deflated data set is inflated in memory, whole: no larger than this.
constexpr std::size_t kMaxInflatedBytes = 256u * 1024u * 1024u;
constexpr std::string_view kDeflatedExplicitVrLittleEndian = "1.2.840.10008.1.2.1.99";

// The data set of a deflated Part-10 file, inflated (raw deflate, PS3.5 A.5).
std::vector<std::uint8_t> inflate_data_set(const std::filesystem::path& file, std::uint64_t offset) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) throw Error(ErrorCode::InvalidArgument, fmt::format("{}: cannot read the deflated data set", file.string()));
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(ErrorCode::Internal, "inflateInit2 failed");
  std::vector<std::uint8_t> out;
  std::vector<char> chunk(64 * 1024);
  std::array<std::uint8_t, 64 * 1024> buffer;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto n = in.gcount();
    if (n <= 0) break;  // truncated: what was inflated is parsed (DCMTK reports the rest)
    z.next_in = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_in = static_cast<uInt>(n);
    while (z.avail_in > 0 && rc != Z_STREAM_END) {
      z.next_out = buffer.data();
      z.avail_out = static_cast<uInt>(buffer.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        inflateEnd(&z);
        throw Error(ErrorCode::InvalidArgument, fmt::format("{}: deflated data set does not inflate", file.string()));
      }
      const std::size_t produced = buffer.size() - z.avail_out;
      if (out.size() + produced > kMaxInflatedBytes) {
        inflateEnd(&z);
        throw Error(ErrorCode::InvalidArgument, fmt::format("{}: deflated data set inflates past {} MiB",
                                                            file.string(), kMaxInflatedBytes >> 20));
      }
      out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(produced));
    }
  }
  inflateEnd(&z);
  return out;
}

// Refuses a data set whose sequences nest deeper than DCMTK's recursive parser may safely
// go (dicom/nesting.hpp) before DCMTK sees it.
void check_nesting(std::span<const std::uint8_t> data_set, const DcmXfer& xfer, const std::filesystem::path& file) {
  if (nesting_depth(data_set, xfer.isExplicitVR(), xfer.isBigEndian()) > kMaxNestingDepth) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{}: sequences nest deeper than {} levels", file.string(), kMaxNestingDepth));
  }
}

// The same for the data set of a Part-10 file (after the preamble, "DICM" and group 0002),
// read through a read-only mapping: the walk touches element headers only.
// DCMTK guesses the encoding of a data set whose meta header names none it knows: all three
// are checked then.
void check_nesting_of_file(const std::filesystem::path& file, const OFString& transfer_syntax) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::InvalidArgument, fmt::format("{}: cannot open", file.string()));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 132) {
    ::close(fd);
    return;  // nothing past the preamble: DCMTK refuses it
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw Error(ErrorCode::Internal, fmt::format("{}: cannot map", file.string()));
  const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(map), size);
  const std::size_t offset = part10_data_set_offset(bytes);
  try {
    const DcmXfer xfer(transfer_syntax.c_str());
    if (offset < size && xfer.getXfer() != EXS_Unknown) {
      check_nesting(bytes.subspan(offset), xfer, file);
    } else if (offset < size) {
      for (const auto guess : {EXS_LittleEndianExplicit, EXS_LittleEndianImplicit, EXS_BigEndianExplicit}) {
        check_nesting(bytes.subspan(offset), DcmXfer(guess), file);
      }
    }
  } catch (...) {
    ::munmap(map, size);
    throw;
  }
  ::munmap(map, size);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

// A top-level attribute's whole value (all values, backslashes kept) as UTF-8; "" if absent.
std::string text_of(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return {};
  return to_valid_utf8(trim(std::string_view(value.c_str(), value.size())));
}

// A PN value without trailing empty component groups ("Wang^XiaoDong=王^小東=" ends at 東).
std::string person_name_of(DcmItem& item, const DcmTagKey& tag) {
  std::string name = text_of(item, tag);
  while (!name.empty() && (name.back() == '=' || name.back() == ' ')) name.pop_back();
  return name;
}

std::optional<int> int_of(DcmItem& item, const DcmTagKey& tag) {
  const std::string value_text = text_of(item, tag);  // already trimmed
  std::string_view text = value_text;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string uid_of(DcmItem& item, const DcmTagKey& tag, std::string_view name,
                   const std::filesystem::path& file) {
  const std::string uid = text_of(item, tag);
  if (uid.empty()) {
    throw Error(ErrorCode::InvalidArgument, fmt::format("{}: {} is missing", file.string(), name));
  }
  if (!is_valid_uid(uid)) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{}: {} is not a valid UID: '{}'", file.string(), name, uid));
  }
  return uid;
}

// Attributes with a field of their own in the record stay out of attributes_json; Series and
// Instance Number only when the field could hold them.
bool has_own_field(std::uint32_t tag, const IndexRecord& record) {
  switch (tag) {
    case 0x00200011: return record.series.series_number.has_value();
    case 0x00200013: return record.instance.instance_number.has_value();
    case 0x00100010: case 0x00100020: case 0x00100021: case 0x00100030: case 0x00100040:
    case 0x0020000D: case 0x00080020: case 0x00080030: case 0x00080050: case 0x00200010:
    case 0x00081030: case 0x00080090:
    case 0x0020000E: case 0x00080060: case 0x0008103E: case 0x00180015: case 0x00080021:
    case 0x00080031:
    case 0x00080018: case 0x00080016: case 0x00080023: case 0x00080033:
      return true;
    default:
      return false;
  }
}

void fill_attributes_json(DcmDataset& data_set, IndexRecord& record) {
  std::array<std::string, 4> json;
  for (auto& object : json) object.push_back('{');
  const unsigned long count = data_set.card();
  for (unsigned long i = 0; i < count; ++i) {
    DcmElement* element = data_set.getElement(i);
    if (element == nullptr) continue;
    const std::uint32_t tag = tag_of(*element);
    if (has_own_field(tag, record)) continue;
    std::string& object = json[static_cast<std::size_t>(level_of(tag))];
    if (object.size() > 1) object.push_back(',');
    detail::append_json_attribute(object, *element);
  }
  for (auto& object : json) object.push_back('}');
  record.patient.attributes_json = std::move(json[static_cast<std::size_t>(Level::Patient)]);
  record.study.attributes_json = std::move(json[static_cast<std::size_t>(Level::Study)]);
  record.series.attributes_json = std::move(json[static_cast<std::size_t>(Level::Series)]);
  record.instance.attributes_json = std::move(json[static_cast<std::size_t>(Level::Instance)]);
}

}  // namespace

IndexRecord extract_index_record(const std::filesystem::path& part10_file) {
  std::error_code ec;
  const auto status = std::filesystem::status(part10_file, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    throw Error(ErrorCode::NotFound, fmt::format("{}: no such file", part10_file.string()));
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{}: not a regular file", part10_file.string()));
  }

  detail::configure_dcmtk();
  // Declared before the file format that may read from it on demand.
  std::vector<std::uint8_t> inflated;
  DcmFileFormat file_format;
  OFCondition loaded = file_format.loadFile(OFFilename(part10_file.c_str()), EXS_Unknown, EGL_noChange,
                                            kMaxReadLength, ERM_metaOnly);
  OFString meta_syntax;
  if (loaded.good() && file_format.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, meta_syntax).good() &&
      meta_syntax == kDeflatedExplicitVrLittleEndian.data()) {
    // DCMTK reads a deflated stream whole and, behind its inflating filter, sizes every value
    // from its length field, unchecked: a few hundred bytes could claim a 4 GB element, or
    // inflate to gigabytes. Inflated here, with a cap, and read with values checked against
    // the bytes there (found by tests/fuzz/dimse_fuzz).
    inflated = inflate_data_set(part10_file, read_part10_header(part10_file).data_set_offset);
    check_nesting(inflated, DcmXfer(EXS_LittleEndianExplicit), part10_file);
    detail::SpanInputStream stream(inflated);
    DcmDataset& data_set = *file_format.getDataset();
    data_set.transferInit();
    loaded = data_set.read(stream, EXS_LittleEndianExplicit, EGL_noChange, kMaxReadLength);
    data_set.transferEnd();
  } else {
    if (loaded.good()) check_nesting_of_file(part10_file, meta_syntax);
    loaded = file_format.loadFile(OFFilename(part10_file.c_str()), EXS_Unknown, EGL_noChange, kMaxReadLength,
                                  ERM_fileOnly);
  }
  if (loaded.bad()) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{}: not a readable DICOM Part-10 file: {}", part10_file.string(),
                            loaded.text()));
  }
  DcmDataset& data_set = *file_format.getDataset();

  prune(data_set, 0);
  detail::decode_text(data_set, part10_file);
  data_set.findAndDeleteElement(DCM_SpecificCharacterSet, OFTrue, OFTrue);

  IndexRecord record;
  PatientRecord& patient = record.patient;
  patient.patient_id = text_of(data_set, DCM_PatientID);
  patient.issuer_of_patient_id = text_of(data_set, DCM_IssuerOfPatientID);
  patient.patient_name = person_name_of(data_set, DCM_PatientName);
  patient.patient_birth_date = text_of(data_set, DCM_PatientBirthDate);
  patient.patient_sex = text_of(data_set, DCM_PatientSex);

  StudyRecord& study = record.study;
  study.study_instance_uid = uid_of(data_set, DCM_StudyInstanceUID, "StudyInstanceUID (0020,000D)", part10_file);
  study.study_date = text_of(data_set, DCM_StudyDate);
  study.study_time = text_of(data_set, DCM_StudyTime);
  study.accession_number = text_of(data_set, DCM_AccessionNumber);
  study.study_id = text_of(data_set, DCM_StudyID);
  study.study_description = text_of(data_set, DCM_StudyDescription);
  study.referring_physician_name = person_name_of(data_set, DCM_ReferringPhysicianName);

  SeriesRecord& series = record.series;
  series.series_instance_uid = uid_of(data_set, DCM_SeriesInstanceUID, "SeriesInstanceUID (0020,000E)", part10_file);
  series.modality = text_of(data_set, DCM_Modality);
  series.series_number = int_of(data_set, DCM_SeriesNumber);
  series.series_description = text_of(data_set, DCM_SeriesDescription);
  series.body_part_examined = text_of(data_set, DCM_BodyPartExamined);
  series.series_date = text_of(data_set, DCM_SeriesDate);
  series.series_time = text_of(data_set, DCM_SeriesTime);

  InstanceRecord& instance = record.instance;
  instance.sop_instance_uid = uid_of(data_set, DCM_SOPInstanceUID, "SOPInstanceUID (0008,0018)", part10_file);
  instance.sop_class_uid = uid_of(data_set, DCM_SOPClassUID, "SOPClassUID (0008,0016)", part10_file);
  instance.instance_number = int_of(data_set, DCM_InstanceNumber);
  instance.content_date = text_of(data_set, DCM_ContentDate);
  instance.content_time = text_of(data_set, DCM_ContentTime);
  instance.transfer_syntax_uid = text_of(*file_format.getMetaInfo(), DCM_TransferSyntaxUID);

  fill_attributes_json(data_set, record);
  return record;
}

}  // namespace pacsnode::dicom
