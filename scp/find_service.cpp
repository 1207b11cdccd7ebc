#include "scp/find_service.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <variant>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/find_query.hpp"
#include "dicom/find_identifier.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"
#include "scp/services.hpp"

namespace pacsnode::scp {
namespace {

constexpr std::uint16_t kPending = 0xFF00;
constexpr std::uint16_t kCancel = 0xFE00;
constexpr std::uint16_t kIdentifierDoesNotMatch = 0xA900;
constexpr std::uint16_t kUnableToProcess = 0xC001;
constexpr std::uint32_t kInstanceAvailability = 0x00080056;

// The tag each typed column of find_row_columns() answers for.
std::optional<std::uint32_t> column_tag(std::string_view column) {
  static const std::map<std::string_view, std::uint32_t> kTags = {
      {"patient_id", 0x00100020},
      {"issuer_of_patient_id", 0x00100021},
      {"patient_name", 0x00100010},
      {"patient_birth_date", 0x00100030},
      {"patient_sex", 0x00100040},
      {"study_instance_uid", 0x0020000D},
      {"study_date", 0x00080020},
      {"study_time", 0x00080030},
      {"accession_number", 0x00080050},
      {"study_id", 0x00200010},
      {"study_description", 0x00081030},
      {"referring_physician_name", 0x00080090},
      {"modalities_in_study", 0x00080061},
      {"sop_classes_in_study", 0x00080062},
      {"number_of_study_related_series", 0x00201206},
      {"number_of_study_related_instances", 0x00201208},
      {"series_instance_uid", 0x0020000E},
      {"modality", 0x00080060},
      {"series_number", 0x00200011},
      {"series_description", 0x0008103E},
      {"body_part_examined", 0x00180015},
      {"series_date", 0x00080021},
      {"series_time", 0x00080031},
      {"number_of_series_related_instances", 0x00201209},
      {"sop_instance_uid", 0x00080018},
      {"sop_class_uid", 0x00080016},
      {"instance_number", 0x00200013},
      {"content_date", 0x00080023},
      {"content_time", 0x00080033},
  };
  const auto found = kTags.find(column);
  if (found == kTags.end()) return std::nullopt;
  return found->second;
}

std::optional<db::QueryLevel> level_of(std::string_view text) {
  if (text == "PATIENT") return db::QueryLevel::Patient;
  if (text == "STUDY") return db::QueryLevel::Study;
  if (text == "SERIES") return db::QueryLevel::Series;
  if (text == "IMAGE") return db::QueryLevel::Image;
  return std::nullopt;
}

std::string tag_key(std::uint32_t tag) {
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08X", static_cast<unsigned>(tag));
  return buffer;
}

// One DICOM JSON value as DICOM text: strings as they are, numbers in decimal, PN groups
// joined with `=`; nullopt for what has no text form (sequences' items, binary).
std::optional<std::string> json_value_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  if (value.is_number_unsigned()) return std::to_string(value.get<unsigned long long>());
  if (value.is_number_float()) return value.dump();
  if (value.is_object()) {
    std::string name;
    for (const char* group : {"Alphabetic", "Ideographic", "Phonetic"}) {
      if (group != std::string_view("Alphabetic")) name += '=';
      const auto it = value.find(group);
      if (it != value.end() && it->is_string()) name += it->get<std::string>();
    }
    while (!name.empty() && name.back() == '=') name.pop_back();
    return name;
  }
  if (value.is_null()) return std::string();
  return std::nullopt;
}

// The attribute's values, `\`-joined, from a level's DICOM JSON object; nullopt when absent.
std::optional<std::string> json_attribute(const nlohmann::json& attributes, std::uint32_t tag) {
  if (!attributes.is_object()) return std::nullopt;
  const auto element = attributes.find(tag_key(tag));
  if (element == attributes.end() || !element->is_object()) return std::nullopt;
  const auto values = element->find("Value");
  if (values == element->end() || !values->is_array()) return std::string();
  std::string joined;
  bool first = true;
  for (const auto& v : *values) {
    auto text = json_value_text(v);
    if (!text) return std::string();
    if (!first) joined += '\\';
    joined += *text;
    first = false;
  }
  return joined;
}

std::string short_text(std::string text) {
  if (text.size() > 64) text.resize(64);  // ErrorComment is LO
  return text;
}

// What the database step produced: the rows, or a failure status with its reason.
struct Failure {
  std::uint16_t status;
  std::string why;
};
using Outcome = std::variant<std::vector<std::vector<std::string>>, Failure>;

}  // namespace

FindService::FindService(asio::thread_pool& workers, FindSettings settings)
    : workers_(workers), settings_(std::move(settings)) {}

asio::awaitable<void> FindService::handle(net::Association& association, const net::Message& request) {
  const std::uint16_t message_id = request.command.message_id().value_or(0);
  const auto* context = association.context(request.pc_id);
  const std::string abstract_syntax = context ? context->abstract_syntax : std::string();
  const std::string transfer_syntax = context ? context->transfer_syntax : std::string();

  const auto finish = [&](std::uint16_t status, const std::string& why) -> asio::awaitable<void> {
    net::CommandSet response = make_response(request.command, status);
    if (!why.empty()) {
      log::warn("{} C-FIND answered {:#06x}: {}", association.tag(), status, why);
      response.set_lo(net::tag::ErrorComment, short_text(why));
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
  const auto level = level_of(identifier.level);
  if (!level) {
    co_await finish(kIdentifierDoesNotMatch, "invalid Query/Retrieve Level '" + identifier.level + "'");
    co_return;
  }
  find.level = *level;
  for (const auto& key : identifier.keys) find.keys.push_back({key.tag, key.vr, key.value});

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

  const std::string conninfo = settings_.conninfo;
  Outcome outcome = co_await net::run_blocking(workers_, [&conninfo, &sql]() -> Outcome {
    try {
      return db::run_find(conninfo, sql);
    } catch (const std::exception& e) {
      return Failure{kUnableToProcess, std::string("database: ") + e.what()};
    }
  });
  if (auto* failure = std::get_if<Failure>(&outcome)) {
    co_await finish(failure->status, failure->why);
    co_return;
  }
  auto& rows = std::get<std::vector<std::vector<std::string>>>(outcome);
  bool truncated = false;
  if (cap != 0 && rows.size() > cap) {
    rows.resize(cap);
    truncated = true;
    log::warn("{} C-FIND matched more than query.max_results = {}: sending the first {} and Cancel (0xFE00)",
              association.tag(), cap, cap);
  }

  const auto columns = db::find_row_columns(find.level);
  std::size_t sent = 0;
  for (const auto& row : rows) {
    if (association.cancel_requested(message_id)) {
      log::info("{} C-FIND cancelled by the peer after {} match(es)", association.tag(), sent);
      co_await finish(kCancel, "");
      co_return;
    }
    std::map<std::uint32_t, std::string> values;
    std::array<nlohmann::json, 4> attributes;  // patient, study, series, instance
    for (std::size_t c = 0; c < columns.size() && c < row.size(); ++c) {
      const std::string_view name = columns[c];
      if (name.ends_with("_attributes")) {
        const std::size_t index = name.starts_with("patient") ? 0 : name.starts_with("study") ? 1
                                  : name.starts_with("series")                                ? 2
                                                                                              : 3;
        attributes[index] = nlohmann::json::parse(row[c], nullptr, false);
      } else if (const auto tag = column_tag(name)) {
        values[*tag] = row[c];
      }
    }
    for (const auto& key : identifier.keys) {
      if (values.count(key.tag) || key.vr == "SQ") continue;
      if (key.tag == kInstanceAvailability) {
        values[key.tag] = "ONLINE";
        continue;
      }
      // Group 0010 lives with the patient; other keys at the query level or above it.
      const int lowest = static_cast<int>(find.level);
      for (int i = (key.tag >> 16) == 0x0010 ? 0 : lowest; i >= 0; --i) {
        if (auto text = json_attribute(attributes[static_cast<std::size_t>(i)], key.tag)) {
          values[key.tag] = std::move(*text);
          break;
        }
      }
    }
    std::vector<std::uint8_t> bytes;
    try {
      bytes = dicom::build_find_response(identifier.keys, values, identifier.level, settings_.ae_title, transfer_syntax);
    } catch (const Error& e) {
      refused = Failure{kUnableToProcess, e.what()};
    }
    if (refused) {
      co_await finish(refused->status, refused->why);
      co_return;
    }
    net::CommandSet pending = make_response(request.command, kPending);
    pending.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
    net::SpanSource source(bytes);
    co_await association.send(request.pc_id, pending, source);
    ++sent;
  }
  if (association.cancel_requested(message_id)) {
    log::info("{} C-FIND cancelled by the peer after {} match(es)", association.tag(), sent);
    co_await finish(kCancel, "");
    co_return;
  }
  if (truncated) {
    co_await finish(kCancel, "");
    co_return;
  }
  log::debug("{} C-FIND: {} match(es)", association.tag(), sent);
  co_await finish(net::status::Success, "");
}

}  // namespace pacsnode::scp
