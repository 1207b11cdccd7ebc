#pragma once
// What the admin API's handlers (http/api*.cpp) share: JSON answers, the method and
// query-parameter checks, paging, and the handlers themselves for http/api.cpp's dispatch.
// For http/api*.cpp only (it includes nlohmann/json).
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "db/job_states.hpp"
#include "http/context.hpp"
#include "http/exchange.hpp"

namespace pacsnode::http {
struct AdminInfo;
}

namespace pacsnode::http::api {

// Ordered: members in the order written (an object's identity first), not sorted.
using json = nlohmann::ordered_json;

inline constexpr std::size_t kDefaultLimit = 100;
inline constexpr std::size_t kMaxLimit = 1000;

asio::awaitable<void> reply_json(Exchange& exchange, unsigned status, const json& body);
// Throws 405 (with Allow) unless the request's method is `allowed` (GET also answers HEAD).
void allow(const Exchange& exchange, std::string_view allowed);
// Throws 400 for a query parameter not in `known` (a typo should not widen a search).
void known_parameters(const Exchange& exchange, std::initializer_list<std::string_view> known);
std::string parameter(const Exchange& exchange, std::string_view name);  // "" when absent
bool has_parameter(const Exchange& exchange, std::string_view name);
// A non-negative whole number of at most 18 digits, else nullopt.
std::optional<std::uint64_t> digits(const std::string& text);

struct Page {
  std::size_t limit = kDefaultLimit, offset = 0;
};
// `limit` (1..kMaxLimit, default kDefaultLimit) and `offset`; throws 400 when malformed.
Page page_of(const Exchange& exchange);
// {"items", "total", "limit", "offset"}.
json list_of(json items, std::size_t total, const Page& page);
// A page of an in-memory list.
template <typename T, typename F>
json paged(const std::vector<T>& all, const Page& page, F to_json) {
  json items = json::array();
  for (std::size_t i = page.offset; i < all.size() && i < page.offset + page.limit; ++i) items.push_back(to_json(all[i]));
  return list_of(std::move(items), all.size(), page);
}
json text_or_null(const std::string& text);  // null for ""
// Throws 503 when the wiring gave none.
const AdminInfo& admin_of(const Context& context);

// ---- the resources (http/api.cpp dispatches) ----
asio::awaitable<void> system(Context& context, Exchange& exchange);
asio::awaitable<void> arrivals(Context& context, Exchange& exchange);  // GET /api/system/arrivals
asio::awaitable<void> patients(Context& context, Exchange& exchange);
asio::awaitable<void> patient(Context& context, Exchange& exchange, const std::string& patient_id);
asio::awaitable<void> jobs(Context& context, Exchange& exchange);
asio::awaitable<void> job(Context& context, Exchange& exchange, std::int64_t id);
// POST /api/jobs/{id}/retry and /cancel (`event`: Retry or Cancel).
asio::awaitable<void> job_action(Context& context, Exchange& exchange, std::int64_t id, db::JobEvent event);
asio::awaitable<void> retry_dead(Context& context, Exchange& exchange);
// A job ID from the path; throws 404 for anything but a positive whole number.
std::int64_t job_id_of(const std::string& text);
asio::awaitable<void> rules(Context& context, Exchange& exchange);
asio::awaitable<void> rules_test(Context& context, Exchange& exchange);
asio::awaitable<void> peers(Context& context, Exchange& exchange);
asio::awaitable<void> echo(Context& context, Exchange& exchange, const std::string& name);

}  // namespace pacsnode::http::api
