#include "scu/find.hpp"

#include "base/error.hpp"
#include "base/log.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"

namespace pacsnode::scu {

asio::awaitable<FindOutcome> find(const RemoteNode& remote, FindQuery query, net::AssociationSettings settings) {
  const auto start = std::chrono::steady_clock::now();
  FindOutcome outcome;
  auto finish = [&](bool ok, std::string message) {
    outcome.ok = ok;
    outcome.message = std::move(message);
    outcome.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return std::move(outcome);
  };

  const std::string model(query.patient_root ? net::uid::PatientRootFind : net::uid::StudyRootFind);
  net::AAssociateRq rq;
  rq.called_ae = remote.ae_title;
  rq.calling_ae = settings.ae_title;
  rq.contexts.push_back(
      {1, model, {std::string(net::uid::ExplicitVrLittleEndian), std::string(net::uid::ImplicitVrLittleEndian)}});
  std::shared_ptr<net::Association> association;
  try {
    association = co_await net::Association::request(remote.host, remote.port, rq, settings, 1);
  } catch (const net::AssociationError& e) {
    co_return finish(false, e.what());
  }
  const auto* context = net::find_context(association->contexts(), model);
  if (!context) {
    co_await association->release();
    co_return finish(false, std::string("the peer accepted no ") +
                                (query.patient_root ? "Patient Root" : "Study Root") + " C-FIND presentation context");
  }

  // The request identifier: the keys with their values, plus QueryRetrieveLevel (and an empty
  // RetrieveAETitle, a return key build_find_response always writes).
  std::map<std::uint32_t, std::string> values;
  for (const auto& key : query.keys) values[key.tag] = key.value;
  std::vector<std::uint8_t> identifier;
  std::string build_error;
  try {
    identifier = dicom::build_find_response(query.keys, values, query.level, "", context->transfer_syntax);
  } catch (const Error& e) {
    build_error = e.what();
  }
  if (!build_error.empty()) {
    co_await association->release();
    co_return finish(false, build_error);
  }

  net::CommandSet command;
  const std::uint16_t message_id = association->next_message_id();
  command.set_ui(net::tag::AffectedSopClassUid, model);
  command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CFindRq));
  command.set_us(net::tag::MessageId, message_id);
  command.set_us(net::tag::Priority, 0);
  command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
  try {
    net::SpanSource source(identifier);
    co_await association->send(context->id, command, source);
  } catch (const net::AssociationError& e) {
    co_return finish(false, std::string("sending C-FIND-RQ: ") + e.what());
  }

  for (;;) {
    auto response = co_await association->receive();
    if (!response) {
      co_return finish(false, "association " + std::string(net::end_reason_name(association->end_reason())) +
                                  " before the final C-FIND-RSP");
    }
    if (response->command.command_field() != net::CommandField::CFindRsp ||
        response->command.us(net::tag::MessageIdBeingRespondedTo) != message_id) {
      association->abort();
      co_return finish(false, "unexpected answer: " + response->command.describe());
    }
    const auto status = response->command.us(net::tag::Status);
    if (!status) {
      association->abort();
      co_return finish(false, "C-FIND-RSP without a status");
    }
    outcome.status = *status;
    if (net::classify_status(*status) == net::StatusClass::Pending) {
      std::map<std::uint32_t, std::string> match;
      try {
        const auto parsed = dicom::parse_find_identifier(response->data_set(), context->transfer_syntax);
        for (const auto& key : parsed.keys) match[key.tag] = key.value;
        if (!parsed.level.empty()) match[0x00080052] = parsed.level;
      } catch (const Error& e) {
        log::warn("C-FIND: unreadable pending identifier: {}", e.what());
      }
      outcome.matches.push_back(std::move(match));
      continue;
    }
    co_await association->release();
    if (*status == net::status::Success) co_return finish(true, "C-FIND succeeded");
    const auto comment = response->command.str(net::tag::ErrorComment);
    co_return finish(false, fmt::format("C-FIND failed with status {:#06x}{}", *status, comment ? ": " + *comment : ""));
  }
}

FindOutcome find_blocking(const RemoteNode& remote, FindQuery query, const net::AssociationSettings& settings) {
  try {
    return net::run_to_completion(find(remote, std::move(query), settings));
  } catch (const std::exception& e) {
    FindOutcome outcome;
    outcome.message = e.what();
    return outcome;
  }
}

}  // namespace pacsnode::scu
