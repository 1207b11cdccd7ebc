#pragma once
// Orthanc (Debian package `orthanc`) as the PACS that receives what the node sends: on free
// loopback ports (DICOM and REST), with its own storage in a temp folder, checked through
// its own REST API — never through pacsnode's records.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace pacsnode::test {

// What an Orthanc is started with beyond the defaults.
struct OrthancOptions {
  std::string ae_title = "ORTHANC";
  // With its DICOMweb plug-in (Debian orthanc-dicomweb): DICOMweb servers it can reach, by
  // name → root URL ("http://127.0.0.1:8080/dicom-web/"); its own DICOMweb at /dicom-web/.
  bool dicomweb = false;
  std::vector<std::pair<std::string, std::string>> dicomweb_servers;
};

class Orthanc {
 public:
  explicit Orthanc(std::string ae_title = "ORTHANC");
  explicit Orthanc(OrthancOptions options);
  ~Orthanc();
  Orthanc(const Orthanc&) = delete;
  Orthanc& operator=(const Orthanc&) = delete;

  const std::string& ae_title() const { return ae_title_; }
  std::uint16_t dicom_port() const { return dicom_port_; }
  std::uint16_t http_port() const { return http_port_; }
  // GET (or POST with `body`) on the REST API; the response body. Fails the test on an
  // HTTP error.
  std::string rest(const std::string& path, const std::optional<std::string>& body = std::nullopt) const;
  // Orthanc's id of the instance with this SOP Instance UID, if it has it.
  std::optional<std::string> instance_id(const std::string& sop_instance_uid) const;
  // Its tags as Orthanc's "simplified-tags" JSON.
  std::string simplified_tags(const std::string& instance_id) const;
  // The instance's file as Orthanc stores it.
  std::vector<std::uint8_t> file(const std::string& instance_id) const;
  std::size_t instance_count() const;
  // POSTs a file to /instances; Orthanc's id of the instance.
  std::string upload(const std::filesystem::path& file) const;
  std::string log() const;

 private:
  std::string ae_title_;
  TempDir dir_;
  std::uint16_t dicom_port_, http_port_;
  std::optional<Process> process_;
};

}  // namespace pacsnode::test
