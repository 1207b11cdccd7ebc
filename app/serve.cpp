#include "app/serve.hpp"

#include <csignal>
#include <thread>

#include "app/data_dir_lock.hpp"
#include "app/database_runtime.hpp"
#include "app/settings.hpp"
#include "app/version.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "db/database.hpp"
#include "net/server.hpp"
#include "scp/association_policy.hpp"
#include "scp/services.hpp"

namespace pacsnode::app {

int serve(const Config& config) {
  log::info("pacsnode {} starting: config {}, data dir {}", kVersion, config.file.string(), config.data_dir.string());

  pid_t holder = 0;
  auto lock = DataDirLock::try_acquire(config.data_dir, &holder);
  if (!lock) {
    log::critical("another pacsnode process{} is already serving data directory {}; refusing to start",
                  holder > 0 ? fmt::format(" (pid {})", holder) : std::string(), config.data_dir.string());
    return 1;
  }

  std::unique_ptr<DatabaseRuntime> database_runtime;
  try {
    database_runtime = std::make_unique<DatabaseRuntime>(config);
    db::Database database({database_runtime->conninfo()});
    const int applied = database.migrate();
    log::info("database ready ({}), {} migration(s) applied",
              database_runtime->embedded() ? "embedded PostgreSQL" : "database.url", applied);
  } catch (const std::exception& e) {
    log::critical("database: {}", e.what());
    return 1;
  }

  asio::io_context io;
  const auto association = association_settings(config);
  const auto policy = policy_settings(config);
  net::Server* server_ptr = nullptr;
  net::Server server(io, server_settings(config), [&](tcp::socket socket, std::uint64_t id) -> asio::awaitable<void> {
    net::Server& srv = *server_ptr;
    auto decide = [&srv, &policy](const net::AAssociateRq& rq) {
      // This session is counted in active_sessions(); the limit is on the others.
      return scp::decide_association(rq, policy, srv.active_sessions() - 1);
    };
    auto established = co_await net::Association::accept(std::move(socket), association, decide, id);
    if (!established) co_return;
    srv.track(id, established);
    co_await scp::serve_association(established);
  });
  server_ptr = &server;
  try {
    server.start();
  } catch (const std::exception& e) {
    log::critical("{}", e.what());
    return 1;
  }
  log::info("listening for DICOM on {}:{} as {} (max {} associations)", config.bind_address, server.port(),
            config.ae_title, config.max_associations);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("signal {} received: stopping (grace {} s)", signal, config.shutdown_grace.count());
    server.shutdown(config.shutdown_grace, [&io]() { io.stop(); });
  });

  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io]() { io.run(); });
  io.run();
  for (auto& t : pool) t.join();

  database_runtime.reset();  // stops the embedded cluster
  log::info("pacsnode stopped");
  return 0;
}

}  // namespace pacsnode::app
