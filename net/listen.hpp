#pragma once
// Opens `acceptor` listening on bind:port, for both doors (DICOM and HTTP).
#include <cstdint>
#include <string>
#include <string_view>

#include "net/asio.hpp"

namespace pacsnode::net {
// Throws Error(Config) when `bind` is not an IP address, Error(Unavailable) naming `what`
// and the address when it cannot listen there.
void listen(tcp::acceptor& acceptor, const std::string& bind, std::uint16_t port, std::string_view what);
}  // namespace pacsnode::net
