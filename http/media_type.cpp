#include "http/media_type.hpp"

#include <algorithm>
#include <charconv>

#include "base/error.hpp"

namespace pacsnode::http {
namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

[[noreturn]] void fail(std::string_view text, const std::string& why) {
  throw Error(ErrorCode::InvalidArgument, "media type \"" + std::string(text) + "\": " + why);
}

// A cursor over one media type's text.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  void skip_ows() {
    while (pos_ < text_.size() && is_ows(text_[pos_])) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void advance() { ++pos_; }

  std::string_view token() {
    std::size_t start = pos_;
    while (pos_ < text_.size() && is_tchar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // A quoted-string (the opening quote is next) or a run of anything but OWS, ';' and '"':
  // clients send `type=application/dicom` unquoted although '/' is no token character.
  std::string value() {
    if (!at_end() && peek() == '"') {
      advance();
      std::string out;
      while (!at_end()) {
        char c = peek();
        advance();
        if (c == '"') return out;
        if (c == '\\') {
          if (at_end()) break;
          c = peek();
          advance();
        }
        out += c;
      }
      fail(text_, "unterminated quoted string");
    }
    std::size_t start = pos_;
    while (pos_ < text_.size() && !is_ows(text_[pos_]) && text_[pos_] != ';' && text_[pos_] != '"' &&
           static_cast<unsigned char>(text_[pos_]) >= 0x20 && text_[pos_] != 0x7f)
      ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// q = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), read leniently: any decimal
// number from 0 to 1 (".5" too), more digits allowed.
std::optional<double> parse_q(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.')) return std::nullopt;
  std::string padded = s.front() == '.' ? "0" + std::string(s) : std::string(s);
  double q = 0;
  auto [end, ec] = std::from_chars(padded.data(), padded.data() + padded.size(), q);
  if (ec != std::errc() || end != padded.data() + padded.size() || !(q >= 0 && q <= 1)) return std::nullopt;
  return q;
}

MediaType parse(std::string_view text, bool accept_entry) {
  Reader in(text);
  in.skip_ows();
  MediaType mt;
  std::string_view type = in.token();
  if (type.empty()) fail(text, "no type");
  if (!in.at_end() && in.peek() == '/') {
    in.advance();
    std::string_view subtype = in.token();
    if (subtype.empty()) fail(text, "no subtype after '/'");
    mt.type = lowered(type);
    mt.subtype = lowered(subtype);
    if (mt.type == "*" && mt.subtype != "*") fail(text, "\"*/" + mt.subtype + "\" is not a media range");
  } else if (accept_entry && type == "*") {
    // Java's URLConnection sends "*; q=.2".
    mt.type = mt.subtype = "*";
  } else {
    fail(text, "expected type/subtype");
  }
  in.skip_ows();
  while (!in.at_end()) {
    if (in.peek() != ';') fail(text, "unexpected text after the media type or a parameter");
    in.advance();
    in.skip_ows();
    if (in.at_end() || in.peek() == ';') continue;  // "a/b;" and "a/b;;c=d"
    std::string_view name = in.token();
    if (name.empty()) fail(text, "a parameter name is not a token");
    in.skip_ows();
    if (in.at_end() || in.peek() != '=') fail(text, "parameter \"" + std::string(name) + "\" has no '='");
    in.advance();
    in.skip_ows();
    std::string value = in.value();
    in.skip_ows();
    std::string key = lowered(name);
    if (accept_entry && key == "q") {
      auto q = parse_q(value);
      if (!q) fail(text, "bad q-value \"" + value + "\"");
      mt.q = *q;
    } else {
      mt.params.emplace_back(std::move(key), std::move(value));
    }
  }
  return mt;
}

// Splits at commas outside quoted strings.
std::vector<std::string_view> split_list(std::string_view header) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < header.size(); ++i) {
    char c = header[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(header.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(header.substr(std::min(start, header.size())));
  return out;
}

int level(const MediaType& m) { return (m.type != "*") + (m.subtype != "*"); }

// How specifically `range` names `offer`: wildcards first, then how many of the offer's
// parameters it states too. Only meaningful when matches(range, offer).
int specificity(const MediaType& range, const MediaType& offer) {
  int shared = 0;
  for (const auto& [name, value] : offer.params)
    if (range.param(name)) ++shared;
  return level(range) * 100 + std::min(shared, 99);
}

bool value_matches(std::string_view name, std::string_view range_value, std::string_view offer_value) {
  if (range_value == "*" || iequals(range_value, offer_value)) return true;
  if (name == "type") {
    // The multipart's root type, itself a media type: "application/*" covers "application/dicom".
    try {
      return matches(parse(range_value, true), parse(offer_value, false));
    } catch (const Error&) {
      return false;
    }
  }
  return false;
}

bool needs_quotes(std::string_view value) {
  return value.empty() || !std::all_of(value.begin(), value.end(), is_tchar);
}

}  // namespace

std::optional<std::string> MediaType::param(std::string_view name) const {
  for (const auto& [key, value] : params)
    if (iequals(key, name)) return value;
  return std::nullopt;
}

std::string MediaType::essence() const { return type + "/" + subtype; }

std::string MediaType::to_string() const {
  std::string out = essence();
  for (const auto& [name, value] : params) {
    out += "; ";
    out += name;
    out += '=';
    if (!needs_quotes(value)) {
      out += value;
      continue;
    }
    out += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out;
}

MediaType parse_media_type(std::string_view text) { return parse(text, false); }

std::vector<MediaType> parse_accept(std::string_view header) {
  std::vector<MediaType> out;
  if (trimmed(header).empty()) {
    out.push_back(MediaType{"*", "*", {}, 1});
    return out;
  }
  std::string first_error;
  for (std::string_view element : split_list(header)) {
    if (trimmed(element).empty()) continue;
    try {
      out.push_back(parse(element, true));
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  if (out.empty())
    throw Error(ErrorCode::InvalidArgument,
                "Accept \"" + std::string(header) + "\" names no media type" + (first_error.empty() ? "" : ": " + first_error));
  std::stable_sort(out.begin(), out.end(), [](const MediaType& a, const MediaType& b) {
    if (a.q != b.q) return a.q > b.q;
    int sa = level(a) * 100 + static_cast<int>(a.params.size());
    int sb = level(b) * 100 + static_cast<int>(b.params.size());
    return sa > sb;
  });
  return out;
}

bool matches(const MediaType& range, const MediaType& offer) {
  if (range.type != "*" && !iequals(range.type, offer.type)) return false;
  if (range.subtype != "*" && !iequals(range.subtype, offer.subtype)) return false;
  for (const auto& [name, value] : offer.params) {
    auto wanted = range.param(name);
    if (wanted && !value_matches(lowered(name), *wanted, value)) return false;
  }
  return true;
}

std::optional<Negotiated> negotiate(std::span<const MediaType> accept, std::span<const MediaType> offers) {
  std::optional<Negotiated> best;
  double best_q = 0;
  int best_specificity = -1;
  for (std::size_t i = 0; i < offers.size(); ++i) {
    const MediaType* entry = nullptr;
    int entry_specificity = -1;
    for (const MediaType& range : accept) {
      if (!matches(range, offers[i])) continue;
      int s = specificity(range, offers[i]);
      if (s > entry_specificity) {
        entry = &range;
        entry_specificity = s;
      }
    }
    if (!entry || entry->q <= 0) continue;
    if (!best || entry->q > best_q || (entry->q == best_q && entry_specificity > best_specificity)) {
      best = Negotiated{i, offers[i], *entry};
      best_q = entry->q;
      best_specificity = entry_specificity;
    }
  }
  return best;
}

std::optional<Negotiated> negotiate(std::string_view accept_header, std::span<const std::string_view> offers) {
  std::vector<MediaType> parsed;
  parsed.reserve(offers.size());
  for (std::string_view offer : offers) {
    try {
      parsed.push_back(parse_media_type(offer));
    } catch (const Error& e) {
      throw Error(ErrorCode::Internal, std::string("offered ") + e.what());
    }
  }
  return negotiate(parse_accept(accept_header), parsed);
}

std::optional<Negotiated> negotiate(std::string_view accept_header, std::initializer_list<std::string_view> offers) {
  return negotiate(accept_header, std::span<const std::string_view>(offers.begin(), offers.size()));
}

}  // namespace pacsnode::http
