#pragma once
// The `analyze PLUGIN` action: runs the plug-in on the job's resource (plugins/host.hpp),
// and from what it gives back makes the node's own objects: a TID 1500 Structured Report
// (report/) stored and indexed through the one ingest path, the patient's findings
// (db/findings.hpp, one Tracking UID per patient and finding), the plug-in's own DICOM
// objects after a check that they belong to the input's patient and study, and a `forward`
// job for each of them to every peer of [reports] send_to. README, "analyze PLUGIN".
//
// Idempotent: the report's UIDs derive from (plug-in, version, resource, fingerprint of the
// analysed instances), so an attempt that dies after storing the report writes the same
// instance again, and an unchanged input analysed again yields no second report. A changed
// input (an amended series) yields a new report naming the previous one as its
// predecessor.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugins/host.hpp"
#include "routing/dispatcher.hpp"

namespace pacsnode::ingest {
class Ingest;
}

namespace pacsnode::routing {

struct AnalyzeSettings {
  std::string conninfo;
  std::filesystem::path storage_root;  // file paths in the index are relative to it
  std::filesystem::path work_root;     // job folders; on the storage file system (hard links)
  std::map<std::string, plugins::PluginSpec> plugins;  // by [[plugins]] name
  std::vector<std::string> report_peers;               // [reports] send_to
  int forward_max_attempts = 10;
  std::string ae_title;  // ours: the origin recorded for the objects we make
  std::string implementation_class_uid, implementation_version_name;
  ingest::Ingest* ingest = nullptr;  // outlives the handler
};

inline constexpr const char* kAnalyzeKind = "analyze";

JobHandler analyze_handler(AnalyzeSettings settings);

}  // namespace pacsnode::routing
