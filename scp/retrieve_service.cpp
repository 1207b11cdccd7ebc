#include "scp/retrieve_service.hpp"

#include <chrono>
#include <optional>
#include <variant>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/retrieve_query.hpp"
#include "dicom/find_identifier.hpp"
#include "dicom/part10.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"
#include "scp/qr_common.hpp"
#include "scp/services.hpp"
#include "scu/store.hpp"
#include "storage/store.hpp"

namespace pacsnode::scp {
namespace {

constexpr std::uint16_t kTooManyMatches = 0xA701;  // out of resources: unable to calculate the matches
constexpr std::uint16_t kSubOperationsFailed = 0xA702;  // unable to perform sub-operations
constexpr std::uint16_t kMoveDestinationUnknown = 0xA801;
constexpr std::uint16_t kWarningSomeFailed = 0xB000;
constexpr std::uint16_t kSopClassNotSupported = 0x0122;

struct Failure {
  std::uint16_t status;
  std::string why;
};

// What the worker found for one request: the instances to send, and those whose file could
// not be read (each one a failed sub-operation before anything is sent).
struct Selection {
  std::vector<scu::Outgoing> items;
  std::vector<std::pair<std::string, std::string>> unreadable;  // SOP Instance UID, reason
};
using Selected = std::variant<Selection, Failure>;

struct Counts {
  std::uint16_t completed = 0, failed = 0, warning = 0;
  std::size_t total = 0;
  std::vector<std::string> failed_uids;
  std::size_t no_association = 0;
  std::size_t done() const { return std::size_t{completed} + failed + warning; }
};

std::uint16_t clamp16(std::size_t n) { return static_cast<std::uint16_t>(std::min<std::size_t>(n, 0xFFFF)); }

}  // namespace

RetrieveService::RetrieveService(asio::thread_pool& workers, RetrieveSettings settings)
    : workers_(workers), settings_(std::move(settings)) {}

asio::awaitable<void> RetrieveService::handle_move(net::Association& association, const net::Message& request) {
  co_await handle(association, request, true);
}

asio::awaitable<void> RetrieveService::handle_get(net::Association& association, const net::Message& request) {
  co_await handle(association, request, false);
}

asio::awaitable<void> RetrieveService::handle(net::Association& association, const net::Message& request,
                                              bool is_move) {
  const char* const op = is_move ? "C-MOVE" : "C-GET";
  const std::uint16_t message_id = request.command.message_id().value_or(0);
  const auto* context = association.context(request.pc_id);
  const std::string abstract_syntax = context ? context->abstract_syntax : std::string();
  const std::string transfer_syntax = context ? context->transfer_syntax : std::string();
  Counts counts;

  // A response with the counts so far; `with_remaining` for pending and cancel responses.
  const auto respond = [&](std::uint16_t status, const std::string& why, bool with_remaining,
                           bool with_failed_list) -> asio::awaitable<void> {
    net::CommandSet response = make_response(request.command, status);
    if (status != kIdentifierDoesNotMatch && status != kMoveDestinationUnknown && status != kSopClassNotSupported &&
        status != kUnableToProcess && status != kTooManyMatches) {
      if (with_remaining) {
        response.set_us(net::tag::NumberOfRemainingSuboperations, clamp16(counts.total - counts.done()));
      }
      response.set_us(net::tag::NumberOfCompletedSuboperations, counts.completed);
      response.set_us(net::tag::NumberOfFailedSuboperations, counts.failed);
      response.set_us(net::tag::NumberOfWarningSuboperations, counts.warning);
    }
    if (!why.empty()) {
      log::warn("{} {} answered {:#06x}: {}", association.tag(), op, status, why);
      response.set_lo(net::tag::ErrorComment, error_comment(why));
    }
    if (with_failed_list && !counts.failed_uids.empty()) {
      std::vector<std::uint8_t> list;
      try {
        list = dicom::build_failed_sop_list(counts.failed_uids, transfer_syntax);
      } catch (const Error& e) {
        log::warn("{} {}: {}", association.tag(), op, e.what());
      }
      if (!list.empty()) {
        response.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
        net::SpanSource source(list);
        co_await association.send(request.pc_id, response, source);
        co_return;
      }
    }
    co_await association.send(request.pc_id, response);
  };
  const auto refuse = [&](std::uint16_t status, const std::string& why) { return respond(status, why, false, false); };

  db::FindRequest find;
  if (abstract_syntax == (is_move ? net::uid::PatientRootMove : net::uid::PatientRootGet)) {
    find.model = db::InformationModel::PatientRoot;
  } else if (abstract_syntax == (is_move ? net::uid::StudyRootMove : net::uid::StudyRootGet)) {
    find.model = db::InformationModel::StudyRoot;
  } else {
    co_await refuse(kSopClassNotSupported, "SOP class " + abstract_syntax + " is not a supported " + op + " model");
    co_return;
  }

  std::optional<scu::RemoteNode> destination;
  if (is_move) {
    std::string name = request.command.str(net::tag::MoveDestination).value_or("");
    while (!name.empty() && (name.back() == ' ' || name.back() == '\0')) name.pop_back();
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    for (const auto& peer : settings_.destinations) {
      if (peer.ae_title == name) destination = peer;
    }
    if (!destination) {
      co_await refuse(kMoveDestinationUnknown, "move destination '" + name + "' is not a configured peer");
      co_return;
    }
  }
  if (!request.command.has_data_set()) {
    co_await refuse(kIdentifierDoesNotMatch, std::string(op) + "-RQ without an identifier");
    co_return;
  }
  if (!request.sink_error.empty()) {
    co_await refuse(kTooManyMatches, "identifier refused: " + request.sink_error);
    co_return;
  }

  std::optional<Failure> refused;
  db::SqlQuery sql;
  try {
    const auto identifier = dicom::parse_find_identifier(request.data_set(), transfer_syntax);
    const auto level = query_level_of(identifier.level);
    if (!level) throw Error(ErrorCode::InvalidArgument, "invalid Query/Retrieve Level '" + identifier.level + "'");
    find.level = *level;
    for (const auto& key : identifier.keys) find.keys.push_back(find_key_of(key));
    sql = db::build_retrieve_sql(find, settings_.max_instances + 1);
  } catch (const Error& e) {
    refused = Failure{kIdentifierDoesNotMatch, e.what()};
  }
  if (refused) {
    co_await refuse(refused->status, refused->why);
    co_return;
  }

  const auto started = std::chrono::steady_clock::now();
  const RetrieveSettings& settings = settings_;
  Selected selected = co_await net::run_blocking(workers_, [&settings, &sql]() -> Selected {
    try {
      Selection selection;
      auto rows = db::run_find(settings.conninfo, sql);
      if (rows.size() > settings.max_instances) {
        return Failure{kTooManyMatches, "more than query.max_retrieve = " + std::to_string(settings.max_instances) +
                                            " instances match"};
      }
      for (auto& row : rows) {
        // row: sop_instance_uid, sop_class_uid, transfer_syntax_uid, file_path
        try {
          const auto file = storage::resolve_under(settings.storage_root, row.at(3));
          auto header = dicom::read_part10_header(file);
          if (header.sop_instance_uid != row[0]) {
            throw Error(ErrorCode::Internal, "file " + file.string() + " holds another instance");
          }
          selection.items.push_back(scu::Outgoing{file, std::move(header)});
        } catch (const std::exception& e) {
          selection.unreadable.emplace_back(row[0], e.what());
        }
      }
      return selection;
    } catch (const std::exception& e) {
      return Failure{kUnableToProcess, std::string("database: ") + e.what()};
    }
  });
  if (auto* failure = std::get_if<Failure>(&selected)) {
    co_await refuse(failure->status, failure->why);
    co_return;
  }
  auto& selection = std::get<Selection>(selected);
  counts.total = selection.items.size() + selection.unreadable.size();
  for (const auto& [uid, why] : selection.unreadable) {
    log::error("{} {}: instance {} cannot be sent: {}", association.tag(), op, uid, why);
    ++counts.failed;
    counts.failed_uids.push_back(uid);
  }
  log::info("{} {} of {} instance(s){}", association.tag(), op, counts.total,
            destination ? " to " + destination->ae_title + " (" + destination->host + ":" +
                              std::to_string(destination->port) + ")"
                        : std::string());

  bool cancelled = false;
  const auto progress = [&](const scu::Outgoing& item, const scu::SendOutcome& outcome) -> asio::awaitable<bool> {
    switch (outcome.result) {
      case scu::SendResult::Success: ++counts.completed; break;
      case scu::SendResult::Warning: ++counts.warning; break;
      case scu::SendResult::Failed:
        ++counts.failed;
        counts.failed_uids.push_back(item.header.sop_instance_uid);
        if (outcome.no_association) ++counts.no_association;
        log::warn("{} {} sub-operation for {} failed: {}", association.tag(), op, item.header.sop_instance_uid,
                  outcome.why);
        break;
    }
    if (association.cancel_requested(message_id)) {
      cancelled = true;
      co_return false;
    }
    if (counts.done() < counts.total) co_await respond(kPending, "", true, false);
    co_return true;
  };

  if (!selection.items.empty()) {
    if (is_move) {
      const scu::MoveOriginator originator{association.peer_ae(), message_id};
      co_await scu::send_to(*destination, std::move(selection.items), settings_.requestor, originator, progress,
                            &workers_);
    } else {
      for (const auto& item : selection.items) {
        if (association.cancel_requested(message_id)) {
          cancelled = true;
          break;
        }
        const auto outcome = co_await scu::send_instance(association, item, nullptr, true, &workers_);
        if (outcome.association_ended) {
          log::info("{} C-GET: association ended during the sub-operations", association.tag());
          co_return;
        }
        if (!co_await progress(item, outcome)) break;
      }
    }
  }

  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  log::info("{} {} {}: {} completed, {} failed, {} warning(s) of {} in {} ms", association.tag(), op,
            cancelled ? "cancelled" : "done", counts.completed, counts.failed, counts.warning, counts.total, elapsed);
  if (cancelled) {
    co_await respond(kCancel, "", true, true);
  } else if (counts.total > 0 && counts.no_association == counts.total) {
    co_await respond(kSubOperationsFailed, "no association to " + destination->ae_title + " could be made", false, true);
  } else if (counts.failed > 0 || counts.warning > 0) {
    co_await respond(kWarningSomeFailed, "", false, true);
  } else {
    co_await respond(net::status::Success, "", false, false);
  }
}

}  // namespace pacsnode::scp
