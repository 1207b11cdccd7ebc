#include "scu/echo.hpp"

#include "base/log.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"

namespace pacsnode::scu {

asio::awaitable<EchoOutcome> echo(const RemoteNode& remote, net::AssociationSettings settings) {
  const auto start = std::chrono::steady_clock::now();
  EchoOutcome outcome;
  auto finish = [&](bool ok, std::string message) {
    outcome.ok = ok;
    outcome.message = std::move(message);
    outcome.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return outcome;
  };

  net::AAssociateRq rq;
  rq.called_ae = remote.ae_title;
  rq.calling_ae = settings.ae_title;
  rq.contexts.push_back({1, std::string(net::uid::Verification),
                         {std::string(net::uid::ExplicitVrLittleEndian), std::string(net::uid::ImplicitVrLittleEndian)}});
  std::shared_ptr<net::Association> association;
  try {
    association = co_await net::Association::request(remote.host, remote.port, rq, settings, 1);
  } catch (const net::AssociationError& e) {
    co_return finish(false, e.what());
  }
  const auto* context = net::find_context(association->contexts(), net::uid::Verification);
  if (!context) {
    co_await association->release();
    co_return finish(false, "the peer accepted no Verification presentation context");
  }

  net::CommandSet rq_command;
  const std::uint16_t message_id = association->next_message_id();
  rq_command.set_ui(net::tag::AffectedSopClassUid, net::uid::Verification);
  rq_command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CEchoRq));
  rq_command.set_us(net::tag::MessageId, message_id);
  rq_command.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
  try {
    co_await association->send(context->id, rq_command);
  } catch (const net::AssociationError& e) {
    co_return finish(false, std::string("sending C-ECHO-RQ: ") + e.what());
  }
  auto response = co_await association->receive();
  if (!response) {
    co_return finish(false, "association " + std::string(net::end_reason_name(association->end_reason())) +
                                " before the C-ECHO-RSP arrived");
  }
  const auto field = response->command.command_field();
  const auto status = response->command.us(net::tag::Status);
  co_await association->release();
  if (field != net::CommandField::CEchoRsp || response->command.us(net::tag::MessageIdBeingRespondedTo) != message_id) {
    co_return finish(false, "unexpected answer: " + response->command.describe());
  }
  if (!status) co_return finish(false, "C-ECHO-RSP without a status");
  if (*status != net::status::Success) {
    co_return finish(false, fmt::format("C-ECHO failed with status {:#06x}", *status));
  }
  co_return finish(true, "C-ECHO succeeded");
}

EchoOutcome echo_blocking(const RemoteNode& remote, const net::AssociationSettings& settings) {
  try {
    return net::run_to_completion(echo(remote, settings));
  } catch (const std::exception& e) {
    EchoOutcome outcome;
    outcome.message = e.what();
    return outcome;
  }
}

}  // namespace pacsnode::scu
