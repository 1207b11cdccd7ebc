#include "dicom/data_set_check.hpp"

namespace pacsnode::dicom {
namespace {

std::string_view unpadded(std::string_view uid) {
  while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.remove_suffix(1);
  return uid;
}

}  // namespace

SopMismatch check_affected_sop(const InstanceRecord& data_set,
                               std::string_view affected_sop_class_uid,
                               std::string_view affected_sop_instance_uid) {
  if (unpadded(data_set.sop_class_uid) != unpadded(affected_sop_class_uid)) {
    return SopMismatch::SopClassUid;
  }
  if (unpadded(data_set.sop_instance_uid) != unpadded(affected_sop_instance_uid)) {
    return SopMismatch::SopInstanceUid;
  }
  return SopMismatch::None;
}

}  // namespace pacsnode::dicom
