#include "tests/support/routing.hpp"

#include <doctest/doctest.h>

#include "tests/support/node.hpp"

namespace pacsnode::test {

std::string peer_toml(const std::string& name, const std::string& ae_title, std::uint16_t port) {
  return "[[peers]]\nname = \"" + name + "\"\nae_title = \"" + ae_title + "\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(port) + "\n";
}

void store(std::uint16_t port, const std::string& ae_title, const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> argv = {"storescu", "-aec", ae_title, "+sd", "127.0.0.1", std::to_string(port)};
  for (const auto& p : paths) argv.push_back(p.string());
  auto [code, out] = run(argv, std::chrono::minutes(3));
  REQUIRE_MESSAGE(code == 0, out);
}

void store(const Node& node, const std::vector<std::filesystem::path>& paths) {
  store(node.port(), node.ae_title(), paths);
}

std::pair<int, std::string> pacsnode_cli(const std::filesystem::path& config, std::vector<std::string> args) {
  std::vector<std::string> argv = {PACSNODE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--config");
  argv.push_back(config.string());
  return run(argv, std::chrono::seconds(60));
}

}  // namespace pacsnode::test
