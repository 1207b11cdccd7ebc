#include "dicom/file_meta.hpp"

#include <string_view>

#include "base/error.hpp"
#include "dicom/uid.hpp"

namespace pacsnode::dicom {
namespace {

constexpr std::size_t kPreambleLength = 128;
constexpr std::size_t kPrefixLength = kPreambleLength + 4;  // + "DICM"
constexpr std::size_t kGroupLengthElementLength = 12;       // tag, "UL", length (2), value (4)

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

void put_tag(std::vector<std::uint8_t>& out, std::uint16_t element) {
  put_u16(out, 0x0002);
  put_u16(out, element);
}

// A short-length Explicit VR element (UI, SH, AE): 2-byte length, value padded to even length.
void put_string(std::vector<std::uint8_t>& out, std::uint16_t element, const char (&vr)[3],
                std::string_view value, char pad) {
  put_tag(out, element);
  out.push_back(static_cast<std::uint8_t>(vr[0]));
  out.push_back(static_cast<std::uint8_t>(vr[1]));
  const std::size_t padded = value.size() + value.size() % 2;
  put_u16(out, static_cast<std::uint16_t>(padded));
  out.insert(out.end(), value.begin(), value.end());
  if (padded != value.size()) out.push_back(static_cast<std::uint8_t>(pad));
}

void check_uid(std::string_view what, const std::string& uid) {
  if (!is_valid_uid(uid)) {
    throw Error(ErrorCode::InvalidArgument,
                "file meta: " + std::string(what) + " is not a valid UID: '" + uid + "'");
  }
}

// SH and AE: at most 16 characters of the default repertoire, no backslash (PS3.5 §6.2).
void check_short_text(std::string_view what, const std::string& value) {
  bool ok = value.size() <= 16;
  for (const char c : value) ok = ok && c >= 0x20 && c < 0x7F && c != '\\';
  if (!ok) {
    throw Error(ErrorCode::InvalidArgument,
                "file meta: " + std::string(what) +
                    " must be at most 16 printable ASCII characters without '\\': '" + value + "'");
  }
}

std::uint32_t get_u32(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint32_t>(bytes[at]) | static_cast<std::uint32_t>(bytes[at + 1]) << 8 |
         static_cast<std::uint32_t>(bytes[at + 2]) << 16 |
         static_cast<std::uint32_t>(bytes[at + 3]) << 24;
}

}  // namespace

std::vector<std::uint8_t> encode_file_meta(const FileMeta& meta) {
  check_uid("MediaStorageSOPClassUID", meta.media_storage_sop_class_uid);
  check_uid("MediaStorageSOPInstanceUID", meta.media_storage_sop_instance_uid);
  check_uid("TransferSyntaxUID", meta.transfer_syntax_uid);
  check_uid("ImplementationClassUID", meta.implementation_class_uid);
  check_short_text("ImplementationVersionName", meta.implementation_version_name);
  check_short_text("SourceApplicationEntityTitle", meta.source_ae_title);
  check_short_text("ReceivingApplicationEntityTitle", meta.receiving_ae_title);

  std::vector<std::uint8_t> out;
  out.reserve(kPrefixLength + kGroupLengthElementLength + 6 * 8 + 4 * 64 + 2 * 16 + 2);
  out.resize(kPreambleLength, 0);
  out.insert(out.end(), {'D', 'I', 'C', 'M'});

  // (0002,0000) UL, its value patched once the group is written.
  put_tag(out, 0x0000);
  out.insert(out.end(), {'U', 'L'});
  put_u16(out, 4);
  const std::size_t group_length_at = out.size();
  put_u32(out, 0);

  // (0002,0001) OB 00\01: a long-length Explicit VR element (2 reserved bytes, 4-byte length).
  put_tag(out, 0x0001);
  out.insert(out.end(), {'O', 'B', 0, 0});
  put_u32(out, 2);
  out.insert(out.end(), {0x00, 0x01});

  put_string(out, 0x0002, "UI", meta.media_storage_sop_class_uid, '\0');
  put_string(out, 0x0003, "UI", meta.media_storage_sop_instance_uid, '\0');
  put_string(out, 0x0010, "UI", meta.transfer_syntax_uid, '\0');
  put_string(out, 0x0012, "UI", meta.implementation_class_uid, '\0');
  if (!meta.implementation_version_name.empty()) {
    put_string(out, 0x0013, "SH", meta.implementation_version_name, ' ');
  }
  if (!meta.source_ae_title.empty()) {
    put_string(out, 0x0016, "AE", meta.source_ae_title, ' ');
  }
  if (!meta.receiving_ae_title.empty()) {
    put_string(out, 0x0018, "AE", meta.receiving_ae_title, ' ');
  }

  const auto group_length =
      static_cast<std::uint32_t>(out.size() - kPrefixLength - kGroupLengthElementLength);
  for (int i = 0; i < 4; ++i) {
    out[group_length_at + i] = static_cast<std::uint8_t>(group_length >> (8 * i));
  }
  return out;
}

std::optional<std::size_t> file_meta_length(std::span<const std::uint8_t> bytes) {
  constexpr std::uint8_t kHeader[] = {'D', 'I', 'C', 'M', 0x02, 0x00, 0x00, 0x00, 'U', 'L', 0x04, 0x00};
  if (bytes.size() < kPrefixLength + kGroupLengthElementLength) return std::nullopt;
  for (std::size_t i = 0; i < sizeof kHeader; ++i) {
    if (bytes[kPreambleLength + i] != kHeader[i]) return std::nullopt;
  }
  const std::uint32_t group_length = get_u32(bytes, kPrefixLength + 8);
  return kPrefixLength + kGroupLengthElementLength + std::size_t{group_length};
}

std::optional<DecodedFileMeta> decode_file_meta(std::span<const std::uint8_t> bytes, bool complete) {
  if (bytes.size() < kPrefixLength) {
    if (complete) throw Error(ErrorCode::InvalidArgument, "not a DICOM file: shorter than its 132-byte prefix");
    return std::nullopt;
  }
  if (bytes[128] != 'D' || bytes[129] != 'I' || bytes[130] != 'C' || bytes[131] != 'M') {
    throw Error(ErrorCode::InvalidArgument, "not a DICOM Part-10 file: no \"DICM\" after the 128-byte preamble");
  }
  auto u16 = [&](std::size_t at) { return static_cast<std::uint16_t>(bytes[at] | bytes[at + 1] << 8); };
  DecodedFileMeta out;
  std::size_t at = kPrefixLength;
  for (;;) {
    if (bytes.size() < at + 8) {
      if (!complete) return std::nullopt;
      break;
    }
    if (u16(at) != 0x0002) break;
    const std::uint16_t element = u16(at + 2);
    const std::string_view vr(reinterpret_cast<const char*>(bytes.data() + at + 4), 2);
    if (vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z') {
      throw Error(ErrorCode::InvalidArgument, "file meta: element (0002," + std::to_string(element) +
                                                  ") is not in Explicit VR Little Endian");
    }
    constexpr std::string_view kLong[] = {"OB", "OW", "OF", "SQ", "UT", "UN", "UC", "UR", "OD", "OL", "OV", "SV", "UV"};
    bool long_form = false;
    for (const auto l : kLong) long_form = long_form || vr == l;
    std::size_t value_at = at + 8;
    std::uint64_t length = u16(at + 6);
    if (long_form) {
      if (bytes.size() < at + 12) {
        if (!complete) return std::nullopt;
        throw Error(ErrorCode::InvalidArgument, "file meta: the file ends inside an element");
      }
      length = get_u32(bytes, at + 8);
      value_at = at + 12;
      if (length == 0xFFFFFFFFu) throw Error(ErrorCode::InvalidArgument, "file meta: an undefined length in group 0002");
    }
    if (length > (1u << 16)) throw Error(ErrorCode::InvalidArgument, "file meta: an element of more than 64 KiB");
    if (bytes.size() < value_at + length) {
      if (!complete) return std::nullopt;
      throw Error(ErrorCode::InvalidArgument, "file meta: the file ends inside an element");
    }
    std::string value(reinterpret_cast<const char*>(bytes.data() + value_at), static_cast<std::size_t>(length));
    while (!value.empty() && (value.back() == '\0' || value.back() == ' ')) value.pop_back();
    switch (element) {
      case 0x0002: out.meta.media_storage_sop_class_uid = std::move(value); break;
      case 0x0003: out.meta.media_storage_sop_instance_uid = std::move(value); break;
      case 0x0010: out.meta.transfer_syntax_uid = std::move(value); break;
      case 0x0012: out.meta.implementation_class_uid = std::move(value); break;
      case 0x0013: out.meta.implementation_version_name = std::move(value); break;
      case 0x0016: out.meta.source_ae_title = std::move(value); break;
      case 0x0018: out.meta.receiving_ae_title = std::move(value); break;
      default: break;
    }
    at = value_at + static_cast<std::size_t>(length);
  }
  out.length = at;
  return out;
}

}  // namespace pacsnode::dicom
