#pragma once
// Static files over HTTP, shared by the bundled OHIF viewer (http/viewer.cpp) and the web UI
// (http/ui.cpp): GET and HEAD only, a content type from the extension, bounded streaming
// from a worker, and a single-page application's fallback to its index.html.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "http/context.hpp"
#include "http/exchange.hpp"

namespace pacsnode::http {

struct StaticSite {
  std::filesystem::path root;  // the files
  std::string name;            // for errors: "the viewer", "the web UI"
  std::string missing_hint;    // appended when index.html is missing: "(run scripts/viewer)"
  Headers headers;             // sent with every file (isolation, security policy)
};

// The file under `root` that the slash-separated `path` names, or nullopt when it names
// none (or tries to leave the root).
std::optional<std::filesystem::path> file_under(const std::filesystem::path& root, std::string_view path);

// Answers `path` (relative to site.root) with its file; a path whose last segment has no
// extension is a route of the application: site.root/index.html. `file`, when given, is
// served in place of a lookup. 404 for a missing file, 405 (with Allow) unless GET or HEAD.
asio::awaitable<void> serve_static(Context& context, Exchange& exchange, const StaticSite& site, std::string_view path,
                                   std::optional<std::filesystem::path> file = std::nullopt);

}  // namespace pacsnode::http
