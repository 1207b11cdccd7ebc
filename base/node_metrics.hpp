#pragma once
// Every metric the node exports at /metrics, in one place: the names, help texts, labels and
// buckets (README "Metrics" lists the same). Each module updates the handles it needs; the
// handles are created on first use in the process's registry and live as long as it.
// Label values come from the small fixed sets named here.
#include <string_view>

#include "base/metrics.hpp"

namespace pacsnode::metrics {

struct NodeMetrics {
  // DIMSE associations accepted by the node: open now, and ended, by outcome (released,
  // aborted, aborted_by_peer, rejected, timeout, protocol_error, connection_closed).
  Gauge& associations_active;
  Family<Counter>& associations_total;
  // Instances (and their bytes) stored, by door (dimse, dicomweb); instances refused, by door.
  Family<Counter>& instances_received_total;
  Family<Counter>& bytes_received_total;
  Family<Counter>& instances_failed_total;
  // DIMSE operations handled, by operation (c_echo, c_store, c_find, c_move, c_get): duration.
  Family<Histogram>& dimse_request_duration_seconds;
  // HTTP requests, by handler (qido, wado, stow, viewer, api, metrics, other) and class of
  // status (2xx, 3xx, 4xx, 5xx); duration by handler.
  Family<Counter>& http_requests_total;
  Family<Histogram>& http_request_duration_seconds;
  // Index commits (one transaction for a batch of instances): size and latency.
  Histogram& index_commit_batch_size;
  Histogram& index_commit_duration_seconds;
  // Jobs: attempts that ended, by kind (forward, analyze, …) and outcome (done, retry,
  // dead); an attempt's duration by kind. Jobs by kind and state are read from the queue at
  // scrape time (pacsnode_jobs).
  Family<Counter>& job_attempts_total;
  Family<Histogram>& job_duration_seconds;
  Family<Gauge>& jobs;
  // Analysis plug-in runs, by outcome (done, not_applicable, temporary_failure, failed).
  Family<Counter>& plugin_runs_total;
};

// The node's metrics in registry() (created on the first call).
NodeMetrics& node_metrics();

// The label value of a status class: "2xx" for 204.
std::string_view status_class(unsigned status);

}  // namespace pacsnode::metrics
