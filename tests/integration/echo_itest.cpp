// The foundation, end to end: `pacsnode serve` with an embedded PostgreSQL, DCMTK's
// echoscu/storescu/storescp as peers, our own requestor for the cases those tools cannot
// produce, and raw sockets for malformed input.
#include <doctest/doctest.h>

#include <thread>

#include "base/password.hpp"
#include "net/association.hpp"
#include "net/uids.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
using namespace std::chrono_literals;

namespace {

net::AssociationSettings requestor_settings(std::uint32_t max_pdu = 16384) {
  net::AssociationSettings s;
  s.ae_title = "TESTSCU";
  s.max_pdu_length = max_pdu;
  s.artim_timeout = 10s;
  s.connect_timeout = 5s;
  s.implementation_class_uid = "1.2.3.4";
  s.implementation_version_name = "TEST";
  return s;
}

net::AAssociateRq echo_rq(const std::string& called) {
  net::AAssociateRq rq;
  rq.called_ae = called;
  rq.calling_ae = "TESTSCU";
  rq.contexts.push_back({1, std::string(net::uid::Verification), {std::string(net::uid::ImplicitVrLittleEndian)}});
  return rq;
}

// C-ECHO on an established association; returns the response status.
asio::awaitable<std::uint16_t> echo_on(net::Association& a) {
  const auto* pc = net::find_context(a.contexts(), net::uid::Verification);
  REQUIRE(pc != nullptr);
  net::CommandSet c;
  c.set_ui(net::tag::AffectedSopClassUid, net::uid::Verification);
  c.set_us(net::tag::CommandField, 0x0030);
  c.set_us(net::tag::MessageId, a.next_message_id());
  co_await a.send(pc->id, c);
  auto rsp = co_await a.receive();
  REQUIRE(rsp.has_value());
  co_return rsp->command.us(net::tag::Status).value_or(0xFFFF);
}

std::string rejection_of(std::uint16_t port, net::AAssociateRq rq, net::AssociationSettings settings = requestor_settings()) {
  std::string outcome = "accepted";
  run_coroutine([&]() -> asio::awaitable<void> {
    try {
      auto a = co_await net::Association::request("127.0.0.1", port, rq, settings, 1);
      co_await a->release();
    } catch (const net::AssociationError& e) {
      if (e.rj()) {
        outcome = std::to_string(e.rj()->result) + "," + std::to_string(e.rj()->source) + "," +
                  std::to_string(e.rj()->reason);
      } else {
        outcome = e.what();
      }
    }
  });
  return outcome;
}

}  // namespace

TEST_CASE("echoscu gets its answer at max PDU 4096 and 131072, with 128 proposed contexts") {
  Node node;
  for (const char* pdu : {"4096", "16384", "131072"}) {
    auto [code, out] = run({"echoscu", "-v", "-pdu", pdu, "-aec", "PACSNODE", "127.0.0.1", std::to_string(node.port())});
    CHECK_MESSAGE(code == 0, out);
  }
  // 128 contexts, several transfer syntaxes each (conformance case 1).
  auto [code, out] = run({"echoscu", "-v", "-ppc", "128", "-pts", "3", "-aec", "PACSNODE", "127.0.0.1",
                          std::to_string(node.port())});
  CHECK_MESSAGE(code == 0, out);
  CHECK(node.log().find("accepted (128 of 128 contexts") != std::string::npos);
}

TEST_CASE("a requestor with max PDU length 0 (unlimited) is answered; responses fragmented sanely") {
  Node node;
  run_coroutine([&]() -> asio::awaitable<void> {
    auto a = co_await net::Association::request("127.0.0.1", node.port(), echo_rq("PACSNODE"), requestor_settings(0), 1);
    CHECK(a->peer_max_pdu_length() == 131072);  // what the node advertises by default
    for (int i = 0; i < 3; ++i) CHECK(co_await echo_on(*a) == 0x0000);
    co_await a->release();
    CHECK(a->end_reason() == net::EndReason::Released);
  });
}

TEST_CASE("8 concurrent associations, 20 echoes each") {
  Node node;
  std::vector<Process> clients;
  for (int i = 0; i < 8; ++i) {
    ProcessOptions options;
    options.env.push_back({"TCP_NODELAY", "1"});
    options.capture_output = true;
    clients.push_back(Process::spawn({"echoscu", "--repeat", "20", "-aet", "SCU" + std::to_string(i), "-aec", "PACSNODE",
                                      "127.0.0.1", std::to_string(node.port())},
                                     options));
  }
  for (auto& c : clients) {
    auto code = c.wait(60s);
    REQUIRE(code.has_value());
    CHECK_MESSAGE(*code == 0, c.output());
  }
}

TEST_CASE("association rejections carry the PS3.8 result, source and reason") {
  Node node(tables("[[peers]]\nname = \"known\"\nae_title = \"KNOWN\"\nhost = \"127.0.0.1\"\nport = 104\n"));
  SUBCASE("wrong called AE title: RJ (1, 1, 7), with echoscu and pacsnode echo") {
    CHECK(rejection_of(node.port(), echo_rq("NOTME")) == "1,1,7");
    auto [code, out] = run({"echoscu", "-aec", "NOTME", "127.0.0.1", std::to_string(node.port())});
    CHECK(code != 0);
    CHECK_MESSAGE(out.find("Called AE Title Not Recognized") != std::string::npos, out);
    auto [code2, out2] = run({PACSNODE_BINARY, "echo", "NOTME@127.0.0.1:" + std::to_string(node.port())});
    CHECK(code2 == 1);
    CHECK_MESSAGE(out2.find("called AE title not recognized") != std::string::npos, out2);
  }
  SUBCASE("protocol version without bit 0: RJ (1, 2, 2)") {
    auto rq = echo_rq("PACSNODE");
    rq.protocol_version = 0x0002;
    CHECK(rejection_of(node.port(), rq) == "1,2,2");
    rq.protocol_version = 0x0003;  // other bits are not tested (conformance case 4)
    CHECK(rejection_of(node.port(), rq) == "accepted");
  }
  SUBCASE("unknown application context: RJ (1, 1, 2)") {
    auto rq = echo_rq("PACSNODE");
    rq.application_context = "1.2.3.4.5";
    CHECK(rejection_of(node.port(), rq) == "1,1,2");
  }
  SUBCASE("all-spaces calling AE title: RJ (1, 1, 3)") {
    auto rq = echo_rq("PACSNODE");
    rq.calling_ae = "                ";
    CHECK(rejection_of(node.port(), rq) == "1,1,3");
  }
  CHECK(node.echo_ok());
}

TEST_CASE("calling AE policy 'reject' refuses unknown AEs with RJ (1, 1, 3) and accepts peers") {
  Node node(tables("[security]\nunknown_calling_ae = \"reject\"\n"
                   "[[peers]]\nname = \"known\"\nae_title = \"ECHOSCU\"\nhost = \"127.0.0.1\"\nport = 104\n"));
  CHECK(node.echo_ok("ECHOSCU"));
  auto rq = echo_rq("PACSNODE");
  rq.calling_ae = "STRANGER";
  CHECK(rejection_of(node.port(), rq) == "1,1,3");
}

TEST_CASE("only an unsupported abstract syntax proposed (a private SOP class): that context is rejected") {
  Node node;
  run_coroutine([&]() -> asio::awaitable<void> {
    net::AAssociateRq rq = echo_rq("PACSNODE");
    rq.contexts.clear();
    rq.contexts.push_back({1, "1.2.826.0.1.3680043.10.1337.99.1", {std::string(net::uid::ExplicitVrLittleEndian)}});
    rq.contexts.push_back({3, std::string(net::uid::Verification), {"1.2.3.999"}});  // no acceptable TS
    auto a = co_await net::Association::request("127.0.0.1", node.port(), rq, requestor_settings(), 1);
    CHECK(a->contexts().empty());
    co_await a->release();
  });
  CHECK(node.log().find("accepted (0 of 2 contexts") != std::string::npos);
  CHECK(node.echo_ok());
}

TEST_CASE("association limit: RJ (2, 3, 2) when full, accepted again once one is released") {
  Node node(node_keys("max_associations = 2\n"));
  run_coroutine([&]() -> asio::awaitable<void> {
    auto a1 = co_await net::Association::request("127.0.0.1", node.port(), echo_rq("PACSNODE"), requestor_settings(), 1);
    auto a2 = co_await net::Association::request("127.0.0.1", node.port(), echo_rq("PACSNODE"), requestor_settings(), 2);
    bool rejected = false;
    try {
      co_await net::Association::request("127.0.0.1", node.port(), echo_rq("PACSNODE"), requestor_settings(), 3);
    } catch (const net::AssociationError& e) {
      REQUIRE(e.rj().has_value());
      CHECK(e.rj()->result == 2);
      CHECK(e.rj()->source == 3);
      CHECK(e.rj()->reason == 2);
      rejected = true;
    }
    CHECK(rejected);
    co_await a1->release();
    co_await a2->release();
  });
  // The slots are free again (the server notices the closes promptly).
  bool ok = false;
  for (int i = 0; i < 50 && !ok; ++i) {
    ok = node.echo_ok();
    if (!ok) std::this_thread::sleep_for(100ms);
  }
  CHECK(ok);
}

TEST_CASE("user identity 'require': right credentials get 0x59, wrong ones RJ (1, 1, 1)") {
  auto options = tables("[security]\nuser_identity = \"require\"\n[[security.users]]\nusername = \"rad\"\npassword = \"s3cret\"\n");
  options.wait_for_echo = false;  // echoscu offers no identity: it is rejected
  Node node(options);
  auto rq = echo_rq("PACSNODE");
  CHECK(rejection_of(node.port(), rq) == "1,1,1");  // none offered
  rq.user_info.user_identity_rq = net::UserIdentityRq{2, true, "rad", "wrong"};
  CHECK(rejection_of(node.port(), rq) == "1,1,1");
  rq.user_info.user_identity_rq = net::UserIdentityRq{1, true, "rad", ""};  // username only
  CHECK(rejection_of(node.port(), rq) == "1,1,1");
  rq.user_info.user_identity_rq = net::UserIdentityRq{2, true, "rad", "s3cret"};
  CHECK(rejection_of(node.port(), rq) == "accepted");
  // The clear-text password is accepted, and the log says so once at start, naming the user.
  const std::string log = node.log();
  const bool warned =
      log.find(" warning [") != std::string::npos &&
      log.find("security.users[0].password: user \"rad\" has a clear-text password") != std::string::npos;
  CHECK_MESSAGE(warned, node.log_tail());
  CHECK(log.find("s3cret") == std::string::npos);
}

TEST_CASE("user identity 'require' with a password_hash from `pacsnode hash-password`: storescu --user/--password") {
  // The hash goes from the command's output straight into the node's configuration.
  auto [hash_code, hash_out] = run({"sh", "-c", "printf 's3cret\\n' | '" PACSNODE_BINARY "' hash-password"});
  REQUIRE_MESSAGE(hash_code == 0, hash_out);
  REQUIRE(hash_out.rfind("$argon2id$v=19$m=65536,t=2,p=1$", 0) == 0);
  REQUIRE(hash_out.back() == '\n');
  const std::string hash = hash_out.substr(0, hash_out.size() - 1);
  REQUIRE(hash.find('\n') == std::string::npos);

  auto options = tables("[security]\nuser_identity = \"require\"\n[[security.users]]\nusername = \"rad\"\n"
                        "password_hash = \"" + hash + "\"\n");
  options.wait_for_echo = false;
  Node node(options);
  const std::string file = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";
  const auto storescu = [&](std::vector<std::string> identity) {
    std::vector<std::string> argv = {"storescu", "-aet", "MODALITY", "-aec", "PACSNODE"};
    argv.insert(argv.end(), identity.begin(), identity.end());
    argv.insert(argv.end(), {"127.0.0.1", std::to_string(node.port()), file});
    return run(argv);
  };
  const auto rejected_1_1_1 = [](const std::string& out) {
    return out.find("Association Rejected") != std::string::npos &&
           out.find("Result: Rejected Permanent, Source: Service User") != std::string::npos &&
           out.find("Reason: No Reason") != std::string::npos;
  };

  auto [ok_code, ok_out] = storescu({"--user", "rad", "--password", "s3cret", "--pos-response"});
  CHECK_MESSAGE(ok_code == 0, ok_out);
  CHECK(node.sql("SELECT count(*) FROM instance") == "1");

  auto [wrong_code, wrong_out] = storescu({"--user", "rad", "--password", "s3cre7"});
  CHECK(wrong_code != 0);
  CHECK_MESSAGE(rejected_1_1_1(wrong_out), wrong_out);
  auto [only_code, only_out] = storescu({"--user", "rad"});  // user identity type 1
  CHECK(only_code != 0);
  CHECK_MESSAGE(rejected_1_1_1(only_out), only_out);
  auto [empty_code, empty_out] = storescu({"--user", "rad", "--empty-password"});
  CHECK(empty_code != 0);
  CHECK_MESSAGE(rejected_1_1_1(empty_out), empty_out);
  auto [none_code, none_out] = storescu({});
  CHECK(none_code != 0);
  CHECK_MESSAGE(rejected_1_1_1(none_out), none_out);

  // Exact codes through our own requestor, and the remembered passcode accepted again.
  auto rq = echo_rq("PACSNODE");
  rq.user_info.user_identity_rq = net::UserIdentityRq{1, false, "rad", ""};
  CHECK(rejection_of(node.port(), rq) == "1,1,1");
  rq.user_info.user_identity_rq = net::UserIdentityRq{2, false, "rad", "s3cret"};
  CHECK(rejection_of(node.port(), rq) == "accepted");
  const std::string log = node.log();
  CHECK_MESSAGE(log.find("user identity 'rad': username only (type 1) is refused") != std::string::npos, node.log_tail());
  CHECK(log.find("clear-text") == std::string::npos);  // no warning for a hashed account
}

TEST_CASE("pacsnode hash-password: one line of standard input, its newline stripped; empty input refused") {
  const auto hash_of = [](const std::string& printf_format) {
    return run({"sh", "-c", "printf '" + printf_format + "' | '" PACSNODE_BINARY "' hash-password"});
  };
  auto [code, out] = hash_of("correct horse\\n");
  REQUIRE_MESSAGE(code == 0, out);
  const std::string hash = out.substr(0, out.find('\n'));
  CHECK(out == hash + "\n");  // the hash alone: no prompt when standard input is not a terminal
  CHECK(is_password_hash(hash));
  CHECK(verify_password(hash, "correct horse"));
  CHECK_FALSE(verify_password(hash, "correct horse\n"));

  auto [code2, out2] = hash_of("correct horse");  // no newline at all
  REQUIRE(code2 == 0);
  CHECK(verify_password(out2.substr(0, out2.find('\n')), "correct horse"));
  auto [code3, out3] = hash_of("first\\nsecond\\n");  // only the first line counts
  REQUIRE(code3 == 0);
  CHECK(verify_password(out3.substr(0, out3.find('\n')), "first"));

  auto [code4, out4] = hash_of("");
  CHECK(code4 == 2);
  CHECK_MESSAGE(out4.find("no password on standard input") != std::string::npos, out4);
  auto [code5, out5] = hash_of("\\n");
  CHECK(code5 == 2);
  CHECK_MESSAGE(out5.find("the password is empty") != std::string::npos, out5);
}

TEST_CASE("pacsnode echo against DCMTK storescp and against pacsnode serve") {
  Node node;
  auto [code, out] = run({PACSNODE_BINARY, "echo", node.target(), "--aet", "CLI"});
  CHECK_MESSAGE(code == 0, out);
  CHECK(out.find("C-ECHO succeeded") != std::string::npos);

  TempDir dir("scp");
  const auto port = free_port();
  ProcessOptions options;
  options.env.push_back({"TCP_NODELAY", "1"});
  options.capture_output = true;
  options.cwd = dir.path();
  auto storescp = Process::spawn({"storescp", "-aet", "STORESCP", std::to_string(port)}, options);
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    auto [c, o] = run({PACSNODE_BINARY, "echo", "STORESCP@127.0.0.1:" + std::to_string(port), "--timeout", "5"});
    ok = c == 0;
    if (!ok) std::this_thread::sleep_for(100ms);
  }
  CHECK(ok);
  storescp.stop();

  // Nothing listening: a one-line reason and a non-zero exit.
  auto [code3, out3] = run({PACSNODE_BINARY, "echo", "NOBODY@127.0.0.1:" + std::to_string(free_port())});
  CHECK(code3 == 1);
  CHECK_MESSAGE(out3.find("cannot connect") != std::string::npos, out3);
  // Malformed target: usage error.
  auto [code4, out4] = run({PACSNODE_BINARY, "echo", "no-port-here"});
  CHECK(code4 == 2);
}

TEST_CASE("garbage, truncated PDUs and a 4 GB length: the connection is closed, the node keeps answering") {
  Node node;
  SUBCASE("garbage") {
    auto r = raw_exchange(node.port(), std::vector<std::uint8_t>(64, 0xAB));
    CHECK(r.closed_by_peer);
    // A-ABORT (source 2, reason 1: unrecognized PDU) before closing.
    REQUIRE(r.received.size() >= 10);
    CHECK(r.received[0] == 0x07);
    CHECK(r.received[8] == 2);
    CHECK(r.received[9] == 1);
  }
  SUBCASE("a PDU whose length field says 4 GB") {
    auto r = raw_exchange(node.port(), {0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x01});
    CHECK(r.closed_by_peer);
    REQUIRE(r.received.size() >= 10);
    CHECK(r.received[0] == 0x07);
  }
  SUBCASE("an A-ASSOCIATE-RQ whose items overflow the PDU") {
    std::vector<std::uint8_t> pdu(6 + 0x4A, ' ');
    const std::uint8_t head[] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x4A, 0x00, 0x01, 0x00, 0x00};
    std::copy(std::begin(head), std::end(head), pdu.begin());
    pdu[6 + 68] = 0x10;  // application context item...
    pdu[6 + 69] = 0x00;
    pdu[6 + 70] = 0xFF;  // ...claiming 65 000 bytes
    pdu[6 + 71] = 0xE8;
    auto r = raw_exchange(node.port(), pdu);
    CHECK(r.closed_by_peer);
  }
  CHECK(node.echo_ok());
  CHECK(node.running());
}

TEST_CASE("ARTIM: a silent connection and a truncated PDU are closed after artim_timeout") {
  Node node(node_keys("artim_timeout = 2\n"));
  const auto start = std::chrono::steady_clock::now();
  auto silent = raw_exchange(node.port(), {}, 15s);
  CHECK(silent.closed_by_peer);
  auto truncated = raw_exchange(node.port(), {0x01, 0x00, 0x00, 0x00, 0x00, 0xC8, 0x00, 0x01, 0x00, 0x00}, 15s);
  CHECK(truncated.closed_by_peer);
  CHECK(std::chrono::steady_clock::now() - start < 12s);
  CHECK(node.echo_ok());
}
