// STOW-RS through a real client (curl) against the real binary: instances stored through the
// ingest path (then found by C-FIND's index and retrieved byte for byte), per-instance
// failures for pydicom's broken files with nothing of them stored, a body cut off
// mid-stream storing nothing, the study of the path enforced, wrong media types refused.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "tests/support/node.hpp"
#include "tests/support/temp_dir.hpp"

using namespace pacsnode::test;
namespace fs = std::filesystem;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";
const std::string kBoundary = "stow-test-boundary-1b7c";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct BodyPart {
  std::string content_type;
  std::string bytes;
};

BodyPart dicom_part(const std::string& file) { return {"application/dicom", read_file(kData + file)}; }

std::string multipart(const std::vector<BodyPart>& parts) {
  std::string body;
  for (const auto& p : parts) {
    body += "--" + kBoundary + "\r\nContent-Type: " + p.content_type + "\r\n\r\n" + p.bytes + "\r\n";
  }
  body += "--" + kBoundary + "--\r\n";
  return body;
}

struct Reply {
  int status = 0;
  std::string headers, body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

Reply post(std::uint16_t port, const std::string& path, const std::string& body,
           const std::string& content_type = "multipart/related; type=\"application/dicom\"; boundary=" + kBoundary,
           const std::vector<std::string>& extra = {}) {
  TempDir dir("stow-body");
  const auto file = dir.path() / "body";
  std::ofstream(file, std::ios::binary) << body;
  std::vector<std::string> argv = {"curl", "-s", "-g", "-D", "-", "--max-time", "60", "-X", "POST",
                                   "-H", "Content-Type: " + content_type, "--data-binary", "@" + file.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, out);
  Reply r;
  auto split = out.find("\r\n\r\n");
  // curl prints "100 Continue" first for large bodies.
  while (out.compare(0, 12, "HTTP/1.1 100") == 0 && split != std::string::npos) {
    out = out.substr(split + 4);
    split = out.find("\r\n\r\n");
  }
  r.headers = out.substr(0, split);
  r.body = split == std::string::npos ? "" : out.substr(split + 4);
  r.status = std::stoi(r.headers.substr(9, 3));
  return r;
}

std::vector<nlohmann::json> items(const nlohmann::json& answer, const std::string& tag) {
  std::vector<nlohmann::json> out;
  if (!answer.contains(tag)) return out;
  for (const auto& item : answer.at(tag).value("Value", nlohmann::json::array())) out.push_back(item);
  return out;
}

std::string uid_of(const nlohmann::json& item, const std::string& tag) {
  if (!item.contains(tag) || !item.at(tag).contains("Value")) return "";
  return item.at(tag).at("Value").at(0).get<std::string>();
}

// SOP Instance UID of a pydicom file, read by dcmdump (not by us).
std::string sop_instance_uid(const std::string& file) {
  auto [code, out] = run({"dcmdump", "+P", "0008,0018", "-q", kData + file});
  REQUIRE(code == 0);
  const auto open = out.find('['), close = out.find(']');
  REQUIRE(open != std::string::npos);
  return out.substr(open + 1, close - open - 1);
}

std::string count(Node& node, const std::string& table = "instance") {
  return node.sql("SELECT count(*) FROM " + table);
}

std::size_t part_files(Node& node) {
  std::size_t n = 0;
  for (const auto& f : files_below(node.storage())) n += f.extension() == ".part";
  return n;
}

}  // namespace

TEST_CASE("STOW-RS: instances stored through the ingest path, listed in the answer, then retrieved as sent") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n"));

  const auto answer = post(http_port, "/dicom-web/studies",
                           multipart({dicom_part("CT_small.dcm"), dicom_part("MR_small.dcm"), dicom_part("test-SR.dcm")}),
                           "multipart/related; type=\"application/dicom\"; boundary=" + kBoundary,
                           {"-H", "Accept: application/dicom+json"});
  REQUIRE_MESSAGE(answer.status == 200, answer.headers << "\n" << answer.body);
  CHECK(answer.headers.find("Content-Type: application/dicom+json") != std::string::npos);
  const auto json = answer.json();
  const auto referenced = items(json, "00081199");
  REQUIRE(referenced.size() == 3);
  CHECK(items(json, "00081198").empty());
  std::set<std::string> uids;
  for (const auto& item : referenced) {
    uids.insert(uid_of(item, "00081155"));
    CHECK(uid_of(item, "00081150").size() > 0);
    CHECK(uid_of(item, "00081190").find("/dicom-web/studies/") != std::string::npos);
  }
  CHECK(uids == std::set<std::string>{sop_instance_uid("CT_small.dcm"), sop_instance_uid("MR_small.dcm"),
                                      sop_instance_uid("test-SR.dcm")});
  // Indexed (what C-FIND answers from) and the files byte for byte what was sent.
  CHECK(count(node) == "3");
  CHECK(node.sql("SELECT called_ae_title FROM instance WHERE sop_instance_uid = '" + sop_instance_uid("CT_small.dcm") +
                 "'") == "PACSNODE");
  const auto path = node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" +
                             sop_instance_uid("MR_small.dcm") + "'");
  CHECK(read_file(node.storage() / path) == read_file(kData + "MR_small.dcm"));
  CHECK(part_files(node) == 0);

  // The same again: duplicates are kept (the policy of C-STORE), and reported as stored.
  const auto again = post(http_port, "/dicom-web/studies", multipart({dicom_part("CT_small.dcm")}));
  CHECK(again.status == 200);
  CHECK(count(node) == "3");

  // Into a study named by the path: an instance of another study fails with 0xC409, nothing
  // of it stored; the right one goes in.
  const std::string ct_study = node.sql("SELECT s.study_instance_uid FROM study s JOIN series se ON se.study_pk = s.id "
                                        "JOIN instance i ON i.series_pk = se.id WHERE i.sop_instance_uid = '" +
                                        sop_instance_uid("CT_small.dcm") + "'");
  REQUIRE(!ct_study.empty());
  const auto into = post(http_port, "/dicom-web/studies/" + ct_study,
                         multipart({dicom_part("CT_small.dcm"), dicom_part("JPEG2000.dcm")}));
  CHECK(into.status == 202);
  const auto failed = items(into.json(), "00081198");
  REQUIRE(failed.size() == 1);
  CHECK(uid_of(failed[0], "00081155") == sop_instance_uid("JPEG2000.dcm"));
  CHECK(failed[0].at("00081197").at("Value").at(0).get<int>() == 0xC409);
  CHECK(count(node) == "3");
  CHECK(into.json().at("00081190").at("Value").at(0).get<std::string>().find(ct_study) != std::string::npos);

  // Media types: a body that is not multipart/related → 415, a type="application/dicom+xml"
  // body (metadata and bulk data, not supported) → 415, an answer only in XML → 406.
  CHECK(post(http_port, "/dicom-web/studies", read_file(kData + "CT_small.dcm"), "application/dicom").status == 415);
  CHECK(post(http_port, "/dicom-web/studies", multipart({}),
             "multipart/related; type=\"application/dicom+xml\"; boundary=" + kBoundary)
            .status == 415);
  CHECK(post(http_port, "/dicom-web/studies", multipart({dicom_part("CT_small.dcm")}),
             "multipart/related; type=\"application/dicom\"; boundary=" + kBoundary,
             {"-H", "Accept: application/dicom+xml"})
            .status == 406);
  // Errors carry CORS too.
  const auto bad = post(http_port, "/dicom-web/studies", "garbage", "multipart/related; boundary=" + kBoundary);
  CHECK(bad.status == 400);
  CHECK(bad.headers.find("Access-Control-Allow-Origin: *") != std::string::npos);
  CHECK(node.running());
}

TEST_CASE("STOW-RS under duplicates = replace: a second copy of an instance in the same request waits for no one: "
          "it fails with 0x0110, the first is stored and its row describes its file") {
  const auto http_port = free_port();
  Node node(tables("[storage]\nduplicates = \"replace\"\n[http]\nenabled = true\nport = " +
                   std::to_string(http_port) + "\n"));
  // CT_small.dcm again with other bytes after its data set (a second version, the same UIDs):
  // a trailing padding element (FFFC,FFFC) of OB.
  BodyPart first = dicom_part("CT_small.dcm");
  BodyPart second = first;
  second.bytes += std::string("\xFC\xFF\xFC\xFF" "OB\0\0\x04\0\0\0" "\0\0\0\0", 16);
  const auto answer = post(http_port, "/dicom-web/studies", multipart({first, second}));
  REQUIRE_MESSAGE(answer.status == 202, answer.headers << "\n" << answer.body);
  const auto json = answer.json();
  REQUIRE(items(json, "00081199").size() == 1);
  const auto failed = items(json, "00081198");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["00081197"]["Value"][0] == 0x0110);
  const std::string uid = sop_instance_uid("CT_small.dcm");
  const auto path = node.sql("SELECT file_path FROM instance WHERE sop_instance_uid = '" + uid + "'");
  CHECK(read_file(node.storage() / path) == first.bytes);
  CHECK(node.sql("SELECT file_size FROM instance WHERE sop_instance_uid = '" + uid + "'") ==
        std::to_string(first.bytes.size()));
  // Sent again on its own, the second copy replaces the first.
  const auto again = post(http_port, "/dicom-web/studies", multipart({second}));
  CHECK(again.status == 200);
  CHECK(read_file(node.storage() / path) == second.bytes);
  CHECK(node.sql("SELECT file_size FROM instance WHERE sop_instance_uid = '" + uid + "'") ==
        std::to_string(second.bytes.size()));
  CHECK(node.log().find("is being stored at this moment") != std::string::npos);
}

TEST_CASE("STOW-RS: pydicom's broken files fail one by one with a reason, nothing of them is stored, the node keeps serving") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n"));
  // rtplan.dcm's File Meta names another SOP Instance UID than its data set (0xA900).
  const std::vector<std::string> broken = {"no_meta.dcm", "ExplVR_LitEndNoMeta.dcm", "ExplVR_BigEndNoMeta.dcm",
                                           "meta_missing_tsyntax.dcm", "rtplan.dcm"};
  std::vector<BodyPart> parts;
  for (const auto& f : broken) parts.push_back(dicom_part(f));
  // A part that is not DICOM at all, one that is cut after its File Meta, one of another
  // media type.
  parts.push_back({"application/dicom", std::string(128, '\0') + "DICM" + std::string(5000, '\x7f')});
  parts.push_back({"application/dicom", read_file(kData + "CT_small.dcm").substr(0, 400)});
  parts.push_back({"text/plain", "hello"});
  const auto all_bad = post(http_port, "/dicom-web/studies", multipart(parts));
  REQUIRE_MESSAGE(all_bad.status == 409, all_bad.body);
  const auto failed = items(all_bad.json(), "00081198");
  CHECK(failed.size() == parts.size());
  for (const auto& item : failed) {
    const int reason = item.at("00081197").at("Value").at(0).get<int>();
    CHECK_MESSAGE((reason == 0xC000 || reason == 0xA900), item.dump());
  }
  CHECK(items(all_bad.json(), "00081199").empty());
  CHECK(count(node) == "0");
  CHECK(part_files(node) == 0);
  CHECK(node.log().find("STOW-RS part 1") != std::string::npos);

  // With one good file among them: 202, the good one stored.
  parts.push_back(dicom_part("CT_small.dcm"));
  const auto mixed = post(http_port, "/dicom-web/studies", multipart(parts));
  CHECK(mixed.status == 202);
  CHECK(items(mixed.json(), "00081199").size() == 1);
  CHECK(count(node) == "1");
  CHECK(node.echo_ok());
}

TEST_CASE("STOW-RS: a body cut off mid-stream, or one without its close delimiter, stores nothing") {
  const auto http_port = free_port();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n"));
  const std::string body = multipart({dicom_part("CT_small.dcm"), dicom_part("MR_small.dcm"), dicom_part("test-SR.dcm")});

  // The client announces the whole body, sends one part and half of the next, and goes away.
  TempDir dir("stow-cut");
  const auto partial = dir.path() / "partial";
  const std::string cut = body.substr(0, body.find(read_file(kData + "MR_small.dcm")) + 4000);
  std::ofstream(partial, std::ios::binary) << cut;
  const std::string script =
      "import socket,sys\n"
      "s=socket.create_connection(('127.0.0.1'," + std::to_string(http_port) + "))\n"
      "data=open(sys.argv[1],'rb').read()\n"
      "s.sendall(('POST /dicom-web/studies HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: multipart/related; "
      "type=\"application/dicom\"; boundary=" + kBoundary + "\\r\\nContent-Length: " + std::to_string(body.size()) +
      "\\r\\n\\r\\n').encode())\n"
      "s.sendall(data)\n"
      "s.close()\n";
  auto [code, out] = run({"/usr/bin/python3", "-c", script, partial.string()});
  REQUIRE_MESSAGE(code == 0, out);
  // The node notices the cut, throws away what it received.
  for (int i = 0; i < 100 && node.log().find("cut off") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK_MESSAGE(node.log().find("cut off") != std::string::npos, node.log_tail());
  CHECK(count(node) == "0");
  CHECK(part_files(node) == 0);

  // A complete HTTP body whose multipart close delimiter never comes: 400, nothing stored.
  const auto unclosed = post(http_port, "/dicom-web/studies", body.substr(0, body.rfind("--" + kBoundary + "--")));
  CHECK(unclosed.status == 400);
  CHECK(unclosed.body.find("close delimiter") != std::string::npos);
  CHECK(count(node) == "0");
  CHECK(part_files(node) == 0);

  // And the node still stores a good one.
  CHECK(post(http_port, "/dicom-web/studies", body).status == 200);
  CHECK(count(node) == "3");
}
