#pragma once
// task.json (contract version 1) as far as the bundled plug-ins need it.
#include <filesystem>
#include <string>
#include <vector>

namespace pacsnode::bundled {

struct TaskFile {
  std::filesystem::path path;   // absolute, or relative to the job folder resolved
  std::string sop_instance_uid;
  std::string series_instance_uid;
};

struct Task {
  std::filesystem::path job_dir;  // the folder that holds task.json
  std::string level;              // "series" or "study"
  std::string modality;           // series.Modality, "" for a study-level job
  std::vector<TaskFile> files;
};

// Reads and checks task.json; throws InputError naming the field that is wrong.
Task read_task(const std::filesystem::path& task_file);

}  // namespace pacsnode::bundled
