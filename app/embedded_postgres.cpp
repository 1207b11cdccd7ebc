#include "app/embedded_postgres.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <charconv>
#include <cstring>
#include <deque>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/ranges.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "db/database.hpp"

namespace pacsnode::app {
namespace fs = std::filesystem;
namespace {

constexpr int kPort = 5432;  // with no TCP listener the port only names the socket file
constexpr std::size_t kMaxSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1
constexpr const char* kSuperuser = "pacsnode";
constexpr const char* kDatabase = "pacsnode";
constexpr const char* kIncludeLine = "include 'pacsnode.conf'";

std::string errno_text() { return std::strerror(errno); }

bool has_initdb(const fs::path& dir) { return ::access((dir / "initdb").c_str(), X_OK) == 0; }

// Newest /usr/lib/postgresql/<major>/bin (Debian's layout), else the directory of initdb in
// PATH (other distributions, a source build).
fs::path detect_bin_dir() {
  int best_version = -1;
  fs::path best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    int version = 0;
    const auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), version);
    if (err != std::errc() || end != name.data() + name.size()) continue;
    if (version > best_version && has_initdb(entry.path() / "bin")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  if (!best.empty()) return best;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && has_initdb(dir)) return dir;
  }
  throw Error(ErrorCode::Config,
              "no PostgreSQL server binaries found (looked for initdb in /usr/lib/postgresql/*/bin and PATH); "
              "install the postgresql package or set database.url");
}

// A libpq conninfo value, quoted so that paths with spaces or quotes survive.
std::string quote_conninfo(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

// A postgresql.conf string literal.
std::string quote_conf(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

// FNV-1a: stable across builds and platforms (std::hash is not), so every pacsnode
// binary finds the same fallback socket directory for a cluster.
std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

struct stat stat_or_throw(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    throw Error(ErrorCode::Unavailable, "cannot stat " + path.string() + ": " + errno_text());
  }
  return st;
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw Error(ErrorCode::Unavailable, "cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(EmbeddedPostgresSettings settings) : settings_(std::move(settings)) {
  settings_.cluster_dir = fs::absolute(settings_.cluster_dir).lexically_normal();
  if (!settings_.cluster_dir.has_filename()) settings_.cluster_dir = settings_.cluster_dir.parent_path();  // "a/b/"
  bin_dir_ = settings_.bin_dir.empty() ? detect_bin_dir() : settings_.bin_dir;
  if (!has_initdb(bin_dir_)) {
    throw Error(ErrorCode::Config, "no PostgreSQL server binaries in " + bin_dir_.string() + " (initdb not found)");
  }
  if (::geteuid() != 0) return;  // the server runs as us; nothing to switch

  // PostgreSQL refuses to run as root, so as root we pick an unprivileged user.
  std::string name = settings_.run_as_user.empty() ? std::string("postgres") : settings_.run_as_user;
  passwd* user = ::getpwnam(name.c_str());
  if (user == nullptr && name != "nobody") {
    log::warn("embedded postgres: user '{}' does not exist; running the cluster as 'nobody'", name);
    name = "nobody";
    user = ::getpwnam(name.c_str());
  }
  if (user == nullptr) throw Error(ErrorCode::Config, "embedded postgres: user '" + name + "' does not exist");
  if (user->pw_uid == 0) {
    throw Error(ErrorCode::Config, "embedded postgres: PostgreSQL cannot run as root (user '" + name +
                                       "'); set database.embedded_user to an unprivileged user");
  }
  os_user_ = name;
  uid_ = user->pw_uid;
  gid_ = user->pw_gid;
  int count = 32;
  groups_.resize(static_cast<std::size_t>(count));
  while (::getgrouplist(name.c_str(), gid_, groups_.data(), &count) < 0) {
    groups_.resize(static_cast<std::size_t>(count) * 2);
    count = static_cast<int>(groups_.size());
  }
  groups_.resize(static_cast<std::size_t>(count));
}

EmbeddedPostgres::~EmbeddedPostgres() {
  try {
    stop();
  } catch (const std::exception& e) {
    log::error("embedded postgres: stop failed: {}", e.what());
  }
}

fs::path EmbeddedPostgres::socket_dir() const {
  const fs::path& dir = settings_.cluster_dir;
  if ((dir / fmt::format(".s.PGSQL.{}", kPort)).string().size() <= kMaxSocketPath) return dir;
  return fs::path(fmt::format("/tmp/pacsnode-{:016x}", fnv1a(dir.string())));
}

std::string EmbeddedPostgres::conninfo() const {
  return fmt::format("host={} port={} user={} dbname={}", quote_conninfo(socket_dir().string()), kPort, kSuperuser,
                     kDatabase);
}

std::pair<int, std::string> EmbeddedPostgres::run_tool(const std::string& tool, std::vector<std::string> args) const {
  args.insert(args.begin(), (bin_dir_ / tool).string());
  ProcessOptions options;
  if (!os_user_.empty()) options.run_as_user = os_user_;
  // Our working directory may be one the cluster user cannot enter (/root), and initdb and
  // pg_ctl fail when they cannot resolve it.
  options.cwd = "/";
  // English messages, so that what we put in an error is what the documentation says.
  options.env = {{"LC_MESSAGES", "C"}, {"LANGUAGE", ""}};
  return run_process(args, options, std::chrono::minutes(3));
}

bool EmbeddedPostgres::is_running() const {
  std::error_code ec;
  if (!fs::exists(settings_.cluster_dir / "PG_VERSION", ec)) return false;
  // pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
  return run_tool("pg_ctl", {"status", "-D", settings_.cluster_dir.string()}).first == 0;
}

void EmbeddedPostgres::check_parents_traversable() const {
  if (os_user_.empty()) return;
  for (fs::path dir = settings_.cluster_dir.parent_path();; dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
      mode_t needed = S_IXOTH;
      if (st.st_uid == uid_) {
        needed = S_IXUSR;
      } else if (std::find(groups_.begin(), groups_.end(), st.st_gid) != groups_.end()) {
        needed = S_IXGRP;
      }
      if ((st.st_mode & needed) == 0) {
        throw Error(ErrorCode::Config,
                    fmt::format("embedded postgres runs as user '{}', which cannot enter directory {} (mode {:04o}, "
                                "owner uid {}); make it traversable (chmod o+x {}) or put the data directory elsewhere",
                                os_user_, dir.string(), st.st_mode & 07777, st.st_uid, dir.string()));
      }
    }
    if (dir == dir.root_path() || dir.empty()) break;
  }
}

// Everything under the cluster belongs to the cluster user; files we wrote as root are
// handed over, and a cluster created by an earlier run as another user is taken over.
void EmbeddedPostgres::fix_ownership() const {
  if (os_user_.empty()) return;
  auto fix = [&](const fs::path& path) {
    struct stat st = stat_or_throw(path);
    if ((st.st_uid != uid_ || st.st_gid != gid_) && ::lchown(path.c_str(), uid_, gid_) != 0) {
      throw Error(ErrorCode::Unavailable, "cannot chown " + path.string() + " to " + os_user_ + ": " + errno_text());
    }
  };
  fix(settings_.cluster_dir);
  for (const auto& entry : fs::recursive_directory_iterator(settings_.cluster_dir)) fix(entry.path());
}

void EmbeddedPostgres::initdb() {
  const fs::path& dir = settings_.cluster_dir;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    throw Error(ErrorCode::Config, "embedded postgres: " + dir.string() +
                                       " exists but is not a PostgreSQL cluster (no PG_VERSION); move it away");
  }
  // initdb into a sibling and rename it into place when complete: an interrupted initdb
  // must not leave a half-made cluster that the next start would take for a real one.
  const fs::path staging = dir.parent_path() / (dir.filename().string() + ".initdb");
  fs::remove_all(staging, ec);
  if (::mkdir(staging.c_str(), 0700) != 0) {
    throw Error(ErrorCode::Unavailable, "cannot create " + staging.string() + ": " + errno_text());
  }
  if (!os_user_.empty() && ::chown(staging.c_str(), uid_, gid_) != 0) {
    throw Error(ErrorCode::Unavailable, "cannot chown " + staging.string() + " to " + os_user_ + ": " + errno_text());
  }
  log::info("embedded postgres: creating cluster in {}{}", dir.string(),
            os_user_.empty() ? "" : " (as user " + os_user_ + ")");
  // Collation C: byte order, fast, and immune to glibc collation changes that silently
  // corrupt text indexes. Character classes C.UTF-8: upper() and pg_trgm then handle
  // non-ASCII letters in names. Where C.UTF-8 is missing, fall back to plain C.
  const std::vector<std::vector<std::string>> locale_choices = {{"--locale=C", "--lc-ctype=C.UTF-8"},
                                                                {"--no-locale"}};
  std::string failures;
  for (const auto& locale : locale_choices) {
    std::vector<std::string> args = {"-D", staging.string(), "-U", kSuperuser, "--auth=trust", "-E", "UTF8"};
    args.insert(args.end(), locale.begin(), locale.end());
    auto [code, output] = run_tool("initdb", args);
    if (code == 0) {
      failures.clear();
      break;
    }
    failures += fmt::format("initdb {} exited with {}:\n{}\n", fmt::join(locale, " "), code, output);
    log::warn("embedded postgres: initdb with {} failed", fmt::join(locale, " "));
  }
  if (!failures.empty()) {
    fs::remove_all(staging, ec);
    throw Error(ErrorCode::Unavailable, "embedded postgres: cannot create the cluster:\n" + failures);
  }
  if (fs::exists(dir, ec)) fs::remove(dir, ec);  // empty, checked above
  if (::rename(staging.c_str(), dir.c_str()) != 0) {
    throw Error(ErrorCode::Unavailable, "cannot rename " + staging.string() + " to " + dir.string() + ": " + errno_text());
  }
}

void EmbeddedPostgres::prepare_socket_dir() const {
  const fs::path dir = socket_dir();
  if (dir == settings_.cluster_dir) return;
  // A short directory in /tmp: make sure nobody else prepared it for us.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(ErrorCode::Unavailable, "cannot create socket directory " + dir.string() + ": " + errno_text());
  }
  struct stat st = stat_or_throw(dir);
  const uid_t owner = os_user_.empty() ? ::geteuid() : uid_;
  if (!S_ISDIR(st.st_mode) || (st.st_uid != owner && st.st_uid != ::geteuid())) {
    throw Error(ErrorCode::Config, fmt::format("socket directory {} exists but is not a directory owned by us or by "
                                               "the cluster user; remove it",
                                               dir.string()));
  }
  if (st.st_uid != owner && ::chown(dir.c_str(), uid_, gid_) != 0) {
    throw Error(ErrorCode::Unavailable, "cannot chown " + dir.string() + ": " + errno_text());
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
    throw Error(ErrorCode::Unavailable, "cannot chmod " + dir.string() + ": " + errno_text());
  }
}

// Our settings live in pacsnode.conf, rewritten at every start (so the socket directory
// always matches conninfo()) and included at the end of postgresql.conf. An administrator
// can still override them with ALTER SYSTEM (postgresql.auto.conf is read last).
void EmbeddedPostgres::prepare_config() {
  const fs::path& dir = settings_.cluster_dir;
  std::error_code ec;
  fs::create_directories(dir / "log", ec);
  if (ec) throw Error(ErrorCode::Unavailable, "cannot create " + (dir / "log").string() + ": " + ec.message());
  ::chmod((dir / "log").c_str(), 0700);

  write_file(dir / "pacsnode.conf",
             fmt::format("# Written by pacsnode at every start; changes here are lost. Use ALTER SYSTEM instead.\n"
                         "listen_addresses = ''\n"  // Unix socket only: nothing to firewall
                         "port = {}\n"
                         "unix_socket_directories = {}\n"
                         "unix_socket_permissions = 0700\n"
                         "shared_buffers = 64MB\n"
                         // The index is meant to sit in memory (or on SSD): at the default
                         // 4.0 the planner reads all studies rather than follow the name
                         // index to 1 % of them for PatientName=SMITH* (74 ms against 19).
                         "random_page_cost = 1.1\n"
                         "max_connections = 100\n"
                         // Acknowledged instances must survive a power cut.
                         "fsync = on\n"
                         "synchronous_commit = on\n"
                         "full_page_writes = on\n"
                         "logging_collector = off\n"  // stderr goes to log/postgres.log via pg_ctl -l
                         "log_line_prefix = '%m [%p] %q%u@%d '\n"
                         "log_min_duration_statement = 2000\n",
                         kPort, quote_conf(socket_dir().string())));

  const fs::path main_conf = dir / "postgresql.conf";
  const std::string current = read_file(main_conf);
  if (current.find(kIncludeLine) == std::string::npos) {
    std::ofstream out(main_conf, std::ios::app);
    out << "\n# pacsnode's settings (listen only on a Unix socket, durability)\n" << kIncludeLine << "\n";
    if (!out) throw Error(ErrorCode::Unavailable, "cannot write " + main_conf.string());
  }
}

std::string EmbeddedPostgres::log_tail() const {
  std::ifstream in(settings_.cluster_dir / "log" / "postgres.log");
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > 20) lines.pop_front();
  }
  std::string tail;
  for (const auto& line : lines) tail += line + "\n";
  return tail.empty() ? "(postgres log is empty)\n" : tail;
}

void EmbeddedPostgres::start() {
  if (started_by_us_) return;
  const fs::path& dir = settings_.cluster_dir;
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (ec) throw Error(ErrorCode::Unavailable, "cannot create " + dir.parent_path().string() + ": " + ec.message());
  check_parents_traversable();

  const bool exists = fs::exists(dir / "PG_VERSION", ec);
  if (exists && is_running()) {
    const Owner found = owner();
    const bool owner_alive = found.pid > 0 && found.pid != static_cast<long>(::getpid()) &&
                             (::kill(static_cast<pid_t>(found.pid), 0) == 0 || errno == EPERM);
    if (settings_.adopt_orphan && !(found.role == "command" && owner_alive)) {
      // Serve holds the data-directory lock, so no other serve runs on this cluster: a
      // server not started by a live command is an orphan (a serve killed with -9 leaves
      // its PostgreSQL running). Ours now, stopped when we stop.
      log::warn("embedded postgres: adopting the server already running on {} (started by {} {}, {}); it is "
                "stopped when this node stops",
                dir.string(), found.role.empty() ? "an unknown process" : found.role, found.pid,
                owner_alive ? "still alive" : "no longer running");
      started_by_us_ = true;
      write_owner();
    } else {
      // A command (db status, jobs …) or an administrator runs it: use it, leave it running.
      log::info("embedded postgres: a server is already running on {} (started by {} {}); connecting to it",
                dir.string(), found.role.empty() ? "an unknown process" : found.role, found.pid);
    }
  } else {
    if (!exists) initdb();
    prepare_config();
    prepare_socket_dir();
    fix_ownership();
    const fs::path log_file = dir / "log" / "postgres.log";
    log::info("embedded postgres: starting the server on {} (socket in {})", dir.string(), socket_dir().string());
    auto [code, output] = run_tool("pg_ctl", {"start", "-D", dir.string(), "-l", log_file.string(), "-w", "-t", "60",
                                              "-s"});
    if (code != 0) {
      throw Error(ErrorCode::Unavailable, fmt::format("embedded postgres did not start (pg_ctl exit {}): {}\n"
                                                      "last lines of {}:\n{}",
                                                      code, output, log_file.string(), log_tail()));
    }
    started_by_us_ = true;
    write_owner();
  }

  try {
    db::ensure_database(fmt::format("host={} port={} user={} dbname=postgres", quote_conninfo(socket_dir().string()),
                                    kPort, kSuperuser),
                        kDatabase);
  } catch (const Error& e) {
    const std::string tail = log_tail();
    try {
      stop();
    } catch (const std::exception& stop_error) {
      log::error("embedded postgres: stop after a failed start failed: {}", stop_error.what());
    }
    throw Error(e.code(), fmt::format("{}\nlast lines of the postgres log:\n{}", e.what(), tail));
  }
}

EmbeddedPostgres::Owner EmbeddedPostgres::owner() const {
  Owner found;
  std::ifstream in(settings_.cluster_dir / "pacsnode-owner");
  in >> found.role >> found.pid;
  if (!in && found.pid == 0) found = {};
  return found;
}

void EmbeddedPostgres::write_owner() const {
  const fs::path marker = settings_.cluster_dir / "pacsnode-owner";
  std::ofstream out(marker, std::ios::trunc);
  out << (settings_.adopt_orphan ? "serve " : "command ") << ::getpid() << "\n";
  if (!out) log::warn("embedded postgres: cannot write {}: a restart after a crash will not adopt the server", marker.string());
}

void EmbeddedPostgres::stop() {
  if (!started_by_us_) return;
  started_by_us_ = false;
  const std::string dir = settings_.cluster_dir.string();
  std::error_code removed;
  fs::remove(settings_.cluster_dir / "pacsnode-owner", removed);
  log::info("embedded postgres: stopping the server on {}", dir);
  // fast: roll back open transactions and shut down cleanly (a checkpoint, no recovery on
  // the next start). immediate is the fallback when that hangs.
  auto [code, output] = run_tool("pg_ctl", {"stop", "-D", dir, "-m", "fast", "-w", "-t", "60", "-s"});
  if (code == 0) return;
  log::warn("embedded postgres: pg_ctl stop -m fast failed ({}): {}; trying -m immediate", code, output);
  auto [code2, output2] = run_tool("pg_ctl", {"stop", "-D", dir, "-m", "immediate", "-w", "-t", "30", "-s"});
  if (code2 != 0 && is_running()) {
    throw Error(ErrorCode::Unavailable, fmt::format("embedded postgres did not stop: {}\n{}", output2, log_tail()));
  }
}

}  // namespace pacsnode::app
