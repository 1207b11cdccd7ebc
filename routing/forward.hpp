#pragma once
// The `forward PEER` action: C-STORE every instance of the job's resource (instance,
// series or study, as the index holds it when the attempt starts) to the peer, through
// scu::send_to — the same contexts and transcoding fallback as C-MOVE's sub-operations,
// and the next accepted syntax when an encoder refuses an image. Every instance's outcome
// is recorded as it comes; a retry sends only what the peer has not acknowledged. The
// attempt succeeds only when every instance was acknowledged (Success or Warning
// C-STORE-RSP) and every association ended in an orderly release: an aborted association
// is a failure, even after the last response.
#include <filesystem>
#include <map>
#include <string>

#include "net/association.hpp"
#include "routing/dispatcher.hpp"
#include "scu/remote.hpp"

namespace pacsnode::routing {

struct ForwardSettings {
  std::filesystem::path storage_root;            // file paths in the index are relative to it
  std::map<std::string, scu::RemoteNode> peers;  // by [[peers]] name
  net::AssociationSettings association;          // our side
};

inline constexpr const char* kForwardKind = "forward";

JobHandler forward_handler(ForwardSettings settings);

}  // namespace pacsnode::routing
