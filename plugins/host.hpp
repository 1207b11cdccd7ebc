#pragma once
// The plug-in host: runs one analysis plug-in once, under the contract of the README
// ("Analysis plug-ins (contract version 1)"), and says how it went. Blocking: call it from
// a thread that may wait for as long as the plug-in's timeout.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plugins/contract.hpp"

namespace pacsnode::plugins {

struct PluginSpec {
  std::string name;
  // argv, no shell. A relative program path with a '/' is taken from the node's current
  // directory; one without is looked up in the plug-in's PATH.
  std::vector<std::string> command;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  std::uint64_t memory_mb = 0;  // RLIMIT_AS; 0: no limit
};

struct InputFile {
  std::filesystem::path path;  // absolute path of the stored file
  std::string sop_instance_uid, sop_class_uid, series_instance_uid, instance_number;
};

struct RunRequest {
  PluginSpec plugin;
  std::int64_t job_id = 0;
  int attempt = 1;
  std::string rule;
  int firing = 1;                // > 1: an amendment
  std::string level = "series";  // "series" | "study" | "instance"
  // keyword → value, written into task.json in this order ("series" is left out for a
  // study-level job).
  std::vector<std::pair<std::string, std::string>> patient, study, series;
  std::vector<InputFile> files;
  // Job folders are made under it: <work_root>/<job_id>-<attempt> (an old one of that name is
  // replaced). Best on the file system of the stored files (hard links); every parent
  // folder must be searchable by the plug-in's user.
  std::filesystem::path work_root;
  // Unset: "nobody" when the node runs as root (geteuid() == 0), else the node's own user.
  std::optional<std::string> run_as_user;
};

struct RunOutcome {
  enum class Kind { Done, NotApplicable, TemporaryFailure, Failed };
  Kind kind = Kind::Failed;
  std::string message;  // one line: why (for the job's last_error or its note); "done" when Done
  std::optional<AnalysisResult> result;  // Done with an out/result.json
  std::vector<std::filesystem::path> dicom_outputs;  // Done: out/*.dcm (regular files), sorted
  std::string output_tail;  // the last 64 KiB of the plug-in's stdout+stderr (valid UTF-8, no NUL)
  std::filesystem::path job_dir;  // empty when it could not be made
  std::optional<int> exit_code;   // when the plug-in exited (not killed by a signal, a timeout, a stop)
  bool timed_out = false;
  std::chrono::milliseconds duration{0};  // from start to exit of the plug-in
};

inline constexpr std::size_t kMaxOutputTail = 64 * 1024;

// Prepares the job folder, runs the plug-in with its limits, waits for it (at most its
// timeout) and collects and checks what it left. Never throws for anything the plug-in or
// its input does: every failure is an outcome. `stop` set (polled every few ms): the
// plug-in and its whole process group are killed, Kind::Failed with message "stopped".
// The job folder is left in place for the caller to read (dicom_outputs) and then remove.
RunOutcome run_plugin(const RunRequest& request, const std::atomic<bool>* stop = nullptr);

// Removes a job folder and everything in it, whatever the plug-in did to its permissions.
// Logs, never throws.
void remove_job_dir(const std::filesystem::path& job_dir) noexcept;

const char* to_string(RunOutcome::Kind kind);

}  // namespace pacsnode::plugins
