#pragma once
// C-MOVE and C-GET SCP (Patient Root and Study Root Query/Retrieve Information Models,
// PS3.4 C.4.2 and C.4.3). The identifier's unique keys select instances from the index
// (db/retrieve_query.hpp); each instance is one C-STORE sub-operation:
//  * C-MOVE: on a new association from us to the Move Destination, which must be one of
//    the configured peers (else 0xA801), carrying Move Originator AE Title and Message ID;
//  * C-GET: on the requestor's own association, over the storage contexts it proposed with
//    the SCP role (an instance whose SOP class has no such context is a failed
//    sub-operation).
// A pending response (0xFF00, remaining/completed/failed/warning counts) follows every
// sub-operation but the last; the final one is 0x0000 (all completed), 0xB000 (some failed
// or had warnings; Failed SOP Instance UID List), 0xA702 (no association to the
// destination could be made), 0xFE00 after a C-CANCEL-RQ (with the counts so far),
// 0xA701 when more than max_instances match (nothing is sent), 0xA900 for an identifier
// PS3.4 refuses, 0xC001 when the index cannot be read. No
// matches → 0x0000 with zero counts and no sub-association.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "net/association.hpp"
#include "scu/remote.hpp"

namespace pacsnode::scp {

struct RetrieveSettings {
  std::string conninfo;                       // the index database
  std::filesystem::path storage_root;         // file_path in the index is relative to it
  std::vector<scu::RemoteNode> destinations;  // the configured peers: who C-MOVE may send to
  net::AssociationSettings requestor;         // our side of C-MOVE sub-associations
  std::size_t max_instances = 100000;         // more matches → 0xA701, nothing sent
};

class RetrieveService {
 public:
  RetrieveService(asio::thread_pool& workers, RetrieveSettings settings);

  asio::awaitable<void> handle_move(net::Association& association, const net::Message& request);
  asio::awaitable<void> handle_get(net::Association& association, const net::Message& request);

 private:
  asio::awaitable<void> handle(net::Association& association, const net::Message& request, bool is_move);

  asio::thread_pool& workers_;
  RetrieveSettings settings_;
};

}  // namespace pacsnode::scp
