#pragma once
// C-STORE SCP: each data set streams into a temp file in the storage root (behind our Part-10
// File Meta Information); once complete it takes the one ingest path (ingest/ingest.hpp):
// parsed, checked against the command, synced, renamed into place and indexed. C-STORE-RSP
// Success goes out only after all of that.
#include <cstdint>
#include <memory>
#include <string>

#include "net/association.hpp"

namespace pacsnode {
namespace storage {
class Store;
}
namespace ingest {
class Ingest;
}
}  // namespace pacsnode

namespace pacsnode::scp {

struct StoreSettings {
  std::string implementation_class_uid;
  std::string implementation_version_name;
};

class StoreService {
 public:
  StoreService(ingest::Ingest& ingest, asio::thread_pool& workers, StoreSettings settings);

  // For Association::accept: C-STORE-RQ data sets go to a StoreSink, others to memory.
  net::SinkFactory sink_factory();
  // Answers one C-STORE-RQ whose data set has arrived.
  asio::awaitable<void> handle(net::Association& association, net::Message& request);

 private:
  ingest::Ingest& ingest_;
  storage::Store& store_;
  asio::thread_pool& workers_;
  StoreSettings settings_;
};

}  // namespace pacsnode::scp
