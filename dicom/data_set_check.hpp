#pragma once
// Does a received data set say what its C-STORE-RQ said? (PS3.4 §B.2.3: the SCP answers
// 0xA900 "data set does not match SOP class" when not.)
#include <string_view>

#include "base/index_record.hpp"

namespace pacsnode::dicom {

enum class SopMismatch {
  None,
  SopClassUid,     // (0008,0016) differs from the command's Affected SOP Class UID
  SopInstanceUid,  // (0008,0018) differs from the command's Affected SOP Instance UID
};

// Compares the UIDs extracted from the data set with the command's Affected SOP Class and
// Instance UIDs, ignoring trailing NUL or space padding. The class is checked first.
SopMismatch check_affected_sop(const InstanceRecord& data_set,
                               std::string_view affected_sop_class_uid,
                               std::string_view affected_sop_instance_uid);

}  // namespace pacsnode::dicom
