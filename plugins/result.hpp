#pragma once
// out/result.json of the plug-in contract: parsed and checked against everything the README
// ("Analysis plug-ins", "What the plug-in gives back") requires, and written back.
#include <string>
#include <string_view>
#include <vector>

#include "plugins/contract.hpp"

namespace pacsnode::plugins {

// Parses and checks `json_text`. `input_sop_uids` are the SOP Instance UIDs the plug-in was
// given; imageReferences must be among them. Throws pacsnode::Error(InvalidArgument) whose
// message starts with the path of the offending field, e.g.
// "Measurements[2].measurementItems[0].units: missing". Unknown keys are ignored.
AnalysisResult parse_result(std::string_view json_text, const std::vector<std::string>& input_sop_uids);

// The same shape as the README's result.json; parse_result(result_to_json(r), uids) == r
// for any r that parse_result accepts.
std::string result_to_json(const AnalysisResult& result);

}  // namespace pacsnode::plugins
