#pragma once
// What the index learns from a stored instance: the patient/study/series/instance fields of
// an IndexRecord and, per level, the other attributes as a DICOM JSON model object.
#include <filesystem>

#include "base/index_record.hpp"

namespace pacsnode::dicom {

// Parses a Part-10 file (File Meta Information required; the data set in the transfer
// syntax the meta header names, deflated included) and fills the record's data set fields
// plus instance.transfer_syntax_uid (from the meta header). The other ingest fields
// (calling AE, path, size, checksum) are left for the caller.
//
// - Bulk data is never read into memory: Pixel Data and its relatives (group 7FE0), binary
//   values (OB, OW, OF, OD, OL, OV, UN, and arrays of US, FL, ...) over 1 KiB and text over
//   64 KiB are left out of the JSON. Deflated data sets are the exception: they are inflated
//   in memory, whole, up to 256 MiB.
// - attributes_json leaves out private attributes, group lengths, Specific Character Set
//   (the JSON is UTF-8 whatever the data set used), items nested deeper than 16 sequences,
//   and the attributes that have their own field (Series/Instance Number only when they
//   parse as an int).
// - All text is UTF-8, decoded from Specific Character Set (0008,0005); bytes that cannot
//   be decoded are read as Latin-1, NULs dropped.
// - PatientID may be absent ("", as any other absent text). SOP Class, SOP Instance, Study
//   and Series Instance UIDs must be present and valid (is_valid_uid).
//
// Throws Error(InvalidArgument) for a file that is not a readable, complete Part-10 file or
// lacks a required UID, or whose deflated data set inflates past 256 MiB; Error(NotFound) when
// the file does not exist. Thread-safe.
IndexRecord extract_index_record(const std::filesystem::path& part10_file);

}  // namespace pacsnode::dicom
