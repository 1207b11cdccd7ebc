#include "app/config.hpp"
#include "http/address.hpp"

#include <arpa/inet.h>
#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

// We never print TOML; leaving the formatters out trims the compile time of this heavy header.
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include "base/duration.hpp"
#include "base/edit_distance.hpp"
#include "base/log.hpp"
#include "base/password.hpp"

namespace pacsnode::app {

namespace fs = std::filesystem;

namespace {

std::string describe(const fs::path& file, const std::string& key, const std::string& problem) {
  std::string out = file.empty() ? std::string("<config>") : file.string();
  out += ": ";
  if (!key.empty()) {
    out += key;
    out += ": ";
  }
  out += problem;
  return out;
}

}  // namespace

ConfigError::ConfigError(fs::path file, std::string key, std::string problem)
    : std::runtime_error(describe(file, key, problem)),
      file_(std::move(file)),
      key_(std::move(key)),
      problem_(std::move(problem)) {}

namespace {

using Keys = std::span<const std::string_view>;

constexpr std::string_view kRootKeys[] = {"node",  "storage", "query",   "security", "database", "logging",
                                          "jobs",  "peers",   "include", "routing",  "plugins",  "rules",
                                          "reports", "http"};
constexpr std::string_view kReportsKeys[] = {"send_to"};
constexpr std::string_view kStorageKeys[] = {"path", "duplicates", "min_free_mb", "accept_any_sop_class"};
constexpr std::string_view kNodeKeys[] = {"ae_title",       "bind",          "port",         "data_dir",
                                          "max_associations", "max_pdu_length", "artim_timeout", "idle_timeout",
                                          "shutdown_grace", "max_pending_connections", "max_pending_per_address",
                                          "extra_ae_titles"};
constexpr std::string_view kQueryKeys[] = {"max_results", "max_retrieve"};
constexpr std::string_view kSecurityKeys[] = {"unknown_calling_ae", "user_identity", "users"};
constexpr std::string_view kUserKeys[] = {"username", "password_hash", "password"};
constexpr std::string_view kDatabaseKeys[] = {"url", "embedded_user"};
constexpr std::string_view kLoggingKeys[] = {"level", "file"};
constexpr std::string_view kPeerKeys[] = {"name", "ae_title", "host", "port"};
constexpr std::string_view kHttpKeys[] = {"enabled", "bind", "port", "users", "max_body_mb", "max_connections",
                                          "viewer", "viewer_config", "idle_timeout", "ui"};
constexpr std::string_view kHttpUserKeys[] = {"username", "password_hash"};
constexpr std::string_view kJobsKeys[] = {"workers",          "per_peer_concurrency", "max_attempts", "max_age",
                                          "retry_base_delay", "retry_max_delay",      "lease"};

// Where a misplaced top-level key most likely belongs (keys written above the first
// [table] header land at the top level, a classic TOML slip).
constexpr std::pair<std::string_view, Keys> kSections[] = {
    {"node", kNodeKeys}, {"storage", kStorageKeys}, {"query", kQueryKeys}, {"security", kSecurityKeys}, {"database", kDatabaseKeys}, {"logging", kLoggingKeys}, {"jobs", kJobsKeys}, {"reports", kReportsKeys}, {"http", kHttpKeys}};

constexpr std::uint32_t kMinPduLength = 4096;
constexpr std::uint32_t kMaxPduLength = 16 * 1024 * 1024;

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Shows the value as well as its type, so that `port = "11112"` is obvious at a glance.
std::string got(const toml::node& node) {
  if (const auto* s = node.as_string()) return fmt::format("got a string: \"{}\"", s->get());
  if (const auto* i = node.as_integer()) return fmt::format("got an integer: {}", i->get());
  if (const auto* f = node.as_floating_point()) return fmt::format("got a floating-point number: {}", f->get());
  if (const auto* b = node.as_boolean()) return fmt::format("got a boolean: {}", b->get());
  return fmt::format("got {}", type_name(node));
}

std::optional<std::string_view> closest(std::string_view word, Keys candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = std::min<std::size_t>(3, word.size());  // must beat this
  for (auto candidate : candidates) {
    const std::size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string join(Keys words, std::string_view quote, std::string_view last_separator) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? last_separator : std::string_view(", ");
    out += quote;
    out += words[i];
    out += quote;
  }
  return out;
}

std::string_view trim_spaces(std::string_view s) {
  const auto first = s.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(' ');
  return s.substr(first, last - first + 1);
}

// Lexically normalised, absolute, without a trailing separator (so "var/" and "var" compare equal).
fs::path resolve(const fs::path& base_dir, const fs::path& p) {
  fs::path r = (p.is_absolute() ? p : base_dir / p).lexically_normal();
  if (!r.has_filename() && r.has_relative_path()) r = r.parent_path();
  return r;
}

// One TOML table being read: knows its dotted path for messages and reports every problem as
// a ConfigError. A section that is absent from the file has no table and yields no values.
class Section {
 public:
  Section(const fs::path& file, const toml::table* table, std::string path)
      : file_(file), table_(table), path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  std::string key(std::string_view name) const {
    return path_.empty() ? std::string(name) : fmt::format("{}.{}", path_, name);
  }

  [[noreturn]] void fail(std::string_view name, std::string problem) const {
    throw ConfigError(file_, key(name), std::move(problem));
  }

  // A problem that does not stop the node, worded as fail() words errors.
  std::string warning(std::string_view name, const std::string& problem) const {
    return describe(file_, key(name), problem);
  }

  // Unknown keys are refused rather than ignored: a misspelt key silently falling back to its
  // default is the hardest configuration mistake to find.
  void allow_only(Keys known) const {
    if (table_ == nullptr) return;
    for (auto&& [k, node] : *table_) {
      const std::string_view name = k.str();
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      const std::string_view what = node.is_table()             ? "unknown table"
                                    : node.is_array_of_tables() ? "unknown table array"
                                                                : "unknown key";
      if (auto suggestion = closest(name, known)) {
        fail(name, fmt::format("{} (did you mean \"{}\"?)", what, *suggestion));
      }
      fail(name, fmt::format("{}; allowed here: {}", what, join(known, "", ", ")));
    }
  }

  const toml::node* find(std::string_view name) const { return table_ ? table_->get(name) : nullptr; }

  std::optional<std::string> string(std::string_view name) const {
    const toml::node* node = find(name);
    if (node == nullptr) return std::nullopt;
    if (const auto* s = node->as_string()) return s->get();
    fail(name, fmt::format("must be a string ({})", got(*node)));
  }

  std::string required_string(std::string_view name, std::string_view why) const {
    auto value = string(name);
    if (!value) fail(name, fmt::format("missing; {}", why));
    return *value;
  }

  std::optional<std::int64_t> integer(std::string_view name, std::int64_t min, std::int64_t max) const {
    const toml::node* node = find(name);
    if (node == nullptr) return std::nullopt;
    const auto* i = node->as_integer();
    if (i == nullptr) fail(name, fmt::format("must be an integer ({})", got(*node)));
    const std::int64_t value = i->get();
    if (value < min || value > max) fail(name, fmt::format("must be between {} and {} (got {})", min, max, value));
    return value;
  }

  std::optional<bool> boolean(std::string_view name) const {
    const toml::node* node = find(name);
    if (node == nullptr) return std::nullopt;
    const auto* b = node->as_boolean();
    if (b == nullptr) fail(name, fmt::format("must be true or false ({})", got(*node)));
    return b->get();
  }

  std::optional<std::chrono::seconds> seconds(std::string_view name, std::int64_t min, std::int64_t max) const {
    if (auto value = integer(name, min, max)) return std::chrono::seconds(*value);
    return std::nullopt;
  }

  // `options` pairs each accepted spelling with its value; spellings are case-sensitive.
  template <typename E>
  std::optional<E> choice(std::string_view name, std::initializer_list<std::pair<std::string_view, E>> options) const {
    auto text = string(name);
    if (!text) return std::nullopt;
    for (const auto& [spelling, value] : options) {
      if (spelling == *text) return value;
    }
    std::vector<std::string_view> spellings;
    for (const auto& option : options) spellings.push_back(option.first);
    fail(name, fmt::format("must be {} (got \"{}\")", join(spellings, "\"", " or "), *text));
  }

  // A sub-table; absent → an empty Section.
  Section table(std::string_view name) const {
    const toml::node* node = find(name);
    if (node == nullptr) return Section(file_, nullptr, key(name));
    if (const auto* t = node->as_table()) return Section(file_, t, key(name));
    fail(name, fmt::format("must be a table, written [{}] ({})", key(name), got(*node)));
  }

  // An array of tables ([[name]]), with paths "name[0]", "name[1]", ...
  std::vector<Section> table_array(std::string_view name) const {
    std::vector<Section> out;
    const toml::node* node = find(name);
    if (node == nullptr) return out;
    const auto* array = node->as_array();
    if (array == nullptr) {
      fail(name, fmt::format("must be an array of tables, each written [[{}]] ({})", key(name), got(*node)));
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string element_key = fmt::format("{}[{}]", key(name), i);
      const auto* t = (*array)[i].as_table();
      if (t == nullptr) throw ConfigError(file_, element_key, fmt::format("must be a table ({})", got((*array)[i])));
      out.emplace_back(file_, t, element_key);
    }
    return out;
  }

 private:
  const fs::path& file_;
  const toml::table* table_;
  std::string path_;
};

// The top level may hold only the known sections. A known section key found here was almost
// certainly written above its [table] header, so the hint names the section.
void check_top_level(const Section& root, const toml::table& table) {
  for (auto&& [k, node] : table) {
    const std::string_view name = k.str();
    if (std::find(std::begin(kRootKeys), std::end(kRootKeys), name) != std::end(kRootKeys)) continue;
    for (const auto& [section, keys] : kSections) {
      if (std::find(keys.begin(), keys.end(), name) != keys.end()) {
        root.fail(name, fmt::format("unknown top-level key (did you mean {}.{}? keys above the first [table] "
                                    "header belong to no table)",
                                    section, name));
      }
    }
  }
  root.allow_only(kRootKeys);
}

// PS3.5 AE VR: at most 16 characters of the default character repertoire, no backslash, no
// control characters; leading and trailing spaces are not significant, so they are dropped.
std::string ae_title(const Section& section, std::string_view name, const std::string& raw) {
  for (const char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) section.fail(name, "must not contain control characters (tab, newline, ...)");
    if (c == '\\') section.fail(name, fmt::format("must not contain a backslash (got \"{}\")", raw));
    if (u >= 0x80) {
      section.fail(name, fmt::format("must contain only ASCII characters, the DICOM default repertoire (got \"{}\")", raw));
    }
  }
  const std::string_view trimmed = trim_spaces(raw);
  if (trimmed.empty()) section.fail(name, "must not be empty or all spaces");
  if (trimmed.size() > 16) {
    section.fail(name, fmt::format("must be at most 16 characters (got {}: \"{}\")", trimmed.size(), trimmed));
  }
  return std::string(trimmed);
}

bool is_numeric_address(const std::string& text) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, text.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

bool is_peer_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

std::optional<std::vector<std::string>> string_array(const Section& section, std::string_view name,
                                                     std::string_view what);

void read_node(const Section& node, const fs::path& base_dir, Config& config) {
  node.allow_only(kNodeKeys);
  if (auto v = node.string("ae_title")) config.ae_title = ae_title(node, "ae_title", *v);
  if (auto v = string_array(node, "extra_ae_titles", "the other called AE titles the node answers to")) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      const std::string key = fmt::format("extra_ae_titles[{}]", i);
      std::string title = ae_title(node, key, (*v)[i]);
      if (title == config.ae_title) {
        node.fail(key, fmt::format("\"{}\" is already node.ae_title", title));
      }
      if (std::find(config.extra_ae_titles.begin(), config.extra_ae_titles.end(), title) !=
          config.extra_ae_titles.end()) {
        node.fail(key, fmt::format("\"{}\" is listed twice", title));
      }
      config.extra_ae_titles.push_back(std::move(title));
    }
  }
  if (auto v = node.string("bind")) {
    // The acceptor takes a numeric address; catching a host name here gives a clearer message
    // than a failed bind at start-up.
    if (!is_numeric_address(*v)) {
      node.fail("bind", fmt::format("must be a numeric IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or :: "
                                    "(got \"{}\")",
                                    *v));
    }
    config.bind_address = *v;
  }
  if (auto v = node.integer("port", 1, 65535)) config.port = static_cast<std::uint16_t>(*v);
  fs::path data_dir = "var";
  if (auto v = node.string("data_dir")) {
    if (v->empty()) node.fail("data_dir", "must not be empty (the default is \"var\", beside this file)");
    data_dir = *v;
  }
  config.data_dir = resolve(base_dir, data_dir);
  if (auto v = node.integer("max_associations", 1, 10000)) config.max_associations = static_cast<unsigned>(*v);
  if (auto v = node.integer("max_pending_connections", 1, 10000)) config.max_pending_connections = static_cast<unsigned>(*v);
  if (auto v = node.integer("max_pending_per_address", 1, 10000)) config.max_pending_per_address = static_cast<unsigned>(*v);
  if (auto v = node.integer("max_pdu_length", 0, kMaxPduLength)) {
    // PS3.8 allows any non-zero length, but tiny PDUs fragment every data set into thousands
    // of pieces and some peers mishandle them; 4096 keeps us clear of both.
    if (*v != 0 && *v < kMinPduLength) {
      node.fail("max_pdu_length", fmt::format("must be 0 (unlimited) or between {} and {} (got {}); DICOM "
                                              "permits smaller values but pacsnode refuses them",
                                              kMinPduLength, kMaxPduLength, *v));
    }
    config.max_pdu_length = static_cast<std::uint32_t>(*v);
  }
  if (auto v = node.seconds("artim_timeout", 1, 3600)) config.artim_timeout = *v;
  if (auto v = node.seconds("idle_timeout", 1, 86400)) config.idle_timeout = *v;
  if (auto v = node.seconds("shutdown_grace", 0, 3600)) config.shutdown_grace = *v;
}

void read_security(const Section& security, Config& config) {
  security.allow_only(kSecurityKeys);
  if (auto v = security.choice<UnknownCallingAePolicy>(
          "unknown_calling_ae", {{"accept", UnknownCallingAePolicy::Accept}, {"reject", UnknownCallingAePolicy::Reject}})) {
    config.unknown_calling_ae = *v;
  }
  if (auto v = security.choice<UserIdentityPolicy>(
          "user_identity", {{"ignore", UserIdentityPolicy::Ignore}, {"require", UserIdentityPolicy::Require}})) {
    config.user_identity = *v;
  }
  std::map<std::string, std::string, std::less<>> seen;  // username → key where first defined
  constexpr std::string_view kNeeds = "every [[security.users]] entry needs username and password_hash";
  for (const Section& user : security.table_array("users")) {
    user.allow_only(kUserKeys);
    UserCredential credential;
    credential.username = user.required_string("username", kNeeds);
    if (credential.username.empty()) user.fail("username", "must not be empty");
    if (auto [it, inserted] = seen.emplace(credential.username, user.key("username")); !inserted) {
      user.fail("username", fmt::format("duplicate user \"{}\" (already defined at {})", credential.username, it->second));
    }
    auto hash = user.string("password_hash");
    auto password = user.string("password");
    if (hash && password) user.fail("password", "give password_hash or password, not both");
    if (hash) {
      if (!is_password_hash(*hash)) {
        user.fail("password_hash", "not a password hash libsodium can read; expected \"$argon2id$v=19$m=...\" as "
                                   "printed by `pacsnode hash-password`");
      }
      credential.password_hash = std::move(*hash);
    } else if (password) {
      if (password->empty()) user.fail("password", "must not be empty");
      config.warnings.push_back(user.warning(
          "password", fmt::format("user \"{}\" has a clear-text password; replace it with password_hash = the output "
                                  "of `pacsnode hash-password`",
                                  credential.username)));
      credential.password = std::move(*password);
    } else {
      user.fail("password_hash", fmt::format("missing; {} (or, in clear text, password)", kNeeds));
    }
    config.users.push_back(std::move(credential));
  }
  if (config.user_identity == UserIdentityPolicy::Require && config.users.empty()) {
    security.fail("user_identity", "is \"require\" but no [[security.users]] entry is defined, so every association "
                                   "would be refused");
  }
}

void read_http(const Section& http, const fs::path& base_dir, Config& config) {
  http.allow_only(kHttpKeys);
  auto& h = config.http;
  if (auto v = http.boolean("enabled")) h.enabled = *v;
  if (auto v = http.string("bind")) {
    if (v->empty()) http.fail("bind", "must not be empty (the default is 127.0.0.1)");
    h.bind = *v;
  }
  if (auto v = http.integer("port", 0, 65535)) h.port = static_cast<std::uint16_t>(*v);
  if (auto v = http.integer("max_body_mb", 1, std::int64_t{1} << 30)) h.max_body_mb = static_cast<std::uint64_t>(*v);
  if (auto v = http.integer("max_connections", 1, 100000)) h.max_connections = static_cast<unsigned>(*v);
  if (auto v = http.seconds("idle_timeout", 1, 3600)) h.idle_timeout = *v;
  if (auto v = http.string("viewer")) h.viewer = v->empty() ? fs::path() : resolve(base_dir, *v);
  if (auto v = http.string("viewer_config")) h.viewer_config = v->empty() ? fs::path() : resolve(base_dir, *v);
  if (auto v = http.string("ui")) h.ui = v->empty() ? fs::path() : resolve(base_dir, *v);
  std::map<std::string, std::string, std::less<>> seen;
  constexpr std::string_view kNeeds = "every [[http.users]] entry needs username and password_hash";
  for (const Section& user : http.table_array("users")) {
    user.allow_only(kHttpUserKeys);
    UserCredential credential;
    credential.username = user.required_string("username", kNeeds);
    if (credential.username.empty() || credential.username.find(':') != std::string::npos) {
      user.fail("username", "must not be empty nor contain ':' (HTTP Basic credentials are user:password)");
    }
    if (auto [it, inserted] = seen.emplace(credential.username, user.key("username")); !inserted) {
      user.fail("username", fmt::format("duplicate user \"{}\" (already defined at {})", credential.username, it->second));
    }
    credential.password_hash = user.required_string("password_hash", kNeeds);
    if (!is_password_hash(credential.password_hash)) {
      user.fail("password_hash", "not a password hash libsodium can read; expected \"$argon2id$v=19$m=...\" as "
                                 "printed by `pacsnode hash-password`");
    }
    h.users.push_back(std::move(credential));
  }
  if (h.enabled && h.users.empty() && !http::is_loopback(h.bind)) {
    http.fail("bind", fmt::format("\"{}\" is not a loopback address and no [[http.users]] are configured: anyone "
                                  "who can reach it could read and write every study; add users or bind 127.0.0.1",
                                  h.bind));
  }
}

void read_storage(const Section& storage, const fs::path& base_dir, Config& config) {
  storage.allow_only(kStorageKeys);
  fs::path path = config.data_dir / "storage";
  if (auto v = storage.string("path")) {
    if (v->empty()) storage.fail("path", "must not be empty (the default is <data_dir>/storage)");
    path = resolve(base_dir, *v);
  }
  config.storage_path = path;
  if (auto v = storage.choice<DuplicatePolicy>("duplicates",
                                               {{"keep", DuplicatePolicy::Keep}, {"replace", DuplicatePolicy::Replace}})) {
    config.duplicates = *v;
  }
  if (auto v = storage.integer("min_free_mb", 0, std::int64_t{1} << 40)) config.min_free_mb = static_cast<std::uint64_t>(*v);
  if (auto v = storage.boolean("accept_any_sop_class")) config.accept_any_sop_class = *v;
}

void read_query(const Section& query, Config& config) {
  query.allow_only(kQueryKeys);
  if (auto v = query.integer("max_results", 1, 10'000'000)) config.max_results = static_cast<std::size_t>(*v);
  if (auto v = query.integer("max_retrieve", 1, 10'000'000)) config.max_retrieve = static_cast<std::size_t>(*v);
}

void read_database(const Section& database, Config& config) {
  database.allow_only(kDatabaseKeys);
  if (auto v = database.string("url")) config.database_url = *v;
  if (auto v = database.string("embedded_user")) {
    if (v->empty()) database.fail("embedded_user", "must not be empty (the default is \"postgres\")");
    config.embedded_user = *v;
  }
}

void read_logging(const Section& logging, const fs::path& base_dir, Config& config) {
  logging.allow_only(kLoggingKeys);
  if (auto v = logging.string("level")) {
    if (!pacsnode::log::parse_level(*v)) {
      logging.fail("level", fmt::format("must be \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"critical\" or "
                                        "\"off\" (got \"{}\")",
                                        *v));
    }
    config.log_level = *v;
  }
  if (auto v = logging.string("file"); v && !v->empty()) config.log_file = resolve(base_dir, *v);
}

void read_jobs(const Section& jobs, Config& config) {
  jobs.allow_only(kJobsKeys);
  auto& j = config.jobs;
  if (auto v = jobs.integer("workers", 1, 256)) j.workers = static_cast<unsigned>(*v);
  if (auto v = jobs.integer("per_peer_concurrency", 1, 256)) j.per_peer_concurrency = static_cast<unsigned>(*v);
  if (auto v = jobs.integer("max_attempts", 1, 1000)) j.max_attempts = static_cast<unsigned>(*v);
  if (auto v = jobs.seconds("max_age", 0, 365 * 86400)) j.max_age = *v;
  if (auto v = jobs.seconds("retry_base_delay", 1, 86400)) j.retry_base_delay = *v;
  if (auto v = jobs.seconds("retry_max_delay", 1, 7 * 86400)) j.retry_max_delay = *v;
  if (j.retry_max_delay < j.retry_base_delay) {
    jobs.fail(jobs.find("retry_max_delay") ? "retry_max_delay" : "retry_base_delay",
              fmt::format("retry_max_delay ({} s) must not be below retry_base_delay ({} s)", j.retry_max_delay.count(),
                          j.retry_base_delay.count()));
  }
  if (auto v = jobs.seconds("lease", 2, 3600)) j.lease = *v;
}

void read_peers(const Section& root, Config& config) {
  std::map<std::string, std::string, std::less<>> seen;  // name → key where first defined
  constexpr std::string_view kNeeds = "every [[peers]] entry needs name, ae_title and host";
  for (const Section& peer : root.table_array("peers")) {
    peer.allow_only(kPeerKeys);
    PeerConfig p;
    p.name = peer.required_string("name", kNeeds);
    if (!is_peer_name(p.name)) {
      peer.fail("name", fmt::format("must be non-empty and contain only letters, digits, '_', '.' and '-' (got \"{}\")",
                                    p.name));
    }
    if (auto [it, inserted] = seen.emplace(p.name, peer.key("name")); !inserted) {
      peer.fail("name", fmt::format("duplicate peer name \"{}\" (already used at {})", p.name, it->second));
    }
    p.ae_title = ae_title(peer, "ae_title", peer.required_string("ae_title", kNeeds));
    p.host = peer.required_string("host", kNeeds);
    if (p.host.empty() || has_space_or_control(p.host)) {
      peer.fail("host", fmt::format("must be a host name or IP address without spaces (got \"{}\")", p.host));
    }
    if (auto v = peer.integer("port", 1, 65535)) p.port = static_cast<std::uint16_t>(*v);
    config.peers.push_back(std::move(p));
  }
}


// ---- Routing: include, [routing], [[plugins]], [[rules]] -------------------------------
// Rules may live in other files (include = ["rules.d/*.toml"]); such a file holds [[rules]]
// and nothing else, and its errors name it. Peers and plug-ins are read first, so that a
// rule's actions can be checked against them.

constexpr std::string_view kRoutingKeys[] = {"stable_after", "max_wait"};
constexpr std::string_view kPluginKeys[] = {"name", "command", "timeout", "max_parallel", "memory_mb"};
constexpr std::string_view kRuleKeys[] = {"name", "on", "when", "then", "stable_after", "priority", "fallback"};
constexpr std::string_view kIncludedFileKeys[] = {"rules"};

using std::chrono::milliseconds;

constexpr milliseconds kMinStableAfter{100};
constexpr milliseconds kMaxStableAfter = std::chrono::hours(24);
constexpr milliseconds kMaxMaxWait = std::chrono::hours(7 * 24);

// A duration written as a string ("30s", "10m", "1h30m", "500ms").
std::optional<milliseconds> duration(const Section& section, std::string_view name, milliseconds min,
                                     milliseconds max) {
  const toml::node* node = section.find(name);
  if (node == nullptr) return std::nullopt;
  const auto* s = node->as_string();
  const auto value = s ? parse_duration(s->get()) : std::nullopt;
  if (!value) {
    section.fail(name, fmt::format("must be a duration such as \"30s\", \"10m\", \"1h30m\" or \"500ms\" ({})", got(*node)));
  }
  if (*value < min || *value > max) {
    section.fail(name, fmt::format("must be between {} and {} (got \"{}\")", format_duration(min), format_duration(max),
                                   s->get()));
  }
  return value;
}

// An array of strings; `what` says what the entries are, for messages.
std::optional<std::vector<std::string>> string_array(const Section& section, std::string_view name,
                                                     std::string_view what) {
  const toml::node* node = section.find(name);
  if (node == nullptr) return std::nullopt;
  const auto* array = node->as_array();
  if (array == nullptr) section.fail(name, fmt::format("must be an array of strings, {} ({})", what, got(*node)));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto* s = (*array)[i].as_string();
    if (s == nullptr) {
      section.fail(fmt::format("{}[{}]", name, i), fmt::format("must be a string, {} ({})", what, got((*array)[i])));
    }
    out.push_back(s->get());
  }
  return out;
}

void read_routing_table(const Section& routing, Config& config) {
  routing.allow_only(kRoutingKeys);
  if (auto v = duration(routing, "stable_after", kMinStableAfter, kMaxStableAfter)) config.stable_after = *v;
  if (auto v = duration(routing, "max_wait", kMinStableAfter, kMaxMaxWait)) {
    if (*v < config.stable_after) {
      routing.fail("max_wait", fmt::format("must not be shorter than stable_after ({} < {})", format_duration(*v),
                                           format_duration(config.stable_after)));
    }
    config.max_wait = *v;
  }
}

void read_plugins(const Section& root, const fs::path& base_dir, Config& config) {
  std::map<std::string, std::string, std::less<>> seen;  // name → key where first defined
  constexpr std::string_view kNeeds = "every [[plugins]] entry needs name and command";
  for (const Section& plugin : root.table_array("plugins")) {
    plugin.allow_only(kPluginKeys);
    PluginConfig p;
    p.name = plugin.required_string("name", kNeeds);
    if (!is_peer_name(p.name)) {
      plugin.fail("name", fmt::format("must be non-empty and contain only letters, digits, '_', '.' and '-' (got \"{}\")",
                                      p.name));
    }
    if (auto [it, inserted] = seen.emplace(p.name, plugin.key("name")); !inserted) {
      plugin.fail("name", fmt::format("duplicate plug-in name \"{}\" (already used at {})", p.name, it->second));
    }
    auto command = string_array(plugin, "command", "the program and its arguments");
    if (!command) plugin.fail("command", fmt::format("missing; {}", kNeeds));
    if (command->empty() || command->front().empty()) {
      plugin.fail("command", "must name the program to run, as in command = [\"plugins/lung-density\", \"--fast\"]");
    }
    const fs::path program = command->front();
    if (program.is_relative() && command->front().find('/') != std::string::npos) {
      command->front() = resolve(base_dir, program).string();
    }
    p.command = std::move(*command);
    if (auto v = duration(plugin, "timeout", std::chrono::seconds(1), std::chrono::hours(24))) p.timeout = *v;
    if (auto v = plugin.integer("max_parallel", 1, 64)) p.max_parallel = static_cast<unsigned>(*v);
    if (auto v = plugin.integer("memory_mb", 0, std::int64_t{1} << 20)) p.memory_mb = static_cast<std::uint64_t>(*v);
    config.plugins.push_back(std::move(p));
  }
}

// The line of `text` that `at` points into, and a caret under the column.
std::string excerpt(std::string_view text, routing::SourcePosition at) {
  std::size_t start = 0;
  for (unsigned line = 1; line < at.line && start < text.size(); ++line) {
    const auto newline = text.find('\n', start);
    if (newline == std::string_view::npos) break;
    start = newline + 1;
  }
  std::string_view line = text.substr(start, text.find('\n', start) - start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string caret;
  unsigned column = 1;
  for (std::size_t i = 0; i < line.size() && column < at.column; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if ((c & 0xC0) == 0x80) continue;
    caret += c == '\t' ? '\t' : ' ';
    ++column;
  }
  return fmt::format("\n    {}\n    {}^", line, caret);
}

// What has been read of the rules so far, across files.
struct RuleReader {
  const Config& config;
  std::vector<routing::Rule> rules;
  std::map<std::string, std::string, std::less<>> seen;  // name → where first defined

  void read(const Section& root, const fs::path& display_file) {
    for (const Section& entry : root.table_array("rules")) read_one(entry, display_file);
  }

  void read_one(const Section& entry, const fs::path& display_file) {
    constexpr std::string_view kNeeds = "every [[rules]] entry needs name, on, when and then";
    entry.allow_only(kRuleKeys);
    routing::Rule rule;
    rule.origin = fmt::format("{}, {}", display_file.string(), entry.path());
    rule.name = entry.required_string("name", kNeeds);
    if (!is_peer_name(rule.name)) {
      entry.fail("name", fmt::format("must be non-empty and contain only letters, digits, '_', '.' and '-' (got \"{}\")",
                                     rule.name));
    }
    if (auto [it, inserted] = seen.emplace(rule.name, rule.origin); !inserted) {
      entry.fail("name", fmt::format("duplicate rule name \"{}\" (already used at {})", rule.name, it->second));
    }
    const std::string named = fmt::format("rule \"{}\"", rule.name);
    const auto on = entry.choice<routing::Trigger>("on", {{"instance", routing::Trigger::Instance},
                                                          {"series", routing::Trigger::Series},
                                                          {"study", routing::Trigger::Study}});
    if (!on) entry.fail("on", fmt::format("missing in {}; {}", named, kNeeds));
    rule.on = *on;

    const std::string when = entry.required_string("when", kNeeds);
    try {
      rule.when = routing::Expression::parse(when);
    } catch (const routing::ExpressionError& e) {
      entry.fail("when", fmt::format("{}: at {}:{}: {}{}", named, e.position().line, e.position().column, e.message(),
                                     excerpt(when, e.position())));
    }

    const auto then = string_array(entry, "then", "the actions, as in [\"forward archive\", \"analyze lung-density\"]");
    if (!then) entry.fail("then", fmt::format("missing in {}; {}", named, kNeeds));
    if (then->empty()) entry.fail("then", fmt::format("{}: must list at least one action", named));
    for (std::size_t i = 0; i < then->size(); ++i) {
      const std::string key = fmt::format("then[{}]", i);
      std::string why;
      auto action = routing::parse_action((*then)[i], why);
      if (!action) entry.fail(key, fmt::format("{}: \"{}\": {}", named, (*then)[i], why));
      check_target(entry, key, named, *action);
      if (std::find(rule.then.begin(), rule.then.end(), *action) != rule.then.end()) {
        entry.fail(key, fmt::format("{}: \"{}\" is listed twice", named, (*then)[i]));
      }
      rule.then.push_back(std::move(*action));
    }

    const auto stable_after = duration(entry, "stable_after", kMinStableAfter, kMaxStableAfter);
    if (rule.on == routing::Trigger::Instance) {
      if (stable_after) {
        entry.fail("stable_after", fmt::format("{} is on = \"instance\": a quiet period applies only to on = \"series\" "
                                               "or \"study\"",
                                               named));
      }
    } else {
      rule.stable_after = stable_after.value_or(config.stable_after);
      if (config.max_wait && rule.stable_after > *config.max_wait) {
        entry.fail("stable_after", fmt::format("{}: {} is longer than [routing] max_wait ({})", named,
                                               format_duration(rule.stable_after), format_duration(*config.max_wait)));
      }
    }
    if (auto v = entry.integer("priority", -1'000'000, 1'000'000)) rule.priority = static_cast<int>(*v);
    if (auto v = entry.boolean("fallback")) rule.fallback = *v;
    rules.push_back(std::move(rule));
  }

  void check_target(const Section& entry, const std::string& key, const std::string& named,
                    const routing::Action& action) const {
    std::vector<std::string_view> names;
    if (action.verb == routing::Verb::Forward) {
      if (config.find_peer_by_name(action.target) != nullptr) return;
      for (const auto& p : config.peers) names.push_back(p.name);
    } else {
      if (config.find_plugin(action.target) != nullptr) return;
      for (const auto& p : config.plugins) names.push_back(p.name);
    }
    const char* table = action.verb == routing::Verb::Forward ? "[[peers]]" : "[[plugins]]";
    std::string known = names.empty() ? fmt::format("none is defined") : fmt::format("defined: {}", join(names, "", ", "));
    if (auto suggestion = closest(action.target, names)) known = fmt::format("did you mean \"{}\"? {}", *suggestion, known);
    entry.fail(key, fmt::format("{}: \"{}\": no {} entry named \"{}\" ({})", named, to_string(action), table,
                                action.target, known));
  }
};

// The files `include` names, in order: each glob's matches sorted, each file once. A
// pattern without wildcards must name an existing file; one with wildcards may match none.
std::vector<fs::path> included_files(const Section& root, const fs::path& base_dir) {
  std::vector<fs::path> files;
  const auto patterns = string_array(root, "include", "file names or glob patterns such as \"rules.d/*.toml\"");
  if (!patterns) return files;
  for (std::size_t i = 0; i < patterns->size(); ++i) {
    const std::string key = fmt::format("include[{}]", i);
    const std::string& pattern = (*patterns)[i];
    if (pattern.empty()) root.fail(key, "must not be empty");
    const fs::path full = resolve(base_dir, pattern);
    std::vector<fs::path> matches;
    if (pattern.find_first_of("*?[") == std::string::npos) {
      std::error_code ec;
      if (!fs::exists(full, ec)) root.fail(key, fmt::format("no such file: {}", full.string()));
      matches.push_back(full);
    } else {
      glob_t found{};
      // A folder that does not exist matches nothing; one that cannot be read is an error.
      static thread_local int unreadable = 0;
      unreadable = 0;
      const auto on_error = [](const char*, int error) -> int {
        if (error != ENOENT && error != ENOTDIR) unreadable = error;
        return 0;
      };
      int rc = ::glob(full.c_str(), 0, on_error, &found);
      if (unreadable != 0) rc = GLOB_ABORTED;
      if (rc == 0) {
        for (std::size_t k = 0; k < found.gl_pathc; ++k) matches.emplace_back(found.gl_pathv[k]);  // sorted by glob
      }
      ::globfree(&found);
      if (rc != 0 && rc != GLOB_NOMATCH) {
        root.fail(key, fmt::format("cannot read the folders of \"{}\": {}", pattern,
                                   std::generic_category().message(unreadable != 0 ? unreadable : EIO)));
      }
    }
    for (auto& m : matches) {
      std::error_code ec;
      if (!fs::is_regular_file(m, ec)) root.fail(key, fmt::format("{} is not a regular file", m.string()));
      if (std::find(files.begin(), files.end(), m) == files.end()) files.push_back(std::move(m));
    }
  }
  return files;
}

// How an included file is named in messages: beside the including file as the user wrote
// it ("etc/rules.d/ct.toml" when the configuration is "etc/pacsnode.toml").
fs::path display_name(const fs::path& included, const fs::path& file, const fs::path& base_dir) {
  const fs::path relative = included.lexically_relative(base_dir);
  if (relative.empty() || *relative.begin() == "..") return included;
  return file.parent_path() / relative;
}

void read_included_rules(const fs::path& path, const fs::path& display, const fs::path& file, RuleReader& reader) {
  toml::table table;
  try {
    table = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    if (where.line == 0) throw ConfigError(display, "", fmt::format("cannot read: {}", e.description()));
    throw ConfigError(display, "", fmt::format("TOML syntax error at line {}, column {}: {}", where.line, where.column,
                                               e.description()));
  }
  const Section root(display, &table, "");
  for (auto&& [k, node] : table) {
    if (k.str() != "rules") {
      root.fail(k.str(), fmt::format("only [[rules]] may appear in an included file ({} includes this one; everything "
                                     "else belongs there)",
                                     file.empty() ? std::string("<config>") : file.string()));
    }
  }
  root.allow_only(kIncludedFileKeys);
  reader.read(root, display);
}

// [reports]: where the node sends the reports (and plug-in objects) it makes.
void read_reports(const Section& reports, Config& config) {
  reports.allow_only(kReportsKeys);
  auto send_to = string_array(reports, "send_to", "the [[peers]] names the reports go to, as in [\"pacs\"]");
  if (!send_to) return;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < send_to->size(); ++i) {
    const std::string& name = (*send_to)[i];
    if (!config.find_peer_by_name(name)) {
      std::string defined;
      for (const auto& peer : config.peers) defined += (defined.empty() ? "" : ", ") + peer.name;
      reports.fail(fmt::format("send_to[{}]", i), fmt::format("no [[peers]] entry named \"{}\" (defined: {})", name,
                                                               defined.empty() ? std::string("none") : defined));
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      reports.fail(fmt::format("send_to[{}]", i), fmt::format("\"{}\" is listed twice", name));
    }
    names.push_back(name);
  }
  config.report_peers = std::move(names);
}

void read_routing(const Section& root, const fs::path& file, const fs::path& base_dir, Config& config) {
  read_routing_table(root.table("routing"), config);
  read_plugins(root, base_dir, config);
  const auto includes = included_files(root, base_dir);
  RuleReader reader{config, {}, {}};
  reader.read(root, file.empty() ? fs::path("<config>") : file);
  for (const auto& path : includes) {
    read_included_rules(path, display_name(path, file, base_dir), file, reader);
    config.included_files.push_back(path);
  }
  config.rules = routing::RuleSet(std::move(reader.rules));
}

}  // namespace

const PeerConfig* Config::find_peer_by_name(std::string_view name) const {
  for (const auto& peer : peers) {
    if (peer.name == name) return &peer;
  }
  return nullptr;
}

const PeerConfig* Config::find_peer_by_ae(std::string_view ae_title) const {
  const std::string_view wanted = trim_spaces(ae_title);
  for (const auto& peer : peers) {
    if (trim_spaces(peer.ae_title) == wanted) return &peer;
  }
  return nullptr;
}

const PluginConfig* Config::find_plugin(std::string_view name) const {
  for (const auto& plugin : plugins) {
    if (plugin.name == name) return &plugin;
  }
  return nullptr;
}

Config parse_config(std::string_view toml_text, const fs::path& file) {
  toml::table table;
  try {
    table = toml::parse(toml_text, file.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(file, "", fmt::format("TOML syntax error at line {}, column {}: {}", where.line, where.column,
                                            e.description()));
  }

  Config config;
  fs::path base_dir;
  if (file.empty()) {
    base_dir = fs::current_path();
  } else {
    config.file = fs::absolute(file).lexically_normal();
    base_dir = config.file.parent_path();
  }

  const Section root(file, &table, "");
  check_top_level(root, table);
  read_node(root.table("node"), base_dir, config);
  read_storage(root.table("storage"), base_dir, config);
  read_query(root.table("query"), config);
  read_http(root.table("http"), base_dir, config);
  read_security(root.table("security"), config);
  read_database(root.table("database"), config);
  read_logging(root.table("logging"), base_dir, config);
  read_jobs(root.table("jobs"), config);
  read_peers(root, config);
  read_routing(root, file, base_dir, config);
  read_reports(root.table("reports"), config);
  return config;
}

Config load_config(const fs::path& file) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) throw ConfigError(file, "", "cannot read: is a directory, not a file");

  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!stream) {
    throw ConfigError(file, "", fmt::format("cannot read: {}", std::generic_category().message(errno)));
  }
  std::string text;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, stream.get())) > 0) text.append(buffer, n);
  if (std::ferror(stream.get())) {
    throw ConfigError(file, "", fmt::format("cannot read: {}", std::generic_category().message(errno)));
  }
  return parse_config(text, file);
}

}  // namespace pacsnode::app
