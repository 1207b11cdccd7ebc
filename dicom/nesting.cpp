#include "dicom/nesting.hpp"

#include <algorithm>
#include <string_view>

namespace pacsnode::dicom {
namespace {

constexpr std::uint32_t kUndefined = 0xFFFFFFFF;
constexpr std::uint32_t kItem = 0xFFFEE000;
constexpr std::uint32_t kItemDelimitation = 0xFFFEE00D;
constexpr std::uint32_t kSequenceDelimitation = 0xFFFEE0DD;
constexpr std::uint32_t kPixelData = 0x7FE00010;

constexpr std::string_view kShortVrs[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO",
                                          "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"};
constexpr std::string_view kLongVrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UR", "UT", "UV"};

template <std::size_t N>
bool among(std::string_view vr, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), vr) != std::end(list);
}

// A single cursor over the bytes, advanced as DCMTK's stream would be: a defined-length
// item or sequence ends once as many bytes as it declared have been read, even if its last
// element ran past that point (DCMTK tolerates it), so the walk never trusts a container's
// boundary more than DCMTK does.
class Walker {
 public:
  Walker(std::span<const std::uint8_t> bytes, std::size_t limit) : bytes_(bytes), limit_(limit) {}

  std::size_t run(bool explicit_vr, bool big_endian) {
    elements(explicit_vr, big_endian, kUndefined, 0);
    return deepest_;
  }

 private:
  bool ok() const { return !stopped_ && deepest_ <= limit_; }
  bool have(std::size_t n) const { return bytes_.size() - pos_ >= n; }

  std::uint16_t u16(bool big_endian) {
    const std::uint8_t a = bytes_[pos_], b = bytes_[pos_ + 1];
    pos_ += 2;
    return big_endian ? static_cast<std::uint16_t>(a << 8 | b) : static_cast<std::uint16_t>(b << 8 | a);
  }
  std::uint32_t u32(bool big_endian) {
    const std::uint32_t first = u16(big_endian), second = u16(big_endian);
    return big_endian ? (first << 16 | second) : (second << 16 | first);
  }
  std::uint32_t tag(bool big_endian) {
    const std::uint32_t group = u16(big_endian);
    return group << 16 | u16(big_endian);
  }
  // Whether the value at the cursor starts with an Item tag in either byte order.
  bool starts_with_item(std::uint32_t length) const {
    if (length < 8 || !have(4)) return false;
    const auto* p = bytes_.data() + pos_;
    return (p[0] == 0xFE && p[1] == 0xFF && p[2] == 0x00 && p[3] == 0xE0) ||
           (p[0] == 0xFF && p[1] == 0xFE && p[2] == 0xE0 && p[3] == 0x00);
  }
  bool item_in_big_endian() const { return bytes_[pos_] == 0xFF; }

  // The elements of a data set or an item: up to `length` bytes, or, undefined, up to an
  // Item Delimitation (consumed) or the end.
  void elements(bool explicit_vr, bool big_endian, std::uint32_t length, std::size_t depth) {
    const std::size_t start = pos_;
    while (ok() && (length == kUndefined || pos_ - start < length)) {
      if (!have(8)) return stop();
      const std::uint32_t t = tag(big_endian);
      if ((t >> 16) == 0xFFFE) {  // delimiters and items carry no VR
        const std::uint32_t len = u32(big_endian);
        if (t == kItemDelimitation && length == kUndefined) return;
        if (t == kItemDelimitation || t == kSequenceDelimitation || t == kItem) {
          if (len != kUndefined && len != 0) skip(len);
          continue;
        }
        skip(len);
        continue;
      }
      std::uint32_t len = 0;
      bool sequence = false, un = false;
      if (explicit_vr) {
        const std::string_view vr(reinterpret_cast<const char*>(bytes_.data() + pos_), 2);
        pos_ += 2;
        sequence = vr == "SQ";
        // DCMTK reads an unknown VR as UN: a 4-byte length, and a sequence's content in
        // Implicit VR Little Endian.
        un = !among(vr, kShortVrs) && !among(vr, kLongVrs);
        if (!among(vr, kShortVrs)) {
          if (!have(6)) return stop();
          pos_ += 2;
          len = u32(big_endian);
        } else {
          len = u16(big_endian);
        }
      } else {
        len = u32(big_endian);
      }
      if (len == kUndefined && t == kPixelData) {
        fragments(big_endian);
      } else if (len == kUndefined) {
        items(explicit_vr && !un, un ? false : big_endian, kUndefined, depth + 1);
      } else if (sequence || starts_with_item(len)) {
        const bool nested_big_endian = un ? false : (sequence ? big_endian : item_in_big_endian());
        items(!un && explicit_vr, nested_big_endian, len, depth + 1);
      } else {
        skip(len);
      }
    }
  }

  // The items of a sequence at `depth`.
  void items(bool explicit_vr, bool big_endian, std::uint32_t length, std::size_t depth) {
    deepest_ = std::max(deepest_, depth);
    const std::size_t start = pos_;
    while (ok() && (length == kUndefined || pos_ - start < length)) {
      if (!have(8)) return stop();
      const std::uint32_t t = tag(big_endian);
      const std::uint32_t len = u32(big_endian);
      if (t == kSequenceDelimitation) return;
      if (t != kItem) return stop();  // DCMTK refuses a sequence holding anything else
      elements(explicit_vr, big_endian, len, depth);
    }
  }

  // Encapsulated Pixel Data: items that hold compressed bytes, not elements (DCMTK's
  // DcmPixelSequence), up to a Sequence Delimitation.
  void fragments(bool big_endian) {
    while (ok()) {
      if (!have(8)) return stop();
      const std::uint32_t t = tag(big_endian);
      const std::uint32_t len = u32(big_endian);
      if (t == kSequenceDelimitation) return;
      if (t != kItem || len == kUndefined) return stop();
      skip(len);
    }
  }

  void skip(std::uint32_t length) {
    if (!have(length)) return stop();
    pos_ += length;
  }
  void stop() { stopped_ = true; }

  std::span<const std::uint8_t> bytes_;
  std::size_t limit_;
  std::size_t pos_ = 0;
  std::size_t deepest_ = 0;
  bool stopped_ = false;
};

}  // namespace

std::size_t nesting_depth(std::span<const std::uint8_t> bytes, bool explicit_vr, bool big_endian, std::size_t limit) {
  return std::min(Walker(bytes, limit).run(explicit_vr, big_endian), limit + 1);
}

std::size_t part10_data_set_offset(std::span<const std::uint8_t> bytes) {
  const std::size_t size = bytes.size();
  std::size_t offset = 132;
  if (size <= offset) return size;
  while (size - offset >= 8 && bytes[offset] == 0x02 && bytes[offset + 1] == 0x00) {
    const std::string_view vr(reinterpret_cast<const char*>(bytes.data() + offset + 4), 2);
    std::size_t header = 8, length = bytes[offset + 6] | bytes[offset + 7] << 8;
    if (vr == "UN" || among(vr, kLongVrs)) {
      if (size - offset < 12) break;
      header = 12;
      length = bytes[offset + 8] | bytes[offset + 9] << 8 | bytes[offset + 10] << 16 |
               static_cast<std::size_t>(bytes[offset + 11]) << 24;
    }
    if (length > size - offset - header) break;
    offset += header + length;
  }
  return offset;
}

}  // namespace pacsnode::dicom
