#include "http/server.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <array>
#include <optional>
#include <cctype>

#include "base/error.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "base/node_metrics.hpp"
#include "base/password.hpp"
#include "net/blocking.hpp"
#include "net/listen.hpp"

namespace pacsnode::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kCorsHeaders[][2] = {
    {"Access-Control-Allow-Origin", "*"},
    {"Access-Control-Expose-Headers", "Content-Type, Content-Length, Warning, Location"},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string base64_decode(std::string_view in) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) return {};
    value = (value << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((value >> bits) & 0xFF));
    }
  }
  return out;
}

// Writes body segments to a non-blocking socket until they are all out or the socket is
// full (error = EAGAIN); run() again once it is writable. Runs on a worker thread.
struct SegmentSender {
  const std::vector<BodySegment>& segments;
  int socket;
  std::size_t index = 0;   // the segment being sent
  off_t offset = 0;        // within it
  int fd = -1;             // its file, once opened
  int error = 0;
  std::string failure;     // a file that cannot be read: the response must be cut

  SegmentSender(const std::vector<BodySegment>& s, int sock) : segments(s), socket(sock) {}
  ~SegmentSender() {
    if (fd >= 0) ::close(fd);
  }
  bool done() const { return index == segments.size(); }

  void next() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    offset = 0;
    ++index;
  }

  void run() {
    error = 0;
    while (!done()) {
      const BodySegment& segment = segments[index];
      if (segment.file.empty()) {
        const auto left = segment.bytes.size() - static_cast<std::size_t>(offset);
        if (left == 0) {
          next();
          continue;
        }
        const ssize_t n = ::send(socket, segment.bytes.data() + offset, left, MSG_NOSIGNAL);
        if (n > 0) {
          offset += n;
          continue;
        }
        if (errno == EINTR) continue;
        error = errno;
        return;
      }
      const auto end = static_cast<off_t>(segment.length);
      if (offset >= end) {
        next();
        continue;
      }
      if (fd < 0) {
        fd = ::open(segment.file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          failure = "cannot open " + segment.file.string() + ": " + std::strerror(errno);
          return;
        }
      }
      const ssize_t n = ::sendfile(socket, fd, &offset, static_cast<std::size_t>(std::min<off_t>(end - offset, 1 << 24)));
      if (n > 0) continue;
      if (n == 0) {
        failure = segment.file.string() + " is shorter than its " + std::to_string(segment.length) + " bytes";
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EPIPE && errno != ECONNRESET) {
        failure = "cannot send " + segment.file.string() + ": " + std::strerror(errno);
        return;
      }
      error = errno;
      return;
    }
  }
};

class Connection final : public Exchange {
 public:
  Connection(tcp::socket socket, const ServerSettings& settings, const Server::Handler& handler)
      : stream_(std::move(socket)), settings_(settings), handler_(handler) {
    boost::system::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : endpoint.address().to_string();
  }

  asio::awaitable<void> run() {
    for (;;) {
      parser_.emplace();
      parser_->header_limit(16 * 1024);
      parser_->body_limit(settings_.max_body_bytes);
      started_ = false;
      continued_ = false;
      keep_alive_ = true;
      boost::system::error_code ec;
      stream_.expires_after(settings_.idle_timeout);
      co_await bhttp::async_read_header(stream_, buffer_, *parser_, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout) break;
      if (ec) {
        // Whatever the client sent that is not HTTP/1.x gets an answer saying so, then the
        // connection is closed; a reset connection gets nothing.
        if (ec.category() == bhttp::make_error_code(bhttp::error::header_limit).category()) {
          keep_alive_ = false;
          if (ec == bhttp::error::body_limit) {
            // Content-Length says more than the limit: refused before a byte of it is read.
            log::warn("http {}: request body refused: Content-Length over http.max_body_mb", remote_);
            co_await reply_error(413, "the request body is larger than http.max_body_mb = " +
                                          std::to_string(settings_.max_body_bytes >> 20) + " MiB");
          } else {
            log::warn("http {}: bad request: {}", remote_, ec.message());
            co_await reply_error(ec == bhttp::error::header_limit ? 431 : 400, "bad request: " + ec.message());
          }
        } else {
          log::debug("http {}: connection ended while reading a request: {}", remote_, ec.message());
        }
        break;
      }
      auto& request = parser_->get();
      keep_alive_ = request.keep_alive();
      method_ = std::string(request.method_string());
      std::string bad_target;
      try {
        auto [path, query] = split_target(std::string_view(request.target().data(), request.target().size()));
        path_ = std::move(path);
        query_ = std::move(query);
      } catch (const std::exception& e) {
        bad_target = e.what();
      }
      if (!bad_target.empty()) {
        keep_alive_ = false;
        co_await reply_error(400, bad_target);
      } else {
        co_await serve_one();
      }
      if (!keep_alive_) break;
      // A body the handler did not read must be drained before the next request.
      if (!parser_->is_done()) {
        std::array<char, 8192> sink{};
        bool drained = true;
        try {
          while (co_await read_body(sink) > 0) {
          }
        } catch (...) {
          drained = false;
        }
        if (!drained) break;
      }
    }
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  // Exchange
  std::string_view method() const override { return method_; }
  const std::string& path() const override { return path_; }
  const QueryParams& query() const override { return query_; }
  std::optional<std::string> header(std::string_view name) const override {
    const auto& fields = parser_->get();
    const auto found = fields.find(beast::string_view(name.data(), name.size()));
    if (found == fields.end()) return std::nullopt;
    return std::string(found->value());
  }
  const std::string& remote_address() const override { return remote_; }
  const std::string& user() const override { return user_; }

  asio::awaitable<std::size_t> read_body(std::span<char> into) override {
    if (parser_->is_done() || into.empty()) co_return 0;
    if (!continued_) {
      // A client that waits for "100 Continue" before sending its body (curl does for
      // large ones) gets it once the handler starts reading.
      continued_ = true;
      if (const auto length = parser_->content_length(); length && *length > settings_.max_body_bytes) {
        keep_alive_ = false;
        throw HttpError{413, "the request body (Content-Length " + std::to_string(*length) +
                                 ") is larger than http.max_body_mb = " + std::to_string(settings_.max_body_bytes >> 20) +
                                 " MiB"};
      }
      const auto expect = header("Expect");
      if (expect && iequals(*expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(settings_.idle_timeout);
        co_await asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()), asio::use_awaitable);
      }
    }
    auto& body = parser_->get().body();
    body.data = into.data();
    body.size = into.size();
    boost::system::error_code ec;
    stream_.expires_after(settings_.idle_timeout);
    co_await bhttp::async_read_some(stream_, buffer_, *parser_, asio::redirect_error(asio::use_awaitable, ec));
    const std::size_t got = into.size() - body.size;
    body.data = nullptr;
    body.size = 0;
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      throw HttpError{413, "the request body is larger than http.max_body_mb = " +
                               std::to_string(settings_.max_body_bytes >> 20) + " MiB"};
    }
    if (ec) {
      keep_alive_ = false;
      throw Error(ErrorCode::Protocol, "the request body was cut off: " + ec.message());
    }
    if (got == 0 && !parser_->is_done()) co_return co_await read_body(into);
    co_return got;
  }

  asio::awaitable<void> reply(unsigned status, std::string_view content_type, std::string body,
                              const Headers& extra) override {
    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(status), 11};
    common_headers(response, extra);
    if (!content_type.empty()) response.set(bhttp::field::content_type, beast::string_view(content_type.data(), content_type.size()));
    response.body() = std::move(body);
    response.prepare_payload();
    started_ = true;
    status_ = status;
    stream_.expires_after(settings_.idle_timeout);
    if (method_ == "HEAD") {
      // The header a GET would have had, without the body.
      bhttp::response_serializer<bhttp::string_body> header_only{response};
      co_await bhttp::async_write_header(stream_, header_only, asio::use_awaitable);
      co_return;
    }
    co_await bhttp::async_write(stream_, response, asio::use_awaitable);
  }

  asio::awaitable<void> begin(unsigned status, std::string_view content_type, std::optional<std::uint64_t> length,
                              const Headers& extra) override {
    streaming_.emplace(static_cast<bhttp::status>(status), 11);
    auto& response = *streaming_;
    common_headers(response, extra);
    response.set(bhttp::field::content_type, beast::string_view(content_type.data(), content_type.size()));
    if (length) {
      response.content_length(*length);
    } else {
      response.chunked(true);
    }
    response.body().data = nullptr;
    response.body().more = true;
    serializer_.emplace(response);
    started_ = true;
    status_ = status;
    stream_.expires_after(settings_.idle_timeout);
    co_await bhttp::async_write_header(stream_, *serializer_, asio::use_awaitable);
  }

  asio::awaitable<void> write(std::span<const char> bytes) override {
    if (bytes.empty() || method_ == "HEAD") co_return;
    auto& body = streaming_->body();
    body.data = const_cast<char*>(bytes.data());
    body.size = bytes.size();
    body.more = true;
    boost::system::error_code ec;
    stream_.expires_after(settings_.idle_timeout);
    co_await bhttp::async_write(stream_, *serializer_, asio::redirect_error(asio::use_awaitable, ec));
    if (ec && ec != bhttp::error::need_buffer) {
      keep_alive_ = false;
      throw Error(ErrorCode::Unavailable, "the client went away: " + ec.message());
    }
  }

  asio::awaitable<void> end() override {
    if (method_ == "HEAD") {
      serializer_.reset();
      streaming_.reset();
      co_return;
    }
    auto& body = streaming_->body();
    body.data = nullptr;
    body.size = 0;
    body.more = false;
    boost::system::error_code ec;
    stream_.expires_after(settings_.idle_timeout);
    co_await bhttp::async_write(stream_, *serializer_, asio::redirect_error(asio::use_awaitable, ec));
    serializer_.reset();
    streaming_.reset();
    if (ec) {
      keep_alive_ = false;
      throw Error(ErrorCode::Unavailable, "the client went away: " + ec.message());
    }
  }

  asio::awaitable<void> send_segments(const std::vector<BodySegment>& segments, asio::thread_pool& workers) override {
    if (method_ == "HEAD") co_return;
    auto& socket = stream_.socket();
    boost::system::error_code ec;
    socket.native_non_blocking(true, ec);
    SegmentSender sender{segments, socket.native_handle()};
    for (;;) {
      co_await net::run_blocking(workers, [&sender]() {
        sender.run();
        return 0;
      });
      if (!sender.failure.empty()) throw Error(ErrorCode::Internal, sender.failure);
      if (sender.done()) co_return;
      if (sender.error != EAGAIN && sender.error != EWOULDBLOCK) {
        keep_alive_ = false;
        throw Error(ErrorCode::Unavailable, std::string("the client went away: ") + std::strerror(sender.error));
      }
      // The socket is full: wait until the client reads, at most the idle timeout.
      asio::steady_timer deadline(socket.get_executor());
      deadline.expires_after(settings_.idle_timeout);
      bool expired = false;
      deadline.async_wait([&socket, &expired](const boost::system::error_code& e) {
        if (e) return;
        expired = true;
        boost::system::error_code ignored;
        socket.cancel(ignored);
      });
      co_await socket.async_wait(tcp::socket::wait_write, asio::redirect_error(asio::use_awaitable, ec));
      deadline.cancel();
      if (ec || expired) {
        keep_alive_ = false;
        throw Error(ErrorCode::Unavailable, expired ? "the client stopped reading" : "the client went away: " + ec.message());
      }
    }
  }

  bool started() const override { return started_; }

 private:
  template <typename Response>
  void common_headers(Response& response, const Headers& extra) {
    response.set(bhttp::field::server, "pacsnode");
    for (const auto& h : kCorsHeaders) {
      response.set(beast::string_view(h[0].data(), h[0].size()), beast::string_view(h[1].data(), h[1].size()));
    }
    for (const auto& [name, value] : extra) response.set(name, value);
    response.keep_alive(keep_alive_);
  }

  // Checks credentials; false when the request was answered (401).
  asio::awaitable<bool> authenticate() {
    if (settings_.users.empty()) co_return true;
    const auto authorization = header("Authorization");
    std::string reason = "no credentials";
    if (authorization && authorization->size() > 6 && iequals(authorization->substr(0, 6), "Basic ")) {
      const std::string decoded = base64_decode(std::string_view(*authorization).substr(6));
      const auto colon = decoded.find(':');
      reason = "malformed Basic credentials";
      if (colon != std::string::npos) {
        const std::string name = decoded.substr(0, colon);
        const std::string password = decoded.substr(colon + 1);
        reason = "unknown user \"" + name + "\"";
        for (const auto& u : settings_.users) {
          if (u.username != name) continue;
          if (verify_password(u.password_hash, password)) {
            user_ = name;
            co_return true;
          }
          reason = "wrong password for user \"" + name + "\"";
        }
      }
    } else if (authorization) {
      reason = "unsupported authorization scheme";
    }
    log::warn("http {}: {} {}: 401 ({})", remote_, method_, path_, reason);
    const Headers challenge{{"WWW-Authenticate", "Basic realm=\"pacsnode\", charset=\"UTF-8\""}};
    co_await reply_error(401, "authentication required", challenge);
    co_return false;
  }

  // One request, counted in pacsnode_http_requests_total and timed (a request whose client
  // went away mid-answer is not).
  asio::awaitable<void> serve_one() {
    const auto begun = std::chrono::steady_clock::now();
    status_ = 0;
    co_await serve_request();
    const std::string_view handler = settings_.classify ? settings_.classify(method_, path_) : "other";
    auto& m = metrics::node_metrics();
    m.http_requests_total.with({std::string(handler), std::string(metrics::status_class(status_))}).inc();
    m.http_request_duration_seconds.with({std::string(handler)})
        .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count());
  }

  asio::awaitable<void> serve_request() {
    const auto begun = std::chrono::steady_clock::now();
    if (method_ == "OPTIONS") {
      // CORS preflight: allowed without credentials (browsers send none).
      const Headers preflight{{"Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS"},
                              {"Access-Control-Allow-Headers",
                               header("Access-Control-Request-Headers").value_or("Accept, Content-Type, Authorization")},
                              {"Access-Control-Max-Age", "86400"}};
      co_await reply(204, "", "", preflight);
      co_return;
    }
    if (!co_await authenticate()) co_return;
    std::optional<HttpError> failure;
    try {
      co_await handler_(*this);
    } catch (const HttpError& e) {
      failure = e;
    } catch (const Error& e) {
      switch (e.code()) {
        case ErrorCode::InvalidArgument: failure = HttpError{400, e.what()}; break;
        case ErrorCode::NotFound: failure = HttpError{404, e.what()}; break;
        case ErrorCode::Unavailable: failure = HttpError{503, e.what()}; break;
        case ErrorCode::OutOfResources: failure = HttpError{507, e.what()}; break;
        case ErrorCode::Protocol: failure = HttpError{400, e.what()}; break;
        default: failure = HttpError{500, e.what()}; break;
      }
    } catch (const std::exception& e) {
      failure = HttpError{500, e.what()};
    }
    if (failure) {
      if (failure->status >= 500) {
        log::error("http {}: {} {}: {} {}", remote_, method_, path_, failure->status, failure->reason);
      } else {
        log::info("http {}: {} {}: {} {}", remote_, method_, path_, failure->status, failure->reason);
      }
      if (started_) {
        // The header went out: the only way to say it failed is to cut the connection.
        keep_alive_ = false;
        co_return;
      }
      co_await reply_error(failure->status, failure->reason, failure->headers);
    }
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begun).count();
    log::debug("http {}: {} {} in {:.1f} ms", remote_, method_, path_, ms);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const ServerSettings& settings_;
  const Server::Handler& handler_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::optional<bhttp::response<bhttp::buffer_body>> streaming_;
  std::optional<bhttp::response_serializer<bhttp::buffer_body>> serializer_;
  std::string remote_, method_, path_, user_;
  QueryParams query_;
  bool started_ = false;
  bool continued_ = false;  // "100 Continue" was considered for this request
  unsigned status_ = 0;
  bool keep_alive_ = true;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::pair<std::string, QueryParams> split_target(std::string_view target) {
  const auto question = target.find('?');
  const auto raw_path = target.substr(0, question);
  auto path = percent_decode(raw_path, false);
  if (!path || path->empty() || path->front() != '/') {
    throw Error(ErrorCode::InvalidArgument, "bad request target \"" + std::string(target.substr(0, 200)) + "\"");
  }
  QueryParams params;
  if (question != std::string_view::npos) {
    std::string_view rest = target.substr(question + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      auto name = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!name || !value) {
        throw Error(ErrorCode::InvalidArgument, "bad percent-encoding in query parameter \"" + std::string(pair.substr(0, 100)) + "\"");
      }
      params.emplace_back(std::move(*name), std::move(*value));
    }
  }
  return {std::move(*path), std::move(params)};
}

asio::awaitable<std::string> Exchange::read_all(std::size_t limit) {
  std::string body;
  std::array<char, 65536> chunk{};
  for (;;) {
    const std::size_t n = co_await read_body(chunk);
    if (n == 0) break;
    if (body.size() + n > limit) throw HttpError{413, "the request body is larger than " + std::to_string(limit) + " bytes"};
    body.append(chunk.data(), n);
  }
  co_return body;
}

asio::awaitable<void> Exchange::reply_error(unsigned status, std::string_view reason, const Headers& extra) {
  std::string body = "{\"error\":";
  append_json_string(body, reason);
  body += ",\"status\":" + std::to_string(status) + "}\n";
  co_await reply(status, "application/json", std::move(body), extra);
}

bool is_loopback(const std::string& address) {
  if (address == "localhost") return true;
  boost::system::error_code ec;
  const auto parsed = asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

Server::Server(asio::io_context& io, ServerSettings settings, Handler handler)
    : io_(io),
      settings_(std::move(settings)),
      handler_(std::move(handler)),
      acceptor_(io),
      active_(std::make_shared<std::atomic<std::size_t>>(0)),
      refusing_(std::make_shared<std::atomic<std::size_t>>(0)) {
  if (settings_.users.empty() && !is_loopback(settings_.bind)) {
    throw Error(ErrorCode::Config, "http.bind = \"" + settings_.bind +
                                       "\" is not a loopback address and no [[http.users]] are configured: "
                                       "anyone on the network could read every study; add users or bind 127.0.0.1");
  }
}

Server::~Server() = default;

void Server::start() {
  net::listen(acceptor_, settings_.bind == "localhost" ? "127.0.0.1" : settings_.bind, settings_.port, "HTTP");
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

void Server::stop() {
  asio::post(io_, [this]() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::make_strand(io_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    if (active_->load() >= settings_.max_connections) {
      log::warn("http: {} connections open (http.max_connections): refusing one from {}", active_->load(),
                socket.remote_endpoint(ec).address().to_string());
      // A short answer without waiting (a client that does not read it loses only it).
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n"
          "Access-Control-Allow-Origin: *\r\nContent-Type: application/json\r\nContent-Length: 76\r\n\r\n"
          "{\"error\":\"too many connections (http.max_connections); retry\",\"status\":503}\n";
      socket.non_blocking(true, ec);
      socket.write_some(asio::buffer(kBusy.data(), kBusy.size()), ec);
      socket.shutdown(tcp::socket::shutdown_send, ec);
      // Closing with the client's request unread would reset the connection and lose the
      // answer: its bytes are read and dropped for at most a second (a few refusals at a
      // time; past that they are closed at once).
      if (refusing_->load() >= 32) {
        socket.close(ec);
        continue;
      }
      ++*refusing_;
      asio::co_spawn(socket.get_executor(), [s = std::move(socket), refusing = refusing_]() mutable -> asio::awaitable<void> {
        asio::steady_timer deadline(s.get_executor());
        deadline.expires_after(std::chrono::seconds(1));
        deadline.async_wait([&s](const boost::system::error_code& e) {
          boost::system::error_code ignored;
          if (!e) s.close(ignored);
        });
        std::array<char, 4096> sink{};
        for (;;) {
          boost::system::error_code e;
          co_await s.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, e));
          if (e) break;
        }
        deadline.cancel();
        boost::system::error_code ignored;
        s.close(ignored);
        --*refusing;
      }, asio::detached);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ++*active_;
    auto executor = socket.get_executor();
    auto connection = std::make_shared<Connection>(std::move(socket), settings_, handler_);
    asio::co_spawn(executor, [connection, active = active_]() -> asio::awaitable<void> {
      try {
        co_await connection->run();
      } catch (const std::exception& e) {
        log::debug("http {}: connection ended: {}", connection->remote_address(), e.what());
      }
      --*active;
    }, asio::detached);
  }
}

}  // namespace pacsnode::http
