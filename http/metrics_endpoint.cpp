// GET /metrics: the node's registry in the Prometheus text format, with what is read at
// scrape time first (jobs by kind and state from the queue, free storage, database up).
#include <optional>
#include <set>

#include "base/log.hpp"
#include "base/node_metrics.hpp"
#include "db/job_queue.hpp"
#include "http/handlers.hpp"
#include "ingest/ingest.hpp"
#include "net/blocking.hpp"
#include "storage/store.hpp"

namespace pacsnode::http {

asio::awaitable<void> handle_metrics(Context& context, Exchange& exchange) {
  if (exchange.method() != "GET" && exchange.method() != "HEAD") {
    throw HttpError{405, "/metrics answers GET and HEAD", {{"Allow", "GET, HEAD"}}};
  }
  using Counts = std::optional<std::vector<db::JobQueue::KindStateCount>>;
  const Counts counts = co_await net::run_blocking(context.workers, [&context]() -> Counts {
    try {
      db::JobQueue queue(context.connections);
      return queue.counts();
    } catch (const std::exception& e) {
      log::warn("/metrics: cannot read the job queue: {}", e.what());
      return std::nullopt;
    }
  });
  auto& registry = metrics::registry();
  registry.gauge("pacsnode_database_up", "1 when the index database answered this scrape, else 0")
      .set(counts ? 1 : 0);
  registry.gauge("pacsnode_storage_free_bytes", "Free bytes on the storage file system")
      .set(static_cast<double>(context.ingest.store().free_bytes()));
  if (counts) {
    auto& jobs = metrics::node_metrics().jobs;
    // States that emptied since the last scrape go to 0 rather than keep their old value.
    std::vector<metrics::LabelValues> known;
    jobs.each([&known](const metrics::LabelValues& values, const metrics::Gauge&) { known.push_back(values); });
    for (const auto& values : known) jobs.with(values).set(0);
    for (const auto& c : *counts) jobs.with({c.kind, c.state}).set(static_cast<double>(c.count));
  }
  co_await exchange.reply(200, metrics::content_type, metrics::render());
}

}  // namespace pacsnode::http
