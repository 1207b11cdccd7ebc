#pragma once
// What the routing and analysis integration tests share: configuration snippets, waiting
// for a condition, sending with storescu, and the `pacsnode` command line.
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace pacsnode::test {

class Node;

std::string peer_toml(const std::string& name, const std::string& ae_title, std::uint16_t port);

// Polls `pred` every 200 ms until it holds or `timeout` passes; returns its last value.
template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return pred();
}

// storescu every file to the node (a test failure if storescu fails).
void store(std::uint16_t port, const std::string& ae_title, const std::vector<std::filesystem::path>& paths);
void store(const Node& node, const std::vector<std::filesystem::path>& paths);

// `pacsnode <args> --config <config>`: exit code and output.
std::pair<int, std::string> pacsnode_cli(const std::filesystem::path& config, std::vector<std::string> args);

}  // namespace pacsnode::test
