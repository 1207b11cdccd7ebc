#pragma once
// C-STORE SCU: what `pacsnode store` runs, what C-MOVE sub-operations (on a new
// association) and C-GET sub-operations (on the requestor's association) use, and later
// forwarding and SR push-back.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dicom/part10.hpp"
#include "net/association.hpp"
#include "scu/remote.hpp"

namespace pacsnode::scu {

// One instance to send: its file and what its File Meta Information says.
struct Outgoing {
  std::filesystem::path file;
  dicom::Part10Header header;
};

enum class SendResult { Success, Warning, Failed };

struct SendOutcome {
  SendResult result = SendResult::Failed;
  std::uint16_t status = 0;  // the peer's C-STORE-RSP status; 0 when it never answered
  std::string why;           // for warnings and failures: one line
  // The instance was not sent because no association to the destination could be made
  // (refused, unreachable): C-MOVE answers 0xA702 when that is true of every instance.
  bool no_association = false;
  // The association carrying it ended: the rest cannot go over it.
  bool association_ended = false;
};

// Sets (0000,1030) and (0000,1031) on the sub-operations of a C-MOVE.
struct MoveOriginator {
  std::string ae_title;
  std::uint16_t message_id = 0;
};

// Sends one instance over an established association, in its own transfer syntax when an
// accepted context carries it, otherwise converted (dicom/transcode) to one the peer
// accepted for its SOP class — the next such syntax when the encoder refuses the image. `require_scp_role`: only contexts on which the requestor took
// the SCP role count (our side of a C-GET). `workers`: where transcoding runs (CPU-heavy;
// nullptr: on the caller's executor). Never throws for a single instance's problem.
asio::awaitable<SendOutcome> send_instance(net::Association& association, const Outgoing& item,
                                           const MoveOriginator* originator, bool require_scp_role,
                                           asio::thread_pool* workers = nullptr);

// Called after each instance with its outcome; returning false stops the sending (the
// instances not yet sent are not reported).
using SendProgress = std::function<asio::awaitable<bool>(const Outgoing& item, const SendOutcome& outcome)>;

// How the associations of a send_to ended: all_released is false when one of them ended
// otherwise than by an orderly release (aborted by either side, dropped, timed out) —
// something an instance's C-STORE-RSP alone does not tell.
struct SendToEnd {
  bool all_released = true;
  std::string why;  // the last such end: "association aborted by peer"
};

// Sends `items` to `remote`, proposing for each SOP class the items' own transfer
// syntaxes plus Explicit/Implicit VR Little Endian as a fallback, in as many associations as
// 128 presentation contexts require (in the items' order within each association).
asio::awaitable<SendToEnd> send_to(const RemoteNode& remote, std::vector<Outgoing> items,
                                   net::AssociationSettings settings, std::optional<MoveOriginator> originator,
                                   SendProgress progress, asio::thread_pool* workers = nullptr);

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

// Reads the files' headers and sends them with send_to.
asio::awaitable<StoreSummary> store_files(const RemoteNode& remote, std::vector<std::filesystem::path> files,
                                          net::AssociationSettings settings);
StoreSummary store_files_blocking(const RemoteNode& remote, std::vector<std::filesystem::path> files,
                                  const net::AssociationSettings& settings);

}  // namespace pacsnode::scu
