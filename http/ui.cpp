// The web UI: plain static files (web/ui/, [http] ui) under /ui/, over the JSON admin API.
// Every page's address without an extension (/ui/patients/PAT1, /ui/jobs) answers the UI's
// index.html, whose script renders the page the address names; /ui/vendor/uplot/ is the
// charting library scripts/viewer puts into web/vendor/uplot/, beside web/ui/.
#include <string_view>

#include "http/handlers.hpp"
#include "http/static_files.hpp"

namespace pacsnode::http {

asio::awaitable<void> handle_ui(Context& context, Exchange& exchange) {
  if (context.ui_dir.empty()) throw HttpError{404, "nothing at " + exchange.path() + " (no web UI is configured: [http] ui)"};
  // Only our own scripts, styles and API: nothing from elsewhere, and no inline script.
  static const Headers kPolicy{
      {"Content-Security-Policy",
       "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'self'"},
      {"Referrer-Policy", "same-origin"}};
  std::string_view path = exchange.path();
  path.remove_prefix(std::string_view("/ui").size());
  constexpr std::string_view kVendor = "/vendor/uplot/";
  if (path.substr(0, kVendor.size()) == kVendor) {
    const StaticSite vendor{context.ui_dir.parent_path() / "vendor" / "uplot", "the web UI", "", kPolicy};
    const auto file = file_under(vendor.root, path.substr(kVendor.size()));
    if (!file) throw HttpError{404, "the web UI has no file " + exchange.path() + " (scripts/viewer fetches uPlot)"};
    co_await serve_static(context, exchange, vendor, path, file);
    co_return;
  }
  const StaticSite site{context.ui_dir, "the web UI", "", kPolicy};
  co_await serve_static(context, exchange, site, path);
}

}  // namespace pacsnode::http
