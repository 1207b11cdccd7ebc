// Conformance case 36: a C-FIND with 100,000 matches streams (the node's memory stays flat:
// one batch of rows at a time, not the result set) and a C-CANCEL stops it promptly.
// The matches are inserted straight into the node's index with SQL (header-only studies):
// storing 100,000 files would take minutes and test ingest, not C-FIND.
#include <doctest/doctest.h>

#include <fstream>

#include "dicom/find_identifier.hpp"
#include "net/association.hpp"
#include "net/uids.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;

namespace {

constexpr int kStudies = 100000;

// kB of the process's peak resident set (VmHWM).
long peak_rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

struct FindRun {
  std::size_t pending = 0;
  std::uint16_t final_status = 0;
};

// One C-FIND at STUDY level for every study (Study Root); with `cancel_after` > 0, a
// C-CANCEL-RQ after that many pending responses.
FindRun find_all(const Node& node, std::size_t cancel_after) {
  FindRun out;
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::string ele(net::uid::ExplicitVrLittleEndian);
    net::AAssociateRq rq;
    rq.called_ae = node.ae_title();
    rq.calling_ae = "STREAMER";
    rq.contexts.push_back({1, std::string(net::uid::StudyRootFind), {ele}});
    net::AssociationSettings settings;
    settings.ae_title = "STREAMER";
    auto association = co_await net::Association::request("127.0.0.1", node.port(), rq, settings, 1);
    const auto identifier = dicom::build_find_response(
        {{0x0020000D, "UI", ""}, {0x00100020, "LO", ""}, {0x00080020, "DA", ""}, {0x00081030, "LO", ""}}, {},
        "STUDY", "", ele);
    net::CommandSet command;
    command.set_ui(net::tag::AffectedSopClassUid, net::uid::StudyRootFind);
    command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CFindRq));
    command.set_us(net::tag::MessageId, 5);
    command.set_us(net::tag::Priority, 0);
    command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
    net::SpanSource source(identifier);
    co_await association->send(1, command, source);
    while (auto response = co_await association->receive()) {
      const auto status = response->command.us(net::tag::Status).value_or(0xFFFF);
      if (status != 0xFF00) {
        out.final_status = status;
        break;
      }
      if (++out.pending == cancel_after) {
        net::CommandSet cancel;
        cancel.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CCancelRq));
        cancel.set_us(net::tag::MessageIdBeingRespondedTo, 5);
        cancel.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
        co_await association->send(1, cancel);
      }
    }
    co_await association->release();
  });
  return out;
}

}  // namespace

TEST_CASE("C-FIND streams 100,000 matches with flat memory; C-CANCEL stops it promptly (case 36)") {
  Node node(tables("[query]\nmax_results = 1000000\n"));
  node.sql(
      "INSERT INTO patient (patient_id, patient_name) SELECT 'P' || g, 'NAME^' || g FROM generate_series(1, " +
      std::to_string(kStudies) + ") g");
  node.sql(
      "INSERT INTO study (patient_pk, study_instance_uid, study_date, study_description) SELECT id, "
      "'1.2.826.0.1.3680043.10.1337.8.' || id, DATE '2020-01-01' + (id % 1000)::int, "
      "'a description long enough to make a buffered result set visibly bigger than one batch' FROM patient");
  REQUIRE(node.sql("SELECT count(*) FROM study") == std::to_string(kStudies));
  const long before = peak_rss_kb(node.pid());
  REQUIRE(before > 0);

  const auto all = find_all(node, 0);
  CHECK(all.final_status == 0x0000);
  CHECK(all.pending == static_cast<std::size_t>(kStudies));
  const long after = peak_rss_kb(node.pid());
  // Every match holds ~150 bytes of text: the whole result set in memory (as a libpq
  // result plus its copy as strings) is well over 40 MB; one batch is a few hundred kB.
  MESSAGE("node peak RSS before " << before / 1024 << " MiB, after 100,000 matches " << after / 1024 << " MiB");
  CHECK(after - before < 24 * 1024);

  const auto cancelled = find_all(node, 10);
  CHECK(cancelled.final_status == 0xFE00);
  CHECK(cancelled.pending >= 10);
  CHECK(cancelled.pending < 2000);  // a batch or two in flight, not the 100,000
  CHECK(node.echo_ok());
}
