#include "scu/remote.hpp"

#include <charconv>

namespace pacsnode::scu {

std::optional<RemoteNode> parse_remote(std::string_view text) {
  const auto at = text.find('@');
  const auto colon = text.rfind(':');
  if (at == std::string_view::npos || colon == std::string_view::npos || colon < at) return std::nullopt;
  RemoteNode node;
  node.ae_title = std::string(text.substr(0, at));
  std::string_view host = text.substr(at + 1, colon - at - 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  node.host = std::string(host);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) return std::nullopt;
  node.port = static_cast<std::uint16_t>(port);
  if (node.ae_title.empty() || node.ae_title.size() > 16 || node.host.empty()) return std::nullopt;
  return node;
}

}  // namespace pacsnode::scu
