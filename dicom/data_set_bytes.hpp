#pragma once
// For dicom/*.cpp only (it includes DCMTK): a data set encoded in memory, and read from it.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cstdint>
#include <span>
#include <vector>

namespace pacsnode::dicom::detail {

// The data set's bytes in `xfer` (explicit lengths, no File Meta Information). Throws
// pacsnode::Error(Internal) when DCMTK cannot encode it.
std::vector<std::uint8_t> data_set_bytes(DcmDataset& data_set, E_TransferSyntax xfer);

// A DCMTK input stream over bytes the caller keeps alive as long as anything read from it
// (the data set) lives; at its end (eos set). Read data sets from memory only through this.
//
// DCMTK allocates an element's value from its length field before reading it, unless the
// stream can give a factory to read the value later: then a value longer than the read's
// maxReadLength (DCM_MaxReadLength by default) is skipped at parse time — so that a length
// past the end fails the parse — and loaded on demand. DcmInputBufferStream has no factory:
// a 20-byte identifier claiming a 4 GB element made DCMTK allocate 4 GB (found by
// tests/fuzz/dimse_fuzz). Not for deflated syntaxes: the factory reads the raw bytes, which
// an inflating filter would have stood in front of.
class SpanInputStream final : public DcmInputBufferStream {
 public:
  explicit SpanInputStream(std::span<const std::uint8_t> bytes);
  DcmInputStreamFactory* newFactory() const override;

 private:
  std::span<const std::uint8_t> bytes_;
};

}  // namespace pacsnode::dicom::detail
