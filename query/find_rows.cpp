#include "query/find_rows.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "dicom/json_values.hpp"

namespace pacsnode::query {
namespace {

constexpr std::uint32_t kInstanceAvailability = 0x00080056;

// The tag each typed column of find_row_columns() answers for.
std::optional<std::uint32_t> typed_column_tag(std::string_view column) {
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

std::optional<std::uint32_t> column_tag(std::string_view column) { return typed_column_tag(column); }

RowAnswer answer_row(const std::vector<std::string>& row, const std::vector<std::string_view>& columns,
                     db::QueryLevel level, const std::vector<dicom::IdentifierKey>& keys) {
  RowAnswer answer;
  auto& values = answer.values;
  auto& sequences = answer.sequences;
  // The levels' stored attributes (patient, study, series, instance) are parsed only when
  // a requested key needs them: most study-list keys have columns, and parsing per match
  // is the expensive part of a broad query.
  std::array<const std::string*, 4>& raw = answer.attributes;
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
    } else if (const auto tag = typed_column_tag(name)) {
      values[*tag] = row[c];
    }
  }
  for (const auto& key : keys) {
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
  return answer;
}

std::string merge_all_attributes(const RowAnswer& answer, db::QueryLevel level, const std::string& answer_json) {
  nlohmann::json merged = nlohmann::json::object();
  for (int i = 0; i <= static_cast<int>(level); ++i) {
    const std::string* text = answer.attributes[static_cast<std::size_t>(i)];
    if (text == nullptr || text->empty()) continue;
    auto object = nlohmann::json::parse(*text, nullptr, false);
    if (!object.is_object()) continue;
    for (auto& [key, value] : object.items()) merged[key] = std::move(value);
  }
  auto computed = nlohmann::json::parse(answer_json, nullptr, false);
  if (computed.is_object()) {
    for (auto& [key, value] : computed.items()) merged[key] = std::move(value);
  }
  return merged.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pacsnode::query
