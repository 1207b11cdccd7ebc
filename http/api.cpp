// The JSON admin API under /api: the node (system), its patients, the job queue, the
// routing rules and the peers. Every answer is JSON with snake_case names; lists are
// {"items", "total", "limit", "offset"}. The handlers call the same services as the command
// line (db::JobQueue for `pacsnode jobs`, routing::explain_all for `pacsnode rules test`,
// scu::echo for `pacsnode echo`); blocking work runs on context.workers. This file routes;
// the resources are in api_index.cpp (system, patients), api_jobs.cpp and api_routing.cpp
// (rules, peers).
#include "http/api_support.hpp"
#include "http/handlers.hpp"

namespace pacsnode::http {

asio::awaitable<void> handle_api(Context& context, Exchange& exchange, const std::vector<std::string>& s) {
  const std::size_t n = s.size();
  if (n == 2 && s[1] == "system") {
    api::allow(exchange, "GET");
    co_await api::system(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "system" && s[2] == "arrivals") {
    api::allow(exchange, "GET");
    co_await api::arrivals(context, exchange);
    co_return;
  }
  if (n == 2 && s[1] == "patients") {
    api::allow(exchange, "GET");
    co_await api::patients(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "patients") {
    api::allow(exchange, "GET");
    co_await api::patient(context, exchange, s[2]);
    co_return;
  }
  if (n == 2 && s[1] == "jobs") {
    api::allow(exchange, "GET");
    co_await api::jobs(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "jobs" && s[2] == "retry") {
    api::allow(exchange, "POST");
    co_await api::retry_dead(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "jobs") {
    api::allow(exchange, "GET");
    co_await api::job(context, exchange, api::job_id_of(s[2]));
    co_return;
  }
  if (n == 4 && s[1] == "jobs" && (s[3] == "retry" || s[3] == "cancel")) {
    api::allow(exchange, "POST");
    const auto event = s[3] == "retry" ? db::JobEvent::Retry : db::JobEvent::Cancel;
    co_await api::job_action(context, exchange, api::job_id_of(s[2]), event);
    co_return;
  }
  if (n == 2 && s[1] == "rules") {
    api::allow(exchange, "GET");
    co_await api::rules(context, exchange);
    co_return;
  }
  if (n == 3 && s[1] == "rules" && s[2] == "test") {
    api::allow(exchange, "POST");
    co_await api::rules_test(context, exchange);
    co_return;
  }
  if (n == 2 && s[1] == "peers") {
    api::allow(exchange, "GET");
    co_await api::peers(context, exchange);
    co_return;
  }
  if (n == 4 && s[1] == "peers" && s[3] == "echo") {
    api::allow(exchange, "POST");
    co_await api::echo(context, exchange, s[2]);
    co_return;
  }
  throw HttpError{404, "no admin API resource " + std::string(exchange.method()) + " " + exchange.path()};
}

}  // namespace pacsnode::http
