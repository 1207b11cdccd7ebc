#include "routing/values.hpp"

#include <charconv>
#include <cmath>

namespace pacsnode::routing::detail {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int digits_value(std::string_view s) {
  int v = 0;
  for (const char c : s) v = v * 10 + (c - '0');
  return v;
}

// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(int year, int month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// YYYY[MM[DD]] (digits only) → days of the first and last day; nullopt when invalid.
std::optional<Interval> date_digits(std::string_view s) {
  if (!(s.size() == 4 || s.size() == 6 || s.size() == 8) || !all_digits(s)) return std::nullopt;
  const int year = digits_value(s.substr(0, 4));
  if (s.size() == 4) return Interval{days_from_civil(year, 1, 1), days_from_civil(year, 12, 31)};
  const int month = digits_value(s.substr(4, 2));
  if (month < 1 || month > 12) return std::nullopt;
  const unsigned last_day = days_in_month(year, month);
  if (s.size() == 6) {
    return Interval{days_from_civil(year, unsigned(month), 1), days_from_civil(year, unsigned(month), last_day)};
  }
  const int day = digits_value(s.substr(6, 2));
  if (day < 1 || static_cast<unsigned>(day) > last_day) return std::nullopt;
  const std::int64_t days = days_from_civil(year, unsigned(month), unsigned(day));
  return Interval{days, days};
}

// HH[MM[SS[.F{1,6}]]] (no colons) → microseconds from midnight, first and last.
std::optional<Interval> time_digits(std::string_view s) {
  const std::size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  if (!(whole.size() == 2 || whole.size() == 4 || whole.size() == 6) || !all_digits(whole)) return std::nullopt;
  const int hour = digits_value(whole.substr(0, 2));
  const int minute = whole.size() >= 4 ? digits_value(whole.substr(2, 2)) : 0;
  const int second = whole.size() >= 6 ? digits_value(whole.substr(4, 2)) : 0;
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: a leap second
  std::int64_t first = ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond;
  std::int64_t span = whole.size() == 2 ? 3600 * kMicrosPerSecond : whole.size() == 4 ? 60 * kMicrosPerSecond
                                                                                      : kMicrosPerSecond;
  if (dot != std::string_view::npos) {
    const std::string_view fraction = s.substr(dot + 1);
    if (whole.size() != 6 || fraction.empty() || fraction.size() > 6 || !all_digits(fraction)) return std::nullopt;
    std::int64_t micros = digits_value(fraction);
    span = 1;
    for (std::size_t i = fraction.size(); i < 6; ++i) {
      micros *= 10;
      span *= 10;
    }
    first += micros;
  }
  return Interval{first, first + span - 1};
}

}  // namespace

ValueKind kind_of_vr(std::string_view vr) {
  if (vr.size() != 2) return ValueKind::Text;
  static constexpr std::string_view kNumbers[] = {"DS", "IS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"};
  static constexpr std::string_view kBinary[] = {"OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"};
  for (auto n : kNumbers) {
    if (vr == n) return ValueKind::Number;
  }
  for (auto b : kBinary) {
    if (vr == b) return ValueKind::Binary;
  }
  if (vr == "DA") return ValueKind::Date;
  if (vr == "TM") return ValueKind::Time;
  if (vr == "DT") return ValueKind::DateTime;
  return ValueKind::Text;
}

std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<Interval> parse_date(std::string_view text) {
  text = trim(text);
  if (text.size() == 10 && text[4] == '.' && text[7] == '.') {
    char digits[8] = {text[0], text[1], text[2], text[3], text[5], text[6], text[8], text[9]};
    return date_digits({digits, 8});
  }
  return date_digits(text);
}

std::optional<Interval> parse_time(std::string_view text) {
  text = trim(text);
  if (text.find(':') == std::string_view::npos) return time_digits(text);
  // HH:MM[:SS[.F]] (ACR-NEMA): drop the colons, which must sit after HH and MM.
  if (text.size() < 5 || text[2] != ':' || (text.size() > 5 && text[5] != ':')) return std::nullopt;
  std::string_view rest = text.size() > 5 ? text.substr(6) : std::string_view();
  if (text.size() == 6) return std::nullopt;
  char buffer[16];
  if (rest.size() + 4 > sizeof buffer) return std::nullopt;
  std::size_t n = 0;
  for (const char c : text.substr(0, 2)) buffer[n++] = c;
  for (const char c : text.substr(3, 2)) buffer[n++] = c;
  for (const char c : rest) buffer[n++] = c;
  return time_digits({buffer, n});
}

std::optional<Interval> parse_datetime(std::string_view text) {
  text = trim(text);
  std::int64_t offset_micros = 0;
  // The offset is the last five characters when they read &ZZXX; "2024-2024" is no DT here.
  if (text.size() > 5 && (text[text.size() - 5] == '+' || text[text.size() - 5] == '-')) {
    const std::string_view offset = text.substr(text.size() - 4);
    if (!all_digits(offset)) return std::nullopt;
    const int hours = digits_value(offset.substr(0, 2));
    const int minutes = digits_value(offset.substr(2, 2));
    const int signed_hhmm = (text[text.size() - 5] == '-' ? -1 : 1) * (hours * 100 + minutes);
    if (minutes > 59 || signed_hhmm < -1200 || signed_hhmm > 1400) return std::nullopt;
    offset_micros = (text[text.size() - 5] == '-' ? -1 : 1) * (hours * 60 + minutes) * 60 * kMicrosPerSecond;
    text.remove_suffix(5);
  }
  const std::size_t dot = text.find('.');
  const std::size_t whole = dot == std::string_view::npos ? text.size() : dot;
  if (whole < 4 || whole > 14 || whole % 2 != 0 || !all_digits(text.substr(0, whole))) return std::nullopt;
  const auto date = date_digits(text.substr(0, std::min<std::size_t>(whole, 8)));
  if (!date) return std::nullopt;
  Interval out;
  if (whole <= 8) {
    if (dot != std::string_view::npos) return std::nullopt;
    out = {date->first * kMicrosPerDay, (date->last + 1) * kMicrosPerDay - 1};
  } else {
    const auto time = time_digits(text.substr(8));
    if (!time) return std::nullopt;
    out = {date->first * kMicrosPerDay + time->first, date->first * kMicrosPerDay + time->last};
  }
  out.first -= offset_micros;
  out.last -= offset_micros;
  return out;
}

}  // namespace pacsnode::routing::detail
