#include "http/static_files.hpp"

#include <array>
#include <fstream>
#include <vector>

#include "base/error.hpp"
#include "net/blocking.hpp"

namespace pacsnode::http {
namespace {

std::string_view content_type_of(const std::filesystem::path& file) {
  static const std::array<std::pair<std::string_view, std::string_view>, 16> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".wasm", "application/wasm"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".onnx", "application/octet-stream"},
  }};
  const std::string extension = file.extension().string();
  for (const auto& [ext, type] : kTypes) {
    if (extension == ext) return type;
  }
  return "application/octet-stream";
}

struct FileStream {
  std::ifstream in;
  std::vector<char> buffer = std::vector<char>(256 * 1024);
  std::uint64_t size = 0;
};

}  // namespace

std::optional<std::filesystem::path> file_under(const std::filesystem::path& root, std::string_view path) {
  std::filesystem::path relative;
  std::size_t start = 0;
  while (start < path.size()) {
    const auto slash = path.find('/', start);
    const std::string_view segment = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment == ".." || segment.find('\0') != std::string_view::npos || segment.find('\\') != std::string_view::npos) {
      return std::nullopt;
    }
    if (!segment.empty() && segment != ".") relative /= std::string(segment);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (relative.empty()) return std::nullopt;
  std::error_code ec;
  const auto file = root / relative;
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  return file;
}

asio::awaitable<void> serve_static(Context& context, Exchange& exchange, const StaticSite& site, std::string_view path,
                                   std::optional<std::filesystem::path> file) {
  if (exchange.method() != "GET" && exchange.method() != "HEAD") {
    throw HttpError{405, std::string(exchange.method()) + " is not allowed on " + site.name + "'s files",
                    Headers{{"Allow", "GET, HEAD"}}};
  }
  bool spa = false;
  if (!file) file = file_under(site.root, path);
  if (!file) {
    // A route of the application (no extension in its last segment): its index.html.
    const auto last = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos) throw HttpError{404, site.name + " has no file " + exchange.path()};
    file = site.root / "index.html";
    spa = true;
  }
  FileStream stream;
  bool opened = false;
  const std::filesystem::path& name = *file;
  co_await net::run_blocking(context.workers, [&stream, &name, &opened]() {
    std::error_code ec;
    stream.size = std::filesystem::file_size(name, ec);
    if (ec) return;
    stream.in.open(name, std::ios::binary);
    opened = static_cast<bool>(stream.in);
  });
  if (!opened) {
    if (spa) throw HttpError{500, site.name + "'s index.html is missing from " + site.root.string() + " " + site.missing_hint};
    throw HttpError{404, site.name + " has no file " + exchange.path()};
  }
  // Bundles have content hashes in their names: cached for good. The rest is checked
  // every time, so that a new version shows at once.
  const bool hashed = name.filename().string().find(".bundle.") != std::string::npos || name.extension() == ".wasm";
  Headers extra{{"Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache"},
                {"X-Content-Type-Options", "nosniff"}};
  extra.insert(extra.end(), site.headers.begin(), site.headers.end());
  co_await exchange.begin(200, content_type_of(name), stream.size, extra);
  std::uint64_t sent = 0;
  while (sent < stream.size && exchange.method() != "HEAD") {
    std::size_t n = 0;
    co_await net::run_blocking(context.workers, [&stream, &n]() {
      stream.in.read(stream.buffer.data(), static_cast<std::streamsize>(stream.buffer.size()));
      n = static_cast<std::size_t>(stream.in.gcount());
    });
    if (n == 0) throw Error(ErrorCode::Internal, name.string() + " ended before its size");
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, stream.size - sent));
    co_await exchange.write(std::span<const char>(stream.buffer.data(), n));
    sent += n;
  }
  co_await exchange.end();
}

}  // namespace pacsnode::http
