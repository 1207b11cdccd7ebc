#pragma once
// pacsnode.toml: the node's configuration. Only app/ reads the file; the other modules take
// the settings structs that app/ builds from this.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "routing/rules.hpp"

namespace pacsnode::app {

struct PeerConfig {
  std::string name;      // unique within the file, [A-Za-z0-9_.-]+
  std::string ae_title;  // leading/trailing spaces dropped on load
  std::string host;
  std::uint16_t port = 104;
};

// Exactly one of password_hash and password is set.
struct UserCredential {
  std::string username;
  std::string password_hash;  // "$argon2id$...", as `pacsnode hash-password` prints; checked on load
  std::string password;       // clear text: still accepted, with a warning (Config::warnings)
};

// [[plugins]]: an analysis plug-in that rules name in "analyze NAME". Declared and checked
// here; the plug-in host runs them.
struct PluginConfig {
  std::string name;                  // unique, [A-Za-z0-9_.-]+
  std::vector<std::string> command;  // argv; a relative command[0] with a '/' is resolved against the file's folder
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  unsigned max_parallel = 1;         // runs at the same time, on this node
  std::uint64_t memory_mb = 2048;    // address-space limit per run; 0 = none
};

// [jobs]: the durable job queue routing feeds (forward, analyze).
struct JobsConfig {
  unsigned workers = 4;               // jobs this node runs at once
  unsigned per_peer_concurrency = 2;  // of which at most this many for one destination
  unsigned max_attempts = 10;         // then the job is dead
  std::chrono::seconds max_age{86400};          // a failed job older than this is dead; 0 = no limit
  std::chrono::seconds retry_base_delay{10};    // after the first failed attempt; doubles each time
  std::chrono::seconds retry_max_delay{3600};   // cap on the delay between attempts
  std::chrono::seconds lease{60};     // a job whose node stops renewing for this long is taken over
};

enum class UnknownCallingAePolicy { Accept, Reject };
enum class DuplicatePolicy { Keep, Replace };
enum class UserIdentityPolicy { Ignore, Require };

struct Config {
  std::filesystem::path file;  // absolute path of the file this came from (empty for defaults)

  // [node]
  std::string ae_title = "PACSNODE";  // leading/trailing spaces dropped on load
  // Further called AE titles the node answers to (rules tell them apart by CalledAE);
  // validated like ae_title, none equal to it, no duplicates.
  std::vector<std::string> extra_ae_titles;
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 11112;
  std::filesystem::path data_dir;  // absolute, lexically normal; relative values are resolved against
                                   // file's folder; parse_config sets "var" there when the key is absent
  unsigned max_associations = 64;
  unsigned max_pending_connections = 64;   // connected, no association yet (all sources); oldest closed past it
  unsigned max_pending_per_address = 16;   // of which from one address; newcomers over it closed
  std::uint32_t max_pdu_length = 131072;  // what we advertise for receiving; 0 = unlimited
  std::chrono::seconds artim_timeout{30};
  std::chrono::seconds idle_timeout{300};    // no PDU for this long in an established association → abort
  std::chrono::seconds shutdown_grace{10};   // in-flight work gets this long on SIGTERM

  // [storage]
  std::filesystem::path storage_path;  // absolute; default <data_dir>/storage
  DuplicatePolicy duplicates = DuplicatePolicy::Keep;  // same SOP Instance UID again
  std::uint64_t min_free_mb = 1024;    // refuse new instances (0xA700) below this much free space
  bool accept_any_sop_class = false;   // accept storage of any abstract syntax, not only known Storage SOP Classes

  // [query]
  std::size_t max_results = 10000;     // C-FIND matches sent per query; more → the first ones, then Cancel (0xFE00)
  std::size_t max_retrieve = 100000;   // instances per C-MOVE/C-GET; more → refused with 0xA701

  // [security]
  UnknownCallingAePolicy unknown_calling_ae = UnknownCallingAePolicy::Accept;
  UserIdentityPolicy user_identity = UserIdentityPolicy::Ignore;
  std::vector<UserCredential> users;

  // [database]
  std::string database_url;          // empty: embedded PostgreSQL under <data_dir>/pg
  std::string embedded_user = "postgres";  // the OS user the embedded cluster runs as when we are root

  // [logging]
  std::string log_level = "info";    // validated with log::parse_level
  std::filesystem::path log_file;    // empty: stderr; else absolute, relative to file's folder

  JobsConfig jobs;  // [jobs]

  // [http]: the HTTP door (DICOMweb, /api, /metrics, the viewer). Off unless enabled.
  struct Http {
    bool enabled = false;
    std::string bind = "127.0.0.1";  // a non-loopback bind needs users
    std::uint16_t port = 8080;       // 0: any free port (tests)
    std::vector<UserCredential> users;  // [[http.users]]: username + password_hash (Basic auth)
    std::uint64_t max_body_mb = 8192;   // a STOW-RS body; more → 413
    unsigned max_connections = 256;
    // A connection silent this long (between requests, or within a read or a write) is closed.
    std::chrono::seconds idle_timeout{60};
    std::filesystem::path viewer;         // the OHIF viewer's built files (absolute; empty: not served)
    std::filesystem::path viewer_config;  // app-config.js served in place of the viewer's (absolute)
    std::filesystem::path ui;             // the web UI's files, served under /ui/ (absolute; empty: not served)
  } http;

  std::vector<PeerConfig> peers;

  // Routing: include, [routing], [[plugins]], [[rules]] (read by the routing block of
  // config.cpp, after [[peers]]).
  std::vector<std::filesystem::path> included_files;  // absolute, in reading order
  std::chrono::milliseconds stable_after{std::chrono::seconds(30)};  // [routing]: default quiet period of series/study rules
  std::optional<std::chrono::milliseconds> max_wait;  // [routing]: fire at the latest this long after the first instance
  std::vector<PluginConfig> plugins;
  std::vector<std::string> report_peers;  // [reports] send_to: [[peers]] names
  routing::RuleSet rules;  // from this file and the included ones, in evaluation order

  // What is accepted but should change, one line each in ConfigError's form
  // ("<file>: <key>: <problem>"); `serve` logs them at warn level when it starts.
  std::vector<std::string> warnings;

  // The peer with exactly this name, or nullptr. Points into `peers`.
  const PeerConfig* find_peer_by_name(std::string_view name) const;
  // The first peer (in file order) whose AE title equals `ae_title`, ignoring leading and
  // trailing spaces (insignificant in the AE VR) but case-sensitive; nullptr if none.
  // Several peers may share an AE title (legal in DICOM), hence "first".
  const PeerConfig* find_peer_by_ae(std::string_view ae_title) const;
  // The plug-in with exactly this name, or nullptr. Points into `plugins`.
  const PluginConfig* find_plugin(std::string_view name) const;
};

// A bad configuration: which file, which key, what is wrong. what() reads
// "<file>: <key>: <problem>", e.g. "etc/pacsnode.toml: peers[1].port: must be between 1 and
// 65535 (got 0)". Keys are dotted paths with 0-based array indices; the key is empty for
// problems with the file as a whole (missing file, TOML syntax error).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::filesystem::path file, std::string key, std::string problem);
  const std::filesystem::path& file() const { return file_; }
  const std::string& key() const { return key_; }
  const std::string& problem() const { return problem_; }

 private:
  std::filesystem::path file_;
  std::string key_;
  std::string problem_;
};

// Reads and validates a configuration file and the files it includes. Throws ConfigError on
// a missing file, a TOML syntax error, an unknown key, a wrong type, an out-of-range value,
// a duplicate peer, plug-in or rule name, a rule that does not parse or names an unknown
// peer or plug-in (the error's file is then the file that holds the rule).
Config load_config(const std::filesystem::path& file);
// Same, from text (for tests); `file` is used for messages and to resolve data_dir,
// logging.file and include (an empty `file` resolves them against the current directory).
Config parse_config(std::string_view toml_text, const std::filesystem::path& file);

}  // namespace pacsnode::app
