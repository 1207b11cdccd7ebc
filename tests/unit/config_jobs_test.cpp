// [jobs] in pacsnode.toml (app/config.cpp).
#include <doctest/doctest.h>

#include "app/config.hpp"

#include <filesystem>

using pacsnode::app::ConfigError;
using pacsnode::app::parse_config;
using namespace std::chrono_literals;

namespace {

std::string error_of(std::string_view text) {
  try {
    parse_config(text, "/etc/pacsnode.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("config: [jobs] defaults") {
  const auto c = parse_config("", "/etc/pacsnode.toml");
  CHECK(c.jobs.workers == 4);
  CHECK(c.jobs.per_peer_concurrency == 2);
  CHECK(c.jobs.max_attempts == 10);
  CHECK(c.jobs.max_age == 86400s);
  CHECK(c.jobs.retry_base_delay == 10s);
  CHECK(c.jobs.retry_max_delay == 3600s);
  CHECK(c.jobs.lease == 60s);
}

TEST_CASE("config: [jobs] values and their checks") {
  const auto c = parse_config(
      "[jobs]\nworkers = 8\nper_peer_concurrency = 1\nmax_attempts = 3\nmax_age = 0\nretry_base_delay = 1\n"
      "retry_max_delay = 5\nlease = 3\n",
      "/etc/pacsnode.toml");
  CHECK(c.jobs.workers == 8);
  CHECK(c.jobs.per_peer_concurrency == 1);
  CHECK(c.jobs.max_attempts == 3);
  CHECK(c.jobs.max_age == 0s);
  CHECK(c.jobs.retry_base_delay == 1s);
  CHECK(c.jobs.retry_max_delay == 5s);
  CHECK(c.jobs.lease == 3s);
  CHECK(error_of("[jobs]\nworkers = 0\n") == "/etc/pacsnode.toml: jobs.workers: must be between 1 and 256 (got 0)");
  CHECK(error_of("[jobs]\nlease = 1\n") == "/etc/pacsnode.toml: jobs.lease: must be between 2 and 3600 (got 1)");
  CHECK(error_of("[jobs]\nretry_base_delay = 60\nretry_max_delay = 30\n") ==
        "/etc/pacsnode.toml: jobs.retry_max_delay: retry_max_delay (30 s) must not be below retry_base_delay (60 s)");
  CHECK(error_of("[jobs]\nmax_attempt = 3\n").find("did you mean \"max_attempts\"") != std::string::npos);
  CHECK(error_of("max_attempts = 3\n").find("did you mean jobs.max_attempts?") != std::string::npos);
}

TEST_CASE("config: the sample etc/pacsnode.toml documents the [jobs] defaults") {
  const auto sample = pacsnode::app::load_config(std::filesystem::path(PACSNODE_SOURCE_DIR) / "etc" / "pacsnode.toml");
  const auto defaults = parse_config("", "/etc/pacsnode.toml");
  CHECK(sample.jobs.workers == defaults.jobs.workers);
  CHECK(sample.jobs.per_peer_concurrency == defaults.jobs.per_peer_concurrency);
  CHECK(sample.jobs.max_attempts == defaults.jobs.max_attempts);
  CHECK(sample.jobs.max_age == defaults.jobs.max_age);
  CHECK(sample.jobs.retry_base_delay == defaults.jobs.retry_base_delay);
  CHECK(sample.jobs.retry_max_delay == defaults.jobs.retry_max_delay);
  CHECK(sample.jobs.lease == defaults.jobs.lease);
}
