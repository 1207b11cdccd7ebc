#include "net/listen.hpp"

#include "base/error.hpp"

namespace pacsnode::net {

void listen(tcp::acceptor& acceptor, const std::string& bind, std::uint16_t port, std::string_view what) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(bind, ec);
  if (ec) throw Error(ErrorCode::Config, "invalid bind address " + bind);
  const tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error(ErrorCode::Unavailable,
                "cannot listen for " + std::string(what) + " on " + bind + ":" + std::to_string(port) + ": " + ec.message());
  }
}

}  // namespace pacsnode::net
