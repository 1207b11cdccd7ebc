// The JSON admin API (/api) through a real client (curl) against the real binary: the
// node's counts, patients found by wildcard, a patient's studies, the configured rules and
// a posted file explained by them, peers and C-ECHO to them, jobs listed and a dead one
// retried, and the error answers (404, 400, 405, 409, 415).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/support/node.hpp"
#include "tests/support/routing.hpp"

using namespace pacsnode::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kData = "/usr/lib/python3/dist-packages/pydicom/data/test_files/";

struct Reply {
  int status = 0;
  std::string headers, body;
  json parsed() const { return json::parse(body); }
};

Reply request(std::uint16_t port, const std::string& method, const std::string& path,
              const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-s", "-g", "-D", "-", "--max-time", "30", "-X", method};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  auto [code, out] = run(argv);
  REQUIRE_MESSAGE(code == 0, out);
  Reply r;
  // Skip a "100 Continue" interim answer (curl asks for one before a large body).
  std::size_t start = 0;
  while (out.compare(start, 12, "HTTP/1.1 100") == 0) start = out.find("\r\n\r\n", start) + 4;
  const auto split = out.find("\r\n\r\n", start);
  r.headers = out.substr(start, split - start);
  r.body = split == std::string::npos ? "" : out.substr(split + 4);
  r.status = std::stoi(r.headers.substr(9, 3));
  return r;
}

Reply get(std::uint16_t port, const std::string& path) { return request(port, "GET", path); }
Reply post(std::uint16_t port, const std::string& path, const std::vector<std::string>& extra = {}) {
  return request(port, "POST", path, extra);
}
Reply post_file(std::uint16_t port, const std::string& path, const std::string& file,
                const std::string& type = "application/dicom") {
  return post(port, path, {"-H", "Content-Type: " + type, "--data-binary", "@" + file});
}

std::string peer(const std::string& name, const std::string& ae_title, std::uint16_t port) {
  return "[[peers]]\nname = \"" + name + "\"\nae_title = \"" + ae_title + "\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(port) + "\n";
}

// An error answer: the status, and a JSON body naming it.
void check_error(const Reply& r, int status, const std::string& says) {
  CHECK_MESSAGE(r.status == status, r.body);
  const auto body = json::parse(r.body);
  CHECK(body.at("status").get<int>() == status);
  CHECK_MESSAGE(body.at("error").get<std::string>().find(says) != std::string::npos, r.body);
}

}  // namespace

TEST_CASE("admin API: system, patients, rules, peers, jobs through /api") {
  const auto http_port = free_port();
  const auto dicom_port = free_port();
  const auto closed_port = free_port();  // nothing listens there
  NodeOptions options = tables(
      "[http]\nenabled = true\nport = " + std::to_string(http_port) + "\n" + peer("self", "PACSNODE", dicom_port) +
      peer("closed", "NOBODY", closed_port) +
      "[[rules]]\nname = \"ct-out\"\non = \"series\"\nwhen = 'Modality == \"CT\"'\nthen = [\"forward closed\"]\n"
      "stable_after = \"1s\"\n"
      "[jobs]\nmax_attempts = 1\nretry_base_delay = 1\nretry_max_delay = 1\n");
  options.port = dicom_port;
  Node node(options);
  store(node, {kData + "CT_small.dcm", kData + "MR_small.dcm"});

  {  // system: version, ports, storage and the index's counts
    const auto r = get(http_port, "/api/system");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.headers.find("application/json") != std::string::npos);
    const auto s = r.parsed();
    CHECK(!s.at("version").get<std::string>().empty());
    CHECK(s.at("ae_title") == "PACSNODE");
    CHECK(s.at("dicom_port").get<int>() == dicom_port);
    CHECK(s.at("uptime_seconds").get<long>() >= 0);
    CHECK(s.at("database").at("status") == "ok");
    CHECK(s.at("counts").at("patients") == 2);
    CHECK(s.at("counts").at("studies") == 2);
    CHECK(s.at("counts").at("series") == 2);
    CHECK(s.at("counts").at("instances") == 2);
    CHECK(std::to_string(s.at("storage").at("used_bytes").get<long>()) == node.sql("SELECT sum(file_size) FROM instance"));
    CHECK(s.at("storage").at("free_bytes").get<long>() > 0);
    CHECK(s.at("storage").at("root").get<std::string>().find("storage") != std::string::npos);
    const auto wrong = post(http_port, "/api/system");
    check_error(wrong, 405, "POST");
    CHECK(wrong.headers.find("Allow: GET, HEAD") != std::string::npos);
    check_error(request(http_port, "DELETE", "/api/system"), 405, "DELETE");
    check_error(get(http_port, "/api/nothing"), 404, "/api/nothing");
  }

  {  // patients: wildcards, paging, a patient's studies, unknown patients
    auto all = get(http_port, "/api/patients?name=compressedsamples*");  // case-insensitive, as C-FIND's PN
    REQUIRE_MESSAGE(all.status == 200, all.body);
    const auto a = all.parsed();
    CHECK(a.at("total") == 2);
    CHECK(a.at("items").size() == 2);
    CHECK(a.at("limit") == 100);
    CHECK(a.at("offset") == 0);

    const auto ct = get(http_port, "/api/patients?name=*CT?").parsed();
    REQUIRE(ct.at("total") == 1);
    const auto& p = ct.at("items").at(0);
    CHECK(p.at("patient_id") == "1CT1");
    CHECK(p.at("name") == "CompressedSamples^CT1");
    CHECK(p.at("studies") == 1);
    CHECK(p.at("issuer") == "");
    CHECK(get(http_port, "/api/patients?id=?MR*").parsed().at("items").at(0).at("patient_id") == "4MR1");
    CHECK(get(http_port, "/api/patients?name=nobody*").parsed().at("total") == 0);

    const auto page = get(http_port, "/api/patients?limit=1&offset=1").parsed();
    CHECK(page.at("total") == 2);
    CHECK(page.at("items").size() == 1);
    CHECK(page.at("items").at(0).at("patient_id") !=
          get(http_port, "/api/patients?limit=1").parsed().at("items").at(0).at("patient_id"));
    check_error(get(http_port, "/api/patients?limit=1001"), 400, "limit");
    check_error(get(http_port, "/api/patients?nmae=x"), 400, "nmae");
    check_error(get(http_port, "/api/patients?birth_date=1999"), 400, "birth_date");

    auto detail = get(http_port, "/api/patients/1CT1");
    REQUIRE_MESSAGE(detail.status == 200, detail.body);
    const auto d = detail.parsed();
    CHECK(d.at("patient_id") == "1CT1");
    REQUIRE(d.at("study_list").size() == 1);
    const auto& study = d.at("study_list").at(0);
    CHECK(study.at("study_instance_uid") ==
          node.sql("SELECT study_instance_uid FROM study st JOIN patient p ON p.id = st.patient_pk"
                   " WHERE p.patient_id = '1CT1'"));
    CHECK(study.at("modalities") == json::array({"CT"}));
    CHECK(study.at("series") == 1);
    CHECK(study.at("instances") == 1);
    CHECK(d.at("findings").is_array());
    check_error(get(http_port, "/api/patients/nobody"), 404, "nobody");
    check_error(get(http_port, "/api/patients/1CT1?issuer=ELSEWHERE"), 404, "ELSEWHERE");
  }

  {  // rules: the configured rule, and a posted file explained
    const auto rules = get(http_port, "/api/rules").parsed();
    REQUIRE(rules.at("total") == 1);
    const auto& rule = rules.at("items").at(0);
    CHECK(rule.at("name") == "ct-out");
    CHECK(rule.at("on") == "series");
    CHECK(rule.at("when") == "Modality == \"CT\"");
    CHECK(rule.at("then").at(0).at("target") == "closed");
    CHECK(rule.at("then").at(0).at("peer").at("port") == closed_port);

    auto ct = post_file(http_port, "/api/rules/test", kData + "CT_small.dcm");
    REQUIRE_MESSAGE(ct.status == 200, ct.body);
    const auto c = ct.parsed();
    CHECK(c.at("modality") == "CT");
    CHECK(c.at("matched") == 1);
    REQUIRE(c.at("rules").size() == 1);
    CHECK(c.at("rules").at(0).at("matched") == true);
    CHECK(c.at("rules").at(0).at("trace").at("result") == true);
    CHECK(c.at("would_do").at(0).get<std::string>().find("would forward to closed") != std::string::npos);

    const auto mr = post_file(http_port, "/api/rules/test", kData + "MR_small.dcm").parsed();
    CHECK(mr.at("matched") == 0);
    CHECK(mr.at("rules").at(0).at("matched") == false);
    CHECK(mr.at("rules").at(0).at("trace").at("detail").get<std::string>().find("MR") != std::string::npos);
    CHECK(mr.at("would_do").empty());

    // A file of several MiB arrives in pieces: all of them, in order.
    TempDir dir("api-rules");
    generate_instances(dir.path(), 1, 1, 1200);
    const auto big = files_below(dir.path()).at(0);
    REQUIRE(std::filesystem::file_size(big) > (2u << 20));
    const auto b = post_file(http_port, "/api/rules/test", big.string()).parsed();
    CHECK(b.at("bytes") == std::filesystem::file_size(big));
    CHECK(b.at("sop_instance_uid") != c.at("sop_instance_uid"));
    CHECK(b.at("matched") == 1);

    const auto junk = (dir.path() / "junk.dcm").string();
    std::ofstream(junk) << "not a DICOM file at all";
    check_error(post_file(http_port, "/api/rules/test", junk), 400, "cannot be read");
    check_error(post_file(http_port, "/api/rules/test", kData + "CT_small.dcm", "text/plain"), 415,
                "application/dicom");
    check_error(get(http_port, "/api/rules/test"), 405, "GET");
  }

  {  // peers and C-ECHO: the node itself answers, a closed port does not
    const auto peers = get(http_port, "/api/peers").parsed();
    REQUIRE(peers.at("total") == 2);
    CHECK(peers.at("items").at(0).at("name") == "self");
    CHECK(peers.at("items").at(0).at("port") == dicom_port);
    CHECK(peers.at("items").at(1).at("ae_title") == "NOBODY");
    CHECK(peers.at("items").at(1).at("jobs").is_object());

    auto self = post(http_port, "/api/peers/self/echo");
    REQUIRE_MESSAGE(self.status == 200, self.body);
    CHECK_MESSAGE(self.parsed().at("ok") == true, self.body);
    CHECK(self.parsed().at("millis").get<long>() >= 0);
    auto closed = post(http_port, "/api/peers/closed/echo");
    REQUIRE_MESSAGE(closed.status == 200, closed.body);
    CHECK(closed.parsed().at("ok") == false);
    CHECK(!closed.parsed().at("error").get<std::string>().empty());
    check_error(post(http_port, "/api/peers/nobody/echo"), 404, "nobody");
    check_error(get(http_port, "/api/peers/self/echo"), 405, "GET");
  }

  {  // jobs: a forward to a closed port dies; retry queues it again; errors
    // The CT series is stable after 1 s; its one forward attempt fails.
    std::int64_t id = 0;
    REQUIRE_MESSAGE(wait_for(
                        [&] {
                          const auto dead = get(http_port, "/api/jobs?state=dead&peer=closed").parsed();
                          if (dead.at("total") != 1) return false;
                          id = dead.at("items").at(0).at("id").get<std::int64_t>();
                          return true;
                        },
                        30s),
                    node.log_tail(30));
    const auto job = get(http_port, "/api/jobs/" + std::to_string(id)).parsed();
    CHECK(job.at("state") == "dead");
    CHECK(job.at("kind") == "forward");
    CHECK(job.at("peer") == "closed");
    CHECK(job.at("rule") == "ct-out");
    CHECK(job.at("attempts") == 1);
    CHECK(!job.at("last_error").is_null());
    CHECK(job.at("study_instance_uid") ==
          node.sql("SELECT study_instance_uid FROM study st JOIN patient p ON p.id = st.patient_pk"
                   " WHERE p.patient_id = '1CT1'"));
    CHECK(node.sql("SELECT state FROM job WHERE id = " + std::to_string(id)) == "dead");

    const auto listed = get(http_port, "/api/jobs").parsed();
    CHECK(listed.at("total") == 1);
    CHECK(get(http_port, "/api/jobs?kind=analyze").parsed().at("total") == 0);
    CHECK(get(http_port, "/api/jobs?rule=ct-out").parsed().at("total") == 1);
    CHECK(get(http_port, "/api/jobs?state=done").parsed().at("total") == 0);
    CHECK(get(http_port, "/api/peers").parsed().at("items").at(1).at("jobs").at("dead") == 1);

    // Cancel applies to unfinished jobs only: 409 for a dead one.
    check_error(post(http_port, "/api/jobs/" + std::to_string(id) + "/cancel"), 409, "dead");
    auto retried = post(http_port, "/api/jobs/" + std::to_string(id) + "/retry");
    REQUIRE_MESSAGE(retried.status == 200, retried.body);
    CHECK(retried.parsed().at("id") == id);
    // The history says it left dead for queued (it may already have been tried again since).
    const auto events = get(http_port, "/api/jobs/" + std::to_string(id)).parsed().at("events");
    bool retry_event = false;
    for (const auto& e : events) {
      retry_event |= e.at("event") == "retry" && e.at("from_state") == "dead" && e.at("to_state") == "queued";
    }
    CHECK_MESSAGE(retry_event, events.dump());
    CHECK(node.sql("SELECT count(*) FROM job_event WHERE job_id = " + std::to_string(id) + " AND event = 'retry'") ==
          "1");

    // It dies again (one attempt); then "retry all dead" takes it.
    REQUIRE(wait_for([&] { return get(http_port, "/api/jobs/" + std::to_string(id)).parsed().at("state") == "dead"; },
                     30s));
    auto all = post(http_port, "/api/jobs/retry?state=dead");
    REQUIRE_MESSAGE(all.status == 200, all.body);
    CHECK(all.parsed().at("retried") == 1);
    CHECK(node.sql("SELECT count(*) FROM job_event WHERE job_id = " + std::to_string(id) + " AND event = 'retry'") ==
          "2");

    check_error(get(http_port, "/api/jobs/999999"), 404, "999999");
    check_error(post(http_port, "/api/jobs/999999/retry"), 404, "999999");
    check_error(get(http_port, "/api/jobs?state=bogus"), 400, "bogus");
    check_error(post(http_port, "/api/jobs/retry?state=failed"), 400, "dead");
    check_error(post(http_port, "/api/jobs"), 405, "POST");
    check_error(get(http_port, "/api/jobs/" + std::to_string(id) + "/retry"), 405, "GET");
  }
}
