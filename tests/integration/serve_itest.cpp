// The node's life cycle: configuration errors, the data-directory lock, the embedded
// database, `db status` while serving, graceful shutdown that leaves nothing running.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "net/association.hpp"
#include "net/uids.hpp"
#include "db/migrations.hpp"
#include "tests/support/node.hpp"
#include "tests/support/pg_cluster.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
using namespace std::chrono_literals;

namespace {

// The postmaster named in postmaster.pid is alive (pg_ctl refuses to run as root).
bool postgres_running_for(const std::filesystem::path& cluster_dir) {
  std::ifstream in(cluster_dir / "postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0;
}

}  // namespace

TEST_CASE("a bad configuration stops serve with exit code 2 naming the file and the key") {
  TempDir dir("cfg");
  const auto file = dir.path() / "bad.toml";
  {
    std::ofstream out(file);
    out << "[node]\nport = 70000\n";
  }
  auto [code, out] = run({PACSNODE_BINARY, "serve", "--config", file.string()});
  CHECK(code == 2);
  CHECK_MESSAGE(out.find("bad.toml") != std::string::npos, out);
  CHECK_MESSAGE(out.find("node.port") != std::string::npos, out);

  {
    std::ofstream out2(file);
    out2 << "[node]\nae_titel = \"X\"\n";
  }
  auto [code2, out2] = run({PACSNODE_BINARY, "serve", "--config", file.string()});
  CHECK(code2 == 2);
  CHECK_MESSAGE(out2.find("node.ae_titel") != std::string::npos, out2);

  {
    std::ofstream out4(file);
    out4 << "[[security.users]]\nusername = \"rad\"\npassword_hash = \"s3cret\"\n";  // not a hash
  }
  auto [code4, out4] = run({PACSNODE_BINARY, "serve", "--config", file.string()});
  CHECK(code4 == 2);
  CHECK_MESSAGE(out4.find("bad.toml: security.users[0].password_hash: not a password hash") != std::string::npos, out4);

  auto [code3, out3] = run({PACSNODE_BINARY, "serve", "--config", (dir.path() / "missing.toml").string()});
  CHECK(code3 == 2);
  CHECK_MESSAGE(out3.find("missing.toml") != std::string::npos, out3);
}

TEST_CASE("serve: embedded PostgreSQL migrated, db status while serving, second serve refused, clean stop") {
  std::filesystem::path cluster;
  {
    Node node;
    cluster = node.dir() / "var" / "pg";
    CHECK(postgres_running_for(cluster));
    CHECK(node.log().find("migration(s) applied") != std::string::npos);

    // `db status` joins the running node's cluster through its socket.
    auto [code, out] = run({PACSNODE_BINARY, "db", "status", "--config", node.config_path().string()});
    CHECK_MESSAGE(code == 0, out);
    CHECK_MESSAGE(out.find("0001") != std::string::npos, out);
    CHECK(out.find("applied") != std::string::npos);
    CHECK(out.find("pending") == std::string::npos);

    // A second serve on the same data directory is refused, and the first keeps serving.
    auto [code2, out2] = run({PACSNODE_BINARY, "serve", "--config", node.config_path().string()}, 60s);
    CHECK(code2 == 1);
    CHECK_MESSAGE(out2.find("already serving data directory") != std::string::npos, out2);
    CHECK(node.echo_ok());

    // SIGTERM: graceful stop, exit 0, the cluster stopped with it.
    CHECK(node.stop() == 0);
    CHECK(node.log().find("pacsnode stopped") != std::string::npos);
    CHECK_FALSE(postgres_running_for(cluster));

    // With the node stopped, `db migrate` starts the cluster for itself and stops it again.
    auto [code3, out3] = run({PACSNODE_BINARY, "db", "migrate", "--config", node.config_path().string()});
    CHECK_MESSAGE(code3 == 0, out3);
    CHECK(out3.find("0 migration(s) applied") != std::string::npos);
    CHECK_FALSE(postgres_running_for(cluster));
  }
}

TEST_CASE("graceful shutdown: an idle association is aborted at the grace deadline, serve exits 0") {
  Node node(node_keys("idle_timeout = 120\n"));  // shutdown_grace = 5 in test configs
  net::EndReason ended = net::EndReason::Open;
  std::thread client([&]() {
    run_coroutine([&]() -> asio::awaitable<void> {
      net::AAssociateRq rq;
      rq.called_ae = "PACSNODE";
      rq.calling_ae = "HOLDER";
      rq.contexts.push_back({1, std::string(net::uid::Verification), {std::string(net::uid::ImplicitVrLittleEndian)}});
      net::AssociationSettings s;
      s.ae_title = "HOLDER";
      s.implementation_class_uid = "1.2.3.4";
      auto a = co_await net::Association::request("127.0.0.1", node.port(), rq, s, 1);
      auto message = co_await a->receive();  // nothing comes: the node aborts us
      CHECK_FALSE(message.has_value());
      ended = a->end_reason();
    });
  });
  // Wait until the association is established before stopping.
  for (int i = 0; i < 100 && node.log().find("calling=HOLDER") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  CHECK(node.stop() == 0);
  client.join();
  CHECK(ended == net::EndReason::PeerAborted);
  CHECK(node.log().find("aborting 1 association(s) still open") != std::string::npos);
}

TEST_CASE("database.url: serve uses that server instead of an embedded one") {
  TestCluster cluster;  // stands for the hospital's PostgreSQL server
  Node node(tables("[database]\nurl = \"" + cluster.conninfo() + "\"\n"));
  CHECK_FALSE(std::filesystem::exists(node.dir() / "var" / "pg"));
  CHECK(cluster.psql("SELECT count(*) FROM schema_migrations") == std::to_string(pacsnode::db::detail::embedded_migrations().size()));
  auto [code, out] = run({PACSNODE_BINARY, "store", node.target(),
                          "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"});
  CHECK_MESSAGE(code == 0, out);
  CHECK(cluster.psql("SELECT count(*) FROM instance") == "1");
  CHECK(node.stop() == 0);
}

TEST_CASE("serve after a kill -9 adopts the crashed node's embedded PostgreSQL and stops it when it stops") {
  Node node;
  REQUIRE(node.database_running());
  node.kill();
  // pg_ctl daemonised the server: the crash left it running, with no one to stop it.
  REQUIRE(node.database_running());
  node.restart();
  CHECK_MESSAGE(node.log().find("adopting the server already running") != std::string::npos, node.log_tail());
  CHECK(node.echo_ok());
  CHECK(node.sql("SELECT count(*) FROM instance") == "0");
  CHECK(node.stop() == 0);
  CHECK_FALSE(node.database_running());
  // A clean start and stop after that: started by us, stopped by us, nothing adopted.
  node.restart();
  CHECK(node.echo_ok());
  CHECK(node.stop() == 0);
  CHECK_FALSE(node.database_running());
}
