// Conformance case 36: a C-FIND with 100,000 matches streams (the node's memory stays flat:
// one batch of rows at a time, not the result set) and a C-CANCEL stops it promptly.
// The matches are inserted straight into the node's index with SQL (header-only studies):
// storing 100,000 files would take minutes and test ingest, not C-FIND.
#include <doctest/doctest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcistrmb.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>

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

// One pending response's identifier, decoded with DCMTK (not with our dicom/ code).
struct Match {
  std::string study_instance_uid, patient_id, study_date, study_time;
  bool decoded = false;
  bool operator==(const Match&) const = default;
};

Match decode(std::span<const std::uint8_t> bytes) {
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  DcmDataset data_set;
  data_set.transferInit();
  const OFCondition status = data_set.read(stream, EXS_LittleEndianExplicit);
  data_set.transferEnd();
  Match m;
  if (status.bad()) return m;
  OFString value;
  const auto get = [&](const DcmTagKey& tag, std::string& into) {
    if (data_set.findAndGetOFString(tag, value).good()) into = value.c_str();
  };
  get(DCM_StudyInstanceUID, m.study_instance_uid);
  get(DCM_PatientID, m.patient_id);
  get(DCM_StudyDate, m.study_date);
  get(DCM_StudyTime, m.study_time);
  m.decoded = true;
  return m;
}

struct FindRun {
  std::size_t pending = 0;
  std::uint16_t final_status = 0;
  std::vector<Match> matches;  // in the order received
};

const std::string kUidRoot = "1.2.826.0.1.3680043.10.1337.8.";

// Study g (1 … kStudies) of the SQL below: StudyDate 2020-01-01 + (g mod 1000) days and
// StudyTime g div 1000 seconds past midnight, so that no two studies share both.
Match study(int g) {
  using namespace std::chrono;
  const year_month_day date{sys_days{2020y / January / 1} + days{g % 1000}};
  const int seconds = g / 1000;
  char text[32];
  std::snprintf(text, sizeof text, "%04d%02u%02u", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()));
  Match m{kUidRoot + std::to_string(g), "P" + std::to_string(g), text, "", true};
  std::snprintf(text, sizeof text, "%02d%02d%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
  m.study_time = text;
  return m;
}

// The order README "Query" and db/find_query.hpp promise for STUDY-level answers: StudyDate,
// then StudyTime, newest first.
std::vector<Match> expected_order() {
  std::vector<int> g(kStudies);
  for (int i = 0; i < kStudies; ++i) g[i] = i + 1;
  std::sort(g.begin(), g.end(), [](int a, int b) {
    return std::pair(a % 1000, a / 1000) > std::pair(b % 1000, b / 1000);
  });
  std::vector<Match> out;
  out.reserve(g.size());
  for (int n : g) out.push_back(study(n));
  return out;
}

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
        {{0x0020000D, "UI", ""}, {0x00100020, "LO", ""}, {0x00080020, "DA", ""}, {0x00080030, "TM", ""},
         {0x00081030, "LO", ""}},
        {},
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
      out.matches.push_back(decode(response->data_set()));
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
      "INSERT INTO study (patient_pk, study_instance_uid, study_date, study_time, study_description) SELECT p.id, '" +
      kUidRoot + "' || g, DATE '2020-01-01' + g % 1000, TIME '00:00' + g / 1000 * interval '1 second', "
      "'a description long enough to make a buffered result set visibly bigger than one batch' FROM "
      "generate_series(1, " + std::to_string(kStudies) + ") g JOIN patient p ON p.patient_id = 'P' || g");
  REQUIRE(node.sql("SELECT count(*) FROM study") == std::to_string(kStudies));
  const long before = peak_rss_kb(node.pid());
  REQUIRE(before > 0);

  const auto all = find_all(node, 0);
  CHECK(all.final_status == 0x0000);
  CHECK(all.pending == static_cast<std::size_t>(kStudies));
  // Each response decodes to its own study, every study once, newest first.
  std::set<std::string> distinct;
  for (const auto& m : all.matches) distinct.insert(m.study_instance_uid);
  CHECK(distinct.size() == static_cast<std::size_t>(kStudies));
  const auto expected = expected_order();
  REQUIRE(all.matches.size() == expected.size());
  std::size_t wrong = 0, first_wrong = 0;
  for (std::size_t n = 0; n < expected.size(); ++n) {
    if (!(all.matches[n] == expected[n]) && wrong++ == 0) first_wrong = n;
  }
  CHECK_MESSAGE(wrong == 0, wrong << " responses out of place or wrong; the first at " << first_wrong << ": got "
                                  << all.matches[first_wrong].study_instance_uid << " "
                                  << all.matches[first_wrong].study_date << " " << all.matches[first_wrong].study_time
                                  << ", expected " << expected[first_wrong].study_instance_uid << " "
                                  << expected[first_wrong].study_date << " " << expected[first_wrong].study_time);
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
