#include "tests/support/node.hpp"

#include "app/embedded_postgres.hpp"
#include "tests/support/pg_cluster.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <csignal>
#include <fstream>
#include <unistd.h>
#include <sstream>
#include <thread>

namespace pacsnode::test {

std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

std::pair<int, std::string> run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ProcessOptions options;
  options.env.push_back({"TCP_NODELAY", "1"});
  options.capture_output = true;
  return run_process(argv, options, timeout);
}

void write_config(const std::filesystem::path& file, std::uint16_t port, const NodeOptions& options) {
  std::ofstream out(file);
  out << "[node]\n"
      << "ae_title = \"" << options.ae_title << "\"\n"
      << "bind = \"127.0.0.1\"\n"
      << "port = " << port << "\n"
      << "data_dir = \"var\"\n"
      << "shutdown_grace = 5\n"
      << options.extra_node << "\n"
      << "[logging]\nlevel = \"" << options.log_level << "\"\n"
      << options.extra << "\n";
}

Node::Node(NodeOptions options) : options_(std::move(options)), dir_("pn") {
  port_ = options_.port != 0 ? options_.port : free_port();
  write_config(config_path(), port_, options_);
  start();
}

void Node::restart() {
  if (process_ && process_->running()) process_->stop(std::chrono::seconds(20));
  start();
}

void Node::kill() {
  process_->kill(SIGKILL);
  process_->wait(std::chrono::seconds(20));
  // The embedded PostgreSQL keeps running (pg_ctl daemonised it); the restarted node joins it.
}

bool Node::database_running() const {
  app::EmbeddedPostgresSettings settings;
  settings.cluster_dir = dir_.path() / "var" / "pg";
  return app::EmbeddedPostgres(settings).is_running();
}

std::string Node::sql(const std::string& query) const {
  app::EmbeddedPostgresSettings settings;
  settings.cluster_dir = dir_.path() / "var" / "pg";
  app::EmbeddedPostgres postgres(settings);
  return psql(postgres, postgres.conninfo(), query);
}

std::vector<std::string> Node::sql_rows(const std::string& query) const { return lines_of(sql(query)); }

std::string Node::sql_one(const std::string& query) const {
  const auto rows = sql_rows(query);
  REQUIRE_MESSAGE(rows.size() == 1, query << " → " << rows.size() << " rows");
  return rows.front();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

void generate_instances(const std::filesystem::path& dir, int count, int studies, int pixels) {
  auto [code, out] = run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_instances.py",
                          dir.string(), std::to_string(count), "--studies", std::to_string(studies), "--pixels",
                          std::to_string(pixels)},
                         std::chrono::minutes(5));
  REQUIRE_MESSAGE(code == 0, out);
}

std::vector<std::filesystem::path> files_below(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void Node::start() {
  ProcessOptions process_options;
  process_options.output_file = dir_.path() / "serve.log";
  process_options.env.push_back({"TCP_NODELAY", "1"});
  process_options.env.insert(process_options.env.end(), options_.env.begin(), options_.env.end());
  // PACSNODE_TEST_SERVE_BINARY runs the tests against another build (e.g. the commit before
  // a fix, to see a new test fail there).
  const char* override_binary = std::getenv("PACSNODE_TEST_SERVE_BINARY");
  const std::string binary = override_binary && *override_binary ? override_binary : PACSNODE_BINARY;
  process_.emplace(Process::spawn({binary, "serve", "--config", config_path().string()}, process_options));
  // initdb on first start takes a few seconds; poll until C-ECHO is answered.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) break;
    // Listening, and (unless the node demands credentials echoscu cannot give) answering.
    if (log().find("listening for DICOM") != std::string::npos && (!options_.wait_for_echo || echo_ok())) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string output = log();
  process_->stop();
  FAIL("pacsnode serve did not come up:\n" << output);
}

Node::~Node() {
  if (process_ && process_->running()) process_->stop(std::chrono::seconds(20));
  // After a kill -9 the node could not stop its PostgreSQL: do it here, leave nothing running.
  const auto cluster = dir_.path() / "var" / "pg";
  if (std::filesystem::exists(cluster / "postmaster.pid")) {
    try {
      app::EmbeddedPostgresSettings settings;
      settings.cluster_dir = cluster;
      app::EmbeddedPostgres postgres(settings);
      ProcessOptions options;
      if (::geteuid() == 0) options.run_as_user = postgres.os_user();
      options.cwd = "/";
      options.capture_output = true;
      run_process({(postgres.bin_dir() / "pg_ctl").string(), "stop", "-D", cluster.string(), "-m", "fast", "-w"},
                  options, std::chrono::seconds(60));
    } catch (const std::exception&) {
    }
  }
}

int Node::stop() { return process_->stop(std::chrono::seconds(20)); }

std::string Node::target() const { return options_.ae_title + "@127.0.0.1:" + std::to_string(port_); }

std::string Node::log() const {
  std::ifstream in(dir_.path() / "serve.log");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Node::log_tail(std::size_t lines) const {
  std::istringstream in(log());
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += l + "\n";
  return out;
}

bool Node::echo_ok(const std::string& calling_ae) {
  auto [code, output] = run({"echoscu", "-to", "5", "-aet", calling_ae, "-aec", options_.ae_title, "127.0.0.1",
                             std::to_string(port_)},
                            std::chrono::seconds(20));
  return code == 0;
}

void run_coroutine(std::function<asio::awaitable<void>()> body) {
  asio::io_context io;
  std::exception_ptr error;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
}

RawExchange raw_exchange(std::uint16_t port, const std::vector<std::uint8_t>& bytes, std::chrono::milliseconds timeout) {
  RawExchange result;
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(bytes), ec);
  // Read until EOF or the timeout.
  asio::steady_timer timer(io, timeout);
  std::array<std::uint8_t, 4096> buffer{};
  std::function<void()> read_more = [&]() {
    socket.async_read_some(asio::buffer(buffer), [&](boost::system::error_code read_ec, std::size_t n) {
      result.received.insert(result.received.end(), buffer.begin(), buffer.begin() + n);
      if (read_ec) {
        result.closed_by_peer = read_ec == asio::error::eof || read_ec == asio::error::connection_reset;
        timer.cancel();
        return;
      }
      read_more();
    });
  };
  read_more();
  timer.async_wait([&](boost::system::error_code timer_ec) {
    if (!timer_ec) socket.close();
  });
  io.run();
  return result;
}

}  // namespace pacsnode::test
