#pragma once
// Internal to http/: the stored instances a WADO-RS path names, found by the retrieve SQL
// the C-MOVE/C-GET SCP uses (db/retrieve_query).
#include <filesystem>
#include <string>
#include <vector>

#include "http/handlers.hpp"

namespace pacsnode::http {

struct Located {
  std::string sop_instance_uid, sop_class_uid, transfer_syntax;
  std::filesystem::path file;
};

// The instances under `target`, ordered by series number and instance number. Throws
// HttpError 400 for a malformed UID, 404 when nothing matches, 503 when the database cannot
// be asked.
asio::awaitable<std::vector<Located>> locate(Context& context, const WadoTarget& target);

}  // namespace pacsnode::http
