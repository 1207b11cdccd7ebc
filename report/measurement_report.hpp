#pragma once
// A TID 1500 Imaging Measurement Report (Enhanced SR) from a plug-in's findings
// (plugins/contract.hpp), with DCMTK's dcmsr/cmr classes: in the analysed instances' patient
// and study, as a new series; the plug-in as the device observer; procedure reported; an
// image library and the evidence for every analysed instance; one TID 1501 measurement
// group per finding with its tracking identifier and tracking UID; codes of private schemes
// declared in the Coding Scheme Identification Sequence. README, "Structured Reports".
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "plugins/contract.hpp"

namespace pacsnode::report {

// An earlier report this one replaces (Predecessor Documents Sequence).
struct ReportReference {
  std::string study_instance_uid, series_instance_uid, sop_class_uid, sop_instance_uid;
};

struct ReportInput {
  const plugins::AnalysisResult* result = nullptr;
  // The analysed instances (Part-10 files): patient and study come from the first; every
  // one is in the image library and the evidence.
  std::vector<std::filesystem::path> analysed_files;
  // One Tracking Unique Identifier per result->groups entry, same order.
  std::vector<std::string> tracking_uids;
  // The new report's UIDs (the caller makes them, so that a retried attempt writes the same
  // instance again): SOP Instance UID and Series Instance UID.
  std::string sop_instance_uid;
  std::string series_instance_uid;
  std::optional<ReportReference> predecessor;
  // Series Number of the new series; Content Date/Time are now.
  int series_number = 9900;
  std::string manufacturer = "pacsnode";
  std::string implementation_class_uid;   // File Meta
  std::string implementation_version_name;
};

struct BuiltReport {
  std::vector<std::uint8_t> part10;  // the whole file (File Meta + data set, Explicit VR Little Endian)
  std::string sop_class_uid;         // Enhanced SR
  std::string sop_instance_uid, series_instance_uid, study_instance_uid;
};

// Throws pacsnode::Error (InvalidArgument) when the input cannot make a valid report (no
// analysed file, a code DCMTK refuses, a value that does not fit a DS), naming what; checks
// are listed in README, "Structured Reports". Safe to call from several threads at once.
BuiltReport build_measurement_report(const ReportInput& input);

}  // namespace pacsnode::report
