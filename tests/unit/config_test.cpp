#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include "app/config.hpp"

namespace fs = std::filesystem;
using pacsnode::app::Config;
using pacsnode::app::ConfigError;
using pacsnode::app::parse_config;
using pacsnode::app::load_config;
using pacsnode::app::UnknownCallingAePolicy;
using pacsnode::app::UserIdentityPolicy;

namespace {

const fs::path kFile = "/srv/pacs/etc/pacsnode.toml";

// libsodium's crypto_pwhash_str("s3cret") with the interactive limits, made outside pacsnode.
constexpr std::string_view kS3cretHash =
    "$argon2id$v=19$m=65536,t=2,p=1$1+g3StKrcCON8sPX7VMGYg$gPZDmRCsBfCsECoZ3V++dydXdpvv+qE8zXI7ijRKuY0";

// Parses `text` expecting a ConfigError; returns it so a test can check key and problem.
ConfigError error_of(std::string_view text, const fs::path& file = kFile) {
  try {
    parse_config(text, file);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError for:\n" << text);
  return ConfigError({}, {}, {});
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Checks the key and that the problem mentions `fragment`; shows the whole message on failure.
void check_error(std::string_view text, std::string_view key, std::string_view fragment) {
  const ConfigError e = error_of(text);
  INFO("what(): " << std::string(e.what()));
  CHECK(e.key() == key);
  CHECK(contains(e.problem(), fragment));
  CHECK(e.file() == kFile);
}

}  // namespace

TEST_CASE("config: an empty file gives every default") {
  const Config c = parse_config("", kFile);
  CHECK(c.file == kFile);
  CHECK(c.ae_title == "PACSNODE");
  CHECK(c.bind_address == "0.0.0.0");
  CHECK(c.port == 11112);
  CHECK(c.data_dir == fs::path("/srv/pacs/etc/var"));
  CHECK(c.max_associations == 64);
  CHECK(c.max_pdu_length == 131072);
  CHECK(c.artim_timeout == std::chrono::seconds(30));
  CHECK(c.idle_timeout == std::chrono::seconds(300));
  CHECK(c.shutdown_grace == std::chrono::seconds(10));
  CHECK(c.unknown_calling_ae == UnknownCallingAePolicy::Accept);
  CHECK(c.user_identity == UserIdentityPolicy::Ignore);
  CHECK(c.users.empty());
  CHECK(c.database_url.empty());
  CHECK(c.embedded_user == "postgres");
  CHECK(c.log_level == "info");
  CHECK(c.log_file.empty());
  CHECK(c.peers.empty());
}

TEST_CASE("config: empty sections and comments alone give the defaults") {
  const Config c = parse_config("# nothing here\n[node]\n[security]\n[database]\n[logging]\n", kFile);
  CHECK(c.port == 11112);
  CHECK(c.data_dir == fs::path("/srv/pacs/etc/var"));
}

TEST_CASE("config: every key is read") {
  const Config c = parse_config(R"(
[node]
ae_title = "  MYNODE "
bind = "::1"
port = 104
data_dir = "/data/pacs/"
max_associations = 10000
max_pdu_length = 0
artim_timeout = 1
idle_timeout = 86400
shutdown_grace = 0
[security]
unknown_calling_ae = "reject"
user_identity = "require"
[[security.users]]
username = "alice"
password = "secret"
[[security.users]]
username = "bob"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$1+g3StKrcCON8sPX7VMGYg$gPZDmRCsBfCsECoZ3V++dydXdpvv+qE8zXI7ijRKuY0"
[database]
url = "postgresql://pacs@db/pacs"
embedded_user = "pgrunner"
[logging]
level = "debug"
file = "../log/pacsnode.log"
[[peers]]
name = "pacs"
ae_title = "ORTHANC"
host = "pacs.example.org"
port = 4242
[[peers]]
name = "ct-1"
ae_title = "CT1"
host = "10.0.0.5"
)",
                                kFile);
  CHECK(c.ae_title == "MYNODE");  // insignificant spaces dropped
  CHECK(c.bind_address == "::1");
  CHECK(c.port == 104);
  CHECK(c.data_dir == fs::path("/data/pacs"));
  CHECK(c.max_associations == 10000);
  CHECK(c.max_pdu_length == 0);
  CHECK(c.artim_timeout == std::chrono::seconds(1));
  CHECK(c.idle_timeout == std::chrono::seconds(86400));
  CHECK(c.shutdown_grace == std::chrono::seconds(0));
  CHECK(c.unknown_calling_ae == UnknownCallingAePolicy::Reject);
  CHECK(c.user_identity == UserIdentityPolicy::Require);
  REQUIRE(c.users.size() == 2);
  CHECK(c.users[0].username == "alice");
  CHECK(c.users[0].password == "secret");
  CHECK(c.users[0].password_hash.empty());
  CHECK(c.users[1].username == "bob");
  CHECK(c.users[1].password_hash == kS3cretHash);
  CHECK(c.users[1].password.empty());
  CHECK(c.database_url == "postgresql://pacs@db/pacs");
  CHECK(c.embedded_user == "pgrunner");
  CHECK(c.log_level == "debug");
  CHECK(c.log_file == fs::path("/srv/pacs/log/pacsnode.log"));
  REQUIRE(c.peers.size() == 2);
  CHECK(c.peers[0].name == "pacs");
  CHECK(c.peers[0].ae_title == "ORTHANC");
  CHECK(c.peers[0].host == "pacs.example.org");
  CHECK(c.peers[0].port == 4242);
  CHECK(c.peers[1].name == "ct-1");
  CHECK(c.peers[1].port == 104);  // PeerConfig's default
}

TEST_CASE("config: data_dir resolution") {
  SUBCASE("relative to the file's folder, normalised") {
    CHECK(parse_config("[node]\ndata_dir = \"../var\"", kFile).data_dir == fs::path("/srv/pacs/var"));
    CHECK(parse_config("[node]\ndata_dir = \"./a/./b/../c/\"", kFile).data_dir == fs::path("/srv/pacs/etc/a/c"));
  }
  SUBCASE("absolute stays, normalised") {
    CHECK(parse_config("[node]\ndata_dir = \"/var/lib//pacsnode/\"", kFile).data_dir ==
          fs::path("/var/lib/pacsnode"));
  }
  SUBCASE("a relative config path is made absolute against the current directory") {
    const Config c = parse_config("[node]\ndata_dir = \"../var\"", "etc/pacsnode.toml");
    CHECK(c.file == (fs::current_path() / "etc/pacsnode.toml").lexically_normal());
    CHECK(c.data_dir == (fs::current_path() / "var").lexically_normal());
    CHECK(c.data_dir.is_absolute());
  }
  SUBCASE("empty is refused") { check_error("[node]\ndata_dir = \"\"", "node.data_dir", "must not be empty"); }
}

TEST_CASE("config: the sample etc/pacsnode.toml loads") {
  const fs::path sample = fs::path(PACSNODE_SOURCE_DIR) / "etc" / "pacsnode.toml";
  const Config c = load_config(sample);
  CHECK(c.ae_title == "PACSNODE");
  CHECK(c.port == 11112);
  CHECK(c.bind_address == "0.0.0.0");
  // The README runs `pacsnode serve --config etc/pacsnode.toml` from the repository root; the
  // data must land in <repo>/var, which .gitignore covers.
  CHECK(c.data_dir == (fs::absolute(PACSNODE_SOURCE_DIR) / "var").lexically_normal());
  CHECK(c.user_identity == UserIdentityPolicy::Ignore);
  CHECK(c.database_url.empty());
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].name == "pacs");
  CHECK(c.peers[0].ae_title == "ORTHANC");
  CHECK(c.peers[0].host == "127.0.0.1");
  CHECK(c.peers[0].port == 4242);
}

TEST_CASE("config: load_config reports a missing file") {
  const fs::path missing = "/nonexistent/pacsnode.toml";
  try {
    load_config(missing);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.file() == missing);
    CHECK(e.key().empty());
    CHECK(contains(e.problem(), "No such file or directory"));
    CHECK(std::string(e.what()) == "/nonexistent/pacsnode.toml: cannot read: No such file or directory");
  }
}

TEST_CASE("config: load_config refuses a directory") {
  try {
    load_config(fs::temp_directory_path());
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(contains(e.problem(), "is a directory"));
  }
}

TEST_CASE("config: load_config reads a real file and resolves against its folder") {
  const fs::path dir = fs::temp_directory_path() / ("pacsnode_config_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "node.toml";
  std::ofstream(file) << "[node]\nport = 2000\n[logging]\nfile = \"node.log\"\n";
  const Config c = load_config(file);
  CHECK(c.port == 2000);
  CHECK(c.data_dir == dir / "var");
  CHECK(c.log_file == dir / "node.log");
  fs::remove_all(dir);
}

TEST_CASE("config: what() names file, key and problem") {
  const ConfigError e = error_of("[node]\nport = 70000\n", "etc/pacsnode.toml");
  CHECK(std::string(e.what()) == "etc/pacsnode.toml: node.port: must be between 1 and 65535 (got 70000)");
}

TEST_CASE("config: TOML syntax errors carry line and column") {
  const ConfigError e = error_of("[node]\nport = 11112\nae_title = \"unterminated\n");
  INFO(std::string(e.what()));
  CHECK(e.key().empty());
  CHECK(contains(e.problem(), "TOML syntax error at line 3, column"));
  const ConfigError dup = error_of("[node]\nport = 1\nport = 2\n");
  INFO(std::string(dup.what()));
  CHECK(contains(dup.problem(), "line 3"));
}

TEST_CASE("config: unknown keys and tables are refused") {
  SUBCASE("typo in a section, with a hint") {
    check_error("[node]\naetitle = \"X\"", "node.aetitle", "did you mean \"ae_title\"?");
  }
  SUBCASE("nothing close: the allowed keys are listed") {
    check_error("[node]\ncolour = \"blue\"", "node.colour", "allowed here: ae_title, bind, port");
  }
  SUBCASE("unknown table") { check_error("[nodes]\nport = 1", "nodes", "unknown table (did you mean \"node\"?)"); }
  SUBCASE("unknown table array") { check_error("[[peer]]\nname = \"x\"", "peer", "did you mean \"peers\"?"); }
  SUBCASE("a section key written above its header") {
    check_error("port = 11112\n[node]\n", "port", "did you mean node.port?");
  }
  SUBCASE("unknown key inside a peer") {
    check_error("[[peers]]\nname = \"a\"\nae_title = \"A\"\nhost = \"h\"\n"
                "[[peers]]\nname = \"b\"\nae_title = \"B\"\nhsot = \"h\"\n",
                "peers[1].hsot", "did you mean \"host\"?");
  }
  SUBCASE("unknown key inside a user") {
    check_error("[[security.users]]\nusername = \"a\"\npasswd = \"p\"\n", "security.users[0].passwd",
                "did you mean \"password\"?");
  }
  SUBCASE("unknown sub-table") { check_error("[logging.extra]\nx = 1", "logging.extra", "unknown table"); }
}

TEST_CASE("config: wrong types are refused, showing what was found") {
  check_error("[node]\nport = \"11112\"", "node.port", "must be an integer (got a string: \"11112\")");
  check_error("[node]\nport = 11112.0", "node.port", "must be an integer (got a floating-point number");
  check_error("[node]\nae_title = 5", "node.ae_title", "must be a string (got an integer: 5)");
  check_error("[node]\nidle_timeout = true", "node.idle_timeout", "must be an integer (got a boolean: true)");
  check_error("[logging]\nlevel = [\"info\"]", "logging.level", "must be a string (got an array)");
  check_error("node = 5", "node", "must be a table");
  check_error("[peers]\nname = \"x\"", "peers", "must be an array of tables");
  check_error("peers = [1]", "peers[0]", "must be a table (got an integer: 1)");
  check_error("[security]\nusers = \"alice\"", "security.users", "must be an array of tables");
}

TEST_CASE("config: out-of-range numbers are refused") {
  check_error("[node]\nport = 0", "node.port", "must be between 1 and 65535 (got 0)");
  check_error("[node]\nport = 65536", "node.port", "(got 65536)");
  check_error("[node]\nport = -1", "node.port", "(got -1)");
  check_error("[node]\nmax_associations = 0", "node.max_associations", "between 1 and 10000");
  check_error("[node]\nmax_associations = 10001", "node.max_associations", "between 1 and 10000");
  check_error("[node]\nmax_pdu_length = 1024", "node.max_pdu_length",
              "must be 0 (unlimited) or between 4096 and 16777216 (got 1024)");
  check_error("[node]\nmax_pdu_length = 16777217", "node.max_pdu_length", "(got 16777217)");
  check_error("[node]\nartim_timeout = 0", "node.artim_timeout", "between 1 and 3600");
  check_error("[node]\nidle_timeout = 86401", "node.idle_timeout", "between 1 and 86400");
  check_error("[node]\nshutdown_grace = -1", "node.shutdown_grace", "between 0 and 3600");
  check_error("[[peers]]\nname = \"p\"\nae_title = \"P\"\nhost = \"h\"\nport = 0", "peers[0].port",
              "must be between 1 and 65535 (got 0)");
  // The boundaries themselves are accepted.
  CHECK(parse_config("[node]\nmax_pdu_length = 4096", kFile).max_pdu_length == 4096);
  CHECK(parse_config("[node]\nmax_pdu_length = 16777216", kFile).max_pdu_length == 16777216);
  CHECK(parse_config("[node]\nport = 65535", kFile).port == 65535);
}

TEST_CASE("config: AE titles") {
  check_error("[node]\nae_title = \"\"", "node.ae_title", "must not be empty or all spaces");
  check_error("[node]\nae_title = \"    \"", "node.ae_title", "must not be empty or all spaces");
  check_error("[node]\nae_title = \"ABCDEFGHIJKLMNOPQ\"", "node.ae_title", "at most 16 characters (got 17");
  check_error("[node]\nae_title = \"A\\\\B\"", "node.ae_title", "backslash");
  check_error("[node]\nae_title = \"A\\tB\"", "node.ae_title", "control characters");
  check_error("[node]\nae_title = \"PAC\u00c9\"", "node.ae_title", "ASCII");
  check_error("[[peers]]\nname = \"p\"\nae_title = \"\"\nhost = \"h\"", "peers[0].ae_title", "must not be empty");
  // 16 characters exactly, inner spaces and trailing padding are fine.
  CHECK(parse_config("[node]\nae_title = \"ABCDEFGHIJKLMNOP\"", kFile).ae_title == "ABCDEFGHIJKLMNOP");
  CHECK(parse_config("[node]\nae_title = \"MY NODE         \"", kFile).ae_title == "MY NODE");
}

TEST_CASE("config: extra_ae_titles are validated like ae_title") {
  CHECK(parse_config("", kFile).extra_ae_titles.empty());
  const Config c = parse_config("[node]\nae_title = \"MAIN\"\nextra_ae_titles = [\" ROUTER \", \"AI_LUNG\"]", kFile);
  CHECK(c.extra_ae_titles == std::vector<std::string>{"ROUTER", "AI_LUNG"});
  check_error("[node]\nextra_ae_titles = \"ROUTER\"", "node.extra_ae_titles", "must be an array of strings");
  check_error("[node]\nextra_ae_titles = [\"OK\", 7]", "node.extra_ae_titles[1]", "must be a string");
  check_error("[node]\nextra_ae_titles = [\"ABCDEFGHIJKLMNOPQ\"]", "node.extra_ae_titles[0]",
              "must be at most 16 characters");
  check_error("[node]\nextra_ae_titles = [\"   \"]", "node.extra_ae_titles[0]", "must not be empty");
  check_error("[node]\nextra_ae_titles = [\"A\\\\B\"]", "node.extra_ae_titles[0]", "backslash");
  check_error("[node]\nextra_ae_titles = [\"PACSNODE\"]", "node.extra_ae_titles[0]", "already node.ae_title");
  check_error("[node]\nextra_ae_titles = [\"R\", \"R \"]", "node.extra_ae_titles[1]", "listed twice");
}

TEST_CASE("config: bind must be a numeric address") {
  check_error("[node]\nbind = \"localhost\"", "node.bind", "numeric IPv4 or IPv6");
  check_error("[node]\nbind = \"\"", "node.bind", "numeric IPv4 or IPv6");
  CHECK(parse_config("[node]\nbind = \"127.0.0.1\"", kFile).bind_address == "127.0.0.1");
  CHECK(parse_config("[node]\nbind = \"::\"", kFile).bind_address == "::");
}

TEST_CASE("config: enumerations") {
  check_error("[security]\nunknown_calling_ae = \"Accept\"", "security.unknown_calling_ae",
              "must be \"accept\" or \"reject\" (got \"Accept\")");
  check_error("[security]\nuser_identity = \"optional\"", "security.user_identity",
              "must be \"ignore\" or \"require\" (got \"optional\")");
  check_error("[logging]\nlevel = \"verbose\"", "logging.level", "must be \"trace\", \"debug\"");
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    CHECK(parse_config(std::string("[logging]\nlevel = \"") + level + "\"", kFile).log_level == level);
  }
}

TEST_CASE("config: users") {
  check_error("[security]\nuser_identity = \"require\"", "security.user_identity",
              "no [[security.users]] entry is defined");
  check_error("[[security.users]]\nusername = \"a\"", "security.users[0].password_hash", "missing");
  check_error("[[security.users]]\npassword = \"p\"", "security.users[0].username", "missing");
  check_error("[[security.users]]\nusername = \"\"\npassword = \"p\"", "security.users[0].username",
              "must not be empty");
  check_error("[[security.users]]\nusername = \"a\"\npassword = \"\"", "security.users[0].password",
              "must not be empty");
  check_error("[[security.users]]\nusername = \"a\"\npassword = \"p\"\n"
              "[[security.users]]\nusername = \"a\"\npassword = \"q\"\n",
              "security.users[1].username", "duplicate user \"a\" (already defined at security.users[0].username)");
  // Users without "require" are kept (harmless, and ready for when it is switched on).
  CHECK(parse_config("[[security.users]]\nusername = \"a\"\npassword = \"p\"", kFile).users.size() == 1);
}

TEST_CASE("config: password_hash is checked when the file loads") {
  const std::string user = "[[security.users]]\nusername = \"rad\"\n";
  const Config c = parse_config(user + "password_hash = \"" + std::string(kS3cretHash) + "\"\n", kFile);
  REQUIRE(c.users.size() == 1);
  CHECK(c.users[0].username == "rad");
  CHECK(c.users[0].password_hash == kS3cretHash);
  CHECK(c.users[0].password.empty());
  CHECK(c.warnings.empty());

  const std::string hash(kS3cretHash);
  for (const std::string& bad : {std::string(), std::string("s3cret"), hash.substr(0, hash.size() - 1),
                                 "$argon2x$" + hash.substr(10), std::string("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW")}) {
    INFO("password_hash = " << bad);
    check_error(user + "password_hash = \"" + bad + "\"\n", "security.users[0].password_hash",
                "not a password hash libsodium can read");
  }
  check_error(user + "password_hash = 42\n", "security.users[0].password_hash", "must be a string");
  check_error(user + "password_hash = \"" + hash + "\"\npassword = \"s3cret\"\n", "security.users[0].password",
              "give password_hash or password, not both");
  check_error(user, "security.users[0].password_hash", "or, in clear text, password");
  check_error(user + "password_hsah = \"" + hash + "\"\n", "security.users[0].password_hsah",
              "did you mean \"password_hash\"?");
}

TEST_CASE("config: a clear-text password is accepted with a warning that names the user and the key") {
  const Config c = parse_config(
      "[[security.users]]\nusername = \"rad\"\npassword_hash = \"" + std::string(kS3cretHash) +
          "\"\n[[security.users]]\nusername = \"old\"\npassword = \"hunter2\"\n",
      kFile);
  REQUIRE(c.users.size() == 2);
  CHECK(c.users[1].password == "hunter2");
  CHECK(c.users[1].password_hash.empty());
  REQUIRE(c.warnings.size() == 1);
  INFO(c.warnings[0]);
  CHECK(c.warnings[0].rfind("/srv/pacs/etc/pacsnode.toml: security.users[1].password: user \"old\" has a clear-text "
                            "password",
                            0) == 0);
  CHECK(contains(c.warnings[0], "pacsnode hash-password"));
  CHECK(contains(c.warnings[0], "hunter2") == false);  // the password itself is never logged
}

TEST_CASE("config: peers") {
  const std::string_view two_named_pacs = R"(
[[peers]]
name = "pacs"
ae_title = "A"
host = "h1"
[[peers]]
name = "pacs"
ae_title = "B"
host = "h2"
)";
  check_error(two_named_pacs, "peers[1].name", "duplicate peer name \"pacs\" (already used at peers[0].name)");
  check_error("[[peers]]\nae_title = \"A\"\nhost = \"h\"", "peers[0].name", "missing; every [[peers]] entry needs");
  check_error("[[peers]]\nname = \"p\"\nhost = \"h\"", "peers[0].ae_title", "missing");
  check_error("[[peers]]\nname = \"p\"\nae_title = \"A\"", "peers[0].host", "missing");
  check_error("[[peers]]\nname = \"my pacs\"\nae_title = \"A\"\nhost = \"h\"", "peers[0].name",
              "only letters, digits");
  check_error("[[peers]]\nname = \"\"\nae_title = \"A\"\nhost = \"h\"", "peers[0].name", "non-empty");
  check_error("[[peers]]\nname = \"p\"\nae_title = \"A\"\nhost = \"\"", "peers[0].host", "without spaces");
  check_error("[[peers]]\nname = \"p\"\nae_title = \"A\"\nhost = \"a b\"", "peers[0].host", "without spaces");
  // Inline tables are the same thing in TOML.
  CHECK(parse_config("peers = [{name = \"p\", ae_title = \"A\", host = \"h\"}]", kFile).peers.size() == 1);
}

TEST_CASE("config: peer lookups") {
  const Config c = parse_config(R"(
[[peers]]
name = "pacs"
ae_title = "ORTHANC"
host = "10.0.0.1"
[[peers]]
name = "pacs-backup"
ae_title = "ORTHANC"
host = "10.0.0.2"
[[peers]]
name = "ct"
ae_title = "CT 1"
host = "10.0.0.3"
port = 5000
)",
                                kFile);
  SUBCASE("by name: exact") {
    REQUIRE(c.find_peer_by_name("ct") != nullptr);
    CHECK(c.find_peer_by_name("ct")->port == 5000);
    CHECK(c.find_peer_by_name("CT") == nullptr);
    CHECK(c.find_peer_by_name("ct ") == nullptr);
    CHECK(c.find_peer_by_name("") == nullptr);
  }
  SUBCASE("by AE title: duplicates allowed, the first in file order wins") {
    REQUIRE(c.find_peer_by_ae("ORTHANC") != nullptr);
    CHECK(c.find_peer_by_ae("ORTHANC")->name == "pacs");
  }
  SUBCASE("by AE title: padding ignored, case and inner spaces significant") {
    REQUIRE(c.find_peer_by_ae("ORTHANC         ") != nullptr);  // as it arrives, space-padded to 16
    CHECK(c.find_peer_by_ae(" ORTHANC")->name == "pacs");
    CHECK(c.find_peer_by_ae("CT 1")->name == "ct");
    CHECK(c.find_peer_by_ae("orthanc") == nullptr);
    CHECK(c.find_peer_by_ae("CT1") == nullptr);
    CHECK(c.find_peer_by_ae("") == nullptr);
    CHECK(c.find_peer_by_ae("   ") == nullptr);
  }
  SUBCASE("no peers") { CHECK(Config{}.find_peer_by_ae("X") == nullptr); }
}

TEST_CASE("config: [storage]") {
  const Config defaults = parse_config("[node]\ndata_dir = \"/data\"\n", kFile);
  CHECK(defaults.storage_path == fs::path("/data/storage"));
  CHECK(defaults.duplicates == pacsnode::app::DuplicatePolicy::Keep);
  CHECK(defaults.min_free_mb == 1024);
  CHECK_FALSE(defaults.accept_any_sop_class);

  const Config c = parse_config(
      "[storage]\npath = \"store\"\nduplicates = \"replace\"\nmin_free_mb = 0\naccept_any_sop_class = true\n", kFile);
  CHECK(c.storage_path == fs::path("/srv/pacs/etc/store"));
  CHECK(c.duplicates == pacsnode::app::DuplicatePolicy::Replace);
  CHECK(c.min_free_mb == 0);
  CHECK(c.accept_any_sop_class);

  check_error("[storage]\nduplicates = \"newest\"", "storage.duplicates", "must be \"keep\" or \"replace\"");
  check_error("[storage]\naccept_any_sop_class = 1", "storage.accept_any_sop_class", "must be true or false");
  check_error("[storage]\nmin_free_mb = -1", "storage.min_free_mb", "must be between 0 and");
  check_error("[storage]\npaht = \"x\"", "storage.paht", "unknown key");
}

TEST_CASE("config: [query]") {
  CHECK(parse_config("", kFile).max_results == 10000);
  CHECK(parse_config("[query]\nmax_results = 50\n", kFile).max_results == 50);
  check_error("[query]\nmax_results = 0", "query.max_results", "must be between 1 and");
  CHECK(parse_config("", kFile).max_retrieve == 100000);
  CHECK(parse_config("[query]\nmax_retrieve = 7\n", kFile).max_retrieve == 7);
  check_error("[query]\nmax_retrieve = 0", "query.max_retrieve", "must be between 1 and");
  check_error("[query]\nmax = 5", "query.max", "unknown key");
}

TEST_CASE("the sample configuration etc/pacsnode.toml (what scripts/run serves) loads, with its documented values") {
  const Config c = load_config(fs::path(PACSNODE_SOURCE_DIR) / "etc" / "pacsnode.toml");
  CHECK(c.ae_title == "PACSNODE");
  CHECK(c.port == 11112);
  CHECK(c.max_results == 10000);
  CHECK(c.max_retrieve == 100000);
  REQUIRE(!c.peers.empty());
  CHECK(c.peers[0].ae_title == "ORTHANC");
}
