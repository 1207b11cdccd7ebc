#pragma once
// For dicom/*.cpp only (it includes DCMTK): a data set encoded in memory.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cstdint>
#include <vector>

namespace pacsnode::dicom::detail {

// The data set's bytes in `xfer` (explicit lengths, no File Meta Information). Throws
// pacsnode::Error(Internal) when DCMTK cannot encode it.
std::vector<std::uint8_t> data_set_bytes(DcmDataset& data_set, E_TransferSyntax xfer);

}  // namespace pacsnode::dicom::detail
