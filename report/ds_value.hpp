#pragma once
// A measurement value as a Decimal String (PS3.5 §6.2, VR DS: at most 16 characters) for
// the SR's Numeric Value (0040,A30A). No DCMTK: the report builder and its tests share it.
#include <optional>
#include <string>

namespace pacsnode::report {

// Largest magnitude a report carries. No quantity measured on an image comes near it; a
// value beyond it is a plug-in's bug (an uninitialised double, a division by almost zero)
// and is refused rather than published in a clinical document.
inline constexpr double kMaxReportedMagnitude = 1e15;

// The shortest "%.Ng" rendering (N from 15 down to 6 significant digits) that fits in 16
// characters: exact where 15 digits are, else rounded to as many digits as fit (never fewer
// than 6). "-0" becomes "0". nullopt for a value that is not finite or whose magnitude is
// above kMaxReportedMagnitude.
std::optional<std::string> to_decimal_string(double value);

}  // namespace pacsnode::report
