#include "http/api_support.hpp"

#include <algorithm>
#include <cctype>

#include "http/admin_info.hpp"

namespace pacsnode::http::api {

asio::awaitable<void> reply_json(Exchange& exchange, unsigned status, const json& body) {
  // Text from DICOM files may not be valid UTF-8: replaced rather than refused.
  std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  co_await exchange.reply(status, "application/json", std::move(text));
}

void allow(const Exchange& exchange, std::string_view allowed) {
  const auto method = exchange.method();
  if (method == allowed || (allowed == "GET" && method == "HEAD")) return;
  throw HttpError{405, std::string(method) + " is not allowed on " + exchange.path() + "; use " + std::string(allowed),
                  {{"Allow", allowed == "GET" ? "GET, HEAD" : std::string(allowed)}}};
}

void known_parameters(const Exchange& exchange, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : exchange.query()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw HttpError{400, "unknown query parameter \"" + name + "\" (known: " + (list.empty() ? "none" : list) + ")"};
    }
  }
}

std::string parameter(const Exchange& exchange, std::string_view name) {
  for (const auto& [n, v] : exchange.query()) {
    if (n == name) return v;
  }
  return {};
}

bool has_parameter(const Exchange& exchange, std::string_view name) {
  return std::any_of(exchange.query().begin(), exchange.query().end(), [&](const auto& p) { return p.first == name; });
}

std::optional<std::uint64_t> digits(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  return std::stoull(text);
}

Page page_of(const Exchange& exchange) {
  Page page;
  if (has_parameter(exchange, "limit")) {
    const auto text = parameter(exchange, "limit");
    const auto n = digits(text);
    if (!n || *n == 0 || *n > kMaxLimit) {
      throw HttpError{400, "limit: \"" + text + "\" is not a whole number from 1 to " + std::to_string(kMaxLimit)};
    }
    page.limit = *n;
  }
  if (has_parameter(exchange, "offset")) {
    const auto text = parameter(exchange, "offset");
    const auto n = digits(text);
    if (!n) throw HttpError{400, "offset: \"" + text + "\" is not a non-negative whole number"};
    page.offset = *n;
  }
  return page;
}

json list_of(json items, std::size_t total, const Page& page) {
  return json{{"items", std::move(items)}, {"total", total}, {"limit", page.limit}, {"offset", page.offset}};
}

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

const AdminInfo& admin_of(const Context& context) {
  if (context.admin == nullptr) throw HttpError{503, "the admin API is not configured on this node"};
  return *context.admin;
}

}  // namespace pacsnode::http::api
