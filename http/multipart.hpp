#pragma once
// multipart/related bodies (RFC 2046 §5.1, RFC 2387) as STOW-RS receives and WADO-RS sends
// them. The parser is streamed: it is fed the body in chunks of any size and hands each
// part's data on as it comes, holding back only the few bytes that might begin a delimiter
// (at most the boundary's length + 4), so memory stays bounded however large a part is.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pacsnode::http {

// A part's header fields in the order written; names compared case-insensitively.
class PartHeaders {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  PartHeaders() = default;
  explicit PartHeaders(Fields fields) : fields_(std::move(fields)) {}

  // The first field called `name`, its value trimmed of surrounding whitespace.
  std::optional<std::string_view> get(std::string_view name) const;
  std::optional<std::string_view> content_type() const { return get("Content-Type"); }
  std::optional<std::string_view> content_location() const { return get("Content-Location"); }
  // The Content-Length field's value; nullopt when absent (the parser has already refused a
  // malformed one).
  std::optional<std::uint64_t> content_length() const;
  const Fields& fields() const { return fields_; }

 private:
  Fields fields_;
};

// The `boundary` parameter of a multipart Content-Type. Throws Error(InvalidArgument) when
// the type is not multipart/*, the parameter is missing, or the boundary is empty, longer
// than kMaxBoundary or ends in a space. RFC 2046 §5.1.1 says at most 70 characters of a
// small set; clients stray from both (Orthanc 1.10's STOW-RS client writes 73) and nothing
// here depends on them, so neither is enforced beyond a sanity limit.
inline constexpr std::size_t kMaxBoundary = 200;
std::string multipart_boundary(std::string_view content_type);

struct MultipartLimits {
  std::size_t max_header_bytes = 16 * 1024;  // one part's header block
  std::size_t max_parts = 100'000;
};

// How a body ended, from MultipartParser::finish().
struct MultipartEnd {
  bool closed = false;          // the close delimiter "--boundary--" was seen
  bool part_cut = false;        // a part began and its delimiter never came: discard it
  std::size_t parts = 0;        // parts that ended with a delimiter
};

class MultipartParser {
 public:
  struct Callbacks {
    // A part's header block has been read; its data follows.
    std::function<void(const PartHeaders&)> on_part_begin;
    // The next piece of the current part's data (any size, possibly tiny). The span is
    // valid only during the call.
    std::function<void(std::span<const char>)> on_part_data;
    // The current part's delimiter was seen: its data is complete.
    std::function<void()> on_part_end;
  };

  MultipartParser(std::string boundary, Callbacks callbacks, MultipartLimits limits = {});

  // Parses the next piece of the body, calling back as parts begin, carry data and end.
  // Throws Error(InvalidArgument) on a malformed body: a delimiter line followed by other
  // text than padding and CRLF, a header line without ':', a header block larger than the
  // limit, a bad Content-Length or one the data disagrees with, more parts than the limit.
  // After a throw (its own or a callback's) the parser is failed and every call throws.
  // Data after the close delimiter (the epilogue) is ignored.
  void feed(std::span<const char> chunk);
  void feed(std::string_view chunk) { feed(std::span<const char>(chunk.data(), chunk.size())); }
  void feed(const std::string& chunk) { feed(std::string_view(chunk)); }

  // The body is over: reports whether it was complete. A body that ends before the close
  // delimiter has closed = false; part_cut says a part was begun and never ended (no
  // on_part_end was called for it), so that the caller can throw away what it got of it.
  MultipartEnd finish();

  // Bytes the parser holds between feeds: the held-back delimiter candidate and a partly
  // read header block (bounded by the boundary's length + 4 and max_header_bytes).
  std::size_t buffered() const { return candidate_.size() + header_block_.size(); }

 private:
  enum class State { Preamble, AfterDelimiter, Padding, Dash, LineFeed, Headers, Data, Epilogue, Failed };

  void run(std::span<const char> chunk);
  std::size_t scan(std::span<const char> chunk, std::size_t at, bool emit);
  std::size_t read_headers(std::span<const char> chunk, std::size_t at);
  void delimiter_found();
  void begin_part();
  void emit(std::span<const char> data);

  std::string delimiter_;  // "\n--" + boundary; a CR before it belongs to it too
  Callbacks callbacks_;
  MultipartLimits limits_;
  State state_ = State::Preamble;
  std::string candidate_;  // held back: what may be the start of a delimiter ("\r", "\r\n--bo")
  bool virtual_lf_ = false;  // candidate_'s "\n" was not in the body (its start, after headers)
  std::string header_block_;
  std::size_t line_start_ = 0;  // in header_block_
  bool in_part_ = false;
  std::optional<std::uint64_t> expected_length_;
  std::uint64_t part_bytes_ = 0;
  std::size_t parts_ = 0;
};

// What precedes a part's data in a body we write: the delimiter line and the part's header
// block ("--B\r\nContent-Type: ...\r\n<extra>\r\n\r\n"). For every part but the first it
// starts with the CRLF that ends the previous part's data; the first part has none, so that
// the body starts with "--B" (what naive readers such as dicomweb-client's expect).
std::string part_header(std::string_view boundary, std::string_view content_type,
                        const PartHeaders::Fields& extra = {}, bool first_part = false);
// What ends a body: "\r\n--B--\r\n" (the CRLF ends the last part's data).
std::string close_delimiter(std::string_view boundary);
// A fresh random boundary (32 hex digits after a fixed prefix, 128 bits from the OS):
// RFC 2046-safe characters, and it will not occur in the data.
std::string make_boundary();

}  // namespace pacsnode::http
