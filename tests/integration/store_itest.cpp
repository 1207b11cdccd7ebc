// Ingest end to end: DCMTK's storescu and `pacsnode store` send real and generated files to
// `pacsnode serve`; the tests look at the files on disk and the rows in PostgreSQL.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "app/embedded_postgres.hpp"
#include "dicom/part10.hpp"
#include "net/association.hpp"
#include "net/uids.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const fs::path kPydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

// pydicom's files that DCMTK reads as Part 10 (the deliberately broken ones are excluded and
// tested separately).
std::vector<fs::path> valid_pydicom_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kPydicomFiles)) {
    if (entry.path().extension() != ".dcm") continue;
    auto [code, out] = run({"dcmftest", entry.path().string()});
    if (code != 0) continue;
    // A data set without SOP Class/Instance UID (UN_sequence.dcm) is not a storable instance.
    auto [dump_code, dump] = run({"dcmdump", "-q", "-s", "+P", "0008,0016", "+P", "0008,0018", entry.path().string()});
    if (dump_code == 0 && dump.find("(0008,0016)") != std::string::npos && dump.find("(0008,0018)") != std::string::npos) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::uint8_t> read_bytes(const fs::path& file, std::uint64_t offset = 0) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// dcmdump of the data set only, element by element with values (group 0002 and the
// header dropped). Encoding choices that a sender may make differently are normalised away:
// storescu re-encodes what it sends (explicit-length sequences, no trailing padding).
std::string dump_data_set(const fs::path& file) {
  auto [code, out] = run({"dcmdump", "-q", "+L", "-M", "+uc", file.string()});
  std::istringstream in(out);
  std::string line, result;
  const std::regex comment("\\s+#.*$");
  const std::regex with_length(" with (undefined|explicit) length");
  while (std::getline(in, line)) {
    const auto tag_at = line.find_first_not_of(' ');
    // Only element lines: dcmdump's header, comments and warnings (W:, E:) are dropped.
    if (tag_at == std::string::npos || line[tag_at] != '(') continue;
    const std::string tag = line.substr(tag_at, 11);
    // Group lengths (gggg,0000) are recomputed by re-encoding senders.
    if (tag.rfind("(0002,", 0) == 0 || tag.substr(6, 5) == "0000)" || tag == "(fffc,fffc)" || tag == "(fffe,e00d)" || tag == "(fffe,e0dd)") continue;
    line = std::regex_replace(line, comment, "");
    line = std::regex_replace(line, with_length, "");
    result += line + "\n";
  }
  return result;
}

// "" when equal, else the first line where they differ (for failure messages).
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream in_a(a), in_b(b);
  std::string line_a, line_b;
  for (int n = 1;; ++n) {
    const bool more_a = static_cast<bool>(std::getline(in_a, line_a));
    const bool more_b = static_cast<bool>(std::getline(in_b, line_b));
    if (!more_a && !more_b) return "";
    if (!more_a || !more_b || line_a != line_b) {
      return "line " + std::to_string(n) + ":\n  stored: " + (more_a ? line_a : "<end>") + "\n  source: " + (more_b ? line_b : "<end>");
    }
  }
}

// The storescu option that makes it propose a file's own transfer syntax (by default it
// proposes uncompressed syntaxes only, and converts, or fails to); nullopt where it has none.
std::optional<std::string> storescu_proposal_for(const std::string& ts) {
  static const std::map<std::string, std::string> options = {
      {"1.2.840.10008.1.2", "-xi"},        {"1.2.840.10008.1.2.1", "-xe"},     {"1.2.840.10008.1.2.2", "-xb"},
      {"1.2.840.10008.1.2.1.99", "-xd"},   {"1.2.840.10008.1.2.4.50", "-xy"},  {"1.2.840.10008.1.2.4.51", "-xx"},
      {"1.2.840.10008.1.2.4.70", "-xs"},   {"1.2.840.10008.1.2.4.80", "-xt"},  {"1.2.840.10008.1.2.4.81", "-xu"},
      {"1.2.840.10008.1.2.4.90", "-xv"},   {"1.2.840.10008.1.2.4.91", "-xw"},  {"1.2.840.10008.1.2.5", "-xr"}};
  auto it = options.find(ts);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

// The SOP Instance UID in the data set (a file's meta header may disagree: badVR.dcm).
std::string data_set_instance_uid(const fs::path& file) {
  // pydicom reads the top-level element whatever its VR (some files encode UIDs as UN).
  auto [code, out] = run({"/usr/bin/python3", "-c",
                          "import sys, pydicom; print(pydicom.dcmread(sys.argv[1]).SOPInstanceUID)", file.string()});
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return code == 0 ? out : "";
}

fs::path stored_path(const Node& node, const std::string& sop_instance_uid) {
  const std::string rel = node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + sop_instance_uid + "'");
  return rel.empty() ? fs::path() : node.storage() / rel;
}

struct IndexRow {
  std::string file_path;
  std::uintmax_t file_size = 0;
  std::string checksum;  // "xxh3-128:<hex>"
};

// SOP Instance UID → its row, for every instance in the index.
std::map<std::string, IndexRow> index_rows(const Node& node) {
  std::map<std::string, IndexRow> rows;
  std::istringstream in(node.sql("SELECT sop_instance_uid, file_path, file_size, checksum FROM instance"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream columns(line);
    for (std::string field; std::getline(columns, field, '|');) fields.push_back(field);
    REQUIRE_MESSAGE(fields.size() == 4, line);
    rows[fields[0]] = {fields[1], std::stoull(fields[2]), fields[3]};
  }
  return rows;
}

// file_path → the XXH3-128 of that file as `xxhsum -H2` (package xxhash) prints it: the
// canonical big-endian hex of the 128-bit hash, computed without our storage code.
std::map<std::string, std::string> xxh128_of_files(const Node& node, const std::map<std::string, IndexRow>& rows) {
  std::map<std::string, std::string> sums;
  std::vector<std::string> paths;
  for (const auto& [uid, row] : rows) paths.push_back(row.file_path);
  for (std::size_t at = 0; at < paths.size(); at += 500) {
    std::vector<std::string> argv = {"xxhsum", "-q", "-H2"};  // -q: no progress lines
    for (std::size_t i = at; i < std::min(paths.size(), at + 500); ++i) {
      argv.push_back((node.storage() / paths[i]).string());
    }
    auto [code, out] = run(argv, std::chrono::minutes(2));
    REQUIRE_MESSAGE(code == 0, out);
    std::istringstream lines(out);
    std::string line;
    const std::regex sum("^([0-9a-f]{32})  (.+)$");
    std::smatch m;
    while (std::getline(lines, line)) {
      if (std::regex_match(line, m, sum)) sums[fs::path(m[2].str()).lexically_relative(node.storage()).string()] = m[1];
    }
  }
  REQUIRE(sums.size() == paths.size());
  return sums;
}

std::size_t count_objects(const Node& node) {
  std::size_t n = 0;
  for (const auto& f : files_below(node.storage() / "objects")) n += f.extension() == ".dcm";
  return n;
}

std::vector<fs::path> temp_files(const Node& node) {
  std::vector<fs::path> temps;
  for (const auto& f : files_below(node.storage())) {
    if (f.extension() == ".part") temps.push_back(f);
  }
  return temps;
}

net::AssociationSettings requestor_settings() {
  net::AssociationSettings s;
  s.ae_title = "RAWSCU";
  s.artim_timeout = 10s;
  s.connect_timeout = 5s;
  s.implementation_class_uid = "1.2.3.4";
  return s;
}

// C-STORE of `data_set` (an ELE data set) with the given command UIDs; returns the status.
std::uint16_t store_raw(std::uint16_t port, const std::string& sop_class, const std::string& command_instance_uid,
                        const std::vector<std::uint8_t>& data_set) {
  std::uint16_t status = 0xFFFF;
  run_coroutine([&]() -> asio::awaitable<void> {
    net::AAssociateRq rq;
    rq.called_ae = "PACSNODE";
    rq.calling_ae = "RAWSCU";
    rq.contexts.push_back({1, sop_class, {std::string(net::uid::ExplicitVrLittleEndian)}});
    auto a = co_await net::Association::request("127.0.0.1", port, rq, requestor_settings(), 1);
    REQUIRE(a->contexts().size() == 1);
    net::CommandSet c;
    c.set_ui(net::tag::AffectedSopClassUid, sop_class);
    c.set_us(net::tag::CommandField, 0x0001);
    c.set_us(net::tag::MessageId, 1);
    c.set_us(net::tag::Priority, 0);
    c.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
    c.set_ui(net::tag::AffectedSopInstanceUid, command_instance_uid);
    net::SpanSource source(data_set);
    co_await a->send(1, c, source);
    auto rsp = co_await a->receive();
    REQUIRE(rsp.has_value());
    status = rsp->command.us(net::tag::Status).value_or(0xFFFF);
    co_await a->release();
  });
  return status;
}

const char* kCtImageStorage = "1.2.840.10008.5.1.4.1.1.2";

}  // namespace

TEST_CASE("every valid pydicom file, sent by storescu in its own transfer syntax, is stored and indexed") {
  // Several pydicom files share a SOP Instance UID (variants of one image): with "replace"
  // each stored file is the one sent last, so it can be compared with its source.
  Node node(tables("[storage]\nduplicates = \"replace\"\n"));
  std::set<std::string> distinct_uids;
  const auto files = valid_pydicom_files();
  REQUIRE(files.size() > 50);
  for (const auto& file : files) {
    const auto header = dicom::read_part10_header(file);
    const auto proposal = storescu_proposal_for(header.transfer_syntax_uid);
    bool via_storescu = false;
    if (proposal) {
      // -R: only the contexts the file needs, in its own transfer syntax.
      auto [code, out] = run({"storescu", "-v", "-R", *proposal, "-aet", "STORESCU", "-aec", "PACSNODE", "127.0.0.1",
                              std::to_string(node.port()), file.string()});
      // storescu refuses some files itself (unknown SOP class, pixel data it wants to
      // convert and cannot): those go with pacsnode store below.
      const bool storescu_refused = out.find("No presentation context") != std::string::npos ||
                                    out.find("Unknown SOP class") != std::string::npos ||
                                    out.find("unable to convert dataset") != std::string::npos ||
                                    out.find("missing SOP class") != std::string::npos;
      if (!storescu_refused) {
        CHECK_MESSAGE(code == 0, file << ": " << out);
        via_storescu = true;
      }
    }
    const std::string uid = data_set_instance_uid(file);
    if (!via_storescu) {
      MESSAGE(file.filename() << " (" << header.transfer_syntax_uid << "): sent with pacsnode store");
      auto [c2, o2] = run({PACSNODE_BINARY, "store", "--aet", "STORESCU", node.target(), file.string()});
      if (uid != header.sop_instance_uid) {
        // pacsnode store takes the command's UID from the meta header: the node must refuse
        // a data set that says otherwise.
        CHECK(c2 == 1);
        CHECK_MESSAGE(o2.find("0xa900") != std::string::npos, o2);
        continue;
      }
      CHECK_MESSAGE(c2 == 0, file << ": " << o2);
    }
    const fs::path stored = stored_path(node, uid);
    REQUIRE_MESSAGE(!stored.empty(), file << " not indexed; the node's log ends with:\n" << node.log_tail());
    REQUIRE(fs::exists(stored));
    // Element for element identical to the source.
    CHECK_MESSAGE(first_difference(dump_data_set(stored), dump_data_set(file)) == "", file);
    // Our meta: transfer syntax as negotiated, our implementation class, the calling AE.
    const auto stored_header = dicom::read_part10_header(stored);
    CHECK(stored_header.sop_instance_uid == uid);
    CHECK(stored_header.source_ae_title == "STORESCU");
    distinct_uids.insert(uid);
  }
  CHECK(node.sql("SELECT count(*) FROM instance") == std::to_string(distinct_uids.size()));
  CHECK(count_objects(node) == distinct_uids.size());
  CHECK(temp_files(node).empty());
  // Index values for a known file (CT_small.dcm, as pydicom reads it).
  const auto ct = node.sql(
      "SELECT p.patient_id, p.patient_name, s.study_date, se.modality, i.instance_number, i.transfer_syntax_uid "
      "FROM instance i JOIN series se ON se.id = i.series_pk JOIN study s ON s.id = se.study_pk "
      "JOIN patient p ON p.id = s.patient_pk WHERE i.sop_instance_uid = '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322'");
  CHECK(ct == "1CT1|CompressedSamples^CT1|2004-01-19|CT|1|1.2.840.10008.1.2.1");
}

TEST_CASE("pacsnode store sends the file bytes as they are: the stored data set is byte-identical") {
  // The MR_small variants share one SOP Instance UID: "replace" keeps the one sent last.
  Node node(tables("[storage]\nduplicates = \"replace\"\n"));
  std::set<std::string> uids;
  for (const char* name : {"CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                           "MR_small_bigendian.dcm", "image_dfl.dcm"}) {
    const fs::path file = kPydicomFiles / name;
    auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), file.string()});
    CHECK_MESSAGE(code == 0, name << ": " << out);
    CHECK(out.find("sent 1, warnings 0, failed 0") != std::string::npos);
    const auto header = dicom::read_part10_header(file);
    const fs::path stored = stored_path(node, header.sop_instance_uid);
    REQUIRE_MESSAGE(!stored.empty(), name);
    const auto stored_header = dicom::read_part10_header(stored);
    CHECK_MESSAGE(stored_header.transfer_syntax_uid == header.transfer_syntax_uid, name);
    CHECK_MESSAGE(read_bytes(stored, stored_header.data_set_offset) == read_bytes(file, header.data_set_offset), name);
    uids.insert(header.sop_instance_uid);
  }
  // Counts per study and series are right: one per distinct instance.
  CHECK(node.sql("SELECT sum(number_of_instances) FROM study") == std::to_string(uids.size()));
  CHECK(node.sql("SELECT sum(number_of_instances) FROM series") == std::to_string(uids.size()));
}

TEST_CASE("broken files and a sender that drops mid-data-set: no crash, no partial file, no row") {
  Node node;
  SUBCASE("storescu and pacsnode store on pydicom's broken files") {
    for (const char* name : {"MR_truncated.dcm", "rtplan_truncated.dcm", "no_meta.dcm", "ExplVR_BigEndNoMeta.dcm",
                             "ExplVR_LitEndNoMeta.dcm"}) {
      run({"storescu", "-aec", "PACSNODE", "127.0.0.1", std::to_string(node.port()), (kPydicomFiles / name).string()});
      auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), (kPydicomFiles / name).string()});
      CHECK_MESSAGE(code == 1, name << ": " << out);
    }
    // Whatever the tools managed to send was refused: nothing indexed, nothing left over.
    CHECK(node.sql("SELECT count(*) FROM instance") == "0");
  }
  SUBCASE("a truncated data set (valid command, half the bytes) is refused") {
    const fs::path file = kPydicomFiles / "CT_small.dcm";
    const auto header = dicom::read_part10_header(file);
    auto data = read_bytes(file, header.data_set_offset);
    data.resize(data.size() / 2);
    const auto status = store_raw(node.port(), header.sop_class_uid, header.sop_instance_uid, data);
    CHECK(status != 0x0000);
    CHECK(node.sql("SELECT count(*) FROM instance") == "0");
  }
  SUBCASE("the connection drops in the middle of a data set") {
    const fs::path file = kPydicomFiles / "CT_small.dcm";
    const auto header = dicom::read_part10_header(file);
    const auto data = read_bytes(file, header.data_set_offset);
    run_coroutine([&]() -> asio::awaitable<void> {
      net::AAssociateRq rq;
      rq.called_ae = "PACSNODE";
      rq.calling_ae = "DROPPER";
      rq.contexts.push_back({1, header.sop_class_uid, {std::string(net::uid::ExplicitVrLittleEndian)}});
      auto a = co_await net::Association::request("127.0.0.1", node.port(), rq, requestor_settings(), 1);
      // A data source that hands out half the data set, then makes the send fail.
      struct Half final : net::DataSource {
        std::span<const std::uint8_t> data;
        std::size_t read(std::span<std::uint8_t> buffer) override {
          if (data.size() < 2000) throw std::runtime_error("sender gives up");
          const std::size_t n = std::min(buffer.size(), data.size() / 2);
          std::copy_n(data.begin(), n, buffer.begin());
          data = data.subspan(n);
          return n;
        }
      } half;
      half.data = data;
      net::CommandSet c;
      c.set_ui(net::tag::AffectedSopClassUid, header.sop_class_uid);
      c.set_us(net::tag::CommandField, 0x0001);
      c.set_us(net::tag::MessageId, 1);
      c.set_us(net::tag::CommandDataSetType, net::kDataSetPresent);
      c.set_ui(net::tag::AffectedSopInstanceUid, header.sop_instance_uid);
      try {
        co_await a->send(1, c, half);
      } catch (const std::runtime_error&) {
      }
      a->abort();  // then the TCP connection goes
    });
    // The node notices, removes the partial file.
    bool clean = false;
    for (int i = 0; i < 100 && !clean; ++i) {
      clean = temp_files(node).empty() && node.log().find("peer=DROPPER ended") != std::string::npos;
      if (!clean) std::this_thread::sleep_for(50ms);
    }
    CHECK(clean);
    CHECK(node.sql("SELECT count(*) FROM instance") == "0");
  }
  CHECK(count_objects(node) == 0);
  CHECK(temp_files(node).empty());
  CHECK(node.echo_ok());
  auto [code, out] = run({PACSNODE_BINARY, "store", node.target(), (kPydicomFiles / "CT_small.dcm").string()});
  CHECK_MESSAGE(code == 0, out);
}

TEST_CASE("hostile UIDs are refused and nothing is written outside the storage root") {
  Node node;
  const fs::path file = kPydicomFiles / "CT_small.dcm";
  const auto header = dicom::read_part10_header(file);
  const auto data = read_bytes(file, header.data_set_offset);
  CHECK(store_raw(node.port(), kCtImageStorage, "../../etc/x", data) != 0x0000);
  CHECK(store_raw(node.port(), kCtImageStorage, "1.2.3/../../../x", data) != 0x0000);
  CHECK(store_raw(node.port(), kCtImageStorage, std::string(200, '1'), data) != 0x0000);
  CHECK_FALSE(fs::exists(node.storage() / ".." / ".." / "etc" / "x"));
  CHECK_FALSE(fs::exists("/etc/x"));
  CHECK(count_objects(node) == 0);
  CHECK(temp_files(node).empty());
  CHECK(node.sql("SELECT count(*) FROM instance") == "0");
  // A valid command UID that differs from the data set's: 0xA900.
  CHECK(store_raw(node.port(), kCtImageStorage, "1.2.3.4.5.6", data) == 0xA900);
  CHECK(count_objects(node) == 0);
  // The right one is stored.
  CHECK(store_raw(node.port(), kCtImageStorage, header.sop_instance_uid, data) == 0x0000);
  CHECK(count_objects(node) == 1);
}

TEST_CASE("re-sending the same instances: one row each, under both duplicate policies") {
  for (const char* policy : {"keep", "replace"}) {
    CAPTURE(policy);
    Node node(tables(std::string("[storage]\nduplicates = \"") + policy + "\"\n"));
    TempDir data("gen");
    generate_instances(data.path(), 20, 2);
    for (int round = 0; round < 3; ++round) {
      auto [code, out] = run({"storescu", "-aec", "PACSNODE", "+sd", "127.0.0.1", std::to_string(node.port()),
                              data.path().string()});
      CHECK_MESSAGE(code == 0, out);
    }
    CHECK(node.sql("SELECT count(*) FROM instance") == "20");
    CHECK(node.sql("SELECT sum(number_of_instances) FROM study") == "20");
    CHECK(node.sql("SELECT count(*) FROM study") == "2");
    CHECK(count_objects(node) == 20);
    CHECK(temp_files(node).empty());
  }
}

TEST_CASE("replace: the new copy takes the old one's place only once its row committed; a crash between keeps "
          "the copy the index describes") {
  Node node(tables("[storage]\nduplicates = \"replace\"\n"));
  TempDir data("gen");
  generate_instances(data.path(), 1, 1);
  const fs::path v1 = files_below(data.path()).at(0);
  const std::string uid = data_set_instance_uid(v1);
  // The same instance with other content (a second version from the modality).
  const fs::path v2 = data.path() / "v2.dcm";
  auto [gen, gen_out] = run({"/usr/bin/python3", "-c",
                             "import sys, pydicom; d = pydicom.dcmread(sys.argv[1]); d.ImageComments = 'second version'; "
                             "d.save_as(sys.argv[2])",
                             v1.string(), v2.string()});
  REQUIRE_MESSAGE(gen == 0, gen_out);
  auto send = [&](const fs::path& file) {
    auto [code, out] = run({"storescu", "-aec", "PACSNODE", "127.0.0.1", std::to_string(node.port()), file.string()});
    REQUIRE_MESSAGE(code == 0, out);
  };
  auto row = [&] { return index_rows(node).at(uid); };
  auto file_matches_row = [&] {
    const auto rows = index_rows(node);
    REQUIRE(rows.size() == 1);
    const IndexRow& r = rows.at(uid);
    CHECK(fs::file_size(node.storage() / r.file_path) == r.file_size);
    CHECK(r.checksum == "xxh3-128:" + xxh128_of_files(node, rows).at(r.file_path));
  };
  auto staged = [&] { return node.storage() / (row().file_path + ".new"); };

  send(v1);
  const IndexRow first = row();
  const auto first_bytes = read_bytes(node.storage() / first.file_path);
  send(v2);
  file_matches_row();
  CHECK(row().checksum != first.checksum);
  CHECK(dump_data_set(node.storage() / row().file_path).find("second version") != std::string::npos);
  CHECK_FALSE(fs::exists(staged()));
  const IndexRow second = row();

  SUBCASE("crash before the commit: the staged copy was never acknowledged and goes") {
    std::ofstream(staged(), std::ios::binary).write(reinterpret_cast<const char*>(first_bytes.data()),
                                                    static_cast<std::streamsize>(first_bytes.size()));
    node.kill();
    node.restart();
    CHECK_FALSE(fs::exists(staged()));
    CHECK(row().checksum == second.checksum);
    file_matches_row();
    CHECK(node.log().find("a replacement never indexed") != std::string::npos);
  }
  SUBCASE("crash after the commit, before the rename: the copy the row describes is put in place") {
    std::ofstream(staged(), std::ios::binary).write(reinterpret_cast<const char*>(first_bytes.data()),
                                                    static_cast<std::streamsize>(first_bytes.size()));
    node.sql("UPDATE instance SET checksum = '" + first.checksum + "', file_size = " + std::to_string(first.file_size) +
             " WHERE sop_instance_uid = '" + uid + "'");
    node.kill();
    node.restart();
    CHECK_FALSE(fs::exists(staged()));
    CHECK(read_bytes(node.storage() / row().file_path) == first_bytes);
    file_matches_row();
    CHECK(node.log().find("the replacement indexed before the crash put in place") != std::string::npos);
  }
}

TEST_CASE("start-up reconciliation merges the folders with the index: files without rows indexed, rows without "
          "files removed, leftovers cleaned, the rest untouched") {
  Node node;
  TempDir data("gen");
  generate_instances(data.path(), 40, 4);
  auto [code, out] = run({"storescu", "-aec", "PACSNODE", "+sd", "127.0.0.1", std::to_string(node.port()),
                          data.path().string()});
  REQUIRE_MESSAGE(code == 0, out);
  const auto before = index_rows(node);
  REQUIRE(before.size() == 40);
  // Five files lose their rows, five rows their files, and an interrupted transfer and a
  // staged replacement without a row are left behind; then the node crashes (kill -9: its
  // PostgreSQL stays up for the SQL above, and the restart adopts it).
  std::vector<std::string> uids;
  for (const auto& [uid, row] : before) uids.push_back(uid);
  std::set<std::string> unindexed(uids.begin(), uids.begin() + 5), fileless(uids.begin() + 5, uids.begin() + 10);
  std::string in_list;
  for (const auto& uid : unindexed) in_list += (in_list.empty() ? "'" : ",'") + uid + "'";
  node.sql("DELETE FROM instance WHERE sop_instance_uid IN (" + in_list + ")");
  for (const auto& uid : fileless) fs::remove(node.storage() / before.at(uid).file_path);
  // A row whose path leads out of the store (damaged or hand-edited index): start-up goes
  // on, the row goes, and the instance's file, which is in place, is indexed again.
  const std::string& misplaced = uids[10];
  node.sql("UPDATE instance SET file_path = '../../etc/passwd' WHERE sop_instance_uid = '" + misplaced + "'");
  const fs::path folder = (node.storage() / before.begin()->second.file_path).parent_path();
  std::ofstream(folder / ".0123456789abcdef0123456789abcdef.part") << "partial";
  std::ofstream(folder / "1.2.3.4.5.dcm.new") << "never indexed";
  node.kill();
  node.restart();

  const auto after = index_rows(node);
  CHECK(after.size() == 35);
  for (const auto& [uid, row] : before) {
    INFO(uid);
    if (fileless.count(uid)) {
      CHECK(after.count(uid) == 0);
    } else {
      REQUIRE(after.count(uid) == 1);
      CHECK(after.at(uid).file_path == row.file_path);
      CHECK(after.at(uid).checksum == row.checksum);
      CHECK(after.at(uid).file_size == row.file_size);
    }
  }
  CHECK(count_objects(node) == 35);
  CHECK(temp_files(node).empty());
  CHECK_FALSE(fs::exists(folder / "1.2.3.4.5.dcm.new"));
  CHECK(node.sql("SELECT sum(number_of_instances) FROM study") == "35");
  CHECK(node.log().find("index row for ../../etc/passwd: path outside the storage root") != std::string::npos);
  CHECK(node.log().find("35 instance file(s); reconciled: 6 indexed, 6 index row(s) without file removed, 0 "
                        "unreadable, 1 interrupted transfer(s) removed, 0 interrupted replacement(s) finished, 1 "
                        "dropped") != std::string::npos);
}

TEST_CASE("free disk below the watermark: 0xA700 before anything is written") {
  Node node(tables("[storage]\nmin_free_mb = 1000000000\n"));
  const fs::path file = kPydicomFiles / "CT_small.dcm";
  const auto header = dicom::read_part10_header(file);
  CHECK(store_raw(node.port(), header.sop_class_uid, header.sop_instance_uid,
                  read_bytes(file, header.data_set_offset)) == 0xA700);
  CHECK(count_objects(node) == 0);
  CHECK(temp_files(node).empty());
}

TEST_CASE("kill -9 while 8 storescu send 2,000 instances: every acknowledged instance survives, indexed") {
  Node node(node_keys("max_associations = 16\n"));
  TempDir data("gen");
  generate_instances(data.path(), 2000, 50);
  // Eight groups of files, one storescu (one association) each.
  std::vector<fs::path> groups;
  const auto files = files_below(data.path());
  for (int g = 0; g < 8; ++g) {
    groups.push_back(data.path() / ("group" + std::to_string(g)));
    fs::create_directory(groups.back());
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    fs::create_symlink(files[i], groups[i % 8] / files[i].filename());
  }
  std::vector<Process> senders;
  for (int g = 0; g < 8; ++g) {
    ProcessOptions options;
    options.env.push_back({"TCP_NODELAY", "1"});
    options.capture_output = true;
    senders.push_back(Process::spawn({"storescu", "-v", "-aec", "PACSNODE", "+sd", "127.0.0.1",
                                      std::to_string(node.port()), groups[g].string()},
                                     options));
  }
  // Let part of the data arrive, then crash the node.
  for (int i = 0; i < 200; ++i) {
    if (count_objects(node) >= 400) break;
    std::this_thread::sleep_for(20ms);
  }
  node.kill();
  for (auto& s : senders) s.wait(60s);

  // Which instances did storescu see acknowledged? "Sending file: X" … "Received Store
  // Response (Success)".
  std::set<std::string> acknowledged;
  const std::regex sending("Sending file: (\\S+)");
  for (auto& s : senders) {
    std::istringstream out(s.output());
    std::string line, current;
    std::smatch m;
    while (std::getline(out, line)) {
      if (std::regex_search(line, m, sending)) current = m[1];
      if (line.find("Received Store Response (Success)") != std::string::npos && !current.empty()) {
        acknowledged.insert(dicom::read_part10_header(current).sop_instance_uid);
        current.clear();
      }
    }
  }
  MESSAGE(acknowledged.size() << " instances acknowledged before the crash");
  CHECK(acknowledged.size() > 0);
  CHECK(acknowledged.size() < 2000);

  // The index as the crash left it, before a restart's reconciliation indexes the files whose
  // row never committed (which would hide a node that acknowledged before its commit). The
  // embedded postmaster outlives the kill (pg_ctl started it in a session of its own); were
  // it gone, PostgreSQL's own crash recovery is started here instead, never pacsnode's.
  {
    std::optional<app::EmbeddedPostgres> recovery;
    if (!node.database_running()) {
      MESSAGE("the postmaster died with the node: starting it for the check");
      app::EmbeddedPostgresSettings settings;
      settings.cluster_dir = node.dir() / "var" / "pg";
      recovery.emplace(settings);
      recovery->start();
    }
    const auto rows = index_rows(node);
    for (const auto& uid : acknowledged) {
      CHECK_MESSAGE(rows.count(uid) == 1, uid << " was acknowledged but had no index row when the node died");
    }
    // Every row, acknowledged or not, describes a complete file: the size and the XXH3-128
    // that xxhsum (not our storage code) computes from the file on disk.
    for (const auto& [uid, row] : rows) {
      REQUIRE_MESSAGE(fs::exists(node.storage() / row.file_path),
                      uid << ": " << row.file_path << " is indexed but missing");
    }
    const auto on_disk = xxh128_of_files(node, rows);
    for (const auto& [uid, row] : rows) {
      INFO(uid);
      CHECK(fs::file_size(node.storage() / row.file_path) == row.file_size);
      CHECK(row.checksum == "xxh3-128:" + on_disk.at(row.file_path));
    }
    MESSAGE(rows.size() << " rows in the index when the node died");
  }  // a postmaster started for the check is stopped here, before the restart

  node.restart();
  std::set<std::string> indexed;
  {
    std::istringstream rows(node.sql("SELECT sop_instance_uid FROM instance"));
    std::string uid;
    while (std::getline(rows, uid)) indexed.insert(uid);
  }
  for (const auto& uid : acknowledged) {
    CHECK_MESSAGE(indexed.count(uid) == 1, uid << " was acknowledged but is not in the index");
  }
  // No index row points to a missing file, and every object file is indexed.
  std::istringstream paths(node.sql("SELECT file_path FROM instance"));
  std::string path;
  std::size_t rows = 0;
  while (std::getline(paths, path)) {
    CHECK_MESSAGE(fs::exists(node.storage() / path), path);
    ++rows;
  }
  CHECK(rows == count_objects(node));
  CHECK(temp_files(node).empty());

  // `db reindex` on that store reproduces the index.
  const std::string snapshot_query =
      "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (SELECT concat_ws('|', p.patient_id, p.patient_name, "
      "s.study_instance_uid, s.number_of_instances, se.series_instance_uid, se.number_of_instances, "
      "i.sop_instance_uid, i.sop_class_uid, i.instance_number, i.transfer_syntax_uid, i.file_path, i.file_size, "
      "i.checksum, i.calling_ae_title, i.called_ae_title) AS x FROM instance i JOIN series se ON se.id = i.series_pk "
      "JOIN study s ON s.id = se.study_pk JOIN patient p ON p.id = s.patient_pk) t";
  const std::string before = node.sql(snapshot_query);
  CHECK(node.stop() == 0);
  auto [code, out] = run({PACSNODE_BINARY, "db", "reindex", "--config", node.config_path().string()}, 10min);
  CHECK_MESSAGE(code == 0, out);
  node.restart();
  CHECK(node.sql(snapshot_query) == before);
}
