#pragma once
// C-ECHO SCU: is the remote node there and speaking DICOM?
#include <chrono>
#include <cstdint>
#include <string>

#include "net/association.hpp"
#include "scu/remote.hpp"

namespace pacsnode::scu {

struct EchoOutcome {
  bool ok = false;
  std::string message;  // one line: what happened ("C-ECHO succeeded", "association rejected …")
  std::chrono::milliseconds elapsed{0};
};

// Associates with `remote` (Verification, ELE/ILE), sends one C-ECHO-RQ, releases.
asio::awaitable<EchoOutcome> echo(const RemoteNode& remote, net::AssociationSettings settings);
// The same, blocking, on its own io_context (for the command line).
EchoOutcome echo_blocking(const RemoteNode& remote, const net::AssociationSettings& settings);

}  // namespace pacsnode::scu
