// dicom::nesting_depth and part10_data_set_offset on hand-built bytes, and the parsers that refuse what nests too deep.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "dicom/extract.hpp"
#include "dicom/file_meta.hpp"
#include "dicom/find_identifier.hpp"
#include "dicom/nesting.hpp"
#include "tests/support/temp_dir.hpp"

using pacsnode::dicom::kMaxNestingDepth;
using pacsnode::dicom::nesting_depth;

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Encoding {
  bool explicit_vr = true;
  bool big_endian = false;
};

void put16(Bytes& out, std::uint16_t v, bool big) {
  if (big) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
  } else {
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  }
}
void put32(Bytes& out, std::uint32_t v, bool big) {
  put16(out, static_cast<std::uint16_t>(big ? v >> 16 : v), big);
  put16(out, static_cast<std::uint16_t>(big ? v : v >> 16), big);
}

// One element header (tag, VR for explicit, length), then `value`.
Bytes element(Encoding e, std::uint16_t group, std::uint16_t number, const char* vr, const Bytes& value,
              std::uint32_t length) {
  Bytes out;
  put16(out, group, e.big_endian);
  put16(out, number, e.big_endian);
  if (e.explicit_vr) {
    out.push_back(static_cast<std::uint8_t>(vr[0]));
    out.push_back(static_cast<std::uint8_t>(vr[1]));
    const std::string v(vr);
    if (v == "SQ" || v == "OB" || v == "UN" || v == "UT" || v == "UZ") {
      put16(out, 0, e.big_endian);
      put32(out, length, e.big_endian);
    } else {
      put16(out, static_cast<std::uint16_t>(length), e.big_endian);
    }
  } else {
    put32(out, length, e.big_endian);
  }
  out.insert(out.end(), value.begin(), value.end());
  return out;
}
Bytes element(Encoding e, std::uint16_t group, std::uint16_t number, const char* vr, const Bytes& value) {
  return element(e, group, number, vr, value, static_cast<std::uint32_t>(value.size()));
}
Bytes marker(Encoding e, std::uint16_t number, std::uint32_t length) {
  Bytes out;
  put16(out, 0xFFFE, e.big_endian);
  put16(out, number, e.big_endian);
  put32(out, length, e.big_endian);
  return out;
}
Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// `levels` sequences, each holding one item holding the next, around a leaf element;
// `defined`: every length explicit, otherwise undefined with delimiters.
Bytes nested(Encoding e, int levels, bool defined, const char* vr = "SQ") {
  Bytes inside = element(e, 0x0010, 0x0020, "LO", {'I', 'D'});
  for (int i = 0; i < levels; ++i) {
    if (defined) {
      const Bytes item = marker(e, 0xE000, static_cast<std::uint32_t>(inside.size())) + inside;
      inside = element(e, 0x0008, 0x1115, vr, item);
    } else {
      const Bytes item = marker(e, 0xE000, 0xFFFFFFFF) + inside + marker(e, 0xE00D, 0);
      inside = element(e, 0x0008, 0x1115, vr, item + marker(e, 0xE0DD, 0), 0xFFFFFFFF);
    }
  }
  return inside;
}

// Preamble, "DICM" and group 0002 of a Secondary Capture in Explicit VR Little Endian.
Bytes file_meta() {
  pacsnode::dicom::FileMeta meta;
  meta.media_storage_sop_class_uid = "1.2.840.10008.5.1.4.1.1.7";
  meta.media_storage_sop_instance_uid = "1.2.3.4.5.6.7.8.9";
  meta.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  meta.implementation_class_uid = "1.2.3.4";
  return pacsnode::dicom::encode_file_meta(meta);
}

}  // namespace

TEST_CASE("nesting_depth: counts the sequences around the deepest element") {
  for (const Encoding e : {Encoding{true, false}, Encoding{false, false}, Encoding{true, true}}) {
    CAPTURE(e.explicit_vr);
    CAPTURE(e.big_endian);
    CHECK(nesting_depth(element(e, 0x0010, 0x0010, "PN", {'A', '^', 'B', ' '}), e.explicit_vr, e.big_endian) == 0);
    for (const bool defined : {true, false}) {
      CAPTURE(defined);
      CHECK(nesting_depth(nested(e, 1, defined), e.explicit_vr, e.big_endian) == 1);
      CHECK(nesting_depth(nested(e, 7, defined), e.explicit_vr, e.big_endian) == 7);
      // Beside a flat element, and after a shallower sequence.
      const Bytes both = nested(e, 2, defined) + nested(e, 5, defined) + element(e, 0x0020, 0x0010, "SH", {'1', ' '});
      CHECK(nesting_depth(both, e.explicit_vr, e.big_endian) == 5);
      CHECK(nesting_depth(nested(e, 100, defined), e.explicit_vr, e.big_endian, 64) == 65);
    }
  }
}

TEST_CASE("nesting_depth: what DCMTK would read as a sequence is counted whatever its VR") {
  const Encoding ele{true, false};
  // Undefined-length UN holds Implicit VR Little Endian (PS3.5 6.2.2), and so does an
  // unknown VR, which DCMTK reads as UN.
  const Encoding ile{false, false};
  for (const char* vr : {"UN", "UZ"}) {
    CAPTURE(vr);
    const Bytes inside = nested(ile, 3, false);
    const Bytes un = element(ele, 0x0009, 0x1010, vr,
                             marker(ile, 0xE000, 0xFFFFFFFF) + inside + marker(ile, 0xE00D, 0) + marker(ile, 0xE0DD, 0),
                             0xFFFFFFFF);
    CHECK(nesting_depth(un, true, false) == 4);
  }
  // A defined-length value that starts with an item: an SQ the dictionary would name.
  CHECK(nesting_depth(nested(ele, 3, true, "OB"), true, false) == 3);
  // Encapsulated Pixel Data's fragments are no sequence, and what follows is still walked.
  const Bytes pixels = element(ele, 0x7FE0, 0x0010, "OB",
                               marker(ele, 0xE000, 0) + marker(ele, 0xE000, 4) + Bytes{0xFF, 0xD8, 0xFF, 0xD9} +
                                   marker(ele, 0xE0DD, 0),
                               0xFFFFFFFF);
  CHECK(nesting_depth(pixels, true, false) == 0);
  CHECK(nesting_depth(pixels + element(ele, 0xFFFA, 0xFFFA, "SQ", {}, 0) + nested(ele, 9, false), true, false) == 9);
}

TEST_CASE("nesting_depth: truncated or nonsensical bytes end the walk without reading past them") {
  const Encoding ele{true, false};
  const Bytes deep = nested(ele, 6, false);
  for (std::size_t cut = 0; cut < deep.size(); ++cut) {
    const Bytes prefix(deep.begin(), deep.begin() + static_cast<std::ptrdiff_t>(cut));
    CHECK(nesting_depth(prefix, true, false) <= 6);
  }
  CHECK(nesting_depth(element(ele, 0x0010, 0x0010, "OB", {1, 2}, 0xFFFFFFF0), true, false) == 0);
}

// Found while triaging tests/fuzz/dimse_fuzz (ASan: stack-overflow in
// DcmSequenceOfItems::readSubItem): a C-STORE data set of 200,000 nested empty sequences, 4 MB,
// overflowed the stack of the thread that parsed it and took the whole node down.
TEST_CASE("extract_index_record and parse_find_identifier refuse sequences nested past the limit") {
  const Encoding ele{true, false};
  const Bytes level = element(ele, 0x0008, 0x1115, "SQ", {}, 0xFFFFFFFF) + marker(ele, 0xE000, 0xFFFFFFFF);
  Bytes deep;
  for (int i = 0; i < 200000; ++i) deep.insert(deep.end(), level.begin(), level.end());
  pacsnode::test::TempDir dir("pn-deep");
  const auto path = dir.path() / "deep.dcm";
  {
    const Bytes header = file_meta();
    const Bytes uids = element(ele, 0x0008, 0x0016, "UI", {'1', '.', '2'}) + element(ele, 0x0008, 0x0018, "UI", {'1', '.', '3'});
    std::ofstream out(path, std::ios::binary);
    for (const Bytes* part : {&header, &uids, static_cast<const Bytes*>(&deep)}) {
      out.write(reinterpret_cast<const char*>(part->data()), static_cast<std::streamsize>(part->size()));
    }
  }
  try {
    pacsnode::dicom::extract_index_record(path);
    FAIL("extracted");
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::InvalidArgument);
    CHECK(std::string(e.what()).find("nest deeper than 64") != std::string::npos);
  }
  CHECK_THROWS_AS(pacsnode::dicom::parse_find_identifier(deep, "1.2.840.10008.1.2.1"), pacsnode::Error);
  // At the limit, both still read.
  const Bytes fine = element(ele, 0x0008, 0x0052, "CS", {'S', 'T', 'U', 'D', 'Y', ' '}) + nested(ele, kMaxNestingDepth, false);
  CHECK(pacsnode::dicom::parse_find_identifier(fine, "1.2.840.10008.1.2.1").level == "STUDY");
}

// Found by tests/fuzz/dimse_fuzz (ASan: a wild read in check_nesting_of_file): a group 0002
// element whose 2-byte length ran past the end of the file moved the walk beyond the file's
// mapping, and the next element header was read from there.
TEST_CASE("part10_data_set_offset: a meta element that runs past the file ends the walk inside it") {
  using pacsnode::dicom::part10_data_set_offset;
  const Encoding ele{true, false};
  const Bytes header = file_meta();
  const Bytes data = element(ele, 0x0008, 0x0016, "UI", {'1', '.', '2'});
  CHECK(part10_data_set_offset(header) == header.size());
  CHECK(part10_data_set_offset(header + data) == header.size());
  for (std::size_t cut = 0; cut < header.size(); ++cut) {
    CAPTURE(cut);
    CHECK(part10_data_set_offset(Bytes(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(cut))) <= cut);
  }

  const Bytes preamble = Bytes(128, 0) + Bytes{'D', 'I', 'C', 'M'};
  const Bytes version = element(ele, 0x0002, 0x0001, "OB", {0, 1});
  // A short-VR length (2 bytes) and a long one (4 bytes) that claim more than is left.
  const Bytes short_claim = element(ele, 0x0002, 0x0010, "UI", {'1', '.', '2'}, 0xFFFF);
  const Bytes long_claim = element(ele, 0x0002, 0x0001, "OB", {0, 1}, 0xFFFFFFF0);
  CHECK(part10_data_set_offset(preamble + short_claim) == 132);
  CHECK(part10_data_set_offset(preamble + long_claim) == 132);
  CHECK(part10_data_set_offset(preamble + version + short_claim + data) == 132 + version.size());

  // As a file: refused with a pacsnode::Error, nothing read past its end.
  pacsnode::test::TempDir dir("pn-meta");
  const auto path = dir.path() / "claim.dcm";
  {
    const Bytes file = preamble + version + short_claim;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
  }
  CHECK_THROWS_AS(pacsnode::dicom::extract_index_record(path), pacsnode::Error);
}
