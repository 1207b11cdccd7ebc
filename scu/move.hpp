#pragma once
// C-MOVE SCU: what `pacsnode move` runs — ask a remote node (the hospital PACS, say) to send
// instances to a destination AE, typically ourselves (pulling a patient's prior studies).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dicom/find_identifier.hpp"
#include "net/association.hpp"
#include "scu/remote.hpp"

namespace pacsnode::scu {

struct MoveRequest {
  bool patient_root = false;               // Patient Root; otherwise Study Root
  std::string level;                       // PATIENT, STUDY, SERIES, IMAGE
  std::vector<dicom::IdentifierKey> keys;  // the unique keys (UTF-8)
  std::string destination;                 // Move Destination AE title
};

struct MoveCounts {
  int remaining = -1, completed = -1, failed = -1, warning = -1;  // -1: absent in the response
};

struct MoveOutcome {
  bool ok = false;           // final status Success
  std::string message;       // one line
  std::uint16_t status = 0;  // final status (0 when none arrived)
  MoveCounts counts;         // from the final response
  std::vector<std::string> failed_uids;  // Failed SOP Instance UID List, when sent
  std::chrono::milliseconds elapsed{0};
};

// Sends one C-MOVE-RQ and follows its responses to the final one; `on_pending` (optional)
// sees the counts of every pending response.
asio::awaitable<MoveOutcome> move(const RemoteNode& remote, MoveRequest request, net::AssociationSettings settings,
                                  std::function<void(const MoveCounts&)> on_pending = {});
MoveOutcome move_blocking(const RemoteNode& remote, MoveRequest request, const net::AssociationSettings& settings,
                          std::function<void(const MoveCounts&)> on_pending = {});

}  // namespace pacsnode::scu
