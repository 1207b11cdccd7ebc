#pragma once
// Reading what a sender needs from a Part-10 file without parsing the data set: the File
// Meta Information (SOP Class/Instance UID, transfer syntax) and where the data set starts.
// (Converting a data set to another transfer syntax: dicom/transcode.hpp.)
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pacsnode::dicom {

struct Part10Header {
  std::string sop_class_uid;
  std::string sop_instance_uid;
  std::string transfer_syntax_uid;
  std::string source_ae_title;       // (0002,0016), may be empty
  std::string receiving_ae_title;    // (0002,0018), may be empty
  std::uint64_t data_set_offset = 0;  // first byte after the meta group
  std::uint64_t file_size = 0;
};

// Throws pacsnode::Error(InvalidArgument) when the file has no "DICM" preamble or a broken
// meta group.
Part10Header read_part10_header(const std::filesystem::path& file);

}  // namespace pacsnode::dicom
