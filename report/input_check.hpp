#pragma once
// What a plug-in's result and the caller's input must satisfy before a report is built:
// the DICOM rules the plug-in host's schema check does not know (value representations,
// character repertoire, UIDs, DS range). No DCMTK. For report/*.cpp.
#include <string>
#include <string_view>

#include "report/measurement_report.hpp"

namespace pacsnode::report::detail {

inline constexpr std::size_t kMaxSummaryCharacters = 1024;

// Throws Error(InvalidArgument) "measurement report: <message>".
[[noreturn]] void invalid(const std::string& message);

void check_uid(const std::string& uid, const std::string& what);
bool is_ascii(std::string_view text);
// True when every text the report takes from the input (names, codes, summary) is ASCII.
bool input_is_ascii(const ReportInput& input);

// Everything that can be checked without reading the analysed files; throws invalid(…)
// naming the field.
void check_report_input(const ReportInput& input);

}  // namespace pacsnode::report::detail
