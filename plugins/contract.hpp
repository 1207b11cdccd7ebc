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
inline constexpr std::size_t kMaxRegionPoints = 10000;   // (column, row) pairs in one image region
inline constexpr double kMaxImageCoordinate = 65535;     // Columns and Rows are US: no image is larger

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

// Where on one image a group was measured: a planar region (a TID 1410 Image Region, an SCOORD)
// in image pixel coordinates, (0,0) the top left corner of the top left pixel.
struct ImageRegion {
  // "POLYLINE" (closed: the last point repeats the first), "CIRCLE" (centre, a point on the
  // circle), "ELLIPSE" (major axis end points, then minor axis end points) or "POINT".
  std::string graphic_type;
  std::vector<double> graphic_data;         // column, row, column, row, …
  std::string referenced_sop_instance_uid;  // one of task.json's files
  std::optional<int> referenced_frame_number;  // 1-based; absent: a single-frame image
  bool operator==(const ImageRegion&) const = default;
};

// One measurement group: one finding at one site (TID 1501; TID 1410 when it has a region).
struct MeasurementGroup {
  std::string tracking_identifier;  // free text, 1-64 characters, e.g. "right lung"
  Code finding;                     // e.g. (39607008, SCT, "Lung")
  std::optional<Code> finding_site;
  std::optional<Code> laterality;   // (24028007, SCT, "Right"), (7771000, SCT, "Left")
  std::vector<MeasurementItem> items;  // at least one
  // SOP Instance UIDs of input instances the measurements were made on; empty: all of them.
  std::vector<std::string> image_references;
  // The region on one image the measurements were made in; then image_references is empty.
  std::optional<ImageRegion> image_region;
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
