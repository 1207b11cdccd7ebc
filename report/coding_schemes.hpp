#pragma once
// Which coding schemes a report must declare in its Coding Scheme Identification Sequence
// (0008,0110): private ones ("99…", "L") and any designator that is not one of the
// standard's internally defined ones (PS3.16 Table 8-1). No DCMTK.
#include <string>
#include <string_view>

namespace pacsnode::report {

// pacsnode's own private scheme for quantities without a standard code.
inline constexpr std::string_view kPrivateScheme = "99PACSNODE";
inline constexpr std::string_view kPrivateSchemeName = "pacsnode private codes";

bool is_private_scheme(std::string_view designator);   // "99…" or "L"
bool is_standard_scheme(std::string_view designator);  // listed in PS3.16 Table 8-1 (the common ones)
bool needs_declaration(std::string_view designator);   // private, or not a standard one

// Coding Scheme Name (0008,0115) for a declared scheme.
std::string declared_scheme_name(std::string_view designator);

}  // namespace pacsnode::report
