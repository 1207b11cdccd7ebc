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

// Every request: DICOMweb under /dicom-web, the viewer's files elsewhere.
asio::awaitable<void> handle_request(Context& context, Exchange& exchange);

// QIDO-RS (PS3.18 §10.6) at `level`, the UIDs of the path (Study, Series) fixed.
asio::awaitable<void> handle_qido(Context& context, Exchange& exchange, db::QueryLevel level,
                                  const std::vector<std::pair<std::uint32_t, std::string>>& path_uids);

}  // namespace pacsnode::http
