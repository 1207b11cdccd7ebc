#pragma once
// What the Query/Retrieve SCUs (C-FIND, C-MOVE) share: one association with one context for
// the information model, and the request with its identifier sent on it.
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "dicom/find_identifier.hpp"
#include "net/association.hpp"
#include "scu/remote.hpp"

namespace pacsnode::scu {

struct QrRequest {
  std::string model;                       // the SOP class UID of the information model
  net::CommandField field;                 // CFindRq or CMoveRq
  std::string level;                       // Query/Retrieve Level
  std::vector<dicom::IdentifierKey> keys;  // values UTF-8
  std::string move_destination;            // C-MOVE only
};

struct QrSession {
  std::shared_ptr<net::Association> association;
  std::string transfer_syntax;  // of the context: the responses' identifiers are in it
  std::uint16_t message_id = 0;
};

// Associates with `remote` (ELE/ILE for `request.model`) and sends the request. On failure
// returns one line saying why; the association is then released or gone.
asio::awaitable<std::variant<QrSession, std::string>> start_qr(const RemoteNode& remote, const QrRequest& request,
                                                               net::AssociationSettings settings);

}  // namespace pacsnode::scu
