#pragma once
// C-STORE SCU over files and folders: what `pacsnode store` runs, and what forwarding and
// SR push-back use later.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "net/association.hpp"
#include "scu/remote.hpp"

namespace pacsnode::scu {

struct StoreSummary {
  std::size_t sent = 0;      // Success
  std::size_t warnings = 0;  // Bxxx and the like: stored, with a warning
  std::size_t failed = 0;    // refused by the peer, not sendable, or not a DICOM file
  std::vector<std::string> failures;  // one line each: "<file>: <reason>"
};

// Expands folders recursively (sorted), skipping nothing: a file that is not DICOM Part 10
// counts as failed.
std::vector<std::filesystem::path> collect_files(const std::vector<std::filesystem::path>& paths,
                                                 std::vector<std::string>& errors);

// Sends `files` to `remote`: proposes, for each SOP Class, the files' own transfer syntaxes
// plus Explicit/Implicit VR Little Endian as a fallback, in as many associations as 128
// presentation contexts require. A file whose own syntax was not accepted is converted to an
// accepted uncompressed one when DCMTK can; otherwise it fails.
asio::awaitable<StoreSummary> store_files(const RemoteNode& remote, std::vector<std::filesystem::path> files,
                                          net::AssociationSettings settings);
StoreSummary store_files_blocking(const RemoteNode& remote, std::vector<std::filesystem::path> files,
                                  const net::AssociationSettings& settings);

}  // namespace pacsnode::scu
