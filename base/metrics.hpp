#pragma once
// The node's Prometheus metrics: counters, gauges and histograms, alone or in families with
// a fixed set of label names, registered by name in one registry that /metrics renders in
// the text exposition format 0.0.4. Updating a metric is a relaxed atomic operation; looking
// a labelled child up takes its family's mutex, so hot paths look up once and keep the
// reference (children live as long as the registry).
//
// Conventions (docs/web.md): names start with "pacsnode_", base units (_seconds, _bytes),
// counters end in "_total" (enforced), build metadata in an "_info" gauge; label values come
// from small fixed sets (outcome, door, state, kind), never a UID or a patient.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pacsnode::metrics {

// The Content-Type of render()'s output.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double d = 1) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  void dec(double d = 1) noexcept { value_.fetch_sub(d, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed buckets given at registration (upper bounds, strictly increasing, finite; +Inf is
// implicit). Observations are counted in one bucket each; render() makes them cumulative.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Observes the seconds from its construction to its destruction.
class Timer {
 public:
  explicit Timer(Histogram& histogram) : histogram_(histogram), start_(std::chrono::steady_clock::now()) {}
  ~Timer() { histogram_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

 private:
  Histogram& histogram_;
  std::chrono::steady_clock::time_point start_;
};

// 1 ms to 60 s: DIMSE and HTTP request durations, database and disk operations.
std::vector<double> default_seconds_buckets();

using LabelValues = std::vector<std::string>;

// Metrics of one name that differ by their label values. with() creates a child on first
// use; the reference stays valid for the registry's life.
template <class Metric>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::vector<double> bounds = {});
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The child for these values, one per label name in order. Throws Error(Internal) for the
  // wrong number of values.
  Metric& with(const LabelValues& values);
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }

  // Calls `visit(values, metric)` for every child, ordered by label values.
  void each(const std::function<void(const LabelValues&, const Metric&)>& visit) const;

 private:
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// One value of a gauge callback.
struct Sample {
  LabelValues label_values;
  double value;
};

class Registry;

// Keeps a gauge callback registered; its destructor unregisters it and returns only once no
// render() is calling it any more.
class CallbackRegistration {
 public:
  CallbackRegistration() = default;
  CallbackRegistration(Registry* registry, std::string name, std::uint64_t id)
      : registry_(registry), name_(std::move(name)), id_(id) {}
  CallbackRegistration(CallbackRegistration&& other) noexcept;
  CallbackRegistration& operator=(CallbackRegistration&& other) noexcept;
  ~CallbackRegistration();
  void reset();

 private:
  Registry* registry_ = nullptr;
  std::string name_;
  std::uint64_t id_ = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name again with the same kind, label names (and buckets) returns the
  // family already there, so that two places may each register what they use; anything
  // else under a known name, a malformed metric or label name, "le" as a label, or a counter
  // name without "_total" throws Error(Internal): these are bugs.
  Family<Counter>& counter_family(std::string_view name, std::string_view help, std::vector<std::string> label_names);
  Family<Gauge>& gauge_family(std::string_view name, std::string_view help, std::vector<std::string> label_names);
  Family<Histogram>& histogram_family(std::string_view name, std::string_view help, std::vector<std::string> label_names,
                                      std::vector<double> bounds = default_seconds_buckets());
  // Unlabelled: the family's only child.
  Counter& counter(std::string_view name, std::string_view help);
  Gauge& gauge(std::string_view name, std::string_view help);
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds = default_seconds_buckets());

  // A gauge whose value is computed at scrape time (free disk bytes, queue lengths). The
  // function runs inside render() with the registry locked: it must be quick and must not
  // use the registry. One that throws, or returns samples with the wrong number of label
  // values, loses those samples from that scrape and nothing else.
  [[nodiscard]] CallbackRegistration gauge_callback(std::string_view name, std::string_view help,
                                                    std::function<double()> value);
  [[nodiscard]] CallbackRegistration gauge_callback(std::string_view name, std::string_view help,
                                                    std::vector<std::string> label_names,
                                                    std::function<std::vector<Sample>()> samples);

  // A gauge of value 1 whose labels carry the information ("pacsnode_build_info{version=..}");
  // the name must end in "_info".
  void info(std::string_view name, std::string_view help, const std::vector<std::pair<std::string, std::string>>& labels);

  // Every family in the text exposition format 0.0.4, sorted by name; children sorted by
  // label values. Families without children show only their HELP and TYPE lines.
  std::string render() const;

 private:
  friend class CallbackRegistration;
  enum class Kind { Counter, Gauge, Histogram, Callback };
  struct Entry;
  Entry& add(std::string_view name, std::string_view help, Kind kind, std::vector<std::string> label_names,
             std::vector<double> bounds);
  void remove_callback(const std::string& name, std::uint64_t id);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
  std::uint64_t next_callback_id_ = 1;
};

// The node's registry.
Registry& registry();
// registry().render()
std::string render();

}  // namespace pacsnode::metrics
