#include "db/index_values.hpp"

#include "base/json.hpp"

#include <fmt/format.h>

namespace pacsnode::db::detail {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\0')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  return text;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int number(std::string_view digits) {
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

std::optional<std::string> dicom_date_to_sql(std::string_view da) {
  da = trim(da);
  std::string digits;
  if (da.size() == 8) {
    digits = da;
  } else if (da.size() == 10 && da[4] == '.' && da[7] == '.') {
    digits = fmt::format("{}{}{}", da.substr(0, 4), da.substr(5, 2), da.substr(8, 2));
  } else {
    return std::nullopt;
  }
  if (!all_digits(digits)) return std::nullopt;
  const int year = number(std::string_view(digits).substr(0, 4));
  const int month = number(std::string_view(digits).substr(4, 2));
  const int day = number(std::string_view(digits).substr(6, 2));
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  return fmt::format("{:04}-{:02}-{:02}", year, month, day);
}

std::optional<std::string> dicom_time_to_sql(std::string_view tm) {
  tm = trim(tm);
  std::string_view fraction;
  if (auto dot = tm.find('.'); dot != std::string_view::npos) {
    fraction = tm.substr(dot + 1);
    tm = tm.substr(0, dot);
    if (fraction.size() > 6 || !all_digits(fraction)) return std::nullopt;
  }
  std::string digits;
  if (tm.find(':') != std::string_view::npos) {
    // ACR-NEMA: HH:MM or HH:MM:SS.
    if (!((tm.size() == 5 && tm[2] == ':') || (tm.size() == 8 && tm[2] == ':' && tm[5] == ':'))) return std::nullopt;
    for (char c : tm) {
      if (c != ':') digits += c;
    }
  } else {
    digits = tm;
  }
  if (!all_digits(digits) || digits.size() % 2 != 0 || digits.size() > 6) return std::nullopt;
  // A fraction belongs to the seconds only.
  if (!fraction.empty() && digits.size() != 6) return std::nullopt;
  const std::string_view d(digits);
  const int hour = number(d.substr(0, 2));
  const int minute = d.size() >= 4 ? number(d.substr(2, 2)) : 0;
  const int second = d.size() >= 6 ? number(d.substr(4, 2)) : 0;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  std::string out = fmt::format("{:02}:{:02}:{:02}", hour, minute, second);
  if (!fraction.empty()) out += fmt::format(".{:0<6}", fraction);
  return out;
}

std::string with_raw_attribute(std::string_view object, std::string_view tag, std::string_view vr,
                               std::string_view raw) {
  std::string_view body = trim(object);
  const std::string member =
      fmt::format("{}:{{\"vr\":{},\"Value\":[{}]}}", json_string(tag), json_string(vr), json_string(raw));
  if (body.empty()) return "{" + member + "}";
  const auto close = body.rfind('}');
  if (body.front() != '{' || close == std::string_view::npos) return std::string(object);  // PostgreSQL rejects it
  const std::string_view inner = body.substr(1, close - 1);
  const bool empty = inner.find_first_not_of(" \t\r\n") == std::string_view::npos;
  return fmt::format("{}{}{}}}", body.substr(0, close), empty ? "" : ",", member);
}

std::optional<std::string> date_column(std::string_view da, std::string_view tag, std::string& attributes) {
  auto value = dicom_date_to_sql(da);
  if (!value && !trim(da).empty()) attributes = with_raw_attribute(attributes, tag, "DA", da);
  return value;
}

std::optional<std::string> time_column(std::string_view tm, std::string_view tag, std::string& attributes) {
  auto value = dicom_time_to_sql(tm);
  if (!value && !trim(tm).empty()) attributes = with_raw_attribute(attributes, tag, "TM", tm);
  return value;
}


}  // namespace pacsnode::db::detail
