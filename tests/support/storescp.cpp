#include "tests/support/storescp.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "dicom/part10.hpp"
#include "tests/support/node.hpp"

namespace pacsnode::test {

StoreScp::StoreScp(std::vector<std::string> options, std::uint16_t port)
    : dir_("storescp"), port_(port != 0 ? port : free_port()) {
  std::filesystem::create_directories(received());
  std::vector<std::string> argv = {"storescp", "-v", "+uf", "-od", received().string()};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(std::to_string(port_));
  ProcessOptions po;
  po.env = {{"TCP_NODELAY", "1"}};
  po.output_file = dir_.path() / "storescp.log";
  process_.emplace(Process::spawn(argv, po));
  for (int i = 0; i < 100; ++i) {
    auto [code, out] = run({"echoscu", "127.0.0.1", std::to_string(port_)}, std::chrono::seconds(5));
    if (code == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("storescp did not start: " << log());
}

StoreScp::~StoreScp() { process_->stop(); }

std::string StoreScp::log() const {
  std::ifstream in(dir_.path() / "storescp.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, int> StoreScp::receptions() const {
  std::map<std::string, int> counts;
  for (const auto& file : files_below(received())) {
    try {
      ++counts[dicom::read_part10_header(file).sop_instance_uid];
    } catch (const std::exception&) {
      // being written right now: not a reception yet
    }
  }
  return counts;
}

std::set<std::string> StoreScp::received_uids() const {
  std::set<std::string> uids;
  for (const auto& [uid, n] : receptions()) uids.insert(uid);
  return uids;
}

std::size_t StoreScp::reception_count() const {
  std::size_t n = 0;
  for (const auto& [uid, count] : receptions()) n += static_cast<std::size_t>(count);
  return n;
}

}  // namespace pacsnode::test
