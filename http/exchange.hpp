#pragma once
// One HTTP request and its response, as the handlers see it: the request's method, path,
// query and headers; the body read in pieces (bounded memory however large it is); the
// response sent whole or streamed (Content-Length when known, chunked otherwise). Every
// response carries the CORS headers. Beast stays inside http/connection.cpp.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/asio.hpp"

namespace pacsnode::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Query parameters in order, names and values percent-decoded ('+' is a space).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Percent-decodes `text` ('+' → ' ' when `plus_is_space`); nullopt for a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// Splits a request target into its decoded path and query. Throws Error(InvalidArgument).
std::pair<std::string, QueryParams> split_target(std::string_view target);

// An error a handler throws to answer with `status` and a JSON body
// {"error": reason, "status": status}; the connection turns it into the response.
struct HttpError {
  HttpError(unsigned s, std::string r, Headers h = {}) : status(s), reason(std::move(r)), headers(std::move(h)) {}
  unsigned status;
  std::string reason;
  Headers headers;
};

// A piece of a response body for Exchange::send_segments: `bytes`, or when `file` is set
// the first `length` bytes of that file.
struct BodySegment {
  std::string bytes;
  std::filesystem::path file;
  std::uint64_t length = 0;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual std::string_view method() const = 0;  // "GET", "POST", ...
  virtual const std::string& path() const = 0;  // decoded, without the query
  virtual const QueryParams& query() const = 0;
  // A request header (case-insensitive name); nullopt when absent.
  virtual std::optional<std::string> header(std::string_view name) const = 0;
  virtual const std::string& remote_address() const = 0;
  virtual const std::string& user() const = 0;  // the authenticated user; "" without users

  // The next piece of the body into `into`: its size, 0 at the end of the body. Throws
  // HttpError(413) past the body limit, Error(Protocol) when the client cut the body off.
  virtual asio::awaitable<std::size_t> read_body(std::span<char> into) = 0;
  // The whole body, at most `limit` bytes (else HttpError(413)).
  asio::awaitable<std::string> read_all(std::size_t limit);

  // A whole response.
  virtual asio::awaitable<void> reply(unsigned status, std::string_view content_type, std::string body,
                                      const Headers& extra = {}) = 0;
  // A streamed response: the header now (Content-Length when `length` is given, chunked
  // otherwise), then write() the body, then end().
  virtual asio::awaitable<void> begin(unsigned status, std::string_view content_type,
                                      std::optional<std::uint64_t> length, const Headers& extra = {}) = 0;
  virtual asio::awaitable<void> write(std::span<const char> bytes) = 0;
  virtual asio::awaitable<void> end() = 0;
  // In a streamed response with a Content-Length: the segments in order — bytes, or the
  // first `length` bytes of a file sent by the kernel (sendfile: no copy through our
  // memory). The copying runs on `workers` as far as the socket takes it each time (a file
  // not in the page cache must not stall the connections' thread), the waits for the client
  // here. Throws Error(Unavailable) when the client goes away or stalls past the idle
  // timeout, Error(Internal) when a file cannot be read or is shorter than its length.
  virtual asio::awaitable<void> send_segments(const std::vector<BodySegment>& segments, asio::thread_pool& workers) = 0;
  virtual bool started() const = 0;  // a response (or its header) went out

  // {"error": reason, "status": status} with the status.
  asio::awaitable<void> reply_error(unsigned status, std::string_view reason, const Headers& extra = {});
};

}  // namespace pacsnode::http
