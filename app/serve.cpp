#include "app/serve.hpp"

#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "app/data_dir_lock.hpp"
#include "app/database_runtime.hpp"
#include "app/routing_setup.hpp"
#include "app/settings.hpp"
#include "app/version.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "db/connection_pool.hpp"
#include "db/database.hpp"
#include "http/admin_info.hpp"
#include "http/context.hpp"
#include "http/handlers.hpp"
#include "http/server.hpp"
#include "ingest/ingest.hpp"
#include "net/server.hpp"
#include "scp/association_policy.hpp"
#include "scp/find_service.hpp"
#include "scp/retrieve_service.hpp"
#include "scp/reconcile.hpp"
#include "scp/services.hpp"
#include "scp/store_service.hpp"
#include "storage/store.hpp"
#include "db/index_writer.hpp"

namespace pacsnode::app {

namespace {

// Every DIMSE association, HTTP connection and STOW-RS part waiting for its commit holds a
// file descriptor: take the hard limit rather than the 1,024 a shell's soft limit leaves.
void raise_open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    log::debug("open files limit raised from {} to {}", before, limit.rlim_cur);
  }
}

}  // namespace

int serve(const Config& config) {
  const auto started = std::chrono::steady_clock::now();
  log::info("pacsnode {} starting: config {}, data dir {}", kVersion, config.file.string(), config.data_dir.string());
  raise_open_files_limit();
  metrics::registry().info("pacsnode_build_info", "The running build", {{"version", kVersion}});
  metrics::registry()
      .gauge("pacsnode_start_time_seconds", "When the node started, in seconds since the Unix epoch")
      .set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  for (const auto& warning : config.warnings) log::warn("{}", warning);

  pid_t holder = 0;
  auto lock = DataDirLock::try_acquire(config.data_dir, &holder);
  if (!lock) {
    log::critical("another pacsnode process{} is already serving data directory {}; refusing to start",
                  holder > 0 ? fmt::format(" (pid {})", holder) : std::string(), config.data_dir.string());
    return 1;
  }

  std::unique_ptr<DatabaseRuntime> database_runtime;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<db::IndexWriter> index;
  try {
    database_runtime = std::make_unique<DatabaseRuntime>(config, true);
    db::Database database({database_runtime->conninfo()});
    const int applied = database.migrate();
    log::info("database ready ({}), {} migration(s) applied",
              database_runtime->embedded() ? "embedded PostgreSQL" : "database.url", applied);
    store = std::make_unique<storage::Store>(storage_settings(config));
    index = std::make_unique<db::IndexWriter>(index_writer_settings(config, database_runtime->conninfo()));
    const auto report = scp::reconcile(*store, *index, database_runtime->conninfo(), false);
    log::info("storage {}: {} instance file(s); reconciled: {} indexed, {} index row(s) without file removed, {} "
              "unreadable, {} interrupted transfer(s) removed, {} interrupted replacement(s) finished, {} dropped",
              config.storage_path.string(), report.files_total, report.files_indexed, report.rows_removed,
              report.files_unreadable, report.temp_files_removed, report.replacements_finished,
              report.replacements_dropped);
  } catch (const std::exception& e) {
    log::critical("startup: {}", e.what());
    return 1;
  }

  asio::io_context io;
  // Blocking work of the services (fsync, parsing): I/O-bound, so more threads than cores.
  asio::thread_pool workers(8);
  ingest::Ingest ingest(*store, *index, config.duplicates == DuplicatePolicy::Replace);
  scp::StoreService store_service(ingest, workers, store_settings());
  scp::FindService find_service(workers, find_settings(config, database_runtime->conninfo()));
  scp::RetrieveService retrieve_service(workers, retrieve_settings(config, database_runtime->conninfo(), store->root()));
  const scp::ServiceSet services{&store_service, &find_service, &retrieve_service, {}};
  const auto association = association_settings(config);
  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  scp::AssociationPolicy policy(policy_settings(config, threads));
  net::Server* server_ptr = nullptr;
  net::Server server(io, server_settings(config), [&](tcp::socket socket, std::uint64_t id) -> asio::awaitable<void> {
    net::Server& srv = *server_ptr;
    auto decide = [&srv, &policy, id](const net::AAssociateRq& rq) {
      // Associations only: connections that never send an RQ do not count.
      auto decision = policy.decide(rq, srv.associations());
      if (decision.accept) srv.reserve_association(id);
      return decision;
    };
    auto established = co_await net::Association::accept(
        std::move(socket), association, decide, id, store_service.sink_factory(),
        [&srv, id](const std::shared_ptr<net::Association>& a) { srv.pending_started(id, a); });
    if (!established) co_return;
    srv.track(id, established);
    co_await scp::serve_association(established, services);
  });
  server_ptr = &server;
  try {
    server.start();
  } catch (const std::exception& e) {
    log::critical("{}", e.what());
    return 1;
  }
  std::string titles = config.ae_title;
  for (const auto& extra : config.extra_ae_titles) titles += ", " + extra;
  log::info("listening for DICOM on {}:{} as {} (max {} associations)", config.bind_address, server.port(), titles,
            config.max_associations);

  // The HTTP door: the same ingest path, query engine and storage as the DIMSE services.
  db::ConnectionPool http_connections(database_runtime->conninfo());
  http::Context http_context{workers, http_connections, ingest, config.ae_title, config.max_results,
                             config.http.viewer, config.http.viewer_config, kImplementationClassUid,
                             kImplementationVersionName};
  http::AdminInfo admin_info;
  admin_info.version = kVersion;
  admin_info.started = started;
  admin_info.dicom_port = server.port();
  admin_info.store = store.get();
  admin_info.rules = &config.rules;
  admin_info.peers = peer_addresses(config);
  admin_info.echo = association_settings(config);
  // A peer that does not answer should not hold an HTTP request for minutes.
  admin_info.echo.connect_timeout = admin_info.echo.artim_timeout = admin_info.echo.idle_timeout =
      std::chrono::seconds(10);
  http_context.admin = &admin_info;
  http_context.ui_dir = config.http.ui;
  std::unique_ptr<http::Server> http_server;
  if (config.http.enabled) {
    http::ServerSettings hs;
    hs.bind = config.http.bind;
    hs.port = config.http.port;
    for (const auto& u : config.http.users) hs.users.push_back({u.username, u.password_hash});
    hs.max_body_bytes = config.http.max_body_mb << 20;
    hs.max_connections = config.http.max_connections;
    hs.classify = http::handler_label;
    hs.idle_timeout = config.http.idle_timeout;
    try {
      http_server = std::make_unique<http::Server>(
          io, hs, [&http_context](http::Exchange& exchange) { return http::handle_request(http_context, exchange); });
      http_server->start();
    } catch (const std::exception& e) {
      log::critical("{}", e.what());
      return 1;
    }
    log::info("listening for HTTP on {}:{} ({}; DICOMweb at /dicom-web{}{})", config.http.bind, http_server->port(),
              hs.users.empty() ? "no authentication: loopback only" : fmt::format("{} user(s), Basic auth", hs.users.size()),
              config.http.viewer.empty() ? "" : ", the viewer at /",
              config.http.ui.empty() ? "" : ", the web UI at /ui/");
  }

  routing::Engine routing(engine_settings(config, database_runtime->conninfo()), rule_specs(config),
                          job_handlers(config, store->root(), database_runtime->conninfo(), ingest));
  routing.start();
  std::thread routing_stopper;  // running jobs get the same grace as associations, at the same time

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("signal {} received: stopping (grace {} s)", signal, config.shutdown_grace.count());
    routing_stopper = std::thread([&routing, &config]() { routing.stop(config.shutdown_grace); });
    if (http_server) http_server->stop();
    server.shutdown(config.shutdown_grace, [&io]() { io.stop(); });
  });

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io]() { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  if (routing_stopper.joinable()) routing_stopper.join();
  routing.stop(config.shutdown_grace);

  workers.join();
  index.reset();             // drains and stops the index writer
  database_runtime.reset();  // stops the embedded cluster
  log::info("pacsnode stopped");
  return 0;
}

}  // namespace pacsnode::app
