#pragma once
// What one matched row of db::build_find_sql's result answers: the requested keys' values
// (typed columns first, else the levels' stored DICOM JSON), and for sequence keys the
// stored items that match the query's item (PS3.4 C.2.2.2.6, one level deep). Shared by the
// C-FIND SCP (DIMSE identifiers) and QIDO-RS (DICOM JSON), so both answer alike.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/find_query.hpp"
#include "dicom/find_identifier.hpp"

namespace pacsnode::query {

// (Inline: the fuzz build, which has no libpqxx, links no query/ library.)
// (0008,0052) Query/Retrieve Level text → level; nullopt for anything else.
inline std::optional<db::QueryLevel> query_level_of(std::string_view text) {
  if (text == "PATIENT") return db::QueryLevel::Patient;
  if (text == "STUDY") return db::QueryLevel::Study;
  if (text == "SERIES") return db::QueryLevel::Series;
  if (text == "IMAGE") return db::QueryLevel::Image;
  return std::nullopt;
}

// An identifier key as the SQL builder takes it (a sequence with its item's keys).
inline db::FindKey find_key_of(const dicom::IdentifierKey& key) {
  db::FindKey out{key.tag, key.vr, key.value};
  for (const auto& k : key.item) out.item.push_back(find_key_of(k));
  return out;
}

// The tag a typed column of db::find_row_columns() answers for; nullopt for the
// `*_attributes` columns.
std::optional<std::uint32_t> column_tag(std::string_view column);

struct RowAnswer {
  std::map<std::uint32_t, std::string> values;  // UTF-8, `\` between values
  std::map<std::uint32_t, std::vector<dicom::ResponseItem>> sequences;
  // The levels' stored DICOM JSON texts (patient, study, series, instance); null above the
  // query level's row shape.
  std::array<const std::string*, 4> attributes{};
};

// The answer of `row` (shaped as db::find_row_columns(level)) to `keys`. Instance
// Availability is ONLINE. The strings in `attributes` point into `row`.
RowAnswer answer_row(const std::vector<std::string>& row, const std::vector<std::string_view>& columns,
                     db::QueryLevel level, const std::vector<dicom::IdentifierKey>& keys);

// The DICOM JSON object of a row for QIDO-RS `includefield=all`: the levels' stored
// attributes from the patient down to `level` merged (a lower level's copy wins), then the
// keys of `answer_json` (build_find_response_json of the row's answer) on top.
std::string merge_all_attributes(const RowAnswer& answer, db::QueryLevel level, const std::string& answer_json);

}  // namespace pacsnode::query
