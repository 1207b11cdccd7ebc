#include "scu/find.hpp"

#include "base/error.hpp"
#include "base/log.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"
#include "scu/qr_request.hpp"

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

  QrRequest request{std::string(query.patient_root ? net::uid::PatientRootFind : net::uid::StudyRootFind),
                    net::CommandField::CFindRq, query.level, query.keys, {}};
  auto started = co_await start_qr(remote, request, std::move(settings));
  if (auto* why = std::get_if<std::string>(&started)) co_return finish(false, *why);
  auto session = std::get<QrSession>(std::move(started));
  auto& association = session.association;
  const std::uint16_t message_id = session.message_id;

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
        const auto parsed = dicom::parse_find_identifier(response->data_set(), session.transfer_syntax);
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
