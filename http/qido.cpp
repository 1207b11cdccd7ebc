// QIDO-RS (PS3.18 §10.6): the query's parameters become the keys of a C-FIND identifier and
// go through the same SQL (db/find_query) and the same row answers (query/find_rows) as the
// C-FIND SCP; the matches stream out as a DICOM JSON array, a batch at a time.
#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/connection_pool.hpp"
#include "db/find_cursor.hpp"
#include "dicom/find_identifier.hpp"
#include "dicom/json_values.hpp"
#include "http/handlers.hpp"
#include "net/blocking.hpp"
#include "query/find_rows.hpp"

namespace pacsnode::http {
namespace {

// PS3.18 Table 10.6.3-3..5: what every match carries, plus what the OHIF viewer reads
// (StudyDescription, SeriesDate/Time, the instance's image geometry).
const std::vector<std::uint32_t>& default_tags(db::QueryLevel level) {
  static const std::vector<std::uint32_t> kStudy = {
      0x00080020, 0x00080030, 0x00080050, 0x00080056, 0x00080061, 0x00080090, 0x00081030, 0x00100010,
      0x00100020, 0x00100030, 0x00100040, 0x0020000D, 0x00200010, 0x00201206, 0x00201208};
  static const std::vector<std::uint32_t> kSeries = {0x0020000D, 0x00080060, 0x0008103E, 0x00200011, 0x0020000E,
                                                      0x00201209, 0x00080021, 0x00080031, 0x00180015, 0x00400244,
                                                      0x00400245};
  static const std::vector<std::uint32_t> kInstance = {0x0020000D, 0x0020000E, 0x00080016, 0x00080018, 0x00080056,
                                                        0x00200013, 0x00280010, 0x00280011, 0x00280100, 0x00280008};
  switch (level) {
    case db::QueryLevel::Study: return kStudy;
    case db::QueryLevel::Series: return kSeries;
    default: return kInstance;
  }
}

// A query parameter's attribute: a keyword or 8 hex digits. Throws HttpError(400).
dicom::IdentifierKey attribute_of(const std::string& name, std::string_view parameter) {
  if (name.find('.') != std::string::npos) {
    throw HttpError{400, "query parameter \"" + std::string(parameter) +
                             "\": matching on attributes inside sequences is not supported"};
  }
  std::optional<dicom::IdentifierKey> key;
  if (const auto tag = dicom::parse_json_tag(name)) {
    key = dicom::key_for_keyword(dicom::keyword_of(*tag));
    if (!key) key = dicom::IdentifierKey{*tag, "UN", ""};
  } else {
    key = dicom::key_for_keyword(name);
  }
  if (!key) {
    throw HttpError{400, "query parameter \"" + std::string(parameter) + "\": \"" + name +
                             "\" is neither a DICOM keyword nor a tag (8 hex digits)"};
  }
  return *key;
}

std::size_t parse_count(const std::string& name, const std::string& value) {
  if (value.empty() || value.size() > 9 || !std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    throw HttpError{400, "query parameter \"" + name + "\": \"" + value + "\" is not a non-negative integer"};
  }
  return static_cast<std::size_t>(std::stoul(value));
}

std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = value.find(',', start);
    out.push_back(value.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

struct Query {
  db::FindRequest find;
  std::vector<dicom::IdentifierKey> keys;  // matching keys with values, then return keys
  bool all = false;
  std::size_t limit = 0, offset = 0;
  bool fuzzy = false;
};

Query parse_query(const Exchange& exchange, db::QueryLevel level,
                  const std::vector<std::pair<std::uint32_t, std::string>>& path_uids, std::size_t max_results) {
  Query q;
  q.find.model = db::InformationModel::StudyRoot;
  q.find.level = level;
  std::map<std::uint32_t, std::size_t> position;  // tag → index in q.keys
  const auto add = [&](dicom::IdentifierKey key) {
    const auto found = position.find(key.tag);
    if (found == position.end()) {
      position[key.tag] = q.keys.size();
      q.keys.push_back(std::move(key));
    } else if (!key.value.empty()) {
      q.keys[found->second].value = key.value;
    }
  };
  for (const auto& [tag, uid] : path_uids) {
    auto key = dicom::key_for_keyword(dicom::keyword_of(tag)).value();
    key.value = uid;
    add(std::move(key));
  }
  std::vector<dicom::IdentifierKey> returned;
  q.limit = max_results;
  bool explicit_limit = false;
  for (const auto& [name, value] : exchange.query()) {
    if (name == "limit") {
      q.limit = parse_count(name, value);
      explicit_limit = true;
    } else if (name == "offset") {
      q.offset = parse_count(name, value);
    } else if (name == "fuzzymatching") {
      if (value != "true" && value != "false") throw HttpError{400, "query parameter \"fuzzymatching\": true or false"};
      q.fuzzy = value == "true";
    } else if (name == "includefield") {
      for (const auto& field : split_list(value)) {
        if (field == "all") {
          q.all = true;
        } else if (!field.empty()) {
          returned.push_back(attribute_of(field, name));
        }
      }
    } else {
      auto key = attribute_of(name, name);
      if (key.vr == "SQ") throw HttpError{400, "query parameter \"" + name + "\": sequence matching is not supported"};
      std::string v = value;
      // A list of UIDs (and of modalities) is comma-separated in QIDO-RS; `\` as in DIMSE is
      // accepted too.
      if (key.vr == "UI" || key.tag == 0x00080061 || key.tag == 0x00080060) std::replace(v.begin(), v.end(), ',', '\\');
      key.value = std::move(v);
      const auto fixed = std::find_if(path_uids.begin(), path_uids.end(), [&](const auto& p) { return p.first == key.tag; });
      if (fixed != path_uids.end()) continue;  // the path's UID wins
      add(std::move(key));
    }
  }
  if (explicit_limit && max_results != 0 && q.limit > max_results) q.limit = max_results;
  for (const auto tag : default_tags(level)) {
    if (auto key = dicom::key_for_keyword(dicom::keyword_of(tag))) add(std::move(*key));
  }
  for (auto& key : returned) add(std::move(key));
  for (const auto& key : q.keys) q.find.keys.push_back(query::find_key_of(key));
  return q;
}

struct Failure {
  unsigned status;
  std::string why;
};

}  // namespace

asio::awaitable<void> handle_qido(Context& context, Exchange& exchange, db::QueryLevel level,
                                  const std::vector<std::pair<std::uint32_t, std::string>>& path_uids) {
  const Query q = parse_query(exchange, level, path_uids, context.max_results);
  db::SqlQuery sql;
  try {
    sql = db::build_find_sql(q.find, q.limit, q.offset);
  } catch (const Error& e) {
    throw HttpError{400, std::string("bad query: ") + e.what()};
  }
  Headers extra;
  if (q.fuzzy) {
    extra.emplace_back("Warning", "299 pacsnode \"The fuzzymatching parameter is not supported. Only literal matching has been performed.\"");
  }

  // Most queries match a few rows: they are asked first with a LIMIT of one batch and one
  // more, as one statement (one round trip, one hop to the workers). Only when that finds
  // more than a batch is the query run again through a cursor, which streams however many
  // rows match.
  constexpr std::size_t kBatch = 200;
  const std::size_t wanted = q.limit;  // 0: no limit (the offset is skipped by the SQL)
  std::unique_ptr<db::FindCursor> cursor;
  std::optional<Failure> failure;
  std::vector<std::vector<std::string>> rows;
  db::ConnectionPool& connections = context.connections;
  const db::FindRequest& find = q.find;
  bool complete = false;  // rows are every match (no cursor)
  const std::size_t offset = q.offset;
  co_await net::run_blocking(context.workers, [&cursor, &failure, &connections, &sql, &rows, &find, &complete, wanted,
                                               offset]() {
    try {
      if (wanted == 0 || wanted > kBatch) {
        rows = db::find_all(connections, db::build_find_sql(find, kBatch + 1, offset));
        complete = rows.size() <= kBatch;
        if (complete) return;
        rows.clear();
      } else {
        rows = db::find_all(connections, sql);
        complete = true;
        return;
      }
      cursor = std::make_unique<db::FindCursor>(connections, sql);
      rows = cursor->fetch(kBatch);
      if (rows.size() < kBatch) cursor.reset();
    } catch (const Error& e) {
      cursor.reset();
      failure = Failure{e.code() == ErrorCode::Unavailable ? 503u : 500u, std::string("database: ") + e.what()};
    } catch (const std::exception& e) {
      cursor.reset();
      failure = Failure{500, std::string("database: ") + e.what()};
    }
  });
  if (failure) throw HttpError{failure->status, failure->why};

  const auto columns = db::find_row_columns(level);
  std::size_t sent = 0;
  bool opened = false;
  std::string out, whole;
  for (bool first = true;; first = false) {
    if (!first) {
      rows.clear();
      co_await net::run_blocking(context.workers, [&cursor, &rows, &failure]() {
        try {
          rows = cursor->fetch(kBatch);
        } catch (const std::exception& e) {
          failure = Failure{503, std::string("database: ") + e.what()};
        }
      });
      if (failure) break;
    }
    out.clear();
    for (const auto& row : rows) {
      if (q.limit != 0 && sent == q.limit) break;
      const auto answer = query::answer_row(row, columns, level, q.keys);
      std::string json = dicom::build_find_response_json(q.keys, answer.values, answer.sequences);
      if (q.all) json = query::merge_all_attributes(answer, level, json);
      out += sent == 0 ? "[" : ",";
      out += json;
      ++sent;
    }
    const bool last = complete || rows.size() < kBatch || (q.limit != 0 && sent == q.limit);
    if (!out.empty() && !opened && last) {
      // Everything in one batch (most queries): one whole answer, one write.
      whole = std::move(out);
      whole += "]";
      break;
    }
    if (!out.empty()) {
      if (!opened) {
        co_await exchange.begin(200, "application/dicom+json", std::nullopt, extra);
        opened = true;
      }
      co_await exchange.write(out);
    }
    if (last) break;
  }
  if (cursor) co_await net::run_blocking(context.workers, [&cursor]() { cursor.reset(); });
  if (failure) throw HttpError{failure->status, failure->why};
  if (!whole.empty()) {
    co_await exchange.reply(200, "application/dicom+json", std::move(whole), extra);
    log::debug("http {}: QIDO {}: {} match(es)", exchange.remote_address(), exchange.path(), sent);
    co_return;
  }
  if (!opened) {
    co_await exchange.reply(204, "", "", extra);
    co_return;
  }
  co_await exchange.write(std::string_view("]"));
  co_await exchange.end();
  log::debug("http {}: QIDO {}: {} match(es)", exchange.remote_address(), exchange.path(), sent);
}

}  // namespace pacsnode::http
