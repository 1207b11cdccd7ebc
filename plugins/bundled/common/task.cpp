#include "plugins/bundled/common/task.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "plugins/bundled/common/invocation.hpp"
#include "plugins/contract.hpp"

namespace pacsnode::bundled {

namespace {

std::string string_field(const nlohmann::json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) throw InputError("task.json: " + where + "." + key + ": not a string");
  return it->get<std::string>();
}

}  // namespace

Task read_task(const std::filesystem::path& task_file) {
  std::ifstream in(task_file, std::ios::binary);
  if (!in) throw InputError("cannot open task file " + task_file.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("task.json: not JSON: " + std::string(e.what()));
  }
  if (!j.is_object()) throw InputError("task.json: not an object");
  auto contract = j.find("contract");
  if (contract == j.end() || !contract->is_number_integer()) throw InputError("task.json: contract: missing");
  if (contract->get<int>() != plugins::kContractVersion)
    throw InputError("task.json: contract: version " + contract->dump() + " is not supported (this plug-in speaks 1)");
  Task task;
  task.job_dir = std::filesystem::absolute(task_file).parent_path();
  task.level = string_field(j, "level", "task");
  if (auto s = j.find("series"); s != j.end() && s->is_object()) task.modality = string_field(*s, "Modality", "series");
  auto files = j.find("files");
  if (files == j.end() || !files->is_array()) throw InputError("task.json: files: missing or not an array");
  for (std::size_t i = 0; i < files->size(); ++i) {
    const auto& f = (*files)[i];
    const std::string where = "files[" + std::to_string(i) + "]";
    if (!f.is_object()) throw InputError("task.json: " + where + ": not an object");
    TaskFile tf;
    const std::string path = string_field(f, "path", where);
    if (path.empty()) throw InputError("task.json: " + where + ".path: missing");
    tf.path = std::filesystem::path(path).is_absolute() ? std::filesystem::path(path) : task.job_dir / path;
    tf.sop_instance_uid = string_field(f, "SOPInstanceUID", where);
    tf.series_instance_uid = string_field(f, "SeriesInstanceUID", where);
    task.files.push_back(std::move(tf));
  }
  if (task.files.empty()) throw InputError("task.json: files: empty");
  return task;
}

}  // namespace pacsnode::bundled
