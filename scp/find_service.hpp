#pragma once
// C-FIND SCP (Patient Root and Study Root Query/Retrieve Information Models, PS3.4 C.4.1):
// the identifier becomes SQL (db/find_query.hpp), run on the worker pool; every match goes
// out as a pending response (0xFF00) carrying exactly the requested keys, then a final
// response without a data set: 0x0000, 0xFE00 after a C-CANCEL-RQ or when more than
// max_results matched (the first max_results are sent), 0xA900 for an identifier PS3.4
// refuses, 0xC001 when the database cannot answer.
#include <cstddef>
#include <string>

#include "net/association.hpp"

namespace pacsnode::scp {

struct FindSettings {
  std::string conninfo;            // the index database
  std::string ae_title;            // Retrieve AE Title (0008,0054) in the responses
  std::size_t max_results = 10000; // matches sent per query; more → the first ones and 0xFE00
};

class FindService {
 public:
  FindService(asio::thread_pool& workers, FindSettings settings);

  // Answers one C-FIND-RQ (its identifier buffered in a MemorySink).
  asio::awaitable<void> handle(net::Association& association, const net::Message& request);

 private:
  asio::thread_pool& workers_;
  FindSettings settings_;
};

}  // namespace pacsnode::scp
