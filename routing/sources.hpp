#pragma once
// Where a rule's attributes come from: a DICOM file (`pacsnode rules test`), an instance
// being ingested (its IndexRecord), or what the index stores about a series or study (its
// columns and DICOM JSON attributes).
#include <filesystem>
#include <string_view>

#include "base/index_record.hpp"
#include "routing/attributes.hpp"

namespace pacsnode::routing {

// The File Meta Information and top-level attributes of a Part-10 file, text decoded to
// UTF-8, without pixel data (dicom::read_attribute_text). Throws Error(NotFound) or
// Error(InvalidArgument) for a file that cannot be read.
AttributeSet read_file_attributes(const std::filesystem::path& part10_file);

// Adds the attributes of a DICOM JSON model object (PS3.18 §F.2; what dicom/ writes into
// the index's attributes_json): strings and numbers as text, PN as its groups joined by
// `=`, sequences and InlineBinary as opaque. Replaces attributes already set. Throws
// Error(InvalidArgument) when `json` is not a JSON object.
void add_dicom_json(AttributeSet& attributes, std::string_view json);

// Everything an IndexRecord knows about an instance: the fields of every level (with
// their standard VRs; an empty field is absent), Transfer Syntax UID, and the four
// attributes_json objects. What the ingest path hands to Trigger::Instance rules.
AttributeSet record_attributes(const IndexRecord& record);

}  // namespace pacsnode::routing
