#include "app/settings.hpp"

#include <algorithm>

#include "app/version.hpp"

namespace pacsnode::app {

net::AssociationSettings association_settings(const Config& config) {
  net::AssociationSettings s;
  s.ae_title = config.ae_title;
  s.max_pdu_length = config.max_pdu_length;
  s.artim_timeout = config.artim_timeout;
  s.idle_timeout = config.idle_timeout;
  s.implementation_class_uid = kImplementationClassUid;
  s.implementation_version_name = kImplementationVersionName;
  return s;
}

net::ServerSettings server_settings(const Config& config) {
  return net::ServerSettings{config.bind_address, config.port, config.max_pending_connections,
                             config.max_pending_per_address};
}

scp::PolicySettings policy_settings(const Config& config, unsigned io_threads) {
  scp::PolicySettings s;
  s.ae_title = config.ae_title;
  s.extra_ae_titles = config.extra_ae_titles;
  for (const auto& peer : config.peers) s.known_ae_titles.push_back(peer.ae_title);
  s.reject_unknown_calling_ae = config.unknown_calling_ae == UnknownCallingAePolicy::Reject;
  s.require_user_identity = config.user_identity == UserIdentityPolicy::Require;
  for (const auto& user : config.users) {
    const bool clear_text = user.password_hash.empty();
    s.users.push_back({user.username, clear_text ? user.password : user.password_hash, clear_text});
  }
  // An argon2 verification holds its I/O thread for ~90 ms of CPU (longer when the cores are
  // busy): at most half of them may be verifying, so that the others keep every open
  // association moving.
  s.max_concurrent_verifications = std::max(1u, io_threads / 2);
  s.max_associations = config.max_associations;
  s.contexts = scp::offered_services(true, config.accept_any_sop_class, true);
  return s;
}

log::LogSettings log_settings(const Config& config) {
  log::LogSettings s;
  s.level = log::parse_level(config.log_level).value_or(log::Level::info);
  s.file = config.log_file.string();
  return s;
}

}  // namespace pacsnode::app

namespace pacsnode::app {

storage::StorageSettings storage_settings(const Config& config) {
  return storage::StorageSettings{config.storage_path, config.min_free_mb << 20};
}

db::IndexWriterSettings index_writer_settings(const Config& config, const std::string& conninfo) {
  db::IndexWriterSettings s;
  s.conninfo = conninfo;
  s.duplicates = config.duplicates == DuplicatePolicy::Replace ? db::DuplicatePolicy::Replace : db::DuplicatePolicy::Keep;
  return s;
}

scp::FindSettings find_settings(const Config& config, const std::string& conninfo) {
  scp::FindSettings s;
  s.conninfo = conninfo;
  s.ae_title = config.ae_title;
  s.max_results = config.max_results;
  return s;
}

scp::RetrieveSettings retrieve_settings(const Config& config, const std::string& conninfo,
                                        const std::filesystem::path& storage_root) {
  scp::RetrieveSettings s;
  s.conninfo = conninfo;
  s.storage_root = storage_root;
  s.max_instances = config.max_retrieve;
  for (const auto& peer : config.peers) s.destinations.push_back({peer.ae_title, peer.host, peer.port});
  s.requestor = association_settings(config);
  return s;
}

scp::StoreSettings store_settings() {
  scp::StoreSettings s;
  s.implementation_class_uid = kImplementationClassUid;
  s.implementation_version_name = kImplementationVersionName;
  return s;
}

}  // namespace pacsnode::app
