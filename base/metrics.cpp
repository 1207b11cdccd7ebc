#include "base/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <type_traits>

#include "base/error.hpp"

namespace pacsnode::metrics {
namespace {

[[noreturn]] void bug(const std::string& why) { throw Error(ErrorCode::Internal, "metrics: " + why); }

bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) {
  if (name.empty() || !(alpha(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return alpha(c) || digit(c) || c == ':'; });
}

// [a-zA-Z_][a-zA-Z0-9_]*, "__" reserved for Prometheus itself.
bool valid_label_name(std::string_view name) {
  if (name.empty() || !alpha(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return alpha(c) || digit(c); });
}

void check_label_names(std::string_view metric, const std::vector<std::string>& names) {
  std::set<std::string_view> seen;
  for (const std::string& name : names) {
    if (!valid_label_name(name)) bug(std::string(metric) + ": bad label name \"" + name + "\"");
    if (name == "le") bug(std::string(metric) + ": \"le\" is reserved for histogram buckets");
    if (!seen.insert(name).second) bug(std::string(metric) + ": label \"" + name + "\" given twice");
  }
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) in spirit: the shortest text that reads back.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(v);
}

void escape_into(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quotes && c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

// {a="x",b="y"} plus an optional extra pair (le for buckets); nothing when there are no labels.
void labels_into(std::string& out, const std::vector<std::string>& names, const LabelValues& values,
                 std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  auto pair = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    escape_into(out, value, true);
    out += '"';
  };
  for (std::size_t i = 0; i < names.size(); ++i) pair(names[i], values[i]);
  if (!extra_name.empty()) pair(extra_name, extra_value);
  out += '}';
}

void sample_into(std::string& out, std::string_view name, std::string_view suffix, const std::vector<std::string>& label_names,
                 const LabelValues& values, const std::string& value, std::string_view extra_name = {},
                 std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  labels_into(out, label_names, values, extra_name, extra_value);
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

// ---- Histogram ----------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i])) bug("histogram bucket bounds must be finite (+Inf is implicit)");
    if (i > 0 && !(bounds_[i - 1] < bounds_[i])) bug("histogram bucket bounds must increase strictly");
  }
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
  // The first bucket whose upper bound is >= value ("le"); NaN lands in +Inf.
  std::size_t bucket = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  if (std::isnan(value)) bucket = bounds_.size();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // The count is the +Inf bucket, so that the two always agree even while others observe.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> default_seconds_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

// ---- Family -------------------------------------------------------------------------------

template <class Metric>
Family<Metric>::Family(std::vector<std::string> label_names, std::vector<double> bounds)
    : label_names_(std::move(label_names)), bounds_(std::move(bounds)) {
  if constexpr (std::is_same_v<Metric, Histogram>) Histogram check(bounds_);  // throws on bad bounds
}

template <class Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  if (values.size() != label_names_.size())
    bug("family with " + std::to_string(label_names_.size()) + " labels given " + std::to_string(values.size()) + " values");
  std::lock_guard lock(mutex_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::unique_ptr<Metric> child;
    if constexpr (std::is_same_v<Metric, Histogram>)
      child = std::make_unique<Histogram>(bounds_);
    else
      child = std::make_unique<Metric>();
    it = children_.emplace(values, std::move(child)).first;
  }
  return *it->second;
}

template <class Metric>
void Family<Metric>::each(const std::function<void(const LabelValues&, const Metric&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, metric] : children_) visit(values, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Registry -----------------------------------------------------------------------------

struct Registry::Entry {
  Kind kind;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  std::function<std::vector<Sample>()> callback;
  std::uint64_t callback_id = 0;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::add(std::string_view name, std::string_view help, Kind kind, std::vector<std::string> label_names,
                               std::vector<double> bounds) {
  if (!valid_metric_name(name)) bug("bad metric name \"" + std::string(name) + "\"");
  if (kind == Kind::Counter && !name.ends_with("_total"))
    bug("counter \"" + std::string(name) + "\" must end in _total");
  check_label_names(name, label_names);
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    Entry& e = *it->second;
    if (kind == Kind::Callback) bug("\"" + std::string(name) + "\" is registered already");
    if (e.kind != kind || e.label_names != label_names || e.bounds != bounds)
      bug("\"" + std::string(name) + "\" is registered already with another kind, labels or buckets");
    return e;
  }
  auto entry = std::make_unique<Entry>();
  entry->kind = kind;
  entry->help = std::string(help);
  entry->label_names = label_names;
  entry->bounds = bounds;
  switch (kind) {
    case Kind::Counter:
      entry->counters = std::make_unique<Family<Counter>>(std::move(label_names));
      break;
    case Kind::Gauge:
      entry->gauges = std::make_unique<Family<Gauge>>(std::move(label_names));
      break;
    case Kind::Histogram:
      entry->histograms = std::make_unique<Family<Histogram>>(std::move(label_names), std::move(bounds));
      break;
    case Kind::Callback:
      break;
  }
  return *entries_.emplace(std::string(name), std::move(entry)).first->second;
}

Family<Counter>& Registry::counter_family(std::string_view name, std::string_view help, std::vector<std::string> label_names) {
  return *add(name, help, Kind::Counter, std::move(label_names), {}).counters;
}

Family<Gauge>& Registry::gauge_family(std::string_view name, std::string_view help, std::vector<std::string> label_names) {
  return *add(name, help, Kind::Gauge, std::move(label_names), {}).gauges;
}

Family<Histogram>& Registry::histogram_family(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names, std::vector<double> bounds) {
  return *add(name, help, Kind::Histogram, std::move(label_names), std::move(bounds)).histograms;
}

Counter& Registry::counter(std::string_view name, std::string_view help) { return counter_family(name, help, {}).with({}); }

Gauge& Registry::gauge(std::string_view name, std::string_view help) { return gauge_family(name, help, {}).with({}); }

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds) {
  return histogram_family(name, help, {}, std::move(bounds)).with({});
}

CallbackRegistration Registry::gauge_callback(std::string_view name, std::string_view help, std::function<double()> value) {
  return gauge_callback(name, help, {}, [value = std::move(value)] { return std::vector<Sample>{Sample{{}, value()}}; });
}

CallbackRegistration Registry::gauge_callback(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names,
                                              std::function<std::vector<Sample>()> samples) {
  if (!samples) bug("gauge callback \"" + std::string(name) + "\" without a function");
  Entry& entry = add(name, help, Kind::Callback, std::move(label_names), {});
  std::lock_guard lock(mutex_);
  entry.callback = std::move(samples);
  entry.callback_id = next_callback_id_++;
  return CallbackRegistration(this, std::string(name), entry.callback_id);
}

void Registry::info(std::string_view name, std::string_view help,
                    const std::vector<std::pair<std::string, std::string>>& labels) {
  if (!name.ends_with("_info")) bug("info metric \"" + std::string(name) + "\" must end in _info");
  std::vector<std::string> names;
  LabelValues values;
  for (const auto& [label, value] : labels) {
    names.push_back(label);
    values.push_back(value);
  }
  gauge_family(name, help, std::move(names)).with(values).set(1);
}

void Registry::remove_callback(const std::string& name, std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  if (it != entries_.end() && it->second->kind == Kind::Callback && it->second->callback_id == id) entries_.erase(it);
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [key, entry] : entries_) {
    // A plain reference, not the structured binding: clang 14 (the fuzz build) cannot
    // capture a binding in the lambdas below.
    const std::string& name = key;
    const Entry& e = *entry;
    out += "# HELP ";
    out += name;
    out += ' ';
    escape_into(out, e.help, false);
    out += "\n# TYPE ";
    out += name;
    switch (e.kind) {
      case Kind::Counter:
        out += " counter\n";
        e.counters->each([&](const LabelValues& values, const Counter& c) {
          sample_into(out, name, "", e.label_names, values, std::to_string(c.value()));
        });
        break;
      case Kind::Gauge:
        out += " gauge\n";
        e.gauges->each([&](const LabelValues& values, const Gauge& g) {
          sample_into(out, name, "", e.label_names, values, format_value(g.value()));
        });
        break;
      case Kind::Histogram:
        out += " histogram\n";
        e.histograms->each([&](const LabelValues& values, const Histogram& h) {
          Histogram::Snapshot s = h.snapshot();
          for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
            std::string le = i < e.bounds.size() ? format_value(e.bounds[i]) : "+Inf";
            sample_into(out, name, "_bucket", e.label_names, values, std::to_string(s.cumulative[i]), "le", le);
          }
          sample_into(out, name, "_sum", e.label_names, values, format_value(s.sum));
          sample_into(out, name, "_count", e.label_names, values, std::to_string(s.count));
        });
        break;
      case Kind::Callback: {
        out += " gauge\n";
        std::vector<Sample> samples;
        try {
          if (e.callback) samples = e.callback();
        } catch (...) {
          samples.clear();  // a scrape must not fail because one source of numbers did
        }
        std::sort(samples.begin(), samples.end(),
                  [](const Sample& a, const Sample& b) { return a.label_values < b.label_values; });
        for (const Sample& sample : samples)
          if (sample.label_values.size() == e.label_names.size())
            sample_into(out, name, "", e.label_names, sample.label_values, format_value(sample.value));
        break;
      }
    }
  }
  return out;
}

// ---- CallbackRegistration -----------------------------------------------------------------

CallbackRegistration::CallbackRegistration(CallbackRegistration&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), name_(std::move(other.name_)), id_(other.id_) {}

CallbackRegistration& CallbackRegistration::operator=(CallbackRegistration&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    name_ = std::move(other.name_);
    id_ = other.id_;
  }
  return *this;
}

CallbackRegistration::~CallbackRegistration() { reset(); }

void CallbackRegistration::reset() {
  if (registry_) std::exchange(registry_, nullptr)->remove_callback(name_, id_);
}

// ---- the node's registry ------------------------------------------------------------------

Registry& registry() {
  // Never destroyed: threads still counting while the process exits must find it alive.
  static Registry* const instance = new Registry;
  return *instance;
}

std::string render() { return registry().render(); }

}  // namespace pacsnode::metrics
