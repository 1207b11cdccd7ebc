#include "tests/support/pg_cluster.hpp"

#include <stdexcept>

#include "base/process.hpp"

namespace pacsnode::test {

std::string psql(const app::EmbeddedPostgres& postgres, const std::string& conninfo, const std::string& sql) {
  // -X: no ~/.psqlrc; ON_ERROR_STOP: a failing statement fails the call.
  auto [code, output] = run_process({(postgres.bin_dir() / "psql").string(), "-X", "-q", "-A", "-t", "-v",
                                     "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql},
                                    {}, std::chrono::minutes(1));
  if (code != 0) throw std::runtime_error("psql failed (" + std::to_string(code) + "): " + output + "\nSQL: " + sql);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

namespace {
app::EmbeddedPostgresSettings settings_for(const std::filesystem::path& cluster_dir) {
  app::EmbeddedPostgresSettings settings;
  settings.cluster_dir = cluster_dir;
  return settings;
}
}  // namespace

TestCluster::TestCluster() : dir_("pg"), postgres_(settings_for(dir_.path() / "pg")) { postgres_.start(); }

}  // namespace pacsnode::test
