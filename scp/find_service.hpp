#pragma once
// C-FIND SCP (Patient Root and Study Root Query/Retrieve Information Models, PS3.4 C.4.1):
// the identifier becomes SQL (db/find_query.hpp), read through a server-side cursor in
// batches on the worker pool (db/find_cursor.hpp); every match goes out as soon as its batch
// arrives, as a pending response (0xFF00) carrying exactly the requested keys, then a final
// response without a data set: 0x0000, 0xFE00 after a C-CANCEL-RQ or when more than
// max_results matched (the first max_results are sent), 0xA900 for an identifier PS3.4
// refuses, 0xC001 when the database cannot answer.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "db/find_query.hpp"
#include "net/association.hpp"

namespace pacsnode::db {
class ConnectionPool;
class FindCursor;
}
namespace pacsnode::dicom {
struct FindIdentifier;
}

namespace pacsnode::scp {

struct FindSettings {
  std::string conninfo;            // the index database
  std::string ae_title;            // Retrieve AE Title (0008,0054) in the responses
  std::size_t max_results = 10000; // matches sent per query; more → the first ones and 0xFE00
};

class FindService {
 public:
  FindService(asio::thread_pool& workers, FindSettings settings);
  ~FindService();

  // Answers one C-FIND-RQ (its identifier buffered in a MemorySink).
  asio::awaitable<void> handle(net::Association& association, const net::Message& request);

 private:
  // Sends a pending response per row of `cursor`; returns the final status, its reason and
  // how many matches went out.
  asio::awaitable<std::tuple<std::uint16_t, std::string, std::size_t>> stream_matches(
      net::Association& association, const net::Message& request, db::QueryLevel level,
      const dicom::FindIdentifier& identifier, db::FindCursor& cursor);
  // One row as the pending response's identifier: exactly the requested keys.
  std::vector<std::uint8_t> response_identifier(const std::vector<std::string>& row,
                                                const std::vector<std::string_view>& columns, db::QueryLevel level,
                                                const dicom::FindIdentifier& identifier,
                                                const std::string& transfer_syntax) const;

  asio::thread_pool& workers_;
  FindSettings settings_;
  std::unique_ptr<db::ConnectionPool> connections_;
};

}  // namespace pacsnode::scp
