#pragma once
// UIDs (PS3.5 §9): validation before any UID becomes part of a path or a row.
#include <string>
#include <string_view>

namespace pacsnode::dicom {

// True for a valid UID: 1–64 characters, digits and dots, components non-empty and without
// leading zeros (except a lone "0"). Never true for anything with '/', '..', or NULs.
bool is_valid_uid(std::string_view uid);

}  // namespace pacsnode::dicom
