// [[rules]], [routing], [[plugins]] and include in the configuration: what is read, and every
// malformed rule refused with the file, the key, the rule's name and the position.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "app/config.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pacsnode::app::Config;
using pacsnode::app::ConfigError;
using pacsnode::app::load_config;
using pacsnode::app::parse_config;
using pacsnode::routing::Trigger;
using pacsnode::routing::Verb;

namespace {

const fs::path kFile = "/srv/pacs/etc/pacsnode.toml";

constexpr std::string_view kPeersAndPlugins = R"(
[[peers]]
name = "archive"
ae_title = "ARCHIVE"
host = "10.0.0.9"

[[plugins]]
name = "lung-density"
command = ["plugins/lung-density", "--fast"]
)";

// A configuration with peers and plug-ins and one rule whose keys are `rule`.
std::string with_rule(std::string_view rule) {
  return std::string(kPeersAndPlugins) + "\n[[rules]]\n" + std::string(rule) + "\n";
}

constexpr std::string_view kGoodRule = R"(name = "ct-chest"
on = "series"
when = 'Modality == "CT"'
then = ["forward archive"])";

ConfigError error_of(const std::string& text, const fs::path& file = kFile) {
  try {
    parse_config(text, file);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError for:\n" << text);
  return ConfigError({}, {}, {});
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

void check_error(const std::string& text, std::string_view key, std::initializer_list<std::string_view> fragments) {
  const ConfigError e = error_of(text);
  INFO("what(): " << std::string(e.what()));
  CHECK(e.file() == kFile);
  CHECK(e.key() == key);
  for (auto f : fragments) CHECK(contains(e.problem(), f));
}

void write(const fs::path& file, std::string_view text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

}  // namespace

TEST_CASE("rules config: rules, [routing] and [[plugins]] are read") {
  const Config c = parse_config(std::string(kPeersAndPlugins) + R"(
[routing]
stable_after = "45s"
max_wait = "1h"

[[plugins]]
name = "bone-age"
command = ["/opt/bone-age"]
timeout = "1h30m"
max_parallel = 4
memory_mb = 0

[[rules]]
name = "ct-chest"
on = "series"
when = 'Modality == "CT" and (BodyPartExamined == "CHEST" or SeriesDescription ~ "(?i)lung|thorax")'
then = ["forward archive", "analyze lung-density"]
stable_after = "30s"
priority = 10

[[rules]]
name = "everything-else"
on = "study"
when = "true"
then = ["forward archive"]
fallback = true

[[rules]]
name = "per-instance"
on = "instance"
when = '''
Modality == "MR"
  and CallingAE == "MR1"'''
then = ["analyze bone-age"]
priority = 10
)",
                                kFile);
  CHECK(c.stable_after == 45s);
  CHECK(c.max_wait == 1h);
  REQUIRE(c.plugins.size() == 2);
  CHECK(c.plugins[0].name == "lung-density");
  CHECK(c.plugins[0].command == std::vector<std::string>{"/srv/pacs/etc/plugins/lung-density", "--fast"});
  CHECK(c.plugins[0].timeout == 10min);
  CHECK(c.plugins[0].max_parallel == 1);
  CHECK(c.plugins[0].memory_mb == 2048);
  CHECK(c.plugins[1].command == std::vector<std::string>{"/opt/bone-age"});
  CHECK(c.plugins[1].timeout == 90min);
  CHECK(c.plugins[1].max_parallel == 4);
  CHECK(c.plugins[1].memory_mb == 0);
  CHECK(c.find_plugin("bone-age") == &c.plugins[1]);
  CHECK(c.find_plugin("nope") == nullptr);

  const auto& rules = c.rules.rules();
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].name == "ct-chest");  // priority 10, first in the file
  CHECK(rules[0].on == Trigger::Series);
  CHECK(rules[0].stable_after == 30s);
  CHECK(rules[0].priority == 10);
  REQUIRE(rules[0].then.size() == 2);
  CHECK(rules[0].then[0].verb == Verb::Forward);
  CHECK(rules[0].then[0].target == "archive");
  CHECK(rules[0].then[1].verb == Verb::Analyze);
  CHECK(rules[0].then[1].target == "lung-density");
  CHECK(rules[0].origin == "/srv/pacs/etc/pacsnode.toml, rules[0]");
  CHECK(rules[1].name == "per-instance");
  CHECK(rules[1].on == Trigger::Instance);
  CHECK(rules[1].stable_after == 0ms);
  CHECK(rules[2].name == "everything-else");
  CHECK(rules[2].fallback);
  CHECK(rules[2].stable_after == 45s);  // [routing]'s default
  CHECK(c.included_files.empty());
}

TEST_CASE("rules config: defaults without [routing], [[plugins]] or [[rules]]") {
  const Config c = parse_config("", kFile);
  CHECK(c.stable_after == 30s);
  CHECK_FALSE(c.max_wait);
  CHECK(c.plugins.empty());
  CHECK(c.rules.empty());
}

TEST_CASE("rules config: a rule whose `when` does not parse names the file, the rule and line:column") {
  const ConfigError e = error_of(with_rule(R"(name = "ct-chest"
on = "series"
when = 'Modality == "CT" and (BodyPartExamind == "CHEST" or SeriesDescription ~ "(?i)lung|thorax")'
then = ["forward archive"])"));
  CHECK(std::string(e.what()) ==
        "/srv/pacs/etc/pacsnode.toml: rules[0].when: rule \"ct-chest\": at 1:23: unknown keyword \"BodyPartExamind\": "
        "not in the DICOM data dictionary (did you mean \"BodyPartExamined\"?)\n"
        "    Modality == \"CT\" and (BodyPartExamind == \"CHEST\" or SeriesDescription ~ \"(?i)lung|thorax\")\n"
        "                          ^");

  // Syntax error on the second line of a multi-line `when`: the caret is under that line.
  const ConfigError multi = error_of(with_rule("name = \"r\"\non = \"instance\"\nthen = [\"forward archive\"]\n"
                                               "when = '''\nModality == \"CT\"\n  and (Rows > )'''"));
  CHECK(multi.key() == "rules[0].when");
  CHECK(contains(multi.problem(), "rule \"r\": at 2:15: expected a value"));
  CHECK(contains(multi.problem(), "\n      and (Rows > )\n                  ^"));

  check_error(with_rule(R"(name = "r"
on = "instance"
when = 'SeriesDescription ~ "(lung"'
then = ["forward archive"])"),
              "rules[0].when", {"rule \"r\": at 1:21: bad regular expression \"(lung\": missing )"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = 'StudyDate > "yesterday"'
then = ["forward archive"])"),
              "rules[0].when", {"rule \"r\": at 1:13:", "compares as a date"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = ''
then = ["forward archive"])"),
              "rules[0].when", {"rule \"r\": at 1:1: expected a condition"});
}

TEST_CASE("rules config: actions must name a peer or a plug-in that exists") {
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archiv"])"),
              "rules[0].then[0]",
              {"rule \"r\": \"forward archiv\": no [[peers]] entry named \"archiv\"", "did you mean \"archive\"?"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archive", "analyze emphysema"])"),
              "rules[0].then[1]", {"no [[plugins]] entry named \"emphysema\"", "defined: lung-density"});
  check_error(std::string(R"(
[[rules]]
name = "r"
on = "instance"
when = "true"
then = ["analyze x"]
)"),
              "rules[0].then[0]", {"no [[plugins]] entry named \"x\" (none is defined)"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["send archive"])"),
              "rules[0].then[0]", {"unknown action \"send\"", "\"forward <peer>\" and \"analyze <plug-in>\""});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward"])"),
              "rules[0].then[0]", {"\"forward\" needs a [[peers]] name"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archive", "forward archive"])"),
              "rules[0].then[1]", {"listed twice"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = [])"),
              "rules[0].then", {"at least one action"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = "forward archive")"),
              "rules[0].then", {"must be an array of strings"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archive", 3])"),
              "rules[0].then[1]", {"must be a string"});
}

TEST_CASE("rules config: on, durations, priority, names and keys") {
  check_error(with_rule(R"(name = "r"
on = "Series"
when = "true"
then = ["forward archive"])"),
              "rules[0].on", {"must be \"instance\", \"series\" or \"study\" (got \"Series\")"});
  check_error(with_rule(R"(name = "r"
when = "true"
then = ["forward archive"])"),
              "rules[0].on", {"missing in rule \"r\""});
  check_error(with_rule(R"(name = "r"
on = "series"
when = "true"
then = ["forward archive"]
stable_after = "30")"),
              "rules[0].stable_after", {"must be a duration such as \"30s\"", "got a string: \"30\""});
  check_error(with_rule(R"(name = "r"
on = "series"
when = "true"
then = ["forward archive"]
stable_after = 30)"),
              "rules[0].stable_after", {"must be a duration", "got an integer: 30"});
  check_error(with_rule(R"(name = "r"
on = "series"
when = "true"
then = ["forward archive"]
stable_after = "2d")"),
              "rules[0].stable_after", {"must be between 100ms and 1d (got \"2d\")"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archive"]
stable_after = "30s")"),
              "rules[0].stable_after", {"on = \"instance\"", "only to on = \"series\" or \"study\""});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archive"]
priority = "high")"),
              "rules[0].priority", {"must be an integer"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archive"]
fallback = "yes")"),
              "rules[0].fallback", {"must be true or false"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true"
then = ["forward archive"]
whne = "x")"),
              "rules[0].whne", {"unknown key (did you mean \"when\"?)"});
  check_error(with_rule(R"(name = "a b"
on = "instance"
when = "true"
then = ["forward archive"])"),
              "rules[0].name", {"only letters, digits"});
  check_error(with_rule(R"(on = "instance"
when = "true"
then = ["forward archive"])"),
              "rules[0].name", {"missing; every [[rules]] entry needs name, on, when and then"});
  check_error(with_rule(R"(name = "r"
on = "instance"
then = ["forward archive"])"),
              "rules[0].when", {"missing"});
  check_error(with_rule(R"(name = "r"
on = "instance"
when = "true")"),
              "rules[0].then", {"missing in rule \"r\""});
  check_error(with_rule(std::string(kGoodRule) + "\n[[rules]]\n" + std::string(kGoodRule)), "rules[1].name",
              {"duplicate rule name \"ct-chest\" (already used at /srv/pacs/etc/pacsnode.toml, rules[0])"});
  check_error("rules = 3\n", "rules", {"must be an array of tables"});
}

TEST_CASE("rules config: [routing] and [[plugins]] are checked") {
  check_error("[routing]\nstable_after = \"soon\"\n", "routing.stable_after", {"must be a duration"});
  check_error("[routing]\nstable_after = \"50ms\"\n", "routing.stable_after", {"between 100ms and 1d"});
  check_error("[routing]\nstable_after = \"1m\"\nmax_wait = \"30s\"\n", "routing.max_wait",
              {"must not be shorter than stable_after (30s < 1m)"});
  check_error("[routing]\nstable_afer = \"1m\"\n", "routing.stable_afer", {"did you mean \"stable_after\"?"});
  check_error(std::string(kPeersAndPlugins) + "[routing]\nmax_wait = \"1m\"\n[[rules]]\n" + std::string(kGoodRule) +
                  "\nstable_after = \"5m\"\n",
              "rules[0].stable_after", {"5m is longer than [routing] max_wait (1m)"});
  check_error("[[plugins]]\nname = \"p\"\n", "plugins[0].command", {"missing; every [[plugins]] entry needs name and command"});
  check_error("[[plugins]]\nname = \"p\"\ncommand = []\n", "plugins[0].command", {"must name the program"});
  check_error("[[plugins]]\nname = \"p\"\ncommand = \"run.sh\"\n", "plugins[0].command", {"must be an array of strings"});
  check_error("[[plugins]]\nname = \"p\"\ncommand = [\"x\"]\ntimeout = \"0s\"\n", "plugins[0].timeout",
              {"between 1s and 1d"});
  check_error("[[plugins]]\nname = \"p\"\ncommand = [\"x\"]\nmax_parallel = 0\n", "plugins[0].max_parallel",
              {"between 1 and 64"});
  check_error("[[plugins]]\nname = \"p\"\ncommand = [\"x\"]\nmax_paralel = 1\n", "plugins[0].max_paralel",
              {"did you mean \"max_parallel\"?"});
  check_error("[[plugins]]\nname = \"p\"\ncommand = [\"x\"]\n[[plugins]]\nname = \"p\"\ncommand = [\"y\"]\n",
              "plugins[1].name", {"duplicate plug-in name \"p\" (already used at plugins[0].name)"});
}

TEST_CASE("rules config: include reads rules from other files, relative to the configuration's folder") {
  pacsnode::test::TempDir dir("rules");
  const fs::path config = dir.path() / "etc" / "pacsnode.toml";
  write(config, std::string("include = [\"rules.d/*.toml\", \"extra.toml\", \"none.d/*.toml\"]\n") +
                    std::string(kPeersAndPlugins) + "[[rules]]\n" + std::string(kGoodRule) + "\n");
  write(dir.path() / "etc" / "rules.d" / "20-mr.toml",
        "[[rules]]\nname = \"mr\"\non = \"study\"\nwhen = 'Modality == \"MR\"'\nthen = [\"analyze lung-density\"]\n");
  write(dir.path() / "etc" / "rules.d" / "10-us.toml",
        "[[rules]]\nname = \"us\"\non = \"instance\"\nwhen = 'Modality == \"US\"'\nthen = [\"forward archive\"]\n"
        "[[rules]]\nname = \"us-first\"\non = \"instance\"\nwhen = 'Modality == \"US\"'\nthen = [\"forward archive\"]\n"
        "priority = 1\n");
  write(dir.path() / "etc" / "rules.d" / "notes.txt", "not TOML, not included");
  write(dir.path() / "etc" / "extra.toml", "# no rules here\n");
  const Config c = load_config(config);
  std::vector<std::string> names;
  for (const auto& r : c.rules.rules()) names.push_back(r.name);
  // Main file first, then each pattern's files in name order; priority before all of that.
  CHECK(names == std::vector<std::string>{"us-first", "ct-chest", "us", "mr"});
  REQUIRE(c.included_files.size() == 3);
  CHECK(c.included_files[0] == dir.path() / "etc" / "rules.d" / "10-us.toml");
  CHECK(c.included_files[1] == dir.path() / "etc" / "rules.d" / "20-mr.toml");
  CHECK(c.included_files[2] == dir.path() / "etc" / "extra.toml");
  CHECK(c.rules.find("mr")->origin == (config.parent_path() / "rules.d" / "20-mr.toml").string() + ", rules[0]");
  CHECK(c.rules.find("us-first")->origin == (config.parent_path() / "rules.d" / "10-us.toml").string() + ", rules[1]");
}

TEST_CASE("rules config: an included file holds only [[rules]]; its errors name it") {
  pacsnode::test::TempDir dir("rules");
  const fs::path config = dir.path() / "pacsnode.toml";
  const fs::path included = dir.path() / "rules.d" / "a.toml";
  const std::string head = "include = [\"rules.d/*.toml\"]\n" + std::string(kPeersAndPlugins);
  auto error = [&](std::string_view included_text, std::string main_text = {}) {
    write(config, main_text.empty() ? head : main_text);
    write(included, included_text);
    try {
      load_config(config);
    } catch (const ConfigError& e) {
      return e;
    }
    FAIL("no error");
    return ConfigError({}, {}, {});
  };

  auto e = error("[node]\nport = 104\n");
  CHECK(e.file() == included);
  CHECK(e.key() == "node");
  CHECK(contains(e.problem(), "only [[rules]] may appear in an included file"));
  CHECK(contains(e.problem(), config.string()));

  e = error("include = [\"more.toml\"]\n");
  CHECK(e.file() == included);
  CHECK(e.key() == "include");

  e = error("[[rules]]\nname = \"x\"\non = \"instance\"\nwhen = 'Modality = \"CT\"'\nthen = [\"forward archive\"]\n");
  CHECK(e.file() == included);
  CHECK(e.key() == "rules[0].when");
  CHECK(contains(e.problem(), "rule \"x\": at 1:10: unexpected '='"));
  CHECK(contains(std::string(e.what()), included.string() + ": rules[0].when: rule \"x\""));

  e = error("[[rules]]\nname = \"x\"\non = \"instance\"\nwhen = 'true'\nthen = [\"forward nowhere\"]\n");
  CHECK(e.file() == included);
  CHECK(e.key() == "rules[0].then[0]");

  e = error("[[rules]\n");
  CHECK(e.file() == included);
  CHECK(contains(e.problem(), "TOML syntax error at line 1"));

  // The same name in two files.
  e = error("[[rules]]\n" + std::string(kGoodRule) + "\n", head + "[[rules]]\n" + std::string(kGoodRule) + "\n");
  CHECK(e.file() == included);
  CHECK(e.key() == "rules[0].name");
  CHECK(contains(e.problem(), "duplicate rule name \"ct-chest\" (already used at " + config.string() + ", rules[0])"));

  // A file named without wildcards must exist; patterns must be strings.
  e = error("", "include = [\"missing.toml\"]\n");
  CHECK(e.file() == config);
  CHECK(e.key() == "include[0]");
  CHECK(contains(e.problem(), "no such file"));
  e = error("", "include = \"rules.d/*.toml\"\n");
  CHECK(e.key() == "include");
  CHECK(contains(e.problem(), "must be an array of strings"));
}

TEST_CASE("rules config: the sample configuration's commented rule and plug-in load when uncommented") {
  std::ifstream in(fs::path(PACSNODE_SOURCE_DIR) / "etc" / "pacsnode.toml");
  REQUIRE(in);
  std::string text, line;
  bool routing = false;
  while (std::getline(in, line)) {
    routing = routing || line == "[routing]";
    // From [routing] on, "# key = value" and "# [[table]]" lines are the examples.
    if (routing && line.rfind("# ", 0) == 0 && line.size() > 2 &&
        (line[2] == '[' || (line[2] >= 'a' && line[2] <= 'z' && line.find(" = ") != std::string::npos))) {
      line = line.substr(2);
    }
    text += line + "\n";
  }
  const Config c = parse_config(text, fs::path(PACSNODE_SOURCE_DIR) / "etc" / "pacsnode.toml");
  REQUIRE(c.rules.rules().size() == 1);
  CHECK(c.rules.rules()[0].name == "ct-chest");
  CHECK(c.rules.rules()[0].then.size() == 2);
  REQUIRE(c.plugins.size() == 1);
  CHECK(c.plugins[0].name == "lung-density");
  CHECK(c.max_wait == 30min);
}

TEST_CASE("reports config: send_to names peers; unknown and repeated names are refused") {
  const Config config = parse_config(std::string(kPeersAndPlugins) + "[reports]\nsend_to = [\"archive\"]\n", kFile);
  CHECK(config.report_peers == std::vector<std::string>{"archive"});
  CHECK(parse_config(std::string(kPeersAndPlugins), kFile).report_peers.empty());
  check_error(std::string(kPeersAndPlugins) + "[reports]\nsend_to = [\"pacs\"]\n", "reports.send_to[0]",
              {"no [[peers]] entry named \"pacs\" (defined: archive)"});
  check_error(std::string(kPeersAndPlugins) + "[reports]\nsend_to = [\"archive\", \"archive\"]\n", "reports.send_to[1]",
              {"listed twice"});
  CHECK(contains(error_of(std::string(kPeersAndPlugins) + "[reports]\nsendto = [\"archive\"]\n").what(), "sendto"));
}
