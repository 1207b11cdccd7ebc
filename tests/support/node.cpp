#include "tests/support/node.hpp"

#include <doctest/doctest.h>

#include <fstream>
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
  port_ = free_port();
  write_config(config_path(), port_, options_);
  ProcessOptions process_options;
  process_options.output_file = dir_.path() / "serve.log";
  process_options.env.push_back({"TCP_NODELAY", "1"});
  process_.emplace(Process::spawn({PACSNODE_BINARY, "serve", "--config", config_path().string()}, process_options));
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
}

int Node::stop() { return process_->stop(std::chrono::seconds(20)); }

std::string Node::target() const { return options_.ae_title + "@127.0.0.1:" + std::to_string(port_); }

std::string Node::log() const {
  std::ifstream in(dir_.path() / "serve.log");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
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
