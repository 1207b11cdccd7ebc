#pragma once
// Integration-test fixtures: a running `pacsnode serve` on a free loopback port with its
// own data directory and embedded PostgreSQL, and helpers to drive DCMTK's tools.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/process.hpp"
#include "net/asio.hpp"
#include "tests/support/temp_dir.hpp"

namespace pacsnode::test {

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

// Runs a program to completion with TCP_NODELAY=1 set (DCMTK's tools need it).
std::pair<int, std::string> run(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The configuration of one test node. `extra` is appended to the generated TOML.
struct NodeOptions {
  std::string ae_title = "PACSNODE";
  std::string extra_node;   // more keys for [node]
  std::string extra;        // more tables (peers, security, ...)
  std::string log_level = "debug";
  bool wait_for_echo = true;  // readiness: echoscu answered (false: the log says listening)
  std::uint16_t port = 0;     // 0: a free one (set it when a peer must know it in advance)
  // More environment for `pacsnode serve` (e.g. LD_PRELOAD of a fault-injection shim).
  std::vector<std::pair<std::string, std::string>> env;
};

inline NodeOptions node_keys(std::string keys) {
  NodeOptions o;
  o.extra_node = std::move(keys);
  return o;
}
inline NodeOptions tables(std::string toml) {
  NodeOptions o;
  o.extra = std::move(toml);
  return o;
}

class Node {
 public:
  // Writes <dir>/pacsnode.toml, starts `pacsnode serve`, waits (polling C-ECHO) until it
  // answers. Shares `dir` with the caller (data in <dir>/var).
  explicit Node(NodeOptions options = {});
  ~Node();  // SIGTERM, wait, SIGKILL if needed

  std::uint16_t port() const { return port_; }
  const std::string& ae_title() const { return options_.ae_title; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path config_path() const { return dir_.path() / "pacsnode.toml"; }
  std::string target() const;  // "PACSNODE@127.0.0.1:port"
  std::string log() const;     // everything serve printed
  std::string log_tail(std::size_t lines = 30) const;
  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Graceful stop: SIGTERM, returns the exit code.
  int stop();
  // Runs SQL against the node's embedded database (psql, tuples only, '|' separated), through
  // its socket: also while serve is down, as long as the postmaster runs.
  std::string sql(const std::string& query) const;
  // sql()'s rows, one string each ('|' between columns), in the order psql printed them.
  std::vector<std::string> sql_rows(const std::string& query) const;
  // The one row the query returns (REQUIREs exactly one).
  std::string sql_one(const std::string& query) const;
  // The embedded PostgreSQL's postmaster is running (it outlives a kill(): pg_ctl started it
  // in a session of its own).
  bool database_running() const;
  std::filesystem::path storage() const { return dir_.path() / "var" / "storage"; }
  // Starts serve again after stop() (or after a crash), same config and data.
  void restart();
  // SIGKILL: a crash.
  void kill();
  // True if echoscu gets an answer.
  bool echo_ok(const std::string& calling_ae = "ECHOSCU");

 private:
  NodeOptions options_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::optional<Process> process_;
  void start();
};

// Generates `count` synthetic CT instances into `dir` (tests/tools/gen_instances.py).
void generate_instances(const std::filesystem::path& dir, int count, int studies, int pixels = 64);

// The non-empty lines of `text`, in order.
std::vector<std::string> lines_of(const std::string& text);

// Files below `dir` (recursively), sorted.
std::vector<std::filesystem::path> files_below(const std::filesystem::path& dir);

// Writes a configuration file for a node at `dir` with `port`.
void write_config(const std::filesystem::path& file, std::uint16_t port, const NodeOptions& options);

// Runs `body` as a coroutine on a fresh io_context until it finishes (rethrows its error).
void run_coroutine(std::function<asio::awaitable<void>()> body);

// Sends raw bytes to host:port and reads until the peer closes or `timeout` passes.
// Returns what came back and whether the peer closed the connection.
struct RawExchange {
  std::vector<std::uint8_t> received;
  bool closed_by_peer = false;
};
RawExchange raw_exchange(std::uint16_t port, const std::vector<std::uint8_t>& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace pacsnode::test
