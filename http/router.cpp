#include <string_view>

#include "http/handlers.hpp"

namespace pacsnode::http {
namespace {

constexpr std::uint32_t kStudyInstanceUid = 0x0020000D;
constexpr std::uint32_t kSeriesInstanceUid = 0x0020000E;

std::vector<std::string> segments_of(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    const auto slash = path.find('/');
    if (!path.empty()) out.emplace_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return out;
}

asio::awaitable<void> dicomweb(Context& context, Exchange& exchange, const std::vector<std::string>& s) {
  const bool get = exchange.method() == "GET" || exchange.method() == "HEAD";
  using L = db::QueryLevel;
  using Uids = std::vector<std::pair<std::uint32_t, std::string>>;
  const Uids none;
  const std::size_t n = s.size();
  if (get && n == 2 && s[1] == "studies") {
    co_await handle_qido(context, exchange, L::Study, none);
    co_return;
  }
  if (get && n == 2 && s[1] == "series") {
    co_await handle_qido(context, exchange, L::Series, none);
    co_return;
  }
  if (get && n == 2 && s[1] == "instances") {
    co_await handle_qido(context, exchange, L::Image, none);
    co_return;
  }
  if (get && n == 4 && s[1] == "studies" && s[3] == "series") {
    const Uids uids{{kStudyInstanceUid, s[2]}};
    co_await handle_qido(context, exchange, L::Series, uids);
    co_return;
  }
  if (get && n == 4 && s[1] == "studies" && s[3] == "instances") {
    const Uids uids{{kStudyInstanceUid, s[2]}};
    co_await handle_qido(context, exchange, L::Image, uids);
    co_return;
  }
  if (get && n == 6 && s[1] == "studies" && s[3] == "series" && s[5] == "instances") {
    const Uids uids{{kStudyInstanceUid, s[2]}, {kSeriesInstanceUid, s[4]}};
    co_await handle_qido(context, exchange, L::Image, uids);
    co_return;
  }
  // STOW-RS
  if (exchange.method() == "POST" && (n == 2 || n == 3) && s[1] == "studies") {
    // A named string, not a temporary in the co_await (GCC 12 miscompiles that).
    std::string study;
    if (n == 3) study = s[2];
    co_await handle_stow(context, exchange, study);
    co_return;
  }
  // WADO-RS
  if (get && n >= 3 && s[1] == "studies" && n <= 10) {
    WadoTarget target;
    target.study = s[2];
    std::size_t at = 3;
    if (n >= 5 && s[3] == "series") {
      target.series = s[4];
      at = 5;
      if (n >= 7 && s[5] == "instances") {
        target.instance = s[6];
        at = 7;
      }
    }
    const std::size_t rest = n - at;
    if (rest == 0) {
      co_await handle_wado_retrieve(context, exchange, target);
      co_return;
    }
    if (rest == 1 && s[at] == "metadata") {
      co_await handle_wado_metadata(context, exchange, target);
      co_return;
    }
    if (rest == 1 && s[at] == "thumbnail") {
      co_await handle_wado_rendered(context, exchange, target, 1, true);
      co_return;
    }
    if (rest == 1 && s[at] == "rendered" && !target.instance.empty()) {
      co_await handle_wado_rendered(context, exchange, target, 1, false);
      co_return;
    }
    if (rest == 3 && !target.instance.empty() && s[at] == "frames" && (s[at + 2] == "rendered" || s[at + 2] == "thumbnail")) {
      const auto& number = s[at + 1];
      if (number.empty() || number.size() > 9 || number.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(number) == 0) {
        throw HttpError{400, "\"" + number + "\" is not a frame number"};
      }
      co_await handle_wado_rendered(context, exchange, target, static_cast<std::uint32_t>(std::stoul(number)),
                                    s[at + 2] == "thumbnail");
      co_return;
    }
    if (rest == 2 && !target.instance.empty() && s[at] == "frames") {
      co_await handle_wado_frames(context, exchange, target, s[at + 1]);
      co_return;
    }
    if (rest == 2 && !target.instance.empty() && s[at] == "bulk") {
      co_await handle_wado_bulk(context, exchange, target, s[at + 1]);
      co_return;
    }
  }
  throw HttpError{404, "no DICOMweb resource " + std::string(exchange.method()) + " " + exchange.path()};
}

}  // namespace

std::string_view handler_label(std::string_view method, const std::string& path) {
  const auto s = segments_of(path);
  if (s.empty()) return "viewer";
  if (s[0] == "metrics") return "metrics";
  if (s[0] == "api") return "api";
  if (s[0] == "ui") return "ui";
  if (s[0] != "dicom-web") return "viewer";
  if (method == "POST") return "stow";
  const std::size_t n = s.size();
  if (n <= 2 || (n == 4 && (s[3] == "series" || s[3] == "instances")) || (n == 6 && s[5] == "instances")) {
    return "qido";
  }
  return "wado";
}

asio::awaitable<void> handle_request(Context& context, Exchange& exchange) {
  const auto s = segments_of(exchange.path());
  if (s.size() == 1 && s[0] == "metrics") {
    co_await handle_metrics(context, exchange);
    co_return;
  }
  if (!s.empty() && s[0] == "dicom-web") {
    co_await dicomweb(context, exchange, s);
    co_return;
  }
  if (!s.empty() && s[0] == "api") {
    co_await handle_api(context, exchange, s);
    co_return;
  }
  if (!s.empty() && s[0] == "ui") {
    co_await handle_ui(context, exchange);
    co_return;
  }
  if (s.empty() || (s[0] != "api" && s[0] != "metrics" && s[0] != "ui")) {
    co_await handle_viewer(context, exchange);
    co_return;
  }
  throw HttpError{404, "nothing at " + exchange.path()};
}

}  // namespace pacsnode::http
