#pragma once
// The analysis plug-in contract, version 1 (README, "Analysis plug-ins"): what pacsnode
// gives a plug-in (a job folder with in/, out/ and task.json, environment variables) and
// what it takes back (exit code, out/result.json, DICOM objects in out/). Shared by the
// host (plugins/host.hpp), the report builder (report/) and the bundled plug-ins.
#include <optional>
#include <string>
#include <vector>

namespace pacsnode::plugins {

inline constexpr int kContractVersion = 1;

// Exit codes.
inline constexpr int kExitDone = 0;            // out/result.json (and/or DICOM objects in out/) written
inline constexpr int kExitNotApplicable = 3;   // nothing to report on this input: job done, with a note
inline constexpr int kExitTemporaryFailure = 75;  // EX_TEMPFAIL: try again later (backs the plug-in off)
// Anything else, a signal, or the timeout: a failure, retried by the queue's policy.

// Limits on what a plug-in hands back.
inline constexpr std::size_t kMaxResultBytes = 4 << 20;  // out/result.json
inline constexpr std::size_t kMaxGroups = 1000;          // measurement groups
inline constexpr std::size_t kMaxItemsPerGroup = 1000;   // measurement items in one group

// A coded concept: (CodeValue, CodingSchemeDesignator, CodeMeaning).
struct Code {
  std::string value;    // CodeValue, 1-16 characters (SH)
  std::string scheme;   // CodingSchemeDesignator, 1-16 characters: "DCM", "SCT", "UCUM", "LN", or a private "99…"
  std::string meaning;  // CodeMeaning, 1-64 characters (LO)
  bool operator==(const Code&) const = default;
};

// One measurement: a coded quantity with a value and a UCUM unit.
struct MeasurementItem {
  Code quantity;                    // concept name, e.g. (118565006, SCT, "Volume")
  double value = 0;                 // finite
  Code unit;                        // scheme "UCUM", e.g. (cm3, UCUM, "cubic centimeter")
  std::optional<Code> derivation;   // e.g. (373098007, SCT, "Mean")
  std::optional<Code> method;       // e.g. (126030, DCM, "Sum of segmented voxel method for volume")
};

// One measurement group (TID 1501): one finding at one site.
struct MeasurementGroup {
  std::string tracking_identifier;  // free text, 1-64 characters, e.g. "right lung"
  Code finding;                     // e.g. (39607008, SCT, "Lung")
  std::optional<Code> finding_site;
  std::optional<Code> laterality;   // (24028007, SCT, "Right"), (7771000, SCT, "Left")
  std::vector<MeasurementItem> items;  // at least one
  // SOP Instance UIDs of input instances the measurements were made on; empty: all of them.
  std::vector<std::string> image_references;
};

// out/result.json, parsed and checked (plugins/result.hpp).
struct AnalysisResult {
  int contract = kContractVersion;
  std::string algorithm_name;     // "lung-density"
  std::string algorithm_version;  // "1.0.0"; part of the key that keeps one SR per input version
  std::string summary;            // free text, may be empty (≤ 1024 characters)
  std::vector<MeasurementGroup> groups;
};

}  // namespace pacsnode::plugins
