#pragma once
// The DIMSE services the node offers, dispatched per message on one association.
#include <functional>
#include <memory>

#include "net/association.hpp"

namespace pacsnode::scp {

class StoreService;
class FindService;
class RetrieveService;

// The services one node offers; absent ones are not negotiated.
struct ServiceSet {
  StoreService* store = nullptr;
  FindService* find = nullptr;
  RetrieveService* retrieve = nullptr;  // C-MOVE and C-GET
  // Requests no service above handles; empty: answered 0x0211 (unrecognized operation).
  std::function<asio::awaitable<void>(net::Association&, net::Message&)> other;
};

// Serves one established association until it ends: every request gets its response;
// an operation we do not offer gets status 0x0211 (unrecognized operation). A service that
// throws anything but net::AssociationError ends the association with an A-ABORT and an
// error line in the log (never an association left open with its request unanswered).
asio::awaitable<void> serve_association(std::shared_ptr<net::Association> association, ServiceSet services);

// C-ECHO-RSP for one C-ECHO-RQ (PS3.7 §9.3.5).
asio::awaitable<void> handle_echo(net::Association& association, const net::Message& request);

// The response command set for `request` with `status` (fields every response carries).
net::CommandSet make_response(const net::CommandSet& request, std::uint16_t status);

}  // namespace pacsnode::scp
