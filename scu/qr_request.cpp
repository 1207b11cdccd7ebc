#include "scu/qr_request.hpp"

#include "base/error.hpp"
#include "net/uids.hpp"

namespace pacsnode::scu {

asio::awaitable<std::variant<QrSession, std::string>> start_qr(const RemoteNode& remote, const QrRequest& request,
                                                               net::AssociationSettings settings) {
  const char* const name = request.field == net::CommandField::CMoveRq ? "C-MOVE" : "C-FIND";
  net::AAssociateRq rq;
  rq.called_ae = remote.ae_title;
  rq.calling_ae = settings.ae_title;
  rq.contexts.push_back({1, request.model,
                         {std::string(net::uid::ExplicitVrLittleEndian), std::string(net::uid::ImplicitVrLittleEndian)}});
  QrSession session;
  try {
    session.association = co_await net::Association::request(remote.host, remote.port, rq, settings, 1);
  } catch (const net::AssociationError& e) {
    co_return std::string(e.what());
  }
  auto& association = *session.association;
  const auto* context = net::find_context(association.contexts(), request.model);
  if (!context) {
    co_await association.release();
    co_return std::string("the peer accepted no presentation context for ") + name + " model " + request.model;
  }
  session.transfer_syntax = context->transfer_syntax;

  // The identifier: the keys with their values, plus QueryRetrieveLevel (and an empty
  // RetrieveAETitle, a return key build_find_response always writes).
  std::map<std::uint32_t, std::string> values;
  for (const auto& key : request.keys) values[key.tag] = key.value;
  std::vector<std::uint8_t> identifier;
  std::string build_error;
  try {
    identifier = dicom::build_find_response(request.keys, values, request.level, "", context->transfer_syntax);
  } catch (const Error& e) {
    build_error = e.what();
  }
  if (!build_error.empty()) {
    co_await association.release();
    co_return build_error;
  }

  net::CommandSet command;
  session.message_id = association.next_message_id();
  command.set_ui(net::tag::AffectedSopClassUid, request.model);
  command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(request.field));
  command.set_us(net::tag::MessageId, session.message_id);
  command.set_us(net::tag::Priority, 0);
  if (request.field == net::CommandField::CMoveRq) command.set_ae(net::tag::MoveDestination, request.move_destination);
  command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
  try {
    net::SpanSource source(identifier);
    co_await association.send(context->id, command, source);
  } catch (const net::AssociationError& e) {
    co_return std::string("sending ") + name + "-RQ: " + e.what();
  }
  co_return session;
}

}  // namespace pacsnode::scu
