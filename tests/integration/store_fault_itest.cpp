// Ingest when the disk fails to make data durable: `pacsnode serve` runs with the
// tests/shim/sync_fault.cpp shim preloaded, which makes fdatasync or fsync return EIO.
// An instance whose file or folder could not be synced must not be acknowledged, indexed
// or left under objects/ (a later copy of it would otherwise be taken for a duplicate).
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

// A node whose fdatasync/fsync fail as `fault` says (PACSNODE_FAULT_* of the shim).
NodeOptions faulty(std::vector<std::pair<std::string, std::string>> fault) {
  NodeOptions options;
  options.env = {{"LD_PRELOAD", PACSNODE_SYNC_FAULT_SHIM}};
  options.env.insert(options.env.end(), fault.begin(), fault.end());
  return options;
}

// What storescu -v reported for each file it sent: SOP Instance UID → the status text of
// its C-STORE-RSP ("Success", "Error: ...").
struct Sent {
  int code = 0;
  std::string output;
  std::map<std::string, std::string> status;
};

Sent store(const Node& node, const fs::path& dir) {
  Sent sent;
  // -nh: go on after a failed store (storescu halts by default).
  std::tie(sent.code, sent.output) = run({"storescu", "-v", "-nh", "-aec", node.ae_title(), "+sd", "127.0.0.1",
                                          std::to_string(node.port()), dir.string()},
                                         std::chrono::minutes(2));
  const std::regex sending("Sending file: (\\S+)");
  const std::regex response("Received Store Response \\((.*)\\)");
  std::istringstream in(sent.output);
  std::string line, uid;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, sending)) {
      auto [code, dump] = run({"dcmdump", "-q", "-s", "+P", "0008,0018", m[1].str()});
      uid = dump.substr(dump.find('[') + 1, dump.find(']') - dump.find('[') - 1);
    } else if (std::regex_search(line, m, response) && !uid.empty()) {
      sent.status[uid] = m[1];
      uid.clear();
    }
  }
  return sent;
}

// A failure status as storescu prints it: neither "Success" nor "Warning: …" (it calls the
// 0x0110 of a processing failure "Unknown Status: 0x110", others "Error: …").
bool is_failure(const std::string& status) { return status != "Success" && status.rfind("Warning", 0) != 0; }

std::set<std::string> indexed(const Node& node) {
  std::set<std::string> uids;
  std::istringstream rows(node.sql("SELECT sop_instance_uid FROM instance"));
  for (std::string uid; std::getline(rows, uid);) uids.insert(uid);
  return uids;
}

// Every regular file under objects/ (stored instances and .part leftovers alike).
std::vector<fs::path> objects(const Node& node) { return files_below(node.storage() / "objects"); }

std::size_t injected(const Node& node, const std::string& call) {
  const std::string log = node.log();
  std::size_t n = 0;
  for (std::size_t at = 0; (at = log.find("sync_fault: " + call + " ", at)) != std::string::npos; ++at) ++n;
  return n;
}

}  // namespace

TEST_CASE("fdatasync fails (EIO): no Success goes out, nothing is indexed, no file is left under objects/") {
  Node node(faulty({{"PACSNODE_FAULT_SYNC", "fdatasync"}, {"PACSNODE_FAULT_PATH", ".part"}}));
  TempDir data("fault-gen");
  generate_instances(data.path(), 5, 1);
  const Sent sent = store(node, data.path());
  CHECK(injected(node, "fdatasync") == 5);
  REQUIRE_MESSAGE(sent.status.size() == 5, sent.output);
  for (const auto& [uid, status] : sent.status) {
    INFO(uid);
    CHECK_MESSAGE(is_failure(status), status);
  }
  CHECK(sent.output.find("(Success)") == std::string::npos);
  CHECK(indexed(node).empty());
  CHECK(objects(node).empty());
  CHECK(node.echo_ok());
}

TEST_CASE("fsync of the folder fails after the rename: not acknowledged, not indexed, not left; a retry stores") {
  // Only the first 5 folder fsyncs fail: the same instances sent again are then stored.
  Node node(faulty({{"PACSNODE_FAULT_SYNC", "fsync"}, {"PACSNODE_FAULT_PATH", "/objects/"},
                    {"PACSNODE_FAULT_COUNT", "5"}}));
  TempDir data("fault-gen");
  generate_instances(data.path(), 5, 1);
  const Sent first = store(node, data.path());
  CHECK(injected(node, "fsync") == 5);
  REQUIRE_MESSAGE(first.status.size() == 5, first.output);
  for (const auto& [uid, status] : first.status) {
    INFO(uid);
    CHECK_MESSAGE(is_failure(status), status);
  }
  CHECK(indexed(node).empty());
  CHECK_MESSAGE(objects(node).empty(), objects(node).size() << " files left under objects/");

  // The fault has passed: a retry is stored, and indexed (not taken for a duplicate of a
  // file that the failed attempt left behind).
  const Sent retry = store(node, data.path());
  REQUIRE_MESSAGE(retry.status.size() == 5, retry.output);
  std::set<std::string> uids;
  for (const auto& [uid, status] : retry.status) {
    CHECK_MESSAGE(status == "Success", uid);
    uids.insert(uid);
  }
  CHECK(indexed(node) == uids);
  CHECK(objects(node).size() == 5);
}

TEST_CASE("fdatasync fails from the 4th instance on: exactly the acknowledged instances are indexed and stored") {
  Node node(faulty({{"PACSNODE_FAULT_SYNC", "both"}, {"PACSNODE_FAULT_PATH", ".part"}, {"PACSNODE_FAULT_SKIP", "3"}}));
  TempDir data("fault-gen");
  generate_instances(data.path(), 8, 1);
  const Sent sent = store(node, data.path());
  REQUIRE_MESSAGE(sent.status.size() == 8, sent.output);
  std::set<std::string> acknowledged;
  for (const auto& [uid, status] : sent.status) {
    if (status == "Success") acknowledged.insert(uid);
  }
  CHECK(acknowledged.size() == 3);
  CHECK(injected(node, "fdatasync") == 5);
  CHECK(indexed(node) == acknowledged);
  std::set<std::string> stored;
  for (const auto& file : objects(node)) stored.insert(file.stem().string());
  CHECK(stored == acknowledged);
  for (const auto& file : objects(node)) CHECK_MESSAGE(file.extension() == ".dcm", file);
}

TEST_CASE("a write that fails while the data set arrives: 0x0110 for an I/O error, 0xA700 only for a full disk") {
  // Each answer's status as `pacsnode store` reports it ("refused with status 0x…").
  for (const auto& [error, status] : {std::pair<std::string, std::string>{"EIO", "0x0110"}, {"ENOSPC", "0xa700"}}) {
    INFO(error);
    Node node(faulty({{"PACSNODE_FAULT_WRITE", error}, {"PACSNODE_FAULT_PATH", ".part"}}));
    TempDir data("write-fault");
    // 2 MiB of pixels: the write fails while the data set arrives (past the 1 MiB buffer).
    generate_instances(data.path(), 2, 1, 1024);
    auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), data.path().string()});
    CHECK(code == 1);
    CHECK(injected(node, "write") >= 2);
    std::string lower = out;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    CHECK_MESSAGE(lower.find("status " + status) != std::string::npos, out);
    CHECK(indexed(node).empty());
    CHECK(objects(node).empty());
  }
}
