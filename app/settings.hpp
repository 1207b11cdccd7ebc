#pragma once
// Builds each module's settings struct from the configuration (only app/ reads the file).
#include "app/config.hpp"
#include "base/log.hpp"
#include "net/association.hpp"
#include "net/server.hpp"
#include "db/index_writer.hpp"
#include "scp/association_policy.hpp"
#include "scp/find_service.hpp"
#include "scp/retrieve_service.hpp"
#include "scp/store_service.hpp"
#include "storage/store.hpp"

namespace pacsnode::app {

net::AssociationSettings association_settings(const Config& config);
net::ServerSettings server_settings(const Config& config);
// io_threads: the threads that run the I/O context, on which the association policy decides.
scp::PolicySettings policy_settings(const Config& config, unsigned io_threads);
log::LogSettings log_settings(const Config& config);
storage::StorageSettings storage_settings(const Config& config);
db::IndexWriterSettings index_writer_settings(const Config& config, const std::string& conninfo);
scp::StoreSettings store_settings();
scp::FindSettings find_settings(const Config& config, const std::string& conninfo);
// storage_root: the Store's (absolute) root, where the index's relative paths start.
scp::RetrieveSettings retrieve_settings(const Config& config, const std::string& conninfo,
                                        const std::filesystem::path& storage_root);

}  // namespace pacsnode::app
