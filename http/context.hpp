#pragma once
// What the HTTP handlers share: the node's services they call (the same ones the DIMSE
// door calls) and their settings.
#include <cstddef>
#include <filesystem>
#include <string>

#include "net/asio.hpp"

namespace pacsnode {
namespace db {
class ConnectionPool;
}
namespace ingest {
class Ingest;
}
}  // namespace pacsnode

namespace pacsnode::http {

struct AdminInfo;

struct Context {
  asio::thread_pool& workers;      // blocking work: the database, files, transcoding
  db::ConnectionPool& connections;  // the index
  ingest::Ingest& ingest;           // STOW-RS stores through the one ingest path
  std::string ae_title;             // the node's AE title (CalledAE of what STOW stores)
  std::size_t max_results = 10000;  // QIDO-RS: matches per query without `limit` ([query] max_results)
  std::filesystem::path viewer_dir;  // the OHIF viewer's built files ("" or absent: not served)
  std::filesystem::path viewer_config;  // our app-config.js, served in place of the viewer's
  std::string implementation_class_uid;     // the File Meta of instances WADO-RS converts
  std::string implementation_version_name;
  const AdminInfo* admin = nullptr;  // the admin API's facts (/api answers 503 without them)
  std::filesystem::path ui_dir{};    // the web UI's files, served under /ui/ ("": not served)
};

}  // namespace pacsnode::http
