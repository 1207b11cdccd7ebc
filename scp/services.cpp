#include "scp/services.hpp"

#include "base/log.hpp"
#include "base/node_metrics.hpp"
#include "scp/find_service.hpp"
#include "scp/retrieve_service.hpp"
#include "scp/store_service.hpp"

namespace pacsnode::scp {

using net::CommandField;

net::CommandSet make_response(const net::CommandSet& request, std::uint16_t status) {
  net::CommandSet rsp;
  const auto field = request.command_field().value_or(CommandField::CEchoRq);
  rsp.set_us(net::tag::CommandField, static_cast<std::uint16_t>(static_cast<std::uint16_t>(field) | 0x8000));
  rsp.set_us(net::tag::MessageIdBeingRespondedTo, request.message_id().value_or(0));
  rsp.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
  rsp.set_us(net::tag::Status, status);
  if (auto cls = request.str(net::tag::AffectedSopClassUid)) rsp.set_ui(net::tag::AffectedSopClassUid, *cls);
  if (auto inst = request.str(net::tag::AffectedSopInstanceUid)) rsp.set_ui(net::tag::AffectedSopInstanceUid, *inst);
  return rsp;
}

asio::awaitable<void> handle_echo(net::Association& association, const net::Message& request) {
  co_await association.send(request.pc_id, make_response(request.command, net::status::Success));
}

namespace {

// pacsnode_dimse_request_duration_seconds for a command field, looked up once per
// operation (a family's lookup takes its lock and builds the label list: not per message).
metrics::Histogram& duration_of(std::uint16_t raw) {
  auto& family = metrics::node_metrics().dimse_request_duration_seconds;
  static metrics::Histogram& echo = family.with({"c_echo"});
  static metrics::Histogram& store = family.with({"c_store"});
  static metrics::Histogram& find = family.with({"c_find"});
  static metrics::Histogram& move = family.with({"c_move"});
  static metrics::Histogram& get = family.with({"c_get"});
  static metrics::Histogram& other = family.with({"other"});
  switch (raw) {
    case 0x0030: return echo;
    case 0x0001: return store;
    case 0x0020: return find;
    case 0x0021: return move;
    case 0x0010: return get;
    default: return other;
  }
}

// The `outcome` label of pacsnode_dimse_associations_total.
const char* outcome_label(net::EndReason reason) {
  switch (reason) {
    case net::EndReason::Released: return "released";
    case net::EndReason::PeerAborted: return "aborted_by_peer";
    case net::EndReason::LocalAborted: return "aborted";
    case net::EndReason::ProtocolError: return "protocol_error";
    case net::EndReason::Timeout: return "timeout";
    case net::EndReason::Rejected: return "rejected";
    default: return "connection_closed";
  }
}

}  // namespace

asio::awaitable<void> serve_association(std::shared_ptr<net::Association> association, ServiceSet services) {
  auto& m = metrics::node_metrics();
  m.associations_active.inc();
  while (auto message = co_await association->receive()) {
    const auto field = message->command.command_field();
    const auto raw = field ? static_cast<std::uint16_t>(*field) : 0;
    metrics::Timer timer(duration_of(raw));
    if (log::enabled(log::Level::debug)) log::debug("{} received {}", association->tag(), message->command.describe());
    try {
      if (raw & 0x8000) {
        log::warn("{} unexpected response {} ignored", association->tag(), message->command.describe());
        continue;
      }
      if (*field == CommandField::CEchoRq) {
        co_await handle_echo(*association, *message);
      } else if (*field == CommandField::CStoreRq && services.store) {
        co_await services.store->handle(*association, *message);
      } else if (*field == CommandField::CFindRq && services.find) {
        co_await services.find->handle(*association, *message);
      } else if (*field == CommandField::CMoveRq && services.retrieve) {
        co_await services.retrieve->handle_move(*association, *message);
      } else if (*field == CommandField::CGetRq && services.retrieve) {
        co_await services.retrieve->handle_get(*association, *message);
      } else if (services.other) {
        co_await services.other(*association, *message);
      } else {
        log::warn("{} operation {:#06x} not offered: answering 0x0211", association->tag(), raw);
        co_await association->send(message->pc_id, make_response(message->command, 0x0211));
      }
    } catch (const net::AssociationError& e) {
      log::info("{} {}", association->tag(), e.what());
      break;
    } catch (const std::exception& e) {
      // A bug or an unexpected library condition in a service: the request has no answer
      // and the association's state is unknown. Ending it is the only safe thing; leaving
      // it open would keep it busy (no idle timeout) for ever.
      log::error("{} {} failed: {}: aborting the association", association->tag(), message->command.describe(),
                 e.what());
      association->abort();
      break;
    }
  }
  m.associations_active.dec();
  m.associations_total.with({outcome_label(association->end_reason())}).inc();
  log::info("{} ended: {}", association->tag(), net::end_reason_name(association->end_reason()));
}

}  // namespace pacsnode::scp
