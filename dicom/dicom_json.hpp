#pragma once
// Internal to dicom/ (names a DCMTK type; other modules must not include it): the DICOM JSON
// model (PS3.18 §F.2) of DCMTK elements, written by hand rather than by DCMTK's writeJson so
// that the output is always valid JSON that PostgreSQL's jsonb accepts: malformed DS/IS
// values and those past a double's range become strings, non-finite floats null, text valid
// UTF-8 without U+0000.
#include <string>

class DcmElement;

namespace pacsnode::dicom::detail {

// Appends `"GGGGEEEE":{"vr":"XX","Value":[...]}` (or "InlineBinary" for OB, OW, UN, ...)
// for `element`, sequences with all their items. The caller has already removed whatever
// must not appear (bulk data); every value left is read, so none may be large.
void append_json_attribute(std::string& out, DcmElement& element);

}  // namespace pacsnode::dicom::detail
