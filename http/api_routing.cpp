// /api/rules and /api/peers: the configured rules (as `pacsnode rules check`), a posted
// file explained by them (as `pacsnode rules test --json`), the peers with their jobs, and
// C-ECHO to a peer (as `pacsnode echo`).
#include "http/api_support.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>

#include "base/fd.hpp"
#include "db/connection_pool.hpp"
#include "db/job_queue.hpp"
#include "db/node_activity.hpp"
#include "http/admin_info.hpp"
#include "net/blocking.hpp"
#include "routing/explanation.hpp"
#include "routing/sources.hpp"
#include "scu/echo.hpp"

namespace pacsnode::http::api {
namespace {

constexpr std::uint64_t kMaxPostedFile = 512ull << 20;  // POST /api/rules/test


json rule_json(const routing::Rule& rule, const std::vector<routing::PeerAddress>& peers) {
  json then = json::array();
  for (const auto& action : rule.then) {
    json a{{"verb", std::string(routing::to_string(action.verb))}, {"target", action.target}};
    if (action.verb == routing::Verb::Forward) {
      const auto peer = std::find_if(peers.begin(), peers.end(), [&](const auto& p) { return p.name == action.target; });
      if (peer != peers.end()) {
        a["peer"] = json{{"ae_title", peer->ae_title}, {"host", peer->host}, {"port", peer->port}};
      }
    }
    then.push_back(std::move(a));
  }
  return json{{"name", rule.name},
              {"on", std::string(routing::to_string(rule.on))},
              {"priority", rule.priority},
              {"fallback", rule.fallback},
              {"stable_after_seconds",
               rule.on == routing::Trigger::Instance ? json(nullptr) : json(rule.stable_after.count() / 1000.0)},
              {"when", routing::fold_whitespace(rule.when.text())},
              {"then", std::move(then)},
              {"origin", rule.origin}};
}

// A temporary file, removed when it goes out of scope.
struct TempFile {
  std::string path;
  Fd fd;
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    fd.reset();
    if (!path.empty()) ::unlink(path.c_str());
  }
};

struct Explained {
  std::string error;  // unreadable: why
  std::string json;   // the explanation
  std::vector<std::pair<std::string, std::string>> facts;
};

struct PeerJobs {
  std::size_t queued = 0, running = 0, failed = 0, dead = 0;
  std::optional<db::TargetHealth> delivery;  // the back-off state of forwards to the peer
};

}  // namespace

asio::awaitable<void> rules(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"limit", "offset"});
  const AdminInfo& admin = admin_of(context);
  const Page page = page_of(exchange);
  static const std::vector<routing::Rule> kNone;
  const auto& all = admin.rules != nullptr ? admin.rules->rules() : kNone;
  // When the page's rules last fired; empty when the database cannot say.
  std::vector<std::string> last_fired = co_await net::run_blocking(context.workers, [&]() {
    std::vector<std::string> names;
    for (std::size_t i = page.offset; i < all.size() && i < page.offset + page.limit; ++i) names.push_back(all[i].name);
    try {
      return db::rules_last_fired(context.connections, names);
    } catch (const std::exception&) {
      return std::vector<std::string>();
    }
  });
  std::size_t index = 0;
  const json body = paged(all, page, [&](const routing::Rule& r) {
    json j = rule_json(r, admin.peers);
    j["last_fired_at"] = index < last_fired.size() ? text_or_null(last_fired[index]) : json(nullptr);
    ++index;
    return j;
  });
  co_await reply_json(exchange, 200, body);
}

// The posted Part-10 file through every rule, as `pacsnode rules test --json` answers for
// a file (nothing is stored or done).
asio::awaitable<void> rules_test(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"calling_ae", "called_ae", "calling_host"});
  const AdminInfo& admin = admin_of(context);
  const auto type = exchange.header("Content-Type");
  if (!type || type->substr(0, std::min(type->find(';'), type->size())) != "application/dicom") {
    throw HttpError{415, "POST /api/rules/test takes a DICOM file: Content-Type: application/dicom"};
  }
  routing::AssociationContext association;
  if (has_parameter(exchange, "calling_ae")) {
    routing::AssociationContext::add(association.calling_ae, parameter(exchange, "calling_ae"));
  }
  if (has_parameter(exchange, "called_ae")) {
    routing::AssociationContext::add(association.called_ae, parameter(exchange, "called_ae"));
  }
  if (has_parameter(exchange, "calling_host")) {
    routing::AssociationContext::add(association.calling_host, parameter(exchange, "calling_host"));
  }

  TempFile file;
  const std::filesystem::path dir = admin.temp_dir.empty() ? std::filesystem::temp_directory_path() : admin.temp_dir;
  std::string opened_error = co_await net::run_blocking(context.workers, [&]() {
    std::string pattern = (dir / "pacsnode-rules-test-XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) return "cannot create a temporary file in " + dir.string() + ": " + std::strerror(errno);
    file.path = pattern;
    file.fd.reset(fd);
    return std::string();
  });
  if (!opened_error.empty()) throw HttpError{500, opened_error};

  // The body in bounded pieces, each written on the pool.
  std::vector<char> buffer(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t n = co_await exchange.read_body(std::span<char>(buffer.data(), buffer.size()));
    if (n == 0) break;
    total += n;
    if (total > kMaxPostedFile) throw HttpError{413, "the posted file is larger than 512 MiB"};
    const std::string write_error = co_await net::run_blocking(context.workers, [&]() {
      std::size_t done = 0;
      while (done < n) {
        const ssize_t w = ::write(file.fd.get(), buffer.data() + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return std::string("writing the temporary file: ") + std::strerror(errno);
        done += static_cast<std::size_t>(w);
      }
      return std::string();
    });
    if (!write_error.empty()) throw HttpError{500, write_error};
  }
  if (total == 0) throw HttpError{400, "POST /api/rules/test: the body is empty; post a DICOM file"};

  static const routing::RuleSet kNoRules;
  const routing::RuleSet& rule_set = admin.rules != nullptr ? *admin.rules : kNoRules;
  Explained explained = co_await net::run_blocking(context.workers, [&]() {
    Explained e;
    try {
      const auto attributes = routing::read_file_attributes(file.path);
      const auto outcomes = routing::explain_all(rule_set, attributes, association);
      e.json = routing::explanation_json(outcomes, admin.peers, "\"bytes\":" + std::to_string(total));
      constexpr std::array<std::pair<std::uint32_t, const char*>, 4> kFacts = {
          {{0x00080060u, "modality"}, {0x00080016u, "sop_class_uid"}, {0x00080018u, "sop_instance_uid"},
           {0x0020000Du, "study_instance_uid"}}};
      for (const auto& [tag, name] : kFacts) {
        if (const auto* a = attributes.find(tag); a != nullptr && !a->values.empty()) {
          e.facts.emplace_back(name, a->values.front());
        }
      }
    } catch (const std::exception& ex) {
      e.error = ex.what();
    }
    return e;
  });
  if (!explained.error.empty()) throw HttpError{400, "the posted file cannot be read as DICOM: " + explained.error};
  json body = json::parse(explained.json);
  for (const auto& [name, value] : explained.facts) body[name] = value;
  std::size_t matched = 0;
  json would_do = json::array();
  for (const auto& rule : body["rules"]) {
    if (!rule["matched"].get<bool>()) continue;
    ++matched;
    for (const auto& action : rule["actions"]) would_do.push_back(action["would"]);
  }
  body["matched"] = matched;
  body["would_do"] = std::move(would_do);
  co_await reply_json(exchange, 200, body);
}

asio::awaitable<void> peers(Context& context, Exchange& exchange) {
  known_parameters(exchange, {"limit", "offset"});
  const AdminInfo& admin = admin_of(context);
  const Page page = page_of(exchange);
  // The jobs of the page's peers, by state; null when the database cannot say.
  std::vector<std::optional<PeerJobs>> counts = co_await net::run_blocking(context.workers, [&]() {
    std::vector<std::optional<PeerJobs>> out(admin.peers.size());
    db::JobQueue queue(context.connections);
    for (std::size_t i = page.offset; i < admin.peers.size() && i < page.offset + page.limit; ++i) {
      try {
        db::JobFilter f;
        f.peer = admin.peers[i].name;
        PeerJobs c;
        f.state = db::JobState::Queued;
        c.queued = queue.count(f);
        f.state = db::JobState::Running;
        c.running = queue.count(f);
        f.state = db::JobState::Failed;
        c.failed = queue.count(f);
        f.state = db::JobState::Dead;
        c.dead = queue.count(f);
        c.delivery = db::target_health(context.connections, "forward", admin.peers[i].name);
        out[i] = c;
      } catch (const std::exception&) {
        break;
      }
    }
    return out;
  });
  std::size_t index = 0;
  json body = paged(admin.peers, page, [&](const routing::PeerAddress& p) {
    json j{{"name", p.name}, {"ae_title", p.ae_title}, {"host", p.host}, {"port", p.port}};
    const auto& c = counts[page.offset + index++];
    j["jobs"] = c ? json{{"queued", c->queued}, {"running", c->running}, {"failed", c->failed}, {"dead", c->dead}}
                  : json(nullptr);
    if (c && c->delivery) {
      j["delivery"] = json{{"consecutive_failures", c->delivery->consecutive_failures},
                           {"blocked_until", text_or_null(c->delivery->blocked_until)},
                           {"last_error", text_or_null(c->delivery->last_error)},
                           {"updated_at", text_or_null(c->delivery->updated_at)}};
    } else {
      j["delivery"] = c ? json{{"consecutive_failures", 0}, {"blocked_until", nullptr}, {"last_error", nullptr},
                               {"updated_at", nullptr}}
                        : json(nullptr);
    }
    return j;
  });
  co_await reply_json(exchange, 200, body);
}

// 200 whether or not the peer answered ("ok" says which): the request itself succeeded,
// the peer's state is the answer.
asio::awaitable<void> echo(Context& context, Exchange& exchange, const std::string& name) {
  known_parameters(exchange, {});
  const AdminInfo& admin = admin_of(context);
  const auto peer = std::find_if(admin.peers.begin(), admin.peers.end(), [&](const auto& p) { return p.name == name; });
  if (peer == admin.peers.end()) throw HttpError{404, "no peer named \"" + name + "\" in the configuration"};
  const scu::RemoteNode remote{peer->ae_title, peer->host, peer->port};
  const net::AssociationSettings settings = admin.echo;
  const scu::EchoOutcome outcome =
      co_await net::run_blocking(context.workers, [&]() { return scu::echo_blocking(remote, settings); });
  json body{{"ok", outcome.ok},
            {"peer", peer->name},
            {"ae_title", peer->ae_title},
            {"host", peer->host},
            {"port", peer->port},
            {"millis", outcome.elapsed.count()}};
  if (outcome.ok) {
    body["status"] = "0x0000";
    body["message"] = outcome.message;
  } else {
    body["error"] = outcome.message;
  }
  co_await reply_json(exchange, 200, body);
}

}  // namespace pacsnode::http::api
