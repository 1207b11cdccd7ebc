// What an unauthenticated or misbehaving peer can do to a running node (issue 13): memory
// before and inside associations, sockets that never become associations, cancelled
// message IDs, an index commit that failed, a service that throws.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <thread>

#include "dicom/find_identifier.hpp"
#include "net/association.hpp"
#include "net/pdu.hpp"
#include "net/server.hpp"
#include "net/uids.hpp"
#include "scp/services.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// kB of /proc/<pid>/status's `field` (VmRSS: now; VmHWM: the peak so far).
long status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// A TCP connection to 127.0.0.1:port from `source` (any 127.x.y.z address is this machine).
int connect_from(const std::string& source, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct Sockets {
  std::vector<int> fds;
  ~Sockets() { close_all(); }
  void close_all() {
    for (int fd : fds) ::close(fd);
    fds.clear();
  }
};

std::vector<std::uint8_t> pdu_header(std::uint8_t type, std::uint32_t length) {
  return {type, 0, static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
}

std::size_t instance_rows(const Node& node) {
  const auto out = node.sql("SELECT count(*) FROM instance");
  return out.empty() ? 0 : std::stoul(out);
}

net::CommandSet find_rq(std::uint16_t message_id) {
  net::CommandSet command;
  command.set_ui(net::tag::AffectedSopClassUid, net::uid::StudyRootFind);
  command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CFindRq));
  command.set_us(net::tag::MessageId, message_id);
  command.set_us(net::tag::Priority, 0);
  command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
  return command;
}

net::CommandSet cancel_rq(std::uint16_t message_id) {
  net::CommandSet cancel;
  cancel.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CCancelRq));
  cancel.set_us(net::tag::MessageIdBeingRespondedTo, message_id);
  cancel.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
  return cancel;
}

const std::string kEle(net::uid::ExplicitVrLittleEndian);

std::vector<std::uint8_t> all_studies_identifier() {
  return dicom::build_find_response({{0x0020000D, "UI", ""}, {0x00100020, "LO", ""}}, {}, "STUDY", "", kEle);
}

// Statuses of the responses to one C-FIND on `a`: pending count and the final status.
asio::awaitable<std::pair<std::size_t, std::uint16_t>> collect_find(net::Association& a, std::uint16_t message_id) {
  std::size_t pending = 0;
  while (auto response = co_await a.receive_response(message_id)) {
    const auto status = response->command.us(net::tag::Status).value_or(0xFFFF);
    if (status != 0xFF00 && status != 0xFF01) co_return std::make_pair(pending, status);
    ++pending;
  }
  co_return std::make_pair(pending, std::uint16_t{0xFFFF});
}

}  // namespace

TEST_CASE("500 hostile connections that announce big PDUs and go silent: memory bounded, echoscu and storescu served") {
  TempDir data("hostile");
  generate_instances(data.path(), 10, 2);
  Node node;
  REQUIRE(node.echo_ok());
  const long rss_before = status_kb(node.pid(), "VmRSS");
  REQUIRE(rss_before > 0);

  Sockets hostile;
  for (int i = 0; i < 500; ++i) {
    // 16 per source address (127.0.0.2 … 127.0.0.33), as a few compromised hosts would.
    const int fd = connect_from("127.0.0." + std::to_string(2 + i / 16), node.port());
    REQUIRE_MESSAGE(fd >= 0, "connection " << i << ": " << std::strerror(errno));
    // Half announce a 16 MiB A-ASSOCIATE-RQ (the old cap), half one of 256 KiB (the new
    // cap) and send its first KiB; then nothing more.
    auto bytes = i % 2 ? pdu_header(0x01, 0x00FFFFFF) : pdu_header(0x01, net::kMaxAssociatePduLength);
    if (i % 2 == 0) bytes.resize(bytes.size() + 1024, 0x20);
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    hostile.fds.push_back(fd);
  }

  // The node accepts in order: echoscu's connection comes after all 500.
  for (int i = 0; i < 3; ++i) {
    auto [code, out] = run({"echoscu", "-aec", "PACSNODE", "127.0.0.1", std::to_string(node.port())});
    CHECK_MESSAGE(code == 0, out);
  }
  auto [code, out] =
      run({"storescu", "-aec", "PACSNODE", "+sd", "127.0.0.1", std::to_string(node.port()), data.path().string()});
  CHECK_MESSAGE(code == 0, out);
  CHECK(instance_rows(node) == 10);

  // The bound: 64 pending connections × at most 256 KiB each (64 KiB until more arrives), plus per-connection
  // bookkeeping, plus what storescu's ten instances cost: far below 64 MiB.
  const long peak = status_kb(node.pid(), "VmHWM");
  MESSAGE("node RSS before " << rss_before / 1024 << " MiB, peak during the attack " << peak / 1024 << " MiB");
  CHECK(peak - rss_before < 64 * 1024);
  CHECK(node.log().find("connection refused or closed (admission)") != std::string::npos);

  hostile.close_all();
  CHECK(node.echo_ok());
  CHECK(status_kb(node.pid(), "VmRSS") - rss_before < 64 * 1024);
  CHECK(node.running());
}

TEST_CASE("a peer that pipelines big identifiers while the node is busy: data sets in memory bounded") {
  // A peer that accepts TCP connections and never answers: the node's C-MOVE sub-association
  // to it waits ARTIM, and the requestor's association is busy meanwhile.
  asio::io_context silent_io;
  tcp::acceptor silent(silent_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto silent_port = silent.local_endpoint().port();

  TempDir data("pipeline");
  generate_instances(data.path(), 1, 1);
  NodeOptions options;
  options.extra_node = "artim_timeout = 8\n";
  options.extra = "[[peers]]\nname = \"silent\"\nae_title = \"SILENT\"\nhost = \"127.0.0.1\"\nport = " +
                  std::to_string(silent_port) + "\n";
  Node node(options);
  auto [code, out] = run({"storescu", "-aec", "PACSNODE", "+sd", "127.0.0.1", std::to_string(node.port()), data.path().string()});
  REQUIRE_MESSAGE(code == 0, out);
  const std::string study = node.sql("SELECT study_instance_uid FROM study LIMIT 1");
  REQUIRE(!study.empty());
  const long rss_before = status_kb(node.pid(), "VmRSS");

  std::vector<std::uint16_t> statuses;
  run_coroutine([&]() -> asio::awaitable<void> {
    net::AAssociateRq rq;
    rq.called_ae = "PACSNODE";
    rq.calling_ae = "PIPELINER";
    rq.contexts.push_back({1, std::string(net::uid::StudyRootMove), {kEle}});
    rq.contexts.push_back({3, std::string(net::uid::StudyRootFind), {kEle}});
    net::AssociationSettings settings;
    settings.ae_title = "PIPELINER";
    settings.idle_timeout = 60s;  // a node that never answers ends the test, not CI's clock
    auto a = co_await net::Association::request("127.0.0.1", node.port(), rq, settings, 1);

    net::CommandSet move;
    move.set_ui(net::tag::AffectedSopClassUid, net::uid::StudyRootMove);
    move.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CMoveRq));
    move.set_us(net::tag::MessageId, 1);
    move.set_us(net::tag::Priority, 0);
    move.set_ae(net::tag::MoveDestination, "SILENT");
    move.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
    const auto move_identifier =
        dicom::build_find_response({{0x0020000D, "UI", ""}}, {{0x0020000D, study}}, "STUDY", "", kEle);
    net::SpanSource move_source(move_identifier);
    co_await a->send(1, move, move_source);

    // 30 C-FIND-RQs of 15 MiB each (450 MiB) without waiting for any answer.
    const std::vector<std::uint8_t> huge(15u * 1024u * 1024u, 0);
    for (std::uint16_t id = 2; id < 32; ++id) {
      net::SpanSource source(huge);
      co_await a->send(3, find_rq(id), source);
    }
    for (std::uint16_t id = 1; id < 32; ++id) {
      for (;;) {
        auto response = co_await a->receive_response(id);
        if (!response) co_return;
        const auto status = response->command.us(net::tag::Status).value_or(0xFFFF);
        if (status == 0xFF00) continue;
        statuses.push_back(status);
        break;
      }
    }
    co_await a->release();
  });
  const long peak = status_kb(node.pid(), "VmHWM");
  MESSAGE("node RSS before " << rss_before / 1024 << " MiB, peak " << peak / 1024 << " MiB");
  // One association may hold 32 MiB of data sets in memory; the node 256 MiB in all.
  CHECK(peak - rss_before < 96 * 1024);
  REQUIRE(statuses.size() == 31);  // every request answered
  CHECK(std::count(statuses.begin() + 1, statuses.end(), 0xA700) >= 20);  // refused: out of resources
  CHECK(node.echo_ok());
}

TEST_CASE("a C-CANCEL for a message ID not in progress, or after its answer, does not cancel a later request") {
  TempDir data("cancel");
  generate_instances(data.path(), 3, 3);
  Node node;
  auto [code, out] = run({"storescu", "-aec", "PACSNODE", "+sd", "127.0.0.1", std::to_string(node.port()), data.path().string()});
  REQUIRE_MESSAGE(code == 0, out);

  std::vector<std::pair<std::size_t, std::uint16_t>> results;
  run_coroutine([&]() -> asio::awaitable<void> {
    net::AAssociateRq rq;
    rq.called_ae = "PACSNODE";
    rq.calling_ae = "CANCELLER";
    rq.contexts.push_back({1, std::string(net::uid::StudyRootFind), {kEle}});
    net::AssociationSettings settings;
    settings.ae_title = "CANCELLER";
    auto a = co_await net::Association::request("127.0.0.1", node.port(), rq, settings, 1);
    const auto identifier = all_studies_identifier();

    // A cancel for an ID nothing uses yet, then a request with that ID.
    co_await a->send(1, cancel_rq(7));
    net::SpanSource first(identifier);
    co_await a->send(1, find_rq(7), first);
    results.push_back(co_await collect_find(*a, 7));
    // A late cancel for the finished request, then the same ID again.
    co_await a->send(1, cancel_rq(7));
    net::SpanSource second(identifier);
    co_await a->send(1, find_rq(7), second);
    results.push_back(co_await collect_find(*a, 7));
    co_await a->release();
  });
  REQUIRE(results.size() == 2);
  for (const auto& [pending, status] : results) {
    CHECK(status == 0x0000);
    CHECK(pending == 3);
  }
}

TEST_CASE("an instance whose index commit failed is indexed when the modality sends it again (keep)") {
  TempDir data("retry");
  generate_instances(data.path(), 1, 1);
  Node node;
  // The database refuses every new instance row, as a full or broken database would.
  node.sql("CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
           "$$ BEGIN RAISE EXCEPTION 'injected index failure'; END $$");
  node.sql("CREATE TRIGGER test_refuse BEFORE INSERT ON instance FOR EACH ROW EXECUTE FUNCTION test_refuse()");
  const std::vector<std::string> send = {PACSNODE_BINARY, "store", node.target(), data.path().string()};
  auto [code1, out1] = run(send);
  CHECK(code1 == 1);
  CHECK_MESSAGE(out1.find("0x0110") != std::string::npos, out1);
  CHECK(instance_rows(node) == 0);
  CHECK(files_below(node.storage() / "objects").size() == 1);  // the file stays; it was never acknowledged

  node.sql("DROP TRIGGER test_refuse ON instance");
  auto [code2, out2] = run(send);
  CHECK_MESSAGE(code2 == 0, out2);
  // Success was answered: the row must be there now, before any restart repairs anything.
  CHECK(instance_rows(node) == 1);
  CHECK(node.log().find("was stored without an index row: indexed now") != std::string::npos);
}

TEST_CASE("a service that throws ends its association with an A-ABORT and a log line") {
  // A node of our own in this process: its dispatcher's `other` service throws, as a bug
  // in a service would.
  asio::io_context io;
  net::AcceptorPolicy policy;
  policy.supported.push_back({std::string(net::uid::Verification), {std::string(net::uid::ImplicitVrLittleEndian)}, false});
  scp::ServiceSet services;
  services.other = [](net::Association&, net::Message&) -> asio::awaitable<void> {
    throw std::runtime_error("injected bug");
    co_return;
  };
  net::Server* server_ptr = nullptr;
  net::Server server(io, net::ServerSettings{"127.0.0.1", 0}, [&](tcp::socket socket, std::uint64_t id) -> asio::awaitable<void> {
    auto decide = [&policy](const net::AAssociateRq& rq) {
      auto negotiated = net::negotiate(rq, policy);
      net::AcceptDecision d;
      d.accept = true;
      d.contexts = std::move(negotiated.ac_contexts);
      d.accepted = std::move(negotiated.accepted);
      return d;
    };
    net::AssociationSettings settings;
    settings.ae_title = "INPROC";
    auto a = co_await net::Association::accept(std::move(socket), settings, decide, id);
    if (!a) co_return;
    server_ptr->track(id, a);
    co_await scp::serve_association(a, services);
  });
  server_ptr = &server;
  server.start();
  std::thread io_thread([&io]() { io.run(); });

  net::EndReason ended = net::EndReason::Open;
  bool answered = false;
  run_coroutine([&]() -> asio::awaitable<void> {
    net::AAssociateRq rq;
    rq.called_ae = "INPROC";
    rq.calling_ae = "CLIENT";
    rq.contexts.push_back({1, std::string(net::uid::Verification), {std::string(net::uid::ImplicitVrLittleEndian)}});
    net::AssociationSettings settings;
    settings.ae_title = "CLIENT";
    settings.artim_timeout = 5s;
    settings.idle_timeout = 10s;  // without the fix, nothing would come: this ends the wait
    auto a = co_await net::Association::request("127.0.0.1", server.port(), rq, settings, 1);
    net::CommandSet n_get;  // an operation only `other` handles
    n_get.set_ui(net::tag::AffectedSopClassUid, net::uid::Verification);
    n_get.set_us(net::tag::CommandField, 0x0110);
    n_get.set_us(net::tag::MessageId, 1);
    n_get.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
    co_await a->send(1, n_get);
    answered = (co_await a->receive_response(1)).has_value();
    ended = a->end_reason();
  });
  server.shutdown(0ms, [&io]() { io.stop(); });
  io_thread.join();
  CHECK_FALSE(answered);
  CHECK(ended == net::EndReason::PeerAborted);
}

TEST_CASE("C-MOVE never reads a file outside the storage root, whatever the index says") {
  const std::uint16_t port = free_port();
  NodeOptions options;
  options.port = port;
  options.extra = "[[peers]]\nname = \"self\"\nae_title = \"PACSNODE\"\nhost = \"127.0.0.1\"\nport = " +
                  std::to_string(port) + "\n";
  Node node(options);
  const fs::path outside = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";
  auto [code, out] = run({"storescu", "-aec", "PACSNODE", "127.0.0.1", std::to_string(port), outside.string()});
  REQUIRE_MESSAGE(code == 0, out);
  const std::string study = node.sql("SELECT study_instance_uid FROM study LIMIT 1");
  // A tampered (or corrupted) row that climbs out of the root to a real DICOM file whose SOP
  // Instance UID matches the row.
  std::string climb;
  for (int i = 0; i < 20; ++i) climb += "../";
  node.sql("UPDATE instance SET file_path = '" + climb + outside.relative_path().string() + "'");
  auto [move_code, move_out] = run({PACSNODE_BINARY, "move", node.target(), "--dest", "PACSNODE", "--level", "STUDY",
                                    "-k", "StudyInstanceUID=" + study});
  CHECK(move_code == 1);
  CHECK_MESSAGE(move_out.find("0 completed, 1 failed") != std::string::npos, move_out);
  CHECK(node.log().find("path outside the storage root") != std::string::npos);
}
