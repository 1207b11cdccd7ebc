#pragma once
// out/result.json exactly as the contract (README, "What the plug-in gives back") shapes it.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "plugins/contract.hpp"

namespace pacsnode::bundled {

nlohmann::json to_json(const plugins::AnalysisResult& result);

// Writes <out_dir>/result.json (through a temporary file and a rename, so that a reader
// never sees half of it); throws std::runtime_error on an I/O failure.
void write_result(const std::filesystem::path& out_dir, const plugins::AnalysisResult& result);

}  // namespace pacsnode::bundled
