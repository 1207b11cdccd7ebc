#pragma once
// DCMTK's storescp as a remote peer: on a free (or given) port, writing every received
// instance into its own folder under a unique name (+uf), so that receptions can be counted
// — the same SOP Instance UID twice is two files.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace pacsnode::test {

class StoreScp {
 public:
  // `options` go before the port (e.g. {"--sleep-after", "1"}); port 0: a free one.
  explicit StoreScp(std::vector<std::string> options = {}, std::uint16_t port = 0);
  ~StoreScp();
  StoreScp(const StoreScp&) = delete;
  StoreScp& operator=(const StoreScp&) = delete;

  std::uint16_t port() const { return port_; }
  std::filesystem::path received() const { return dir_.path() / "in"; }
  std::string log() const;
  // SOP Instance UID → how many times it was received (read from each file's meta header).
  std::map<std::string, int> receptions() const;
  std::set<std::string> received_uids() const;
  std::size_t reception_count() const;

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::optional<Process> process_;
};

}  // namespace pacsnode::test
