#pragma once
// The Storage SOP Classes we know (DCMTK's list) and the transfer syntaxes we accept for
// them, in our order of preference within one presentation context.
#include <string>
#include <vector>

namespace pacsnode::dicom {

const std::vector<std::string>& storage_sop_classes();
// Uncompressed first, then lossless compressed, then lossy: picking a lossy syntax when the
// same context also offers a lossless one would throw information away.
const std::vector<std::string>& storage_transfer_syntaxes();
bool is_storage_sop_class(const std::string& uid);

}  // namespace pacsnode::dicom
