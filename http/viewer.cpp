// The bundled OHIF viewer: its built files (scripts/viewer puts @ohif/app's dist/ into
// web/vendor/ohif/) served from [http] viewer, with our app-config.js in place of its own,
// and every path that is not a file (the viewer's own routes: /viewer, /local, ...) answered
// with index.html, as a single-page application needs.
#include <optional>

#include "http/handlers.hpp"
#include "http/static_files.hpp"

namespace pacsnode::http {

asio::awaitable<void> handle_viewer(Context& context, Exchange& exchange) {
  if (context.viewer_dir.empty()) throw HttpError{404, "nothing at " + exchange.path() + " (no viewer is configured: [http] viewer)"};
  // Cross-origin isolation lets the viewer use SharedArrayBuffer (its volume and MPR views).
  static const Headers kIsolation{{"Cross-Origin-Opener-Policy", "same-origin"},
                                  {"Cross-Origin-Embedder-Policy", "require-corp"},
                                  {"Cross-Origin-Resource-Policy", "same-origin"}};
  const StaticSite site{context.viewer_dir, "the viewer", "(run scripts/viewer)", kIsolation};
  const std::string& path = exchange.path();
  std::optional<std::filesystem::path> file;
  if (path == "/app-config.js" && !context.viewer_config.empty()) file = context.viewer_config;
  co_await serve_static(context, exchange, site, path, file);
}

}  // namespace pacsnode::http
