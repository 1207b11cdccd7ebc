// Hostile HTTP clients against the real binary: bytes that are not HTTP, a header past the
// limit, a client that opens a request and goes silent (slowloris), more connections than
// allowed, a body past the limit — each gets its answer or is closed, with a log line, and
// the node keeps serving DICOMweb and DIMSE.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>

#include "tests/support/node.hpp"
#include "tests/support/temp_dir.hpp"

using namespace pacsnode::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }
std::string text_of(const std::vector<std::uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

int status_of(std::uint16_t port, const std::string& path, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, out);
  return std::stoi(out);
}

}  // namespace

TEST_CASE("HTTP: garbage, huge headers, silent clients, too many connections and big bodies are refused; the node keeps serving") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) +
                   "\nidle_timeout = 2\nmax_connections = 4\nmax_body_mb = 1\n"));

  // Not HTTP (a TLS ClientHello, then binary): 400 and closed.
  {
    const std::vector<std::uint8_t> hello = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, '\r', '\n',
                                             '\r', '\n'};
    const auto r = raw_exchange(http_port, hello, 10s);
    CHECK(text_of(r.received).rfind("HTTP/1.1 400", 0) == 0);
    CHECK(r.closed_by_peer);
  }
  // A 20 KiB header: 431 and closed.
  {
    const auto r = raw_exchange(
        http_port, bytes_of("GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n"),
        10s);
    CHECK(text_of(r.received).rfind("HTTP/1.1 431", 0) == 0);
    CHECK(r.closed_by_peer);
  }
  // Slowloris: a request line and one header, then silence — closed after idle_timeout
  // (2 s), not held for ever.
  {
    const auto begun = std::chrono::steady_clock::now();
    const auto r = raw_exchange(http_port, bytes_of("GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\n"), 20s);
    const auto took = std::chrono::steady_clock::now() - begun;
    CHECK(r.closed_by_peer);
    CHECK(took < 10s);
    CHECK(took >= 1s);
  }
  // Keep-alive connections left idle are closed too; the fifth of five held open is
  // answered 503 with Retry-After; once they are gone, requests get through again.
  {
    const std::string script =
        "import socket,time\n"
        "held=[socket.create_connection(('127.0.0.1'," + std::to_string(http_port) + ")) for _ in range(4)]\n"
        "time.sleep(0.5)\n"
        "s=socket.create_connection(('127.0.0.1'," + std::to_string(http_port) + "))\n"
        "s.sendall(b'GET /dicom-web/studies HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
        "s.settimeout(5)\n"
        "print(s.recv(4096).decode(errors='replace').split('\\r\\n')[0])\n"
        "time.sleep(3.5)\n"
        "print('closed' if all(h.recv(1)==b'' for h in held) else 'open')\n";
    auto [code, out] = run({"/usr/bin/python3", "-c", script});
    REQUIRE_MESSAGE(code == 0, out);
    CHECK_MESSAGE(out.find("HTTP/1.1 503") == 0, out);
    CHECK_MESSAGE(out.find("closed") != std::string::npos, out);
  }
  CHECK(status_of(http_port, "/dicom-web/studies") == 204);

  // A body over max_body_mb (1 MiB): 413, nothing stored.
  {
    TempDir dir("big-body");
    const auto body = dir.path() / "body";
    std::ofstream(body, std::ios::binary) << "--B\r\nContent-Type: application/dicom\r\n\r\n" << std::string(2 << 20, 'x')
                                          << "\r\n--B--\r\n";
    CHECK(status_of(http_port, "/dicom-web/studies",
                    {"-X", "POST", "-H", "Content-Type: multipart/related; type=\"application/dicom\"; boundary=B",
                     "--data-binary", "@" + body.string()}) == 413);
    CHECK(node.sql("SELECT count(*) FROM instance") == "0");
  }
  // Unknown path and method: 404; a bad percent-encoding: 400.
  CHECK(status_of(http_port, "/dicom-web/studies/1.2.3/nothing") == 404);
  CHECK(status_of(http_port, "/dicom-web/studies?PatientName=%zz") == 400);

  const std::string log = node.log();
  CHECK(log.find("bad request") != std::string::npos);
  CHECK(log.find("http.max_connections") != std::string::npos);
  CHECK(node.running());
  CHECK(node.echo_ok());
  CHECK(status_of(http_port, "/dicom-web/studies") == 204);
}
