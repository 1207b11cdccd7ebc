#include "scu/move.hpp"

#include "base/error.hpp"
#include "base/log.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"
#include "scu/qr_request.hpp"

namespace pacsnode::scu {
namespace {

MoveCounts counts_of(const net::CommandSet& command) {
  auto get = [&](std::uint32_t tag) {
    const auto v = command.us(tag);
    return v ? static_cast<int>(*v) : -1;
  };
  return {get(net::tag::NumberOfRemainingSuboperations), get(net::tag::NumberOfCompletedSuboperations),
          get(net::tag::NumberOfFailedSuboperations), get(net::tag::NumberOfWarningSuboperations)};
}

}  // namespace

asio::awaitable<MoveOutcome> move(const RemoteNode& remote, MoveRequest request, net::AssociationSettings settings,
                                  std::function<void(const MoveCounts&)> on_pending) {
  const auto start = std::chrono::steady_clock::now();
  MoveOutcome outcome;
  auto finish = [&](bool ok, std::string message) {
    outcome.ok = ok;
    outcome.message = std::move(message);
    outcome.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return std::move(outcome);
  };

  QrRequest qr{std::string(request.patient_root ? net::uid::PatientRootMove : net::uid::StudyRootMove),
               net::CommandField::CMoveRq, request.level, request.keys, request.destination};
  auto started = co_await start_qr(remote, qr, std::move(settings));
  if (auto* why = std::get_if<std::string>(&started)) co_return finish(false, *why);
  auto session = std::get<QrSession>(std::move(started));
  auto& association = session.association;
  const std::uint16_t message_id = session.message_id;

  for (;;) {
    auto response = co_await association->receive_response(message_id);
    if (!response) {
      co_return finish(false, "association " + std::string(net::end_reason_name(association->end_reason())) +
                                  " before the final C-MOVE-RSP");
    }
    const auto status = response->command.us(net::tag::Status);
    if (response->command.command_field() != net::CommandField::CMoveRsp || !status) {
      association->abort();
      co_return finish(false, "unexpected answer: " + response->command.describe());
    }
    outcome.status = *status;
    outcome.counts = counts_of(response->command);
    if (net::classify_status(*status) == net::StatusClass::Pending) {
      if (on_pending) on_pending(outcome.counts);
      continue;
    }
    if (response->command.has_data_set()) {
      try {
        const auto parsed = dicom::parse_find_identifier(response->data_set(), session.transfer_syntax);
        for (const auto& key : parsed.keys) {
          if (key.tag != 0x00080058) continue;  // Failed SOP Instance UID List
          std::size_t from = 0;
          while (from <= key.value.size()) {
            const auto to = key.value.find('\\', from);
            const auto uid = key.value.substr(from, to == std::string::npos ? std::string::npos : to - from);
            if (!uid.empty()) outcome.failed_uids.push_back(uid);
            if (to == std::string::npos) break;
            from = to + 1;
          }
        }
      } catch (const Error& e) {
        log::warn("C-MOVE: unreadable response identifier: {}", e.what());
      }
    }
    co_await association->release();
    if (*status == net::status::Success) co_return finish(true, "C-MOVE succeeded");
    const auto comment = response->command.str(net::tag::ErrorComment);
    co_return finish(false, fmt::format("C-MOVE ended with status {:#06x}{}", *status, comment ? ": " + *comment : ""));
  }
}

MoveOutcome move_blocking(const RemoteNode& remote, MoveRequest request, const net::AssociationSettings& settings,
                          std::function<void(const MoveCounts&)> on_pending) {
  try {
    return net::run_to_completion(move(remote, std::move(request), settings, std::move(on_pending)));
  } catch (const std::exception& e) {
    MoveOutcome outcome;
    outcome.message = e.what();
    return outcome;
  }
}

}  // namespace pacsnode::scu
