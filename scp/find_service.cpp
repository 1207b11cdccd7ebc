#include "scp/find_service.hpp"

#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <tuple>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/find_cursor.hpp"
#include "db/find_query.hpp"
#include "dicom/find_identifier.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"
#include "query/find_rows.hpp"
#include "scp/qr_common.hpp"
#include "scp/services.hpp"

namespace pacsnode::scp {
namespace {

// A failure status with its reason.
struct Failure {
  std::uint16_t status;
  std::string why;
};

}  // namespace

FindService::FindService(asio::thread_pool& workers, FindSettings settings)
    : workers_(workers),
      settings_(std::move(settings)),
      connections_(std::make_unique<db::ConnectionPool>(settings_.conninfo)) {}

FindService::~FindService() = default;

asio::awaitable<void> FindService::handle(net::Association& association, const net::Message& request) {
  const std::uint16_t message_id = request.command.message_id().value_or(0);
  const auto* context = association.context(request.pc_id);
  const std::string abstract_syntax = context ? context->abstract_syntax : std::string();
  const std::string transfer_syntax = context ? context->transfer_syntax : std::string();

  const auto finish = [&](std::uint16_t status, const std::string& why) -> asio::awaitable<void> {
    net::CommandSet response = make_response(request.command, status);
    if (!why.empty()) {
      log::warn("{} C-FIND answered {:#06x}: {}", association.tag(), status, why);
      response.set_lo(net::tag::ErrorComment, error_comment(why));
    }
    co_await association.send(request.pc_id, response);
  };

  db::FindRequest find;
  if (abstract_syntax == net::uid::PatientRootFind) {
    find.model = db::InformationModel::PatientRoot;
  } else if (abstract_syntax == net::uid::StudyRootFind) {
    find.model = db::InformationModel::StudyRoot;
  } else {
    co_await finish(0x0122, "SOP class " + abstract_syntax + " is not a supported C-FIND model");
    co_return;
  }
  if (!request.command.has_data_set()) {
    co_await finish(kIdentifierDoesNotMatch, "C-FIND-RQ without an identifier");
    co_return;
  }
  if (!request.sink_error.empty()) {
    co_await finish(kOutOfResources, "identifier refused: " + request.sink_error);
    co_return;
  }

  dicom::FindIdentifier identifier;
  std::optional<Failure> refused;
  try {
    identifier = dicom::parse_find_identifier(request.data_set(), transfer_syntax);
  } catch (const Error& e) {
    refused = Failure{kIdentifierDoesNotMatch, e.what()};
  }
  if (refused) {
    co_await finish(refused->status, refused->why);
    co_return;
  }
  const auto level = query_level_of(identifier.level);
  if (!level) {
    co_await finish(kIdentifierDoesNotMatch, "invalid Query/Retrieve Level '" + identifier.level + "'");
    co_return;
  }
  find.level = *level;
  for (const auto& key : identifier.keys) find.keys.push_back(find_key_of(key));

  const std::size_t cap = settings_.max_results;
  db::SqlQuery sql;
  try {
    sql = db::build_find_sql(find, cap == 0 ? 0 : cap + 1);
  } catch (const Error& e) {
    refused = Failure{e.code() == ErrorCode::InvalidArgument ? kIdentifierDoesNotMatch : kUnableToProcess, e.what()};
  }
  if (refused) {
    co_await finish(refused->status, refused->why);
    co_return;
  }
  log::debug("{} C-FIND {} level {} with {} key(s)", association.tag(),
             find.model == db::InformationModel::PatientRoot ? "Patient Root" : "Study Root", identifier.level,
             identifier.keys.size());

  // Matches stream from a server-side cursor, a batch at a time, fetched on the worker
  // pool: the first pending response goes out after the first batch, memory holds one
  // batch, and a C-CANCEL-RQ is seen between responses and between batches.
  std::unique_ptr<db::FindCursor> cursor;
  std::optional<Failure> failure;
  db::ConnectionPool& connections = *connections_;
  co_await net::run_blocking(workers_, [&cursor, &failure, &connections, &sql]() {
    try {
      cursor = std::make_unique<db::FindCursor>(connections, sql);
    } catch (const std::exception& e) {
      failure = Failure{kUnableToProcess, std::string("database: ") + e.what()};
    }
  });
  // (Not a ?: around co_await: GCC 12 miscompiles co_await inside a conditional expression.)
  std::tuple<std::uint16_t, std::string, std::size_t> streamed{kUnableToProcess, "", 0};
  if (failure) {
    streamed = {failure->status, failure->why, 0};
  } else {
    streamed = co_await stream_matches(association, request, find.level, identifier, *cursor);
  }
  const auto& [status, why, sent] = streamed;
  if (cursor) co_await net::run_blocking(workers_, [&cursor]() { cursor.reset(); });
  if (status == kCancel && sent == cap && cap != 0 && !association.cancel_requested(message_id)) {
    log::warn("{} C-FIND matched more than query.max_results = {}: sent the first {} and Cancel (0xFE00)",
              association.tag(), cap, cap);
  } else if (status == kCancel) {
    log::info("{} C-FIND cancelled by the peer after {} match(es)", association.tag(), sent);
  } else {
    log::debug("{} C-FIND: {} match(es)", association.tag(), sent);
  }
  co_await finish(status, why);
}

asio::awaitable<std::tuple<std::uint16_t, std::string, std::size_t>> FindService::stream_matches(
    net::Association& association, const net::Message& request, db::QueryLevel level,
    const dicom::FindIdentifier& identifier, db::FindCursor& cursor) {
  constexpr std::size_t kBatch = 200;
  const std::uint16_t message_id = request.command.message_id().value_or(0);
  const auto* context = association.context(request.pc_id);
  const std::string transfer_syntax = context ? context->transfer_syntax : std::string();
  const std::size_t cap = settings_.max_results;
  const auto columns = db::find_row_columns(level);
  std::size_t sent = 0;
  for (;;) {
    if (association.cancel_requested(message_id)) co_return std::tuple{kCancel, std::string(), sent};
    std::vector<std::vector<std::string>> rows;
    std::optional<Failure> failure;
    co_await net::run_blocking(workers_, [&cursor, &rows, &failure]() {
      try {
        rows = cursor.fetch(kBatch);
      } catch (const std::exception& e) {
        failure = Failure{kUnableToProcess, std::string("database: ") + e.what()};
      }
    });
    if (failure) co_return std::tuple{failure->status, failure->why, sent};
    for (const auto& row : rows) {
      if (association.cancel_requested(message_id)) co_return std::tuple{kCancel, std::string(), sent};
      // More than max_results matched (the query fetches max_results + 1): the first ones
      // went out, the end is a Cancel status.
      if (cap != 0 && sent == cap) co_return std::tuple{kCancel, std::string(), sent};
      std::vector<std::uint8_t> bytes;
      try {
        bytes = response_identifier(row, columns, level, identifier, transfer_syntax);
      } catch (const Error& e) {
        co_return std::tuple{kUnableToProcess, std::string(e.what()), sent};
      }
      net::CommandSet pending = make_response(request.command, kPending);
      pending.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
      net::SpanSource source(bytes);
      co_await association.send(request.pc_id, pending, source);
      ++sent;
    }
    if (rows.size() < kBatch) break;
  }
  if (association.cancel_requested(message_id)) co_return std::tuple{kCancel, std::string(), sent};
  co_return std::tuple{net::status::Success, std::string(), sent};
}

std::vector<std::uint8_t> FindService::response_identifier(const std::vector<std::string>& row,
                                                           const std::vector<std::string_view>& columns,
                                                           db::QueryLevel level,
                                                           const dicom::FindIdentifier& identifier,
                                                           const std::string& transfer_syntax) const {
  const auto answer = query::answer_row(row, columns, level, identifier.keys);
  return dicom::build_find_response(identifier.keys, answer.values, identifier.level, settings_.ae_title, transfer_syntax,
                                    answer.sequences);
}

}  // namespace pacsnode::scp
