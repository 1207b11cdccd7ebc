#pragma once
// The request handlers, one per resource family; http/router.cpp dispatches to them.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "db/find_query.hpp"
#include "http/context.hpp"
#include "http/exchange.hpp"

namespace pacsnode::http {

// Every request: DICOMweb under /dicom-web, the admin API under /api, the web UI under /ui,
// the viewer's files elsewhere.
asio::awaitable<void> handle_request(Context& context, Exchange& exchange);

// The JSON admin API under /api (`segments`: the path's, "api" first): the node, its
// patients, jobs, rules and peers. See README.md, "Admin API (/api)".
asio::awaitable<void> handle_api(Context& context, Exchange& exchange, const std::vector<std::string>& segments);

// The bundled viewer's files (context.viewer_dir), index.html for its routes; 404 without
// a viewer configured.
asio::awaitable<void> handle_viewer(Context& context, Exchange& exchange);

// The web UI's files (context.ui_dir) under /ui/, index.html for its pages' addresses; 404
// without a UI configured.
asio::awaitable<void> handle_ui(Context& context, Exchange& exchange);

// QIDO-RS (PS3.18 §10.6) at `level`, the UIDs of the path (Study, Series) fixed.
asio::awaitable<void> handle_qido(Context& context, Exchange& exchange, db::QueryLevel level,
                                  const std::vector<std::pair<std::uint32_t, std::string>>& path_uids);

// The instances a WADO-RS path names: a study, a series of it, or one instance of that.
struct WadoTarget {
  std::string study, series, instance;  // "" below the level named
};

// WADO-RS (PS3.18 §10.4): the instances as Part-10 files (multipart/related;
// type="application/dicom", in the transfer-syntax asked for), their metadata (DICOM JSON),
// an instance's frames, and one of its bulk data values.
asio::awaitable<void> handle_wado_retrieve(Context& context, Exchange& exchange, const WadoTarget& target);
asio::awaitable<void> handle_wado_metadata(Context& context, Exchange& exchange, const WadoTarget& target);
asio::awaitable<void> handle_wado_frames(Context& context, Exchange& exchange, const WadoTarget& target,
                                         const std::string& frame_list);
// A frame as JPEG or PNG (rendered), or a small one (thumbnail, at most 128 pixels a side
// unless a viewport says otherwise; a series' or study's is its middle instance's).
asio::awaitable<void> handle_wado_rendered(Context& context, Exchange& exchange, const WadoTarget& target,
                                           std::uint32_t frame, bool thumbnail);
asio::awaitable<void> handle_wado_bulk(Context& context, Exchange& exchange, const WadoTarget& target,
                                       const std::string& tag);

// GET /metrics (Prometheus text format).
asio::awaitable<void> handle_metrics(Context& context, Exchange& exchange);

// The `handler` label of a request in the HTTP metrics: qido, wado, stow, viewer, api,
// metrics, other.
std::string_view handler_label(std::string_view method, const std::string& path);

// STOW-RS (PS3.18 §10.5): POST /studies (`study` empty) and /studies/{study}.
asio::awaitable<void> handle_stow(Context& context, Exchange& exchange, const std::string& study);

}  // namespace pacsnode::http
