#pragma once
// What the admin API (/api) reports about the node beyond the index: set once by the wiring
// (app/serve.cpp), read by http/api.cpp.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "net/association.hpp"
#include "routing/explanation.hpp"

namespace pacsnode::storage {
class Store;
}

namespace pacsnode::http {

struct AdminInfo {
  std::string version;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::uint16_t dicom_port = 0;
  const storage::Store* store = nullptr;
  const routing::RuleSet* rules = nullptr;      // the configured rules, in evaluation order
  std::vector<routing::PeerAddress> peers;      // [[peers]]
  net::AssociationSettings echo;                // what POST /api/peers/{name}/echo requests with
  std::filesystem::path temp_dir;               // where POST /api/rules/test writes the posted file
};

}  // namespace pacsnode::http
