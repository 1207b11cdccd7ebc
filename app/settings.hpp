#pragma once
// Builds each module's settings struct from the configuration (only app/ reads the file).
#include "app/config.hpp"
#include "base/log.hpp"
#include "net/association.hpp"
#include "net/server.hpp"
#include "scp/association_policy.hpp"

namespace pacsnode::app {

net::AssociationSettings association_settings(const Config& config);
net::ServerSettings server_settings(const Config& config);
scp::PolicySettings policy_settings(const Config& config);
log::LogSettings log_settings(const Config& config);

}  // namespace pacsnode::app
