#include "tests/support/orthanc.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/node.hpp"

namespace pacsnode::test {
namespace {

constexpr const char* kOrthanc = "/usr/sbin/Orthanc";

std::string curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-sS", "--fail", "--max-time", "30"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.capture_output = true;
  auto [code, out] = run_process(argv, options, std::chrono::seconds(40));
  if (code != 0) throw std::runtime_error("curl " + args.back() + " failed (" + std::to_string(code) + "): " + out);
  return out;
}

}  // namespace

Orthanc::Orthanc(std::string ae_title) : Orthanc(OrthancOptions{std::move(ae_title), false, {}}) {}

Orthanc::Orthanc(OrthancOptions options)
    : ae_title_(std::move(options.ae_title)), dir_("orthanc"), dicom_port_(free_port()), http_port_(free_port()) {
  REQUIRE_MESSAGE(std::filesystem::exists(kOrthanc), "Orthanc is not installed (Debian package orthanc)");
  nlohmann::json config = {
      {"Name", "pacsnode-test"},
      {"StorageDirectory", (dir_.path() / "storage").string()},
      {"IndexDirectory", (dir_.path() / "index").string()},
      {"DicomAet", ae_title_},
      {"DicomPort", dicom_port_},
      {"DicomCheckCalledAet", true},
      {"HttpPort", http_port_},
      {"RemoteAccessAllowed", false},
      {"AuthenticationEnabled", false},
      {"Plugins", nlohmann::json::array()},
  };
  if (options.dicomweb) {
    constexpr const char* kPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
    REQUIRE_MESSAGE(std::filesystem::exists(kPlugin), "Orthanc's DICOMweb plug-in is not installed (orthanc-dicomweb)");
    config["Plugins"] = nlohmann::json::array({kPlugin});
    nlohmann::json servers = nlohmann::json::object();
    for (const auto& [name, url] : options.dicomweb_servers) servers[name] = nlohmann::json::array({url});
    config["DicomWeb"] = {{"Enable", true}, {"Root", "/dicom-web/"}, {"Servers", servers}};
  }
  const auto path = dir_.path() / "orthanc.json";
  std::ofstream(path) << config.dump(2);
  ProcessOptions po;
  po.output_file = dir_.path() / "orthanc.log";
  process_.emplace(Process::spawn({kOrthanc, path.string()}, po));
  for (int i = 0; i < 300; ++i) {
    try {
      rest("/system");
      return;
    } catch (const std::exception&) {
      if (!process_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  FAIL("Orthanc did not start: " << log());
}

Orthanc::~Orthanc() {
  if (process_) process_->stop(std::chrono::seconds(10));
}

std::string Orthanc::rest(const std::string& path, const std::optional<std::string>& body) const {
  const std::string url = "http://127.0.0.1:" + std::to_string(http_port_) + path;
  if (body) return curl({"-X", "POST", "--data-binary", *body, url});
  return curl({url});
}

std::optional<std::string> Orthanc::instance_id(const std::string& sop_instance_uid) const {
  const auto found = nlohmann::json::parse(rest("/tools/lookup", sop_instance_uid));
  for (const auto& r : found) {
    if (r.value("Type", "") == "Instance") return r.value("ID", "");
  }
  return std::nullopt;
}

std::string Orthanc::simplified_tags(const std::string& instance_id) const {
  return rest("/instances/" + instance_id + "/simplified-tags");
}

std::vector<std::uint8_t> Orthanc::file(const std::string& instance_id) const {
  const std::string out = rest("/instances/" + instance_id + "/file");
  return {out.begin(), out.end()};
}

std::size_t Orthanc::instance_count() const {
  return nlohmann::json::parse(rest("/statistics")).value("CountInstances", std::size_t{0});
}

std::string Orthanc::upload(const std::filesystem::path& file) const {
  const std::string url = "http://127.0.0.1:" + std::to_string(http_port_) + "/instances";
  const auto answer = nlohmann::json::parse(curl({"-X", "POST", "--data-binary", "@" + file.string(), url}));
  return answer.at("ID").get<std::string>();
}

std::string Orthanc::log() const {
  std::ifstream in(dir_.path() / "orthanc.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace pacsnode::test
