#include "db/find_query.hpp"
#include "db/array_literal.hpp"

#include <algorithm>
#include <cctype>
#include <array>
#include <charconv>
#include <cstdio>

#include "base/error.hpp"

namespace pacsnode::db {
namespace {

// The index's tables, in hierarchy order (the order is used to compare levels).
enum class Table { Patient = 0, Study = 1, Series = 2, Instance = 3 };

enum class Kind { Text, PersonName, Date, Time, Uid, Integer, TextArray, UidArray };

struct Column {
  std::uint32_t tag;
  Table table;
  const char* expr;
  Kind kind;
};

// Keys with a typed column. PN keys name the upper-cased generated column.
constexpr std::array kColumns = {
    Column{0x00100020, Table::Patient, "p.patient_id", Kind::Text},
    Column{0x00100021, Table::Patient, "p.issuer_of_patient_id", Kind::Text},
    Column{0x00100010, Table::Patient, "p.patient_name_norm", Kind::PersonName},
    Column{0x00100030, Table::Patient, "p.patient_birth_date", Kind::Date},
    Column{0x00100040, Table::Patient, "p.patient_sex", Kind::Text},
    // Computed per patient (the `pc` LATERAL subquery below), only when a key asks for one.
    Column{0x00201200, Table::Patient, "pc.number_of_studies", Kind::Integer},
    Column{0x00201202, Table::Patient, "pc.number_of_series", Kind::Integer},
    Column{0x00201204, Table::Patient, "pc.number_of_instances", Kind::Integer},
    Column{0x0020000D, Table::Study, "st.study_instance_uid", Kind::Uid},
    Column{0x00080020, Table::Study, "st.study_date", Kind::Date},
    Column{0x00080030, Table::Study, "st.study_time", Kind::Time},
    Column{0x00080050, Table::Study, "st.accession_number", Kind::Text},
    Column{0x00200010, Table::Study, "st.study_id", Kind::Text},
    Column{0x00081030, Table::Study, "st.study_description", Kind::Text},
    Column{0x00080090, Table::Study, "st.referring_physician_name_norm", Kind::PersonName},
    Column{0x00080061, Table::Study, "st.modalities_in_study", Kind::TextArray},
    Column{0x00080062, Table::Study, "st.sop_classes_in_study", Kind::UidArray},
    Column{0x00201206, Table::Study, "st.number_of_series", Kind::Integer},
    Column{0x00201208, Table::Study, "st.number_of_instances", Kind::Integer},
    Column{0x0020000E, Table::Series, "se.series_instance_uid", Kind::Uid},
    Column{0x00080060, Table::Series, "se.modality", Kind::Text},
    Column{0x00200011, Table::Series, "se.series_number", Kind::Integer},
    Column{0x0008103E, Table::Series, "se.series_description", Kind::Text},
    Column{0x00180015, Table::Series, "se.body_part_examined", Kind::Text},
    Column{0x00080021, Table::Series, "se.series_date", Kind::Date},
    Column{0x00080031, Table::Series, "se.series_time", Kind::Time},
    Column{0x00201209, Table::Series, "se.number_of_instances", Kind::Integer},
    Column{0x00080018, Table::Instance, "i.sop_instance_uid", Kind::Uid},
    Column{0x00080016, Table::Instance, "i.sop_class_uid", Kind::Uid},
    Column{0x00200013, Table::Instance, "i.instance_number", Kind::Integer},
    Column{0x00080023, Table::Instance, "i.content_date", Kind::Date},
    Column{0x00080033, Table::Instance, "i.content_time", Kind::Time},
};

constexpr std::array<std::uint32_t, 4> kUniqueKey = {0x00100020, 0x0020000D, 0x0020000E, 0x00080018};
constexpr std::uint32_t kIssuerOfPatientId = 0x00100021;
constexpr std::array<std::uint32_t, 3> kPatientCounts = {0x00201200, 0x00201202, 0x00201204};

const char* alias(Table table) {
  switch (table) {
    case Table::Patient: return "p";
    case Table::Study: return "st";
    case Table::Series: return "se";
    case Table::Instance: return "i";
  }
  return "";
}

[[noreturn]] void refuse(const std::string& message) { throw Error(ErrorCode::InvalidArgument, message); }

std::string tag_text(std::uint32_t tag) {
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08X", static_cast<unsigned>(tag));
  return buffer;
}

std::string key_name(const FindKey& key) {
  const auto t = tag_text(key.tag);
  return std::string("(").append(t, 0, 4).append(",").append(t, 4).append(")");
}

// Never matched: command group, group lengths, Specific Character Set, Query/Retrieve
// Level, Retrieve AE Title, Instance Availability.
bool never_matched(const FindKey& key) {
  return key.tag < 0x00080000 || (key.tag & 0xFFFF) == 0 || key.tag == 0x00080005 ||
         key.tag == 0x00080052 || key.tag == 0x00080054 || key.tag == 0x00080056;
}

// DICOM padding: trailing spaces (and a UI's trailing NUL) never count; leading spaces do
// not count except in the text VRs.
std::string trimmed(const FindKey& key) {
  std::string_view v = key.value;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\0')) v.remove_suffix(1);
  if (key.vr != "LT" && key.vr != "ST" && key.vr != "UT") {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  }
  return std::string(v);
}

// YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]
bool is_datetime(std::string_view v) {
  std::size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  if (digits < 4 || digits > 14 || digits % 2 != 0) return false;
  std::size_t at = digits;
  if (at < v.size() && v[at] == '.') {
    if (digits != 14) return false;
    std::size_t f = ++at;
    while (at < v.size() && std::isdigit(static_cast<unsigned char>(v[at]))) ++at;
    if (at == f || at - f > 6) return false;
  }
  if (at == v.size()) return true;
  if ((v[at] != '+' && v[at] != '-') || v.size() - at != 5) return false;
  if (!std::all_of(v.begin() + static_cast<std::ptrdiff_t>(at) + 1, v.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return false;
  }
  // An offset is -1200 to +1400: "2024-2024" is a range of years, not 2024 at -20:24.
  const int hours = (v[at + 1] - '0') * 10 + (v[at + 2] - '0');
  const int minutes = (v[at + 3] - '0') * 10 + (v[at + 4] - '0');
  return hours <= 14 && minutes <= 59;
}

// A DT value or range as its two ends ("" for an open end; a single value is both). The
// range's `-` is the one that leaves a valid DT (or nothing) on both sides: offsets have
// signs too.
std::pair<std::string, std::string> split_datetime_range(const std::string& value, const std::string& key) {
  if (is_datetime(value)) return {value, value};
  for (std::size_t dash = value.find('-'); dash != std::string::npos; dash = value.find('-', dash + 1)) {
    const std::string from = value.substr(0, dash), to = value.substr(dash + 1);
    if ((from.empty() || is_datetime(from)) && (to.empty() || is_datetime(to)) && !(from.empty() && to.empty())) {
      return {from, to};
    }
  }
  refuse("'" + value + "' in " + key + " is not a date-time or a date-time range");
}

bool has_wildcard(std::string_view v) { return v.find_first_of("*?") != std::string_view::npos; }
bool only_stars(std::string_view v) { return v.find_first_not_of('*') == std::string_view::npos; }

std::vector<std::string> split_values(const std::string& value) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto end = value.find('\\', start);
    parts.push_back(value.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// `*` → `%`, `?` → `_`, after escaping LIKE's own metacharacters with `\`.
std::string like_pattern(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '%' || c == '_') {
      out += '\\';
      out += c;
    } else if (c == '*') {
      out += '%';
    } else if (c == '?') {
      out += '_';
    } else {
      out += c;
    }
  }
  return out;
}


bool all_digits(std::string_view v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int number(std::string_view digits) {
  int n = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return n;
}

void check_date(std::string_view v, const std::string& key) {
  if (v.size() != 8 || !all_digits(v)) refuse("malformed date '" + std::string(v) + "' in " + key);
  const int year = number(v.substr(0, 4)), month = number(v.substr(4, 2)), day = number(v.substr(6, 2));
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || (month == 2 && day == 29 && !leap)) {
    refuse("invalid date '" + std::string(v) + "' in " + key);
  }
}

// TM "HH[MM[SS[.F{1,6}]]]" as "HH:MM:SS.ffffff": the first instant of the interval the value
// stands for, or (upper) the last.
std::string time_bound(std::string_view v, bool upper, const std::string& key) {
  const auto bad = [&] { refuse("malformed time '" + std::string(v) + "' in " + key); };
  const auto dot = v.find('.');
  const std::string_view hms = v.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
  if (!all_digits(hms) || (hms.size() != 2 && hms.size() != 4 && hms.size() != 6)) bad();
  if (dot != std::string_view::npos && (hms.size() != 6 || fraction.size() > 6 || !all_digits(fraction))) bad();
  if (number(hms.substr(0, 2)) > 23) bad();
  if (hms.size() >= 4 && number(hms.substr(2, 2)) > 59) bad();
  if (hms.size() == 6 && number(hms.substr(4, 2)) > 59) bad();
  const auto part = [&](std::size_t at) { return hms.size() > at ? std::string(hms.substr(at, 2)) : upper ? "59" : "00"; };
  std::string f(fraction);
  f.resize(6, upper ? '9' : '0');
  return part(0) + ":" + part(2) + ":" + part(4) + "." + f;
}

struct Builder {
  std::vector<std::string> params;
  std::vector<std::string> where;

  std::string bind(std::string value) {
    params.push_back(std::move(value));
    std::string placeholder = "$";
    placeholder += std::to_string(params.size());
    return placeholder;
  }

  // `backslash_is_text`: LT, ST and UT are single-valued, so `\` is a character there.
  void text(const std::string& expr, const std::string& value, const std::string& key, bool backslash_is_text = false) {
    if (!backslash_is_text && value.find('\\') != std::string::npos) refuse("multiple values are not supported in " + key);
    if (has_wildcard(value)) {
      where.push_back(expr + " LIKE " + bind(like_pattern(value)) + " ESCAPE '\\'");
    } else {
      where.push_back(expr + " = " + bind(value));
    }
  }

  // `norm` is an upper-cased name column or expression.
  void person_name(const std::string& norm, std::string value, const std::string& key, bool alphabetic_only) {
    if (alphabetic_only) value = value.substr(0, value.find('='));
    while (!value.empty() && (value.back() == '^' || value.back() == '=' || value.back() == ' ')) value.pop_back();
    if (only_stars(value)) return;
    const std::string stored = value.find('=') == std::string::npos
                                   ? "rtrim(split_part(" + norm + ", '=', 1), '^ ')"
                                   : "rtrim(" + norm + ", '^= ')";
    if (value.find('\\') != std::string::npos) refuse("multiple values are not supported in " + key);
    if (has_wildcard(value)) {
      where.push_back(stored + " LIKE upper(" + bind(like_pattern(value)) + ") ESCAPE '\\'");
    } else {
      where.push_back(stored + " = upper(" + bind(value) + ")");
    }
  }

  // DT: a single value matches a stored value whose first instant falls within the value's
  // interval; a range A-B, -B or A- is inclusive of both ends' intervals. UTC offsets are
  // honoured (dicom_dt(), migration 0003); a value without one is taken as UTC.
  void datetime(const std::string& expr, const std::string& value, const std::string& key) {
    if (has_wildcard(value)) refuse("wildcards are not allowed in date-time key " + key);
    const auto [from, to] = split_datetime_range(value, key);
    if (!from.empty()) where.push_back("dicom_dt(" + expr + ", false) >= dicom_dt(" + bind(from) + ", false)");
    if (!to.empty()) where.push_back("dicom_dt(" + expr + ", false) <= dicom_dt(" + bind(to) + ", true)");
  }

  // `cast` is "::date" for a date column, "" with `COLLATE "C"` text for DA kept in jsonb.
  void date(const std::string& expr, const std::string& value, const std::string& key, const std::string& cast) {
    if (has_wildcard(value)) refuse("wildcards are not allowed in date key " + key);
    const auto dash = value.find('-');
    if (dash == std::string::npos) {
      check_date(value, key);
      where.push_back(expr + " = " + bind(value) + cast);
      return;
    }
    const std::string from = value.substr(0, dash), to = value.substr(dash + 1);
    if (from.empty() && to.empty()) refuse("empty date range in " + key);
    if (!from.empty()) check_date(from, key);
    if (!to.empty()) check_date(to, key);
    if (!from.empty()) where.push_back(expr + " >= " + bind(from) + cast);
    if (!to.empty()) where.push_back(expr + " <= " + bind(to) + cast);
  }

  void time(const std::string& expr, const std::string& value, const std::string& key) {
    if (has_wildcard(value)) refuse("wildcards are not allowed in time key " + key);
    const auto dash = value.find('-');
    const std::string from = dash == std::string::npos ? value : value.substr(0, dash);
    const std::string to = dash == std::string::npos ? value : value.substr(dash + 1);
    if (from.empty() && to.empty()) refuse("empty time range in " + key);
    const auto lower = from.empty() ? std::string() : time_bound(from, false, key);
    const auto upper = to.empty() ? std::string() : time_bound(to, true, key);
    if (!lower.empty() && !upper.empty() && lower > upper) {
      refuse("time range '" + value + "' in " + key + " crosses midnight");
    }
    if (!lower.empty()) where.push_back(expr + " >= " + bind(lower) + "::time");
    if (!upper.empty()) where.push_back(expr + " <= " + bind(upper) + "::time");
  }

  std::vector<std::string> uids(const std::string& value, const std::string& key) {
    if (has_wildcard(value)) refuse("wildcards are not allowed in UID key " + key);
    auto list = split_values(value);
    for (auto& uid : list) {
      while (!uid.empty() && (uid.back() == ' ' || uid.back() == '\0')) uid.pop_back();
      if (uid.empty() || uid.find_first_not_of("0123456789.") != std::string::npos) {
        refuse("malformed UID '" + uid + "' in " + key);
      }
    }
    return list;
  }

  void uid(const std::string& expr, const std::string& value, const std::string& key) {
    const auto list = uids(value, key);
    if (list.size() == 1) {
      where.push_back(expr + " = " + bind(list[0]));
    } else {
      where.push_back(expr + " = ANY(" + bind(detail::array_literal(list)) + "::text[])");
    }
  }

  // Any listed value present in the array column: OR over the values.
  void array(const std::string& expr, const std::vector<std::string>& values) {
    if (values.size() == 1 && !has_wildcard(values[0])) {
      where.push_back(bind(values[0]) + " = ANY(" + expr + ")");
      return;
    }
    std::vector<std::string> exact, alternatives;
    for (const auto& v : values) {
      if (only_stars(v)) return;  // one universal value makes the whole key universal
      if (has_wildcard(v)) {
        alternatives.push_back("EXISTS (SELECT 1 FROM unnest(" + expr + ") AS m WHERE m LIKE " +
                               bind(like_pattern(v)) + " ESCAPE '\\')");
      } else {
        exact.push_back(v);
      }
    }
    if (!exact.empty()) alternatives.push_back(expr + " && " + bind(detail::array_literal(exact)) + "::text[]");
    std::string any;
    for (const auto& a : alternatives) any += (any.empty() ? "(" : " OR ") + a;
    where.push_back(any + ")");
  }

  void integer(const std::string& expr, const std::string& value, const std::string& key) {
    // IS allows a sign; from_chars does not take '+'.
    const std::string_view text = value[0] == '+' ? std::string_view(value).substr(1) : std::string_view(value);
    const std::string_view digits = !text.empty() && text[0] == '-' ? text.substr(1) : text;
    long long n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (!all_digits(digits) || ec != std::errc{} || end != text.data() + text.size() || n < -2147483648LL ||
        n > 2147483647LL) {
      refuse("'" + value + "' in " + key + " is not an integer");
    }
    where.push_back(expr + " = " + bind(std::to_string(n)) + "::integer");
  }

  // A key without a typed column: the first value in the row's DICOM JSON attributes.
  void json(Table table, const FindKey& key, const std::string& value, const std::string& name) {
    json_in(std::string(alias(table)) + ".attributes", key, value, name);
  }

  // The same in a DICOM JSON object `object` (a row's attributes or a sequence item).
  void json_in(const std::string& object, const FindKey& key, const std::string& value, const std::string& name) {
    const std::string base = object + "->" + bind(tag_text(key.tag)) + "->'Value'";
    if (key.vr == "PN") {
      person_name("upper(" + base + "->0->>'Alphabetic')", value, name, true);
    } else if (key.vr == "DT") {
      datetime(base + "->>0", value, name);
    } else if (key.vr == "DA") {
      date("(" + base + "->>0) COLLATE \"C\"", value, name, "");
    } else {
      text(base + "->>0", value, name, key.vr == "LT" || key.vr == "ST" || key.vr == "UT");
    }
  }
};

// An item key that constrains nothing: empty, only `*` (except in DA and UI, which refuse
// wildcards), or a nested sequence (matched one level deep only).
bool universal_item_key(const FindKey& key, const std::string& value) {
  return value.empty() || key.vr == "SQ" || (only_stars(value) && key.vr != "DA" && key.vr != "UI");
}

struct Key {
  const FindKey* key;
  const Column* column;  // nullptr: kept in the attributes jsonb
  Table table;
};

Key classify(const FindKey& key, QueryLevel level) {
  const auto it = std::find_if(kColumns.begin(), kColumns.end(), [&](const Column& c) { return c.tag == key.tag; });
  if (it != kColumns.end()) return {&key, &*it, it->table};
  const bool patient_module = (key.tag >> 16) == 0x0010;
  return {&key, nullptr, patient_module ? Table::Patient : static_cast<Table>(static_cast<int>(level))};
}

// A sequence key: EXISTS an item of the stored sequence in which every item key matches.
void match_sequence(Builder& b, const Key& k) {
  std::vector<std::string> outer;
  outer.swap(b.where);  // collect the item's conditions on their own
  for (const auto& item_key : k.key->item) {
    const auto value = trimmed(item_key);
    if (universal_item_key(item_key, value)) continue;
    b.json_in("item", item_key, value, key_name(*k.key) + " " + key_name(item_key));
  }
  std::vector<std::string> conditions;
  conditions.swap(b.where);
  b.where.swap(outer);
  if (conditions.empty()) return;  // an empty item: universal
  const std::string sequence =
      std::string(alias(k.table)) + ".attributes->" + b.bind(tag_text(k.key->tag)) + "->'Value'";
  std::string sql = "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(" + sequence +
                    ") = 'array' THEN " + sequence + " ELSE '[]'::jsonb END) AS item WHERE ";
  for (std::size_t i = 0; i < conditions.size(); ++i) sql += (i ? " AND " : "") + conditions[i];
  b.where.push_back(sql + ")");
}

void match(Builder& b, const Key& k, const std::string& value) {
  const auto name = key_name(*k.key);
  if (k.key->vr == "SQ") return match_sequence(b, k);
  if (!k.column) return b.json(k.table, *k.key, value, name);
  const std::string expr = k.column->expr;
  switch (k.column->kind) {
    case Kind::Text: return b.text(expr, value, name);
    case Kind::PersonName: return b.person_name(expr, value, name, false);
    case Kind::Date: return b.date(expr, value, name, "::date");
    case Kind::Time: return b.time(expr, value, name);
    case Kind::Uid: return b.uid(expr, value, name);
    case Kind::Integer: return b.integer(expr, value, name);
    case Kind::TextArray: return b.array(expr, split_values(value));
    case Kind::UidArray: return b.array(expr, b.uids(value, name));
  }
}

constexpr const char* kPatientSelect =
    "p.patient_id, p.issuer_of_patient_id, p.patient_name, "
    "coalesce(to_char(p.patient_birth_date, 'YYYYMMDD'), '') AS patient_birth_date, p.patient_sex, ";

// NumberOfPatientRelated{Studies,Series,Instances} (0020,1200/1202/1204), from the counts
// the study rows keep (migration 0001's triggers). A LATERAL subquery is evaluated once per
// patient row the join produces: for a query that only returns the counts, that is once
// per answer (the join keeps the outer index order, so no sort); a count used as a matching
// key must of course be computed for every candidate patient.
constexpr const char* kPatientCountsSelect =
    "pc.number_of_studies::text AS number_of_patient_related_studies, "
    "pc.number_of_series::text AS number_of_patient_related_series, "
    "pc.number_of_instances::text AS number_of_patient_related_instances, ";
constexpr const char* kNoPatientCountsSelect =
    "'' AS number_of_patient_related_studies, '' AS number_of_patient_related_series, "
    "'' AS number_of_patient_related_instances, ";
constexpr const char* kPatientCountsJoin =
    " CROSS JOIN LATERAL (SELECT count(*) AS number_of_studies, "
    "coalesce(sum(c.number_of_series), 0) AS number_of_series, "
    "coalesce(sum(c.number_of_instances), 0) AS number_of_instances "
    "FROM study c WHERE c.patient_pk = p.id) pc";

constexpr const char* kPatientAttributesSelect = "p.attributes::text AS patient_attributes";

// TM as HHMMSS with the fraction only when non-zero.
#define PACSNODE_TM(col) "coalesce(rtrim(rtrim(to_char(" col ", 'HH24MISS.US'), '0'), '.'), '')"

constexpr const char* kStudySelect =
    ", st.study_instance_uid, coalesce(to_char(st.study_date, 'YYYYMMDD'), '') AS study_date, " PACSNODE_TM(
        "st.study_time") " AS study_time, st.accession_number, st.study_id, st.study_description, "
                         "st.referring_physician_name, array_to_string(st.modalities_in_study, '\\') AS "
                         "modalities_in_study, array_to_string(st.sop_classes_in_study, '\\') AS sop_classes_in_study, "
                         "st.number_of_series::text AS number_of_study_related_series, "
                         "st.number_of_instances::text AS number_of_study_related_instances, "
                         "st.attributes::text AS study_attributes";

constexpr const char* kSeriesSelect =
    ", se.series_instance_uid, se.modality, coalesce(se.series_number::text, '') AS series_number, "
    "se.series_description, se.body_part_examined, "
    "coalesce(to_char(se.series_date, 'YYYYMMDD'), '') AS series_date, " PACSNODE_TM(
        "se.series_time") " AS series_time, se.number_of_instances::text AS number_of_series_related_instances, "
                          "se.attributes::text AS series_attributes";

constexpr const char* kInstanceSelect =
    ", i.sop_instance_uid, i.sop_class_uid, coalesce(i.instance_number::text, '') AS instance_number, "
    "coalesce(to_char(i.content_date, 'YYYYMMDD'), '') AS content_date, " PACSNODE_TM(
        "i.content_time") " AS content_time, i.attributes::text AS instance_attributes";

#undef PACSNODE_TM

}  // namespace

std::vector<std::string_view> find_row_columns(QueryLevel level) {
  std::vector<std::string_view> columns = {"patient_id",
                                           "issuer_of_patient_id",
                                           "patient_name",
                                           "patient_birth_date",
                                           "patient_sex",
                                           "number_of_patient_related_studies",
                                           "number_of_patient_related_series",
                                           "number_of_patient_related_instances",
                                           "patient_attributes"};
  if (level >= QueryLevel::Study) {
    columns.insert(columns.end(), {"study_instance_uid", "study_date", "study_time", "accession_number", "study_id",
                                   "study_description", "referring_physician_name", "modalities_in_study",
                                   "sop_classes_in_study", "number_of_study_related_series",
                                   "number_of_study_related_instances", "study_attributes"});
  }
  if (level >= QueryLevel::Series) {
    columns.insert(columns.end(), {"series_instance_uid", "modality", "series_number", "series_description",
                                   "body_part_examined", "series_date", "series_time",
                                   "number_of_series_related_instances", "series_attributes"});
  }
  if (level >= QueryLevel::Image) {
    columns.insert(columns.end(), {"sop_instance_uid", "sop_class_uid", "instance_number", "content_date",
                                   "content_time", "instance_attributes"});
  }
  return columns;
}

SqlQuery build_find_sql(const FindRequest& request, std::size_t limit, std::size_t offset) {
  const bool study_root = request.model == InformationModel::StudyRoot;
  if (study_root && request.level == QueryLevel::Patient) refuse("Study Root has no PATIENT level");
  const int level = static_cast<int>(request.level);
  // In Study Root the patient's attributes are study-level keys.
  const auto level_of = [&](Table t) { return t == Table::Patient && study_root ? 1 : static_cast<int>(t); };

  std::vector<Key> keys;
  for (const auto& key : request.keys) {
    if (!never_matched(key)) keys.push_back(classify(key, request.level));
  }

  Builder b;
  // Hierarchical query: the unique key of each level above the query level, when present
  // and not empty, is a single value. An absent or empty one constrains nothing (an IMAGE
  // query with only StudyInstanceUID: what viewers send, and QIDO's /studies/{s}/instances).
  for (int above = study_root ? 1 : 0; above < level; ++above) {
    const auto tag = kUniqueKey[static_cast<std::size_t>(above)];
    const auto it = std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.key->tag == tag; });
    if (it == keys.end()) continue;
    const auto value = trimmed(*it->key);
    if (value.empty()) continue;
    if (has_wildcard(value) || value.find('\\') != std::string::npos) {
      refuse("unique key " + key_name(*it->key) + " above the query level needs a single value, not '" + value + "'");
    }
    b.where.push_back(std::string(it->column->expr) + " = " + b.bind(value));
  }

  for (const auto& k : keys) {
    const int key_level = level_of(k.table);
    const bool issuer_qualifier = k.key->tag == kIssuerOfPatientId && key_level < level;
    if (key_level != level && !issuer_qualifier) continue;  // below: ignored; above: unique keys done
    const auto value = trimmed(*k.key);
    if (k.key->vr == "SQ") {
      match(b, k, value);
      continue;
    }
    if (value.empty() || (only_stars(value) && k.column && k.column->kind != Kind::Date &&
                          k.column->kind != Kind::Time && k.column->kind != Kind::Uid)) {
      continue;  // universal
    }
    match(b, k, value);
  }

  // The patient's counts are computed only when asked for, at the level that matches the
  // patient's keys (PATIENT in Patient Root, STUDY in Study Root); elsewhere they are ''.
  const bool patient_counts = level_of(Table::Patient) == level &&
                              std::any_of(keys.begin(), keys.end(), [](const Key& k) {
                                return std::find(kPatientCounts.begin(), kPatientCounts.end(), k.key->tag) !=
                                       kPatientCounts.end();
                              });

  std::string sql = "SELECT ";
  sql += kPatientSelect;
  sql += patient_counts ? kPatientCountsSelect : kNoPatientCountsSelect;
  sql += kPatientAttributesSelect;
  std::string from = "patient p";
  std::string order = "p.patient_name_norm, p.patient_id, p.id";
  if (request.level >= QueryLevel::Study) {
    sql += kStudySelect;
    from = "study st JOIN patient p ON p.id = st.patient_pk";
    order = "st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.id";
  }
  if (request.level >= QueryLevel::Series) {
    sql += kSeriesSelect;
    from = "series se JOIN study st ON st.id = se.study_pk JOIN patient p ON p.id = st.patient_pk";
    order = "se.series_number NULLS LAST, se.id";
  }
  if (request.level >= QueryLevel::Image) {
    sql += kInstanceSelect;
    from = "instance i JOIN series se ON se.id = i.series_pk JOIN study st ON st.id = se.study_pk "
           "JOIN patient p ON p.id = st.patient_pk";
    order = "i.instance_number NULLS LAST, i.id";
  }
  sql += " FROM " + from;
  if (patient_counts) sql += kPatientCountsJoin;
  for (std::size_t i = 0; i < b.where.size(); ++i) sql += (i ? " AND " : " WHERE ") + b.where[i];
  sql += " ORDER BY " + order;
  if (limit > 0) sql += " LIMIT " + b.bind(std::to_string(limit));
  if (offset > 0) sql += " OFFSET " + b.bind(std::to_string(offset));
  return {std::move(sql), std::move(b.params)};
}

}  // namespace pacsnode::db
