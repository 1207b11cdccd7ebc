#include "scp/find_service.hpp"

#include <nlohmann/json.hpp>

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
#include "dicom/json_values.hpp"
#include "net/blocking.hpp"
#include "net/uids.hpp"
#include "scp/qr_common.hpp"
#include "scp/services.hpp"

namespace pacsnode::scp {
namespace {

constexpr std::uint32_t kInstanceAvailability = 0x00080056;

// The tag each typed column of find_row_columns() answers for.
std::optional<std::uint32_t> column_tag(std::string_view column) {
  static const std::map<std::string_view, std::uint32_t> kTags = {
      {"patient_id", 0x00100020},
      {"issuer_of_patient_id", 0x00100021},
      {"patient_name", 0x00100010},
      {"patient_birth_date", 0x00100030},
      {"patient_sex", 0x00100040},
      {"number_of_patient_related_studies", 0x00201200},
      {"number_of_patient_related_series", 0x00201202},
      {"number_of_patient_related_instances", 0x00201204},
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


std::string tag_key(std::uint32_t tag) {
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08X", static_cast<unsigned>(tag));
  return buffer;
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
    auto text = dicom::json_value_text(v);
    if (!text) return std::string();
    if (!first) joined += '\\';
    joined += *text;
    first = false;
  }
  return joined;
}


// A failure status with its reason.
struct Failure {
  std::uint16_t status;
  std::string why;
};

// UTF-8 → code points (invalid bytes pass as themselves: the text is valid UTF-8 already).
std::u32string code_points(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += static_cast<std::size_t>(n);
  }
  return out;
}

// `*` any run, `?` one character (code point), everything else literal.
bool glob(std::u32string_view pattern, std::u32string_view text) {
  std::size_t p = 0, t = 0, star = std::u32string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == U'?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == U'*') {
      star = p++;
      mark = t;
    } else if (star != std::u32string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == U'*') ++p;
  return p == pattern.size();
}

std::string trimmed_value(std::string_view v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\0')) v.remove_suffix(1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return std::string(v);
}

// The alphabetic group, ASCII upper-cased, without trailing `^` and spaces.
std::string name_key(std::string v) {
  v = v.substr(0, v.find('='));
  while (!v.empty() && (v.back() == '^' || v.back() == ' ')) v.pop_back();
  for (auto& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v;
}

// Whether a stored item's value (its first value) matches one key of the query's item, by
// the rules db/find_query.hpp applies in SQL (non-ASCII letters fold there, not here).
bool item_value_matches(const dicom::IdentifierKey& key, std::string stored) {
  std::string query = trimmed_value(key.value);
  stored = trimmed_value(stored.substr(0, stored.find('\\')));
  if (key.vr == "PN") {
    query = name_key(query);
    stored = name_key(stored);
  }
  if (key.vr == "DA" && query.find('-') != std::string::npos) {
    const auto dash = query.find('-');
    const std::string from = query.substr(0, dash), to = query.substr(dash + 1);
    return !stored.empty() && (from.empty() || stored >= from) && (to.empty() || stored <= to);
  }
  if (query.find_first_of("*?") != std::string::npos) return glob(code_points(query), code_points(stored));
  return query == stored;
}

bool universal_item_key(const dicom::IdentifierKey& key) {
  const std::string v = trimmed_value(key.value);
  return v.empty() || key.vr == "SQ" ||
         (v.find_first_not_of('*') == std::string::npos && key.vr != "DA" && key.vr != "UI");
}

// The response's items for a sequence key, from the stored sequence `element` (DICOM JSON):
// every stored item in full when the query's item is empty; otherwise the items in which
// every constraining key matches, with the requested keys only.
std::vector<dicom::ResponseItem> response_items(const dicom::IdentifierKey& key, const nlohmann::json& element) {
  std::vector<dicom::ResponseItem> out;
  const auto values = element.find("Value");
  if (values == element.end() || !values->is_array()) return out;
  for (const auto& item : *values) {
    if (!item.is_object()) continue;
    dicom::ResponseItem response;
    if (key.item.empty()) {
      for (const auto& [tag_text, attribute] : item.items()) {
        const auto vr = attribute.value("vr", std::string());
        if (vr == "SQ" || tag_text.size() != 8) continue;
        const auto tag = static_cast<std::uint32_t>(std::stoul(tag_text, nullptr, 16));
        response.push_back({tag, vr, json_attribute(item, tag).value_or("")});
      }
      out.push_back(std::move(response));
      continue;
    }
    bool matches = true;
    for (const auto& k : key.item) {
      const auto stored = json_attribute(item, k.tag);
      if (!universal_item_key(k) && !(stored && item_value_matches(k, *stored))) matches = false;
      response.push_back({k.tag, k.vr, stored.value_or("")});
    }
    if (matches) out.push_back(std::move(response));
  }
  return out;
}

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
  std::map<std::uint32_t, std::string> values;
  // The levels' stored attributes (patient, study, series, instance) are parsed only when
  // a requested key needs them: most study-list keys have columns, and parsing per match
  // is the expensive part of a broad query.
  std::array<const std::string*, 4> raw{};
  std::array<std::optional<nlohmann::json>, 4> parsed;
  const auto attributes_of = [&](int i) -> const nlohmann::json& {
    auto& slot = parsed[static_cast<std::size_t>(i)];
    if (!slot) {
      const std::string* text = raw[static_cast<std::size_t>(i)];
      slot = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    }
    return *slot;
  };
  for (std::size_t c = 0; c < columns.size() && c < row.size(); ++c) {
    const std::string_view name = columns[c];
    if (name.ends_with("_attributes")) {
      const std::size_t index = name.starts_with("patient") ? 0 : name.starts_with("study") ? 1
                                : name.starts_with("series")                                ? 2
                                                                                            : 3;
      raw[index] = &row[c];
    } else if (const auto tag = column_tag(name)) {
      values[*tag] = row[c];
    }
  }
  std::map<std::uint32_t, std::vector<dicom::ResponseItem>> sequences;
  for (const auto& key : identifier.keys) {
    if (key.vr == "SQ") {
      const int lowest = static_cast<int>(level);
      for (int i = (key.tag >> 16) == 0x0010 ? 0 : lowest; i >= 0; --i) {
        const auto& object = attributes_of(i);
        const auto element = object.is_object() ? object.find(tag_key(key.tag)) : object.end();
        if (object.is_object() && element != object.end()) {
          sequences[key.tag] = response_items(key, *element);
          break;
        }
      }
      continue;
    }
    if (values.count(key.tag)) continue;
    if (key.tag == kInstanceAvailability) {
      values[key.tag] = "ONLINE";
      continue;
    }
    // Group 0010 lives with the patient; other keys at the query level or above it.
    const int lowest = static_cast<int>(level);
    for (int i = (key.tag >> 16) == 0x0010 ? 0 : lowest; i >= 0; --i) {
      if (auto text = json_attribute(attributes_of(i), key.tag)) {
        values[key.tag] = std::move(*text);
        break;
      }
    }
  }
  return dicom::build_find_response(identifier.keys, values, identifier.level, settings_.ae_title, transfer_syntax,
                                    sequences);
}

}  // namespace pacsnode::scp
