#include "dicom/part10.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <array>
#include <fstream>

#include "base/error.hpp"

namespace pacsnode::dicom {
namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

std::string trim_value(std::string v) {
  while (!v.empty() && (v.back() == '\0' || v.back() == ' ')) v.pop_back();
  return v;
}

Error bad(const std::filesystem::path& file, const std::string& why) {
  return Error(ErrorCode::InvalidArgument, file.string() + ": " + why);
}

}  // namespace

Part10Header read_part10_header(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::NotFound, "cannot open " + file.string());
  Part10Header header;
  std::error_code ec;
  header.file_size = std::filesystem::file_size(file, ec);
  std::array<std::uint8_t, 132> preamble{};
  if (!in.read(reinterpret_cast<char*>(preamble.data()), preamble.size()) ||
      std::string_view(reinterpret_cast<const char*>(preamble.data()) + 128, 4) != "DICM") {
    throw bad(file, "not a DICOM Part 10 file (no DICM prefix)");
  }
  // Group 0002 is always Explicit VR Little Endian. Read element by element until the group
  // ends; cap the group at 64 KiB.
  std::uint64_t offset = 132;
  for (int count = 0; count < 64; ++count) {
    std::array<std::uint8_t, 8> head{};
    in.read(reinterpret_cast<char*>(head.data()), head.size());
    if (!in) break;  // end of file right after the meta group: an empty data set
    const std::uint16_t group = le16(head.data());
    if (group != 0x0002) break;
    const std::uint16_t element = le16(head.data() + 2);
    const std::string vr(reinterpret_cast<const char*>(head.data() + 4), 2);
    std::uint32_t length = le16(head.data() + 6);
    std::uint64_t header_size = 8;
    if (vr == "OB" || vr == "OW" || vr == "UN" || vr == "SQ" || vr == "UT" || vr == "UC" || vr == "UR") {
      std::array<std::uint8_t, 4> long_length{};
      in.read(reinterpret_cast<char*>(long_length.data()), 4);
      length = le32(long_length.data());
      header_size = 12;
    }
    if (length > 65536) throw bad(file, "meta element too long");
    std::string value(length, '\0');
    in.read(value.data(), length);
    if (!in) throw bad(file, "truncated File Meta Information");
    offset += header_size + length;
    switch (element) {
      case 0x0002: header.sop_class_uid = trim_value(value); break;
      case 0x0003: header.sop_instance_uid = trim_value(value); break;
      case 0x0010: header.transfer_syntax_uid = trim_value(value); break;
      case 0x0016: header.source_ae_title = trim_value(value); break;
      case 0x0018: header.receiving_ae_title = trim_value(value); break;
      default: break;
    }
  }
  if (header.transfer_syntax_uid.empty()) throw bad(file, "File Meta Information without a Transfer Syntax UID");
  if (header.sop_instance_uid.empty()) throw bad(file, "File Meta Information without a SOP Instance UID");
  header.data_set_offset = offset;
  return header;
}

}  // namespace pacsnode::dicom
