#include "base/node_metrics.hpp"

namespace pacsnode::metrics {
namespace {

std::vector<double> batch_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}; }

// Plug-ins and forwards run for seconds to many minutes.
std::vector<double> job_buckets() { return {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}; }

NodeMetrics make() {
  Registry& r = registry();
  return NodeMetrics{
      r.gauge("pacsnode_dimse_associations_active", "DIMSE associations open now"),
      r.counter_family("pacsnode_dimse_associations_total", "DIMSE associations ended, by how they ended",
                       {"outcome"}),
      r.counter_family("pacsnode_instances_received_total", "Instances stored durably, by door", {"door"}),
      r.counter_family("pacsnode_received_bytes_total", "Bytes of the instances stored durably, by door", {"door"}),
      r.counter_family("pacsnode_instances_failed_total", "Instances refused or not stored, by door", {"door"}),
      r.histogram_family("pacsnode_dimse_request_duration_seconds", "DIMSE operations handled, by operation",
                         {"operation"}),
      r.counter_family("pacsnode_http_requests_total", "HTTP requests answered, by handler and status class",
                       {"handler", "code"}),
      r.histogram_family("pacsnode_http_request_duration_seconds", "HTTP requests answered, by handler", {"handler"}),
      r.histogram("pacsnode_index_commit_batch_size", "Instances per index commit", batch_buckets()),
      r.histogram("pacsnode_index_commit_duration_seconds", "Index commits (one transaction per batch)"),
      r.counter_family("pacsnode_job_attempts_total", "Job attempts ended, by kind and outcome", {"kind", "outcome"}),
      r.histogram_family("pacsnode_job_duration_seconds", "Job attempts, by kind", {"kind"}, job_buckets()),
      r.gauge_family("pacsnode_jobs", "Jobs in the queue, by kind and state (read at scrape time)", {"kind", "state"}),
      r.counter_family("pacsnode_plugin_runs_total", "Analysis plug-in runs, by outcome", {"outcome"}),
  };
}

}  // namespace

NodeMetrics& node_metrics() {
  static NodeMetrics metrics = make();
  return metrics;
}

std::string_view status_class(unsigned status) {
  if (status < 200) return "1xx";
  if (status < 300) return "2xx";
  if (status < 400) return "3xx";
  if (status < 500) return "4xx";
  return "5xx";
}

}  // namespace pacsnode::metrics
