#pragma once
// The one place that includes Boost.Asio. Boost 1.74's Asio needs <utility> before it under
// -std=c++20 (std::exchange is used without the include).
#include <utility>
#include <boost/asio.hpp>

namespace pacsnode {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
}  // namespace pacsnode
