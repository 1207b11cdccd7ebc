#include <doctest/doctest.h>

#include <string>

#include "dicom/data_set_check.hpp"

using pacsnode::dicom::check_affected_sop;
using pacsnode::dicom::SopMismatch;

TEST_CASE("dicom data set check: data set against the C-STORE command's affected SOP") {
  pacsnode::InstanceRecord parsed;
  parsed.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  parsed.sop_instance_uid = "1.2.3.4.5";
  CHECK(check_affected_sop(parsed, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5") == SopMismatch::None);
  CHECK(check_affected_sop(parsed, std::string("1.2.840.10008.5.1.4.1.1.2\0", 26), "1.2.3.4.5 ") ==
        SopMismatch::None);
  CHECK(check_affected_sop(parsed, "1.2.840.10008.5.1.4.1.1.4", "1.2.3.4.5") ==
        SopMismatch::SopClassUid);
  CHECK(check_affected_sop(parsed, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.50") ==
        SopMismatch::SopInstanceUid);
  CHECK(check_affected_sop(parsed, "", "") == SopMismatch::SopClassUid);
}
