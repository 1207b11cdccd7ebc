#include "http/multipart.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "base/error.hpp"
#include "http/media_type.hpp"

namespace pacsnode::http {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

[[noreturn]] void fail(const std::string& why) { throw Error(ErrorCode::InvalidArgument, "multipart body: " + why); }

void check_boundary(std::string_view boundary) {
  if (boundary.empty() || boundary.size() > kMaxBoundary)
    throw Error(ErrorCode::InvalidArgument, "multipart boundary must have 1 to " + std::to_string(kMaxBoundary) +
                                                " characters, not " + std::to_string(boundary.size()));
  for (char c : boundary)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
      throw Error(ErrorCode::InvalidArgument, "multipart boundary contains a control or non-ASCII character");
  if (boundary.back() == ' ') throw Error(ErrorCode::InvalidArgument, "multipart boundary ends with a space");
}

std::optional<std::uint64_t> parse_length(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

PartHeaders parse_header_block(std::string_view block) {
  PartHeaders::Fields fields;
  while (!block.empty()) {
    std::size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block.remove_prefix(nl == std::string_view::npos ? block.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      // An obsolete folded continuation line (RFC 5322 §2.2.3).
      if (fields.empty()) fail("a part's header block starts with a continuation line");
      fields.back().second += ' ';
      fields.back().second += trimmed(line);
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) fail("part header line without ':': \"" + std::string(line.substr(0, 80)) + "\"");
    std::string_view name = trimmed(line.substr(0, colon));
    if (name.empty()) fail("part header line with an empty name");
    fields.emplace_back(std::string(name), std::string(trimmed(line.substr(colon + 1))));
  }
  PartHeaders headers(std::move(fields));
  if (auto length = headers.get("Content-Length"); length && !parse_length(*length))
    fail("bad part Content-Length \"" + std::string(length->substr(0, 40)) + "\"");
  return headers;
}

}  // namespace

std::optional<std::string_view> PartHeaders::get(std::string_view name) const {
  for (const auto& [key, value] : fields_)
    if (iequals(key, name)) return trimmed(value);
  return std::nullopt;
}

std::optional<std::uint64_t> PartHeaders::content_length() const {
  auto text = get("Content-Length");
  return text ? parse_length(*text) : std::nullopt;
}

std::string multipart_boundary(std::string_view content_type) {
  MediaType type = parse_media_type(content_type);
  if (type.type != "multipart")
    throw Error(ErrorCode::InvalidArgument, "Content-Type " + type.essence() + " is not multipart");
  auto boundary = type.param("boundary");
  if (!boundary) throw Error(ErrorCode::InvalidArgument, "Content-Type " + type.essence() + " has no boundary parameter");
  check_boundary(*boundary);
  return *boundary;
}

MultipartParser::MultipartParser(std::string boundary, Callbacks callbacks, MultipartLimits limits)
    : callbacks_(std::move(callbacks)), limits_(limits) {
  check_boundary(boundary);
  delimiter_ = "\n--" + boundary;
  // The body may start with "--boundary": as if a line had ended just before it.
  candidate_.clear();
  candidate_.push_back('\n');
  virtual_lf_ = true;
}

void MultipartParser::feed(std::span<const char> chunk) {
  if (state_ == State::Failed) fail("fed after an earlier error");
  try {
    run(chunk);
  } catch (...) {
    state_ = State::Failed;
    throw;
  }
}

MultipartEnd MultipartParser::finish() { return MultipartEnd{state_ == State::Epilogue, in_part_, parts_}; }

void MultipartParser::run(std::span<const char> chunk) {
  std::size_t i = 0;
  while (i < chunk.size()) {
    switch (state_) {
      case State::Preamble:
        i = scan(chunk, i, false);
        break;
      case State::Data:
        i = scan(chunk, i, true);
        break;
      case State::Headers:
        i = read_headers(chunk, i);
        break;
      case State::Epilogue:
        return;
      case State::Failed:
        fail("fed after an earlier error");
      case State::AfterDelimiter:
      case State::Padding:
      case State::Dash:
      case State::LineFeed: {
        char c = chunk[i++];
        if (state_ == State::Dash) {
          if (c != '-') fail("\"--boundary-\" not followed by '-'");
          state_ = State::Epilogue;
        } else if (state_ == State::LineFeed) {
          if (c != '\n') fail("CR without LF after a boundary");
          state_ = State::Headers;
        } else if (c == '-' && state_ == State::AfterDelimiter) {
          state_ = State::Dash;
        } else if (c == ' ' || c == '\t') {
          state_ = State::Padding;
        } else if (c == '\r') {
          state_ = State::LineFeed;
        } else if (c == '\n') {
          state_ = State::Headers;
        } else {
          fail("text after a boundary on its line");
        }
        if (state_ == State::Headers) {
          header_block_.clear();
          line_start_ = 0;
        }
        break;
      }
    }
  }
}

// Looks for the delimiter from chunk[at]: data before it goes to on_part_data (when `emit`)
// or nowhere (the preamble). Returns where reading stopped: after a delimiter, or the end.
std::size_t MultipartParser::scan(std::span<const char> chunk, std::size_t at, bool emit_data) {
  std::size_t i = at;
  while (i < chunk.size()) {
    if (!candidate_.empty()) {
      // Continue the held-back candidate byte by byte. It is "\r" or "[\r]\n--boundary-prefix";
      // a boundary has no CR or LF, so when it stops matching no later start can hide in it.
      std::size_t offset = candidate_.front() == '\r' ? 1 : 0;
      std::size_t matched = candidate_.size() - offset;
      if (chunk[i] == delimiter_[matched]) {
        candidate_ += chunk[i++];
        if (matched + 1 == delimiter_.size()) {
          candidate_.clear();
          virtual_lf_ = false;
          delimiter_found();
          return i;
        }
      } else {
        if (emit_data) emit(std::span<const char>(candidate_).subspan(virtual_lf_ ? 1 : 0));
        candidate_.clear();
        virtual_lf_ = false;
      }
      continue;
    }
    const char* start = chunk.data() + i;
    const void* found = std::memchr(start, '\n', chunk.size() - i);
    if (!found) {
      std::size_t end = chunk.size();
      std::size_t data_end = chunk[end - 1] == '\r' ? end - 1 : end;
      if (emit_data) emit(chunk.subspan(i, data_end - i));
      candidate_.clear();
      candidate_.append(chunk.data() + data_end, end - data_end);
      return end;
    }
    std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(found) - chunk.data());
    std::size_t data_end = (lf > i && chunk[lf - 1] == '\r') ? lf - 1 : lf;
    if (emit_data) emit(chunk.subspan(i, data_end - i));
    candidate_.clear();
    candidate_.append(chunk.data() + data_end, lf + 1 - data_end);
    i = lf + 1;
  }
  return i;
}

std::size_t MultipartParser::read_headers(std::span<const char> chunk, std::size_t at) {
  std::size_t i = at;
  while (i < chunk.size()) {
    const void* found = std::memchr(chunk.data() + i, '\n', chunk.size() - i);
    std::size_t end = found ? static_cast<std::size_t>(static_cast<const char*>(found) - chunk.data()) + 1 : chunk.size();
    if (header_block_.size() + (end - i) > limits_.max_header_bytes)
      fail("a part's header block is larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
    header_block_.append(chunk.data() + i, end - i);
    i = end;
    if (!found) return i;
    std::string_view line = std::string_view(header_block_).substr(line_start_);
    if (line == "\n" || line == "\r\n") {
      begin_part();
      return i;
    }
    line_start_ = header_block_.size();
  }
  return i;
}

void MultipartParser::begin_part() {
  PartHeaders headers = parse_header_block(std::string_view(header_block_).substr(0, line_start_));
  header_block_.clear();
  line_start_ = 0;
  if (parts_ >= limits_.max_parts) fail("more than " + std::to_string(limits_.max_parts) + " parts");
  expected_length_ = headers.content_length();
  part_bytes_ = 0;
  in_part_ = true;
  state_ = State::Data;
  // A part without data may be followed by the delimiter at once: the header block's last
  // LF then doubles as the delimiter's.
  candidate_.clear();
  candidate_.push_back('\n');
  virtual_lf_ = true;
  if (callbacks_.on_part_begin) callbacks_.on_part_begin(headers);
}

void MultipartParser::delimiter_found() {
  if (state_ == State::Data) {
    if (expected_length_ && *expected_length_ != part_bytes_)
      fail("a part's Content-Length says " + std::to_string(*expected_length_) + " bytes, its data has " +
           std::to_string(part_bytes_));
    in_part_ = false;
    ++parts_;
    state_ = State::AfterDelimiter;
    if (callbacks_.on_part_end) callbacks_.on_part_end();
    return;
  }
  state_ = State::AfterDelimiter;
}

void MultipartParser::emit(std::span<const char> data) {
  if (data.empty()) return;
  part_bytes_ += data.size();
  if (callbacks_.on_part_data) callbacks_.on_part_data(data);
}

std::string part_header(std::string_view boundary, std::string_view content_type, const PartHeaders::Fields& extra,
                        bool first_part) {
  std::string out = first_part ? "--" : "\r\n--";
  out += boundary;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\n";
  for (const auto& [name, value] : extra) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string close_delimiter(std::string_view boundary) { return "\r\n--" + std::string(boundary) + "--\r\n"; }

std::string make_boundary() {
  std::random_device device;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "pacsnode-";
  for (int word = 0; word < 4; ++word) {
    std::uint32_t bits = device();
    for (int nibble = 0; nibble < 8; ++nibble) {
      out += hex[bits & 0xf];
      bits >>= 4;
    }
  }
  return out;
}

}  // namespace pacsnode::http
