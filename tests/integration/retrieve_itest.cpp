// C-MOVE and C-GET end to end: instances stored into `pacsnode serve`, retrieved with DCMTK's
// movescu (to a DCMTK storescp and to Orthanc as destinations) and getscu; what arrives is
// checked file by file (the SOP Instance UID in each data set, and its bytes against the
// stored copy, or element by element and pixel by pixel when transcoded), the counts and
// statuses from movescu's debug output of the final response.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "dicom/find_identifier.hpp"
#include "net/association.hpp"
#include "net/uids.hpp"
#include "tests/support/node.hpp"
#include "tests/support/storescp.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

// DCMTK's storescp (tests/support/storescp.hpp) as these tests need it: the command sets in
// its log (-d), each data set written as it arrived (+B), so that its bytes can be compared
// with ours.
class RetrieveScp : public StoreScp {
 public:
  explicit RetrieveScp(std::vector<std::string> options = {}) : StoreScp(with_ours(std::move(options))) {}

 private:
  static std::vector<std::string> with_ours(std::vector<std::string> options) {
    options.insert(options.begin(), {"-d", "+B"});
    return options;
  }
};

// Orthanc (Debian package) as a remote PACS: DICOM on one free port, REST on another.
class Orthanc {
 public:
  // `modalities`: the DicomModalities object's members, e.g. "\"node\": [\"PACSNODE\", \"127.0.0.1\", 11112]".
  explicit Orthanc(const std::string& modalities = "") : dir_("orthanc"), port_(free_port()), http_port_(free_port()) {
    const auto config = dir_.path() / "orthanc.json";
    std::ofstream(config) << "{\"Name\": \"test\", \"DicomModalities\": {" << modalities
                          << "}, \"StorageDirectory\": \"" << (dir_.path() / "storage").string()
                          << "\", \"IndexDirectory\": \"" << (dir_.path() / "index").string()
                          << "\", \"DicomAet\": \"ORTHANC\", \"DicomPort\": " << port_
                          << ", \"DicomCheckCalledAet\": false, \"HttpPort\": " << http_port_
                          << ", \"RemoteAccessAllowed\": false, \"AuthenticationEnabled\": false, \"Plugins\": []}";
    ProcessOptions po;
    po.output_file = dir_.path() / "orthanc.log";
    process_.emplace(Process::spawn({"/usr/sbin/Orthanc", config.string()}, po));
    for (int i = 0; i < 300; ++i) {
      if (count_instances() >= 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("Orthanc did not start");
  }
  ~Orthanc() { process_->stop(std::chrono::seconds(10)); }
  std::uint16_t port() const { return port_; }
  // -1 while the REST API does not answer.
  int count_instances() const {
    auto [code, out] = run({"curl", "-sf", "http://127.0.0.1:" + std::to_string(http_port_) + "/statistics"},
                           std::chrono::seconds(10));
    std::smatch m;
    if (code != 0 || !std::regex_search(out, m, std::regex("\"CountInstances\"\\s*:\\s*(\\d+)"))) return -1;
    return std::stoi(m[1]);
  }
  std::string instances_json() const {
    return run({"curl", "-sf", "http://127.0.0.1:" + std::to_string(http_port_) + "/instances?expand"}).second;
  }

 private:
  TempDir dir_;
  std::uint16_t port_, http_port_;
  std::optional<Process> process_;
};

// The data set of a Part 10 file: the bytes after its File Meta Information, whose length
// is the value of (0002,0000), the first element after the preamble and "DICM".
std::string data_set_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE_MESSAGE((bytes.size() >= 144 && bytes.compare(128, 4, "DICM") == 0 &&
                   bytes.compare(132, 6, std::string("\x02\x00\x00\x00UL", 6)) == 0),
                  file << " is not a Part 10 file with a File Meta Information Group Length");
  const auto byte = [&](std::size_t at) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])); };
  const std::uint32_t meta_length = byte(140) | byte(141) << 8 | byte(142) << 16 | byte(143) << 24;
  REQUIRE(144 + std::size_t{meta_length} <= bytes.size());
  return bytes.substr(144 + meta_length);
}

// The top-level SOP Instance UID (0008,0018) of a file's data set, as dcmdump reads it.
std::string sop_instance_uid_of(const fs::path& file) {
  auto [code, out] = run({"dcmdump", "-q", file.string()});
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("(0008,0018) UI [", 0) == 0) return line.substr(16, line.find(']') - 16);
  }
  return "";
}

// The SOP Instance UIDs of the data sets DCMTK wrote into `dir`, read from each data set
// (not from the file name); each data set must be, byte for byte, the one the node stored
// (no transfer syntax change is expected where this is used).
std::set<std::string> received_uids(const Node& node, const fs::path& dir) {
  std::set<std::string> uids;
  for (const auto& file : files_below(dir)) {
    INFO(file.string());
    const std::string uid = sop_instance_uid_of(file);
    CHECK_MESSAGE(!uid.empty(), "no SOP Instance UID in the data set");
    CHECK_MESSAGE(uids.insert(uid).second, uid << " received twice");
    const std::string stored = node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + uid + "'");
    REQUIRE_MESSAGE(!stored.empty(), uid << " is not in the node's index");
    CHECK_MESSAGE(data_set_bytes(file) == data_set_bytes(node.storage() / stored),
                  uid << ": the data set received differs from the one stored");
  }
  return uids;
}

std::set<std::string> lines(const std::string& text) {
  const auto all = lines_of(text);
  return {all.begin(), all.end()};
}

// The index's view of one study: its instances, its (only) series, its patient.
std::set<std::string> instances_of(const Node& node, const std::string& study) {
  return lines(node.sql("SELECT sop_instance_uid FROM instance i JOIN series s ON s.id = i.series_pk JOIN study st ON "
                        "st.id = s.study_pk WHERE st.study_instance_uid = '" + study + "'"));
}
std::string series_of(const Node& node, const std::string& study) {
  return *lines(node.sql("SELECT series_instance_uid FROM series s JOIN study st ON st.id = s.study_pk WHERE "
                         "st.study_instance_uid = '" + study + "'")).begin();
}
std::string patient_of(const Node& node, const std::string& study) {
  return *lines(node.sql("SELECT patient_id FROM patient p JOIN study st ON st.patient_pk = p.id WHERE "
                         "st.study_instance_uid = '" + study + "'")).begin();
}

// The final response of a movescu/getscu run, from its debug output.
struct Final {
  int code = 0;
  std::string output;
  std::string status;  // "0x0000", "0xa801", ...
  int remaining = -1, completed = -1, failed = -1, warning = -1;  // -1: absent ("none")
  int pending = 0;     // pending responses seen
};

int field(const std::string& block, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(block, m, std::regex(name + "\\s*:\\s*(\\d+|none)"))) return -1;
  return m[1] == "none" ? -1 : std::stoi(m[1]);
}

Final parse_final(int code, std::string output, const std::string& rsp) {
  Final f;
  f.code = code;
  f.output = std::move(output);
  // Each incoming response is a DIMSE block; the last one of type `rsp` is the final one.
  const std::string marker = "Message Type                  : " + rsp;
  std::size_t at = 0, last = std::string::npos;
  int blocks = 0;
  while ((at = f.output.find(marker, at)) != std::string::npos) {
    last = at;
    ++blocks;
    ++at;
  }
  if (last == std::string::npos) return f;
  const std::string block = f.output.substr(last, f.output.find("END DIMSE MESSAGE", last) - last);
  std::smatch m;
  if (std::regex_search(block, m, std::regex("DIMSE Status\\s*:\\s*(0x[0-9a-f]{4})"))) f.status = m[1];
  f.remaining = field(block, "Remaining Suboperations");
  f.completed = field(block, "Completed Suboperations");
  f.failed = field(block, "Failed Suboperations");
  f.warning = field(block, "Warning Suboperations");
  f.pending = blocks - 1;
  return f;
}

Final move(const Node& node, const std::string& destination, const std::string& model,
           const std::vector<std::string>& keys, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"movescu", "-d", model, "-aec", node.ae_title(), "-aem", destination};
  argv.insert(argv.end(), extra.begin(), extra.end());
  for (const auto& key : keys) {
    argv.push_back("-k");
    argv.push_back(key);
  }
  argv.push_back("127.0.0.1");
  argv.push_back(std::to_string(node.port()));
  auto [code, out] = run(argv, std::chrono::minutes(3));
  return parse_final(code, std::move(out), "C-MOVE RSP");
}

Final get(const Node& node, const fs::path& into, const std::string& model, const std::vector<std::string>& keys) {
  // +B: the data set written as it arrived, so that its bytes can be compared with ours.
  std::vector<std::string> argv = {"getscu", "-d", "+B", model, "-aec", node.ae_title(), "-od", into.string()};
  for (const auto& key : keys) {
    argv.push_back("-k");
    argv.push_back(key);
  }
  argv.push_back("127.0.0.1");
  argv.push_back(std::to_string(node.port()));
  auto [code, out] = run(argv, std::chrono::minutes(3));
  return parse_final(code, std::move(out), "C-GET RSP");
}

std::string peers_toml(std::uint16_t storescp, std::uint16_t orthanc, std::uint16_t down) {
  return "[[peers]]\nname = \"scp\"\nae_title = \"STORESCP\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(storescp) +
         "\n[[peers]]\nname = \"orthanc\"\nae_title = \"ORTHANC\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(orthanc) + "\n[[peers]]\nname = \"down\"\nae_title = \"DOWN\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(down) + "\n";
}

// Two studies of `per_study` instances (one series each), stored into the node.
void load(const Node& node, int per_study) {
  TempDir data("retrieve-data");
  generate_instances(data.path(), 2 * per_study, 2, 16);
  auto [code, out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1", std::to_string(node.port()),
                          data.path().string()},
                         std::chrono::minutes(3));
  REQUIRE_MESSAGE(code == 0, out);
}

}  // namespace

TEST_CASE("C-MOVE with movescu to DCMTK storescp: every level, counts, statuses") {
  RetrieveScp scp;
  const std::uint16_t down = free_port();  // configured, nothing listens
  Node node(tables(peers_toml(scp.port(), free_port(), down)));
  load(node, 12);
  const auto studies = lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1"));
  REQUIRE(studies.size() == 2);
  const std::string study = *studies.begin();
  const auto study_uids = instances_of(node, study);
  REQUIRE(study_uids.size() == 12);
  // Each block below starts with an empty destination folder (one node for all: cheaper
  // than a fresh node and cluster per case).
  const auto clear = [&] {
    for (const auto& file : files_below(scp.received())) fs::remove(file);
  };

  {
    INFO("STUDY level: every instance of the study arrives, with Move Originator set");
    clear();
    const auto f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 12);
    CHECK(f.failed == 0);
    CHECK(f.warning == 0);
    CHECK(f.pending == 11);  // one after every sub-operation but the last
    CHECK(received_uids(node, scp.received()) == study_uids);
    const auto log = scp.log();
    CHECK(log.find("Move Originator AE Title      : MOVESCU") != std::string::npos);
    CHECK(log.find("Move Originator ID            : 1") != std::string::npos);
  }
  {
    INFO("STUDY level with a list of two studies");
    clear();
    const auto f = move(node, "STORESCP", "-S",
                        {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + *studies.begin() + "\\" + *studies.rbegin()});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 24);
    CHECK(received_uids(node, scp.received()).size() == 24);
  }
  {
    INFO("SERIES level");
    clear();
    const std::string series = series_of(node, study);
    const auto f = move(node, "STORESCP", "-S",
                        {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + study,
                         "SeriesInstanceUID=" + series});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 12);
    CHECK(received_uids(node, scp.received()) == study_uids);
  }
  {
    INFO("IMAGE level with a list of two SOP Instance UIDs");
    clear();
    const std::string series = series_of(node, study);
    const std::set<std::string> two = {*study_uids.begin(), *study_uids.rbegin()};
    const auto f = move(node, "STORESCP", "-S",
                        {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study, "SeriesInstanceUID=" + series,
                         "SOPInstanceUID=" + *two.begin() + "\\" + *two.rbegin()});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 2);
    CHECK(received_uids(node, scp.received()) == two);
  }
  {
    INFO("Patient Root, PATIENT level");
    clear();
    const std::string patient = patient_of(node, study);
    const auto f = move(node, "STORESCP", "-P", {"QueryRetrieveLevel=PATIENT", "PatientID=" + patient});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 12);
    CHECK(received_uids(node, scp.received()) == study_uids);
  }
  {
    INFO("unknown destination → 0xA801, nothing sent");
    clear();
    const auto f = move(node, "NOSUCHAE", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study});
    CHECK_MESSAGE(f.status == "0xa801", f.output);
    CHECK(received_uids(node, scp.received()).empty());
    CHECK(node.running());
  }
  {
    INFO("no match → 0x0000 with zero counts and no sub-association");
    clear();
    const auto associations = [&] {
      const std::string log = scp.log();
      std::size_t n = 0;
      for (std::size_t at = 0; (at = log.find("Association Received", at)) != std::string::npos; ++at) ++n;
      return n;
    };
    const std::size_t before = associations();
    const auto f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.3.4.5.6.7"});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 0);
    CHECK(f.failed == 0);
    CHECK(associations() == before);
  }
  {
    INFO("missing unique key, wildcard UID, Study Root PATIENT level → 0xA900");
    clear();
    auto f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY"});
    CHECK_MESSAGE(f.status == "0xa900", f.output);
    f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.*"});
    CHECK_MESSAGE(f.status == "0xa900", f.output);
    f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=PATIENT", "PatientID=PAT0000"});
    CHECK_MESSAGE(f.status == "0xa900", f.output);
    CHECK(received_uids(node, scp.received()).empty());
  }
  {
    INFO("destination configured but down → 0xA702, every sub-operation failed");
    clear();
    const auto f = move(node, "DOWN", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study});
    CHECK_MESSAGE(f.status == "0xa702", f.output);
    CHECK(f.completed == 0);
    CHECK(f.failed == 12);
  }
  {
    INFO("a file missing from storage → 0xB000, the others arrive, Failed SOP Instance UID List names it");
    clear();
    const std::string victim = *study_uids.begin();
    const std::string path = node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + victim + "'");
    fs::remove(node.storage() / *lines(path).begin());
    const auto f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study});
    CHECK_MESSAGE(f.status == "0xb000", f.output);
    CHECK(f.completed == 11);
    CHECK(f.failed == 1);
    CHECK(received_uids(node, scp.received()).size() == 11);
    CHECK(f.output.find("FailedSOPInstanceUIDList") != std::string::npos);
    CHECK(f.output.find(victim) != std::string::npos);
  }
}

TEST_CASE("C-MOVE: C-CANCEL during the sub-operations → 0xFE00 with the counts so far") {
  RetrieveScp scp;
  Node node(tables(peers_toml(scp.port(), free_port(), free_port())));
  load(node, 150);
  const std::string study = *lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1")).begin();
  const auto f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study},
                      {"--cancel", "3"});
  CHECK_MESSAGE(f.status == "0xfe00", f.output);
  REQUIRE(f.completed >= 3);
  CHECK(f.completed < 150);
  CHECK(f.remaining == 150 - f.completed - f.failed - f.warning);
  CHECK(received_uids(node, scp.received()).size() == static_cast<std::size_t>(f.completed));

  // The requestor vanishes mid-move: the sub-association is aborted, the node keeps serving.
  const std::string other = *lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1")).rbegin();
  for (const auto& file : files_below(scp.received())) fs::remove(file);
  ProcessOptions po;
  po.env = {{"TCP_NODELAY", "1"}};
  po.capture_output = true;
  auto movescu = Process::spawn({"movescu", "-S", "-aec", node.ae_title(), "-aem", "STORESCP", "-k",
                                 "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + other, "127.0.0.1",
                                 std::to_string(node.port())},
                                po);
  for (int i = 0; i < 200 && files_below(scp.received()).size() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  movescu.kill(9);
  movescu.wait();
  bool aborted = false;
  for (int i = 0; i < 100 && !aborted; ++i) {
    aborted = scp.log().find("Association Aborted") != std::string::npos;
    if (!aborted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK_MESSAGE(aborted, scp.log().substr(scp.log().size() > 3000 ? scp.log().size() - 3000 : 0));
  CHECK(files_below(scp.received()).size() < 150);
  CHECK(node.echo_ok());
}

TEST_CASE("C-MOVE and C-GET: more matches than query.max_retrieve → 0xA701, nothing sent") {
  RetrieveScp scp;
  NodeOptions options = tables(peers_toml(scp.port(), free_port(), free_port()) + "[query]\nmax_retrieve = 5\n");
  Node node(options);
  load(node, 3);  // 6 instances
  const auto studies = lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1"));
  const std::string both = *studies.begin() + "\\" + *studies.rbegin();
  auto f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + both});
  CHECK_MESSAGE(f.status == "0xa701", f.output);
  CHECK(received_uids(node, scp.received()).empty());
  f = move(node, "STORESCP", "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + *studies.begin()});
  CHECK_MESSAGE(f.status == "0x0000", f.output);
  CHECK(f.completed == 3);
  TempDir into("getscu");
  f = get(node, into.path(), "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + both});
  CHECK_MESSAGE(f.status == "0xa701", f.output);
  CHECK(files_below(into.path()).empty());
}

TEST_CASE("C-MOVE to Orthanc as the destination") {
  Orthanc orthanc;
  Node node(tables(peers_toml(free_port(), orthanc.port(), free_port())));
  load(node, 10);
  const auto studies = lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1"));
  const auto f = move(node, "ORTHANC", "-S",
                      {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + *studies.begin() + "\\" + *studies.rbegin()});
  CHECK_MESSAGE(f.status == "0x0000", f.output);
  CHECK(f.completed == 20);
  CHECK(orthanc.count_instances() == 20);
  const auto json = orthanc.instances_json();
  for (const auto& uid : lines(node.sql("SELECT sop_instance_uid FROM instance"))) {
    CHECK_MESSAGE(json.find(uid) != std::string::npos, uid);
  }
}

TEST_CASE("C-GET with getscu: study and series level, on the requestor's association") {
  Node node;
  load(node, 8);
  const auto studies = lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1"));
  const std::string study = *studies.begin();
  const auto study_uids = instances_of(node, study);
  TempDir into("getscu");
  const auto clear = [&] {
    for (const auto& file : files_below(into.path())) fs::remove(file);
  };

  {
    INFO("STUDY level");
    clear();
    const auto f = get(node, into.path(), "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 8);
    CHECK(f.failed == 0);
    CHECK(received_uids(node, into.path()) == study_uids);
  }
  {
    INFO("SERIES level, Patient Root");
    clear();
    const std::string series = series_of(node, study);
    const std::string patient = patient_of(node, study);
    const auto f = get(node, into.path(), "-P",
                       {"QueryRetrieveLevel=SERIES", "PatientID=" + patient, "StudyInstanceUID=" + study,
                        "SeriesInstanceUID=" + series});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 8);
    CHECK(received_uids(node, into.path()) == study_uids);
  }
  {
    INFO("unknown study → 0x0000, nothing");
    clear();
    const auto f = get(node, into.path(), "-S", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.3.4"});
    CHECK_MESSAGE(f.status == "0x0000", f.output);
    CHECK(f.completed == 0);
    CHECK(files_below(into.path()).empty());
  }
}

TEST_CASE("C-GET: a requestor that offered no storage context with the SCP role → every sub-operation failed") {
  Node node;
  load(node, 3);
  const std::string study = *lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1")).begin();
  std::vector<std::uint16_t> statuses;
  std::vector<int> failed_counts;
  std::string failed_list;
  run_coroutine([&]() -> asio::awaitable<void> {
    net::AAssociateRq rq;
    rq.called_ae = node.ae_title();
    rq.calling_ae = "NOROLE";
    rq.contexts.push_back({1, std::string(net::uid::StudyRootGet), {std::string(net::uid::ExplicitVrLittleEndian)}});
    net::AssociationSettings settings;
    settings.ae_title = "NOROLE";
    auto association = co_await net::Association::request("127.0.0.1", node.port(), rq, settings, 1);
    const auto identifier = dicom::build_find_response(
        {{0x0020000D, "UI", ""}}, {{0x0020000D, study}}, "STUDY", "", std::string(net::uid::ExplicitVrLittleEndian));
    net::CommandSet command;
    command.set_ui(net::tag::AffectedSopClassUid, net::uid::StudyRootGet);
    command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CGetRq));
    command.set_us(net::tag::MessageId, 7);
    command.set_us(net::tag::Priority, 0);
    command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
    net::SpanSource source(identifier);
    co_await association->send(1, command, source);
    for (;;) {
      auto response = co_await association->receive();
      if (!response) break;
      const auto status = response->command.us(net::tag::Status).value_or(0xFFFF);
      statuses.push_back(status);
      failed_counts.push_back(response->command.us(net::tag::NumberOfFailedSuboperations).value_or(0xFFFF));
      if (status != 0xFF00) {
        const auto bytes = response->data_set();
        failed_list.assign(bytes.begin(), bytes.end());
        break;
      }
    }
    co_await association->release();
  });
  REQUIRE(!statuses.empty());
  CHECK(statuses.back() == 0xB000);
  CHECK(failed_counts.back() == 3);
  for (const auto& uid : instances_of(node, study)) {
    CHECK_MESSAGE(failed_list.find(uid) != std::string::npos, uid);
  }
}

TEST_CASE("C-GET: C-CANCEL during the sub-operations → 0xFE00 with the counts so far") {
  Node node;
  load(node, 40);
  const std::string study = *lines(node.sql("SELECT study_instance_uid FROM study ORDER BY 1")).begin();
  const std::string ct(net::uid::ExplicitVrLittleEndian);
  std::uint16_t final_status = 0;
  int stores = 0, completed = -1, remaining = -1;
  run_coroutine([&]() -> asio::awaitable<void> {
    net::AAssociateRq rq;
    rq.called_ae = node.ae_title();
    rq.calling_ae = "GETTER";
    rq.contexts.push_back({1, std::string(net::uid::StudyRootGet), {ct}});
    rq.contexts.push_back({3, "1.2.840.10008.5.1.4.1.1.2", {ct}});  // CT Image Storage, we are its SCP
    rq.user_info.roles.push_back({"1.2.840.10008.5.1.4.1.1.2", false, true});
    net::AssociationSettings settings;
    settings.ae_title = "GETTER";
    auto association = co_await net::Association::request("127.0.0.1", node.port(), rq, settings, 1);
    const auto identifier =
        dicom::build_find_response({{0x0020000D, "UI", ""}}, {{0x0020000D, study}}, "STUDY", "", ct);
    net::CommandSet command;
    command.set_ui(net::tag::AffectedSopClassUid, net::uid::StudyRootGet);
    command.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CGetRq));
    command.set_us(net::tag::MessageId, 9);
    command.set_us(net::tag::Priority, 0);
    command.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
    net::SpanSource source(identifier);
    co_await association->send(1, command, source);
    while (auto message = co_await association->receive()) {
      const auto field = message->command.command_field();
      if (field == net::CommandField::CStoreRq) {
        ++stores;
        net::CommandSet rsp;
        rsp.set_us(net::tag::CommandField, 0x8001);
        rsp.set_us(net::tag::MessageIdBeingRespondedTo, message->command.message_id().value_or(0));
        rsp.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
        rsp.set_us(net::tag::Status, 0);
        rsp.set_ui(net::tag::AffectedSopClassUid, *message->command.str(net::tag::AffectedSopClassUid));
        rsp.set_ui(net::tag::AffectedSopInstanceUid, *message->command.str(net::tag::AffectedSopInstanceUid));
        co_await association->send(message->pc_id, rsp);
        if (stores == 3) {
          net::CommandSet cancel;
          cancel.set_us(net::tag::CommandField, static_cast<std::uint16_t>(net::CommandField::CCancelRq));
          cancel.set_us(net::tag::MessageIdBeingRespondedTo, 9);
          cancel.set_us(net::tag::CommandDataSetType, net::kNoDataSet);
          co_await association->send(1, cancel);
        }
        continue;
      }
      const auto status = message->command.us(net::tag::Status).value_or(0xFFFF);
      if (status == 0xFF00) continue;
      final_status = status;
      completed = message->command.us(net::tag::NumberOfCompletedSuboperations).value_or(0xFFFF);
      remaining = message->command.us(net::tag::NumberOfRemainingSuboperations).value_or(0xFFFF);
      break;
    }
    co_await association->release();
  });
  CHECK(final_status == 0xFE00);
  CHECK(completed == stores);
  CHECK(completed >= 3);
  CHECK(completed < 40);
  CHECK(remaining == 40 - completed);
}

TEST_CASE("pacsnode move (C-MOVE SCU): pull a study from Orthanc into the node, and from the node to storescp") {
  RetrieveScp scp;
  const std::uint16_t node_port = free_port();
  Orthanc orthanc("\"node\": [\"PACSNODE\", \"127.0.0.1\", " + std::to_string(node_port) + "]");
  NodeOptions options = tables(peers_toml(scp.port(), orthanc.port(), free_port()));
  options.port = node_port;
  Node node(options);
  REQUIRE(node.port() == node_port);

  // Orthanc holds two studies; the node holds nothing yet.
  TempDir data("pull");
  generate_instances(data.path(), 10, 2, 16);
  auto [code, out] = run({"storescu", "-aec", "ORTHANC", "+sd", "127.0.0.1", std::to_string(orthanc.port()),
                          data.path().string()});
  REQUIRE_MESSAGE(code == 0, out);
  REQUIRE(orthanc.count_instances() == 10);
  std::set<std::string> studies;
  for (const auto& file : files_below(data.path())) {
    auto [c, dump] = run({"dcmdump", "-q", "-s", "+P", "0020,000d", file.string()});
    studies.insert(dump.substr(dump.find('[') + 1, dump.find(']') - dump.find('[') - 1));
  }
  REQUIRE(studies.size() == 2);
  const std::string study = *studies.begin();

  const std::string orthanc_target = "ORTHANC@127.0.0.1:" + std::to_string(orthanc.port());
  std::tie(code, out) = run({PACSNODE_BINARY, "move", orthanc_target, "--dest", "PACSNODE", "--aet", "PACSNODE",
                             "--level", "STUDY", "-k", "StudyInstanceUID=" + study});
  CHECK_MESSAGE(code == 0, out);
  CHECK_MESSAGE(out.find("5 completed, 0 failed") != std::string::npos, out);
  CHECK(instances_of(node, study).size() == 5);
  CHECK(node.sql("SELECT count(*) FROM instance") == "5");

  // From the node to storescp, by the same command.
  std::tie(code, out) = run({PACSNODE_BINARY, "move", node.target(), "--dest", "STORESCP", "--level", "STUDY", "-k",
                             "StudyInstanceUID=" + study});
  CHECK_MESSAGE(code == 0, out);
  CHECK(received_uids(node, scp.received()).size() == 5);

  // Failures are reported with their status, exit 1.
  std::tie(code, out) = run({PACSNODE_BINARY, "move", node.target(), "--dest", "NOSUCHAE", "--level", "STUDY", "-k",
                             "StudyInstanceUID=" + study});
  CHECK(code == 1);
  CHECK_MESSAGE(out.find("0xa801") != std::string::npos, out);
  // A keyword that does not exist: usage error, exit 2.
  std::tie(code, out) = run({PACSNODE_BINARY, "move", node.target(), "--dest", "STORESCP", "--level", "STUDY", "-k",
                             "StudyInstanceUIDX=1.2"});
  CHECK(code == 2);
}

namespace {

const fs::path kPydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

// Pixel Data (7FE0,0010) of a file in a native (uncompressed) transfer syntax, as bytes:
// written by dcmdump +W into `scratch`.
std::string native_pixels(const fs::path& file, const fs::path& scratch) {
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  auto [code, out] = run({"dcmdump", "-q", "+W", scratch.string(), "+P", "7fe0,0010", file.string()});
  REQUIRE_MESSAGE(code == 0, out);
  const auto written = files_below(scratch);
  REQUIRE_MESSAGE(written.size() == 1, out);
  std::ifstream in(written[0], std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string dump_value(const fs::path& file, const std::string& tag) {
  auto [code, out] = run({"dcmdump", "-q", "-s", "-Un", "+P", tag, file.string()});
  const auto open = out.find('['), close = out.find(']');
  return open == std::string::npos || close == std::string::npos ? std::string() : out.substr(open + 1, close - open - 1);
}

// Reference decoders that share no code with ours (DCMTK's dcmjpeg, dcmjpls and dcmrle,
// and OpenJPEG): GDCM's gdcmconv --raw for JPEG and JPEG-LS (GDCM's own IJG builds and
// upstream CharLS 2.4, libcharls.so.2), Grok for JPEG 2000 (tests/tools/grok_decode.py,
// libgrokj2k), PS3.5 Annex G in Python for RLE (tests/tools/rle_decode.py). See the
// comments in tests/unit/dicom_transcode_test.cpp.
enum class Reference { Gdcm, Grok, AnnexG };

// The reference decoder's pixels of `source`, as a native data set holds them.
std::string reference_pixels(Reference decoder, const fs::path& source, const fs::path& work) {
  const fs::path out = work / (source.filename().string() + ".ref");
  if (decoder == Reference::Gdcm) {
    auto [code, output] = run({"gdcmconv", "--raw", source.string(), out.string()});
    REQUIRE_MESSAGE(code == 0, output);
    REQUIRE(dump_value(out, "0028,0004") != "YBR_FULL");  // GDCM leaves it, we convert to RGB
    return native_pixels(out, work / "r");
  }
  const std::string script = decoder == Reference::Grok ? "grok_decode.py" : "rle_decode.py";
  auto [code, output] = run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/" + script,
                             source.string(), out.string()});
  REQUIRE_MESSAGE(code == 0, output);
  std::ifstream in(out, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A data set element by element (dcmdump, values included) without what decoding the
// pixels may change: the File Meta Information, group lengths, Pixel Data and its items,
// the Image Pixel attributes that describe the encoding (Photometric Interpretation,
// Planar Configuration, Lossy Image Compression and its ratio and method), and Derivation
// Description (DCMTK's JPEG encoder notes its compression there).
std::string elements_but_pixels(const fs::path& file) {
  auto [code, out] = run({"dcmdump", "-q", "+L", "+uc", file.string()});
  std::istringstream in(out);
  std::string result;
  const std::regex comment("\\s+#.*$");
  const std::regex with_length(" with (undefined|explicit) length");
  const std::set<std::string> skipped = {"(0008,2111)", "(0028,0004)", "(0028,0006)", "(0028,2110)",
                                         "(0028,2112)", "(0028,2114)", "(7fe0,0010)", "(fffe,e000)",
                                         "(fffe,e00d)", "(fffe,e0dd)", "(fffc,fffc)"};
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find_first_not_of(' ');
    if (at == std::string::npos || line[at] != '(') continue;
    const std::string tag = line.substr(at, 11);
    if (tag.rfind("(0002,", 0) == 0 || tag.substr(6, 5) == "0000)" || skipped.count(tag)) continue;
    line = std::regex_replace(std::regex_replace(line, comment, ""), with_length, "");
    result += line + "\n";
  }
  return result;
}

}  // namespace

TEST_CASE("C-MOVE transcodes for a destination that accepts only Little Endian: pixels equal the reference decoder's") {
  RetrieveScp scp;  // storescp's default: uncompressed transfer syntaxes only
  Node node(tables(peers_toml(scp.port(), free_port(), free_port())));
  TempDir work("transcode");
  struct Case {
    const char* file;
    Reference reference;
    bool lossy;
  };
  const std::vector<Case> cases = {
      {"GDCMJ2K_TextGBR.dcm", Reference::Grok, false},             // JPEG 2000 lossless
      {"MR_small_jpeg_ls_lossless.dcm", Reference::Gdcm, false},   // JPEG-LS lossless
      {"SC_rgb_jpeg_gdcm.dcm", Reference::Gdcm, false},            // JPEG lossless SV1
      {"MR_small_RLE.dcm", Reference::AnnexG, false},              // RLE
      {"JPEG-lossy.dcm", Reference::Gdcm, true},                   // JPEG extended (lossy)
      {"SC_rgb_rle_2frame.dcm", Reference::AnnexG, false},         // RLE, colour, 2 frames
      {"693_J2KI.dcm", Reference::Grok, true},                     // JPEG 2000 irreversible
      {"JPEG2000.dcm", Reference::Grok, true},                     // JPEG 2000 (.91), reversible wavelet
  };
  // Some of pydicom's files share SOP Instance UIDs: each copy gets a fresh one first.
  std::vector<fs::path> sources;
  for (const auto& c : cases) {
    const fs::path copy = work.path() / c.file;
    fs::copy_file(kPydicomFiles / c.file, copy);
    auto [code, out] = run({"dcmodify", "-nb", "-gin", copy.string()});
    REQUIRE_MESSAGE(code == 0, out);
    sources.push_back(copy);
  }
  std::vector<std::string> send = {PACSNODE_BINARY, "store", node.target()};
  for (const auto& s : sources) send.push_back(s.string());
  {
    auto [code, out] = run(send);
    REQUIRE_MESSAGE(code == 0, out);
  }
  for (std::size_t n = 0; n < cases.size(); ++n) {
    const auto& c = cases[n];
    INFO(std::string(c.file));
    const std::string uid = dump_value(sources[n], "0008,0018");
    REQUIRE(!uid.empty());
    const std::string stored_ts = dump_value(sources[n], "0002,0010");
    for (const auto& file : files_below(scp.received())) fs::remove(file);
    const auto f = move(node, "STORESCP", "-S",
                        {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + dump_value(sources[n], "0020,000d"),
                         "SeriesInstanceUID=" + dump_value(sources[n], "0020,000e"), "SOPInstanceUID=" + uid});
    CHECK_MESSAGE(f.status == "0x0000", f.output << node.log_tail());
    const auto received = files_below(scp.received());
    REQUIRE(received.size() == 1);
    const std::string received_ts = dump_value(received[0], "0002,0010");
    CHECK_MESSAGE((received_ts == "1.2.840.10008.1.2.1" || received_ts == "1.2.840.10008.1.2"), received_ts);

    CHECK(sop_instance_uid_of(received[0]) == uid);
    // Everything but the pixels and their description is what was stored.
    const std::string stored_path = node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + uid + "'");
    CHECK(elements_but_pixels(received[0]) == elements_but_pixels(node.storage() / stored_path));
    const auto expected = reference_pixels(c.reference, sources[n], work.path());
    const auto actual = native_pixels(received[0], work.path() / "b");
    CHECK(expected.size() == actual.size());
    CHECK(expected == actual);
    if (c.lossy) CHECK(dump_value(received[0], "0028,2110") == "01");
    CHECK(stored_ts != received_ts);
  }
}

TEST_CASE("C-MOVE compresses losslessly for a destination that takes only JPEG-LS, JPEG lossless or RLE") {
  TempDir work("encode");
  const fs::path source = work.path() / "MR_small.dcm";
  fs::copy_file(kPydicomFiles / "MR_small.dcm", source);
  struct Case {
    const char* syntax_name;  // DCMTK's name in storescp's configuration
    const char* uid;
    Reference reference;      // the decoder of what storescp received
  };
  const std::vector<Case> cases = {
      {"JPEGLSLossless", "1.2.840.10008.1.2.4.80", Reference::Gdcm},
      {"JPEGLossless:Non-hierarchical-1stOrderPrediction", "1.2.840.10008.1.2.4.70", Reference::Gdcm},
      {"RLELossless", "1.2.840.10008.1.2.5", Reference::AnnexG},
  };
  const std::string original = native_pixels(source, work.path() / "o");
  for (const auto& c : cases) {
    INFO(std::string(c.syntax_name));
    // storescp accepts MR Image Storage in this one syntax only.
    const fs::path config = work.path() / "only.cfg";
    std::ofstream(config) << "[[TransferSyntaxes]]\n[Uncompressed]\nTransferSyntax1 = LittleEndianImplicit\n"
                          << "[Only]\nTransferSyntax1 = " << c.syntax_name << "\n"
                          << "[[PresentationContexts]]\n[P]\n"
                          << "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
                          << "PresentationContext2 = MRImageStorage\\Only\n"
                          << "[[Profiles]]\n[Only]\nPresentationContexts = P\n";
    RetrieveScp scp({"-xf", config.string(), "Only"});
    Node node(tables(peers_toml(scp.port(), free_port(), free_port())));
    auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), source.string()});
    REQUIRE_MESSAGE(code == 0, out);
    const auto f = move(node, "STORESCP", "-S",
                        {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + dump_value(source, "0020,000d")});
    CHECK_MESSAGE(f.status == "0x0000", f.output << node.log_tail());
    const auto received = files_below(scp.received());
    REQUIRE(received.size() == 1);
    CHECK(dump_value(received[0], "0002,0010") == c.uid);
    CHECK(elements_but_pixels(received[0]) == elements_but_pixels(source));
    CHECK(reference_pixels(c.reference, received[0], work.path()) == original);
  }
}
