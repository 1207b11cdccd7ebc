// The HTTP door, QIDO-RS, through a real client (curl) against the real binary: the same
// matching as C-FIND, 200 with a DICOM JSON array, 204 when nothing matches, 400 naming a
// bad parameter, CORS on every answer, a non-loopback bind without users refused.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>

#include "tests/support/node.hpp"

using namespace pacsnode::test;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

struct Reply {
  int status = 0;
  std::string headers, body;
};

Reply get(std::uint16_t port, const std::string& path, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-s", "-g", "-D", "-", "--max-time", "20"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, out);
  Reply r;
  const auto split = out.find("\r\n\r\n");
  r.headers = out.substr(0, split);
  r.body = split == std::string::npos ? "" : out.substr(split + 4);
  r.status = std::stoi(r.headers.substr(9, 3));
  return r;
}

std::string value_of(const nlohmann::json& match, const std::string& tag) {
  const auto& v = match.at(tag).at("Value").at(0);
  if (v.is_object()) return v.at("Alphabetic").get<std::string>();
  if (v.is_number()) return std::to_string(v.get<long>());
  return v.get<std::string>();
}

NodeOptions http_node(std::uint16_t http_port) {
  return tables("[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n");
}

}  // namespace

TEST_CASE("QIDO-RS: studies, series and instances of stored instances, as C-FIND matches them") {
  const auto http_port = free_port();
  Node node(http_node(http_port));
  auto [code, out] = run({"storescu", "-aec", node.ae_title(), "127.0.0.1", std::to_string(node.port()),
                          kData + "CT_small.dcm", kData + "MR_small.dcm"});
  REQUIRE_MESSAGE(code == 0, out);

  auto all = get(http_port, "/dicom-web/studies");
  REQUIRE_MESSAGE(all.status == 200, all.body);
  CHECK(all.headers.find("application/dicom+json") != std::string::npos);
  CHECK(all.headers.find("Access-Control-Allow-Origin: *") != std::string::npos);
  const auto studies = nlohmann::json::parse(all.body);
  REQUIRE(studies.size() == 2);

  // PN wildcard, case-insensitive as in C-FIND; keyword and hex tag spellings.
  for (const std::string q : {"PatientName=compressedsamples%5ECT*", "00100010=*CT1", "ModalitiesInStudy=CT"}) {
    auto r = get(http_port, "/dicom-web/studies?" + q);
    REQUIRE_MESSAGE(r.status == 200, q, r.body);
    const auto m = nlohmann::json::parse(r.body);
    REQUIRE_MESSAGE(m.size() == 1, q);
    CHECK(value_of(m[0], "00100020") == "1CT1");
    CHECK(value_of(m[0], "00201208") == "1");
  }
  const std::string ct_study = value_of(nlohmann::json::parse(get(http_port, "/dicom-web/studies?PatientID=1CT1").body)[0], "0020000D");


  auto series = get(http_port, "/dicom-web/studies/" + ct_study + "/series");
  REQUIRE_MESSAGE(series.status == 200, series.body);
  const auto s = nlohmann::json::parse(series.body);
  REQUIRE(s.size() == 1);
  CHECK(value_of(s[0], "00080060") == "CT");
  const std::string ct_series = value_of(s[0], "0020000E");
  // includefield: a key that has no column comes from the stored attributes (by keyword).
  auto inc = get(http_port, "/dicom-web/studies/" + ct_study + "/series?includefield=Manufacturer");
  REQUIRE(inc.status == 200);
  CHECK(value_of(nlohmann::json::parse(inc.body)[0], "00080070") == "GE MEDICAL SYSTEMS");

  auto instances = get(http_port, "/dicom-web/studies/" + ct_study + "/series/" + ct_series + "/instances");
  REQUIRE_MESSAGE(instances.status == 200, instances.body);
  const auto i = nlohmann::json::parse(instances.body);
  REQUIRE(i.size() == 1);
  CHECK(value_of(i[0], "00280010") == "128");  // Rows, from the stored attributes

  // Top-level /series and /instances: no study UID needed (an absent upper-level unique key
  // constrains nothing, as in C-FIND).
  auto top_series = get(http_port, "/dicom-web/series?Modality=CT");
  REQUIRE_MESSAGE(top_series.status == 200, top_series.body);
  const auto ts = nlohmann::json::parse(top_series.body);
  REQUIRE(ts.size() == 1);
  CHECK(value_of(ts[0], "0020000E") == ct_series);
  auto top_instances = get(http_port, "/dicom-web/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.4");  // MR
  REQUIRE_MESSAGE(top_instances.status == 200, top_instances.body);
  const auto ti = nlohmann::json::parse(top_instances.body);
  REQUIRE(ti.size() == 1);
  CHECK(value_of(ti[0], "0020000D") != ct_study);
  CHECK(get(http_port, "/dicom-web/instances").status == 200);

  // includefield=all carries the stored attributes too.
  auto full = get(http_port, "/dicom-web/studies/" + ct_study + "/series/" + ct_series + "/instances?includefield=all");
  REQUIRE(full.status == 200);
  CHECK(nlohmann::json::parse(full.body)[0].contains("00200032"));  // Image Position (Patient)

  // limit / offset page through the matches.
  const auto first = nlohmann::json::parse(get(http_port, "/dicom-web/studies?limit=1").body);
  const auto second = nlohmann::json::parse(get(http_port, "/dicom-web/studies?limit=1&offset=1").body);
  REQUIRE(first.size() == 1);
  REQUIRE(second.size() == 1);
  CHECK(value_of(first[0], "0020000D") != value_of(second[0], "0020000D"));

  // Nothing matches: 204, no body.
  auto none = get(http_port, "/dicom-web/studies?PatientID=nobody");
  CHECK(none.status == 204);
  CHECK(none.body.empty());

  // Bad parameters: 400 naming them; CORS also on errors.
  auto bad = get(http_port, "/dicom-web/studies?PatientNmae=x");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("PatientNmae") != std::string::npos);
  CHECK(bad.headers.find("Access-Control-Allow-Origin: *") != std::string::npos);
  auto bad_date = get(http_port, "/dicom-web/studies?StudyDate=2004*");
  CHECK(bad_date.status == 400);
  auto bad_limit = get(http_port, "/dicom-web/studies?limit=-1");
  CHECK(bad_limit.status == 400);
  CHECK(bad_limit.body.find("limit") != std::string::npos);

  // fuzzymatching is accepted and said to be ignored.
  auto fuzzy = get(http_port, "/dicom-web/studies?fuzzymatching=true&PatientID=1CT1");
  CHECK(fuzzy.status == 200);
  CHECK(fuzzy.headers.find("Warning: 299") != std::string::npos);

  // Unknown resource: 404; preflight: 204 with the allowed methods.
  CHECK(get(http_port, "/dicom-web/nothing").status == 404);
  auto preflight = get(http_port, "/dicom-web/studies", {"-X", "OPTIONS", "-H", "Access-Control-Request-Method: GET"});
  CHECK(preflight.status == 204);
  CHECK(preflight.headers.find("Access-Control-Allow-Methods") != std::string::npos);

  CHECK(node.running());
}

TEST_CASE("HTTP: a non-loopback bind without users is refused at start, with the reason") {
  TempDir dir;
  const auto config = dir.path() / "p.toml";
  std::ofstream(config) << "[node]\nport = " << free_port() << "\ndata_dir = \"var\"\n[http]\nenabled = true\nbind = \"0.0.0.0\"\nport = "
                        << free_port() << "\n";
  auto [code, out] = run({PACSNODE_BINARY, "serve", "--config", config.string()});
  CHECK(code != 0);
  CHECK(out.find("http.bind") != std::string::npos);
  CHECK(out.find("[[http.users]]") != std::string::npos);
}

TEST_CASE("HTTP: with users, missing or wrong credentials get 401; right ones get through") {
  const auto http_port = free_port();
  auto [hc, hash] = run({"sh", "-c", std::string("printf 's3cret\\n' | ") + PACSNODE_BINARY + " hash-password"});
  REQUIRE_MESSAGE(hc == 0, hash);
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == ' ')) hash.pop_back();
  Node node(tables("[http]\nenabled = true\nport = " + std::to_string(http_port) +
                   "\n[[http.users]]\nusername = \"admin\"\npassword_hash = \"" + hash + "\"\n"));
  CHECK(get(http_port, "/dicom-web/studies").status == 401);
  CHECK(get(http_port, "/dicom-web/studies", {"-u", "admin:wrong"}).status == 401);
  CHECK(get(http_port, "/dicom-web/studies", {"-u", "nobody:s3cret"}).status == 401);
  const auto ok = get(http_port, "/dicom-web/studies", {"-u", "admin:s3cret"});
  CHECK(ok.status == 204);  // nothing stored yet
  CHECK(node.log().find("401") != std::string::npos);
}

TEST_CASE("QIDO-RS: more matches than one batch (a cursor streams them), paged with limit and offset") {
  const auto http_port = free_port();
  Node node(http_node(http_port));
  TempDir data("many-studies");
  generate_instances(data.path(), 450, 450, 8);
  {
    auto [code, out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1", std::to_string(node.port()),
                            data.path().string()});
    REQUIRE_MESSAGE(code == 0, out);
  }
  REQUIRE(node.sql("SELECT count(*) FROM study") == "450");
  std::set<std::string> all_uids;
  {
    const auto r = get(http_port, "/dicom-web/studies");
    REQUIRE(r.status == 200);
    const auto json = nlohmann::json::parse(r.body);
    CHECK(json.size() == 450);
    for (const auto& m : json) all_uids.insert(value_of(m, "0020000D"));
    CHECK(all_uids.size() == 450);
  }
  // Pages across the batch boundary: together, every study once.
  std::set<std::string> paged;
  std::size_t pages_total = 0;
  for (const auto& [offset, limit] : std::vector<std::pair<int, int>>{{0, 150}, {150, 250}, {400, 100}}) {
    const auto r = get(http_port, "/dicom-web/studies?offset=" + std::to_string(offset) + "&limit=" + std::to_string(limit));
    REQUIRE(r.status == 200);
    const auto json = nlohmann::json::parse(r.body);
    CHECK(json.size() == static_cast<std::size_t>(std::min(limit, 450 - offset)));
    for (const auto& m : json) paged.insert(value_of(m, "0020000D"));
    pages_total += json.size();
  }
  CHECK(pages_total == 450);
  CHECK(paged == all_uids);
  CHECK(get(http_port, "/dicom-web/studies?offset=450").status == 204);
}
