#pragma once
// How deep a data set's sequences nest, read from its bytes before DCMTK parses them.
// DCMTK's parser recurses once per nested item: a megabyte of nested empty sequences
// overflowed the stack of the thread parsing a C-STORE, and took the process down (found
// while triaging tests/fuzz/dimse_fuzz). Pure: no DCMTK.
#include <cstddef>
#include <cstdint>
#include <span>

namespace pacsnode::dicom {

// Deepest data sets accepted from a peer; real ones (SR trees included) stay far below.
inline constexpr std::size_t kMaxNestingDepth = 64;

// The number of nested sequences at the deepest point of `bytes` (a data set without File
// Meta Information, encoded with explicit or implicit VR, little or big endian), or
// `limit + 1` as soon as it is deeper than `limit`. It counts at least every level DCMTK
// would recurse into: sequences of undefined length whatever their VR, explicit SQ, UN
// (its content read as Implicit VR Little Endian, PS3.5 §6.2.2), and any value of defined
// length that starts with an Item tag (an implicit VR SQ, or a private one, which only the
// dictionary would name). Where the bytes stop making sense the walk stops there:
// DCMTK refuses those bytes too.
std::size_t nesting_depth(std::span<const std::uint8_t> bytes, bool explicit_vr, bool big_endian,
                          std::size_t limit = kMaxNestingDepth);

// Where the data set of a Part-10 file's `bytes` begins: past the 128-byte preamble, "DICM"
// and the group 0002 elements (Explicit VR Little Endian) that follow. An element whose
// length runs past the end stops the walk at that element. Never more than bytes.size();
// 132 or less when there is nothing past the preamble.
std::size_t part10_data_set_offset(std::span<const std::uint8_t> bytes);

}  // namespace pacsnode::dicom
