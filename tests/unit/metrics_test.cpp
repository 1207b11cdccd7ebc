// The Prometheus registry: the text exposition format line by line, conventions enforced,
// callbacks, concurrency, and promtool's (Debian's prometheus package, from scripts/deps)
// own parser and linter on what render() writes.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>

#include "base/error.hpp"
#include "base/metrics.hpp"
#include "tests/support/temp_dir.hpp"

using pacsnode::Error;
using pacsnode::ErrorCode;
using namespace pacsnode::metrics;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

ErrorCode error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::NotFound;  // did not throw
}

// A registry with one of everything, named as web.md asks.
void populate(Registry& r) {
  auto& requests = r.counter_family("pacsnode_requests_total", "Requests answered, by door and outcome.", {"door", "outcome"});
  requests.with({"http", "ok"}).inc(3);
  requests.with({"dimse", "ok"}).inc();
  requests.with({"dimse", "failed"}).inc(2);
  r.gauge("pacsnode_associations", "Open DICOM associations.").set(4);
  auto& duration = r.histogram_family("pacsnode_request_duration_seconds", "Time to answer a request.", {"door"}, {0.125, 1});
  for (double v : {0.0625, 0.125, 0.5, 4.0}) duration.with({"http"}).observe(v);
  r.info("pacsnode_build_info", "Build of this node.", {{"version", "0.1.0"}, {"revision", "8bd68f2"}});
}

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  int status = ::pclose(pipe);
  return std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "\n" + out;
}

}  // namespace

TEST_CASE("metrics: the exposition format, line by line") {
  Registry r;
  populate(r);
  const std::vector<std::string> expected = {
      "# HELP pacsnode_associations Open DICOM associations.",
      "# TYPE pacsnode_associations gauge",
      "pacsnode_associations 4",
      "# HELP pacsnode_build_info Build of this node.",
      "# TYPE pacsnode_build_info gauge",
      "pacsnode_build_info{version=\"0.1.0\",revision=\"8bd68f2\"} 1",
      "# HELP pacsnode_request_duration_seconds Time to answer a request.",
      "# TYPE pacsnode_request_duration_seconds histogram",
      "pacsnode_request_duration_seconds_bucket{door=\"http\",le=\"0.125\"} 2",  // le is inclusive
      "pacsnode_request_duration_seconds_bucket{door=\"http\",le=\"1\"} 3",
      "pacsnode_request_duration_seconds_bucket{door=\"http\",le=\"+Inf\"} 4",
      "pacsnode_request_duration_seconds_sum{door=\"http\"} 4.6875",
      "pacsnode_request_duration_seconds_count{door=\"http\"} 4",
      "# HELP pacsnode_requests_total Requests answered, by door and outcome.",
      "# TYPE pacsnode_requests_total counter",
      "pacsnode_requests_total{door=\"dimse\",outcome=\"failed\"} 2",
      "pacsnode_requests_total{door=\"dimse\",outcome=\"ok\"} 1",
      "pacsnode_requests_total{door=\"http\",outcome=\"ok\"} 3",
  };
  const std::string text = r.render();
  CHECK(text.ends_with("\n"));
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == expected.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO("line " << i + 1);
    CHECK(lines[i] == expected[i]);
  }
}

TEST_CASE("metrics: escaping, values, empty families") {
  Registry r;
  r.gauge_family("pacsnode_odd", "Help with a \\ backslash\nand a newline.", {"kind"})
      .with({"quote \" backslash \\ newline \n end"})
      .set(-0.25);
  r.gauge("pacsnode_big_bytes", "Big.").set(1e21);
  r.gauge("pacsnode_inf", "Infinite.").set(std::numeric_limits<double>::infinity());
  r.counter_family("pacsnode_unused_total", "Never incremented.", {"outcome"});
  const auto lines = lines_of(r.render());
  const std::vector<std::string> expected = {
      "# HELP pacsnode_big_bytes Big.",
      "# TYPE pacsnode_big_bytes gauge",
      "pacsnode_big_bytes 1e+21",
      "# HELP pacsnode_inf Infinite.",
      "# TYPE pacsnode_inf gauge",
      "pacsnode_inf +Inf",
      "# HELP pacsnode_odd Help with a \\\\ backslash\\nand a newline.",
      "# TYPE pacsnode_odd gauge",
      "pacsnode_odd{kind=\"quote \\\" backslash \\\\ newline \\n end\"} -0.25",
      "# HELP pacsnode_unused_total Never incremented.",
      "# TYPE pacsnode_unused_total counter",
  };
  REQUIRE(lines.size() == expected.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO("line " << i + 1);
    CHECK(lines[i] == expected[i]);
  }
}

TEST_CASE("metrics: every line has the grammar of format 0.0.4") {
  Registry r;
  populate(r);
  auto cb = r.gauge_callback("pacsnode_storage_free_bytes", "Free bytes per storage tier.", {"tier"},
                             [] { return std::vector<Sample>{{{"hot"}, 1.5e12}, {{"cold"}, 0}}; });
  const std::regex help(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  const std::regex type(R"(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))");
  const std::regex sample(
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? ([-+]?[0-9.eE+-]+|[+-]Inf|NaN))");
  std::string last_type;
  for (const std::string& line : lines_of(r.render())) {
    INFO(line);
    if (line.starts_with("# HELP"))
      CHECK(std::regex_match(line, help));
    else if (line.starts_with("# TYPE"))
      CHECK(std::regex_match(line, type));
    else
      CHECK(std::regex_match(line, sample));
  }
  CHECK_FALSE(std::regex_match("pacsnode_x{a=\"b} 1", sample));  // the check can fail
}

TEST_CASE("metrics: promtool accepts what render() writes") {
  const std::filesystem::path promtool = "/usr/bin/promtool";
  REQUIRE_MESSAGE(std::filesystem::exists(promtool), "promtool is not installed (Debian package prometheus; scripts/deps)");
  pacsnode::test::TempDir dir("metrics");
  Registry r;
  populate(r);
  auto cb = r.gauge_callback("pacsnode_storage_free_bytes", "Free bytes on the storage volume.", [] { return 123456.0; });
  r.gauge_family("pacsnode_escapes", "Odd \\ label values\n.", {"kind"}).with({"a \"b\" \\ \n c"}).set(1);
  auto check = [&](const std::string& text) {
    std::ofstream(dir.path() / "metrics.txt", std::ios::binary) << text;
    return run(promtool.string() + " check metrics < " + (dir.path() / "metrics.txt").string() + " 2>&1");
  };
  std::string ours = check(r.render());
  INFO(ours);
  CHECK(ours.starts_with("0\n"));
  // The same tool refuses a broken exposition and a lint violation: the check can fail.
  CHECK_FALSE(check("# TYPE pacsnode_x gauge\npacsnode_x{a=\"b} 1\n").starts_with("0\n"));
  CHECK_FALSE(check("# HELP pacsnode_hits Hits.\n# TYPE pacsnode_hits counter\npacsnode_hits 1\n").starts_with("0\n"));
}

TEST_CASE("metrics: gauge callbacks run at scrape time and end with their registration") {
  Registry r;
  double free_bytes = 100;
  {
    CallbackRegistration reg = r.gauge_callback("pacsnode_storage_free_bytes", "Free bytes.", [&] { return free_bytes; });
    CHECK(r.render().find("pacsnode_storage_free_bytes 100\n") != std::string::npos);
    free_bytes = 42;
    CHECK(r.render().find("pacsnode_storage_free_bytes 42\n") != std::string::npos);
    CHECK(error_of([&] { (void)r.gauge_callback("pacsnode_storage_free_bytes", "Again.", [] { return 0.0; }); }) ==
          ErrorCode::Internal);
    CallbackRegistration moved = std::move(reg);
    CHECK(r.render().find("pacsnode_storage_free_bytes 42\n") != std::string::npos);
  }
  CHECK(r.render().empty());

  auto broken = r.gauge_callback("pacsnode_broken", "Throws.", []() -> double { throw std::runtime_error("no disk"); });
  auto wrong = r.gauge_callback("pacsnode_queue_length", "Wrong label count in one sample.", {"state"},
                                [] { return std::vector<Sample>{{{"ready"}, 3}, {{"a", "b"}, 1}}; });
  r.counter("pacsnode_after_total", "Still rendered.").inc();
  const auto lines = lines_of(r.render());
  const std::vector<std::string> expected = {
      "# HELP pacsnode_after_total Still rendered.", "# TYPE pacsnode_after_total counter", "pacsnode_after_total 1",
      "# HELP pacsnode_broken Throws.",             "# TYPE pacsnode_broken gauge",
      "# HELP pacsnode_queue_length Wrong label count in one sample.",
      "# TYPE pacsnode_queue_length gauge",         "pacsnode_queue_length{state=\"ready\"} 3",
  };
  CHECK(lines == expected);
}

TEST_CASE("metrics: registration rules") {
  Registry r;
  auto& a = r.counter_family("pacsnode_stored_total", "Stored instances.", {"door"});
  auto& b = r.counter_family("pacsnode_stored_total", "Stored instances.", {"door"});
  CHECK(&a == &b);
  CHECK(&a.with({"http"}) == &b.with({"http"}));
  CHECK(&r.histogram("pacsnode_x_seconds", "X.") == &r.histogram("pacsnode_x_seconds", "X."));

  auto internal = [&](std::function<void()> f) { return error_of(f) == ErrorCode::Internal; };
  CHECK(internal([&] { r.counter_family("pacsnode_stored_total", "Stored.", {"outcome"}); }));
  CHECK(internal([&] { r.gauge("pacsnode_stored_total", "Now a gauge."); }));
  CHECK(internal([&] { r.histogram("pacsnode_x_seconds", "X.", {1, 2}); }));
  CHECK(internal([&] { r.counter("pacsnode_stored", "No _total."); }));
  CHECK(internal([&] { r.gauge("pacsnode-bad", "Dash."); }));
  CHECK(internal([&] { r.gauge("9lives", "Digit first."); }));
  CHECK(internal([&] { r.gauge_family("pacsnode_g", "Reserved.", {"__x"}); }));
  CHECK(internal([&] { r.gauge_family("pacsnode_g", "Reserved.", {"le"}); }));
  CHECK(internal([&] { r.gauge_family("pacsnode_g", "Twice.", {"a", "a"}); }));
  CHECK(internal([&] { r.histogram("pacsnode_h_seconds", "Unsorted.", {1, 0.5}); }));
  CHECK(internal([&] { r.histogram("pacsnode_h_seconds", "Infinite.", {1, std::numeric_limits<double>::infinity()}); }));
  CHECK(internal([&] { r.info("pacsnode_build", "No _info.", {{"version", "1"}}); }));
  CHECK(internal([&] { a.with({}); }));
  CHECK(internal([&] { a.with({"http", "extra"}); }));
  CHECK(error_of([&] { r.gauge_family("pacsnode_g", "Fine.", {"state"}); }) == ErrorCode::NotFound);  // accepted
}

TEST_CASE("metrics: histograms bucket by le, and count across threads exactly") {
  Histogram h({0.001, 0.01, 0.1});
  for (double v : {0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.2, 100.0}) h.observe(v);
  Histogram::Snapshot s = h.snapshot();
  CHECK(s.cumulative == std::vector<std::uint64_t>{2, 4, 6, 8});
  CHECK(s.count == 8);
  CHECK(s.sum == doctest::Approx(100.3635));

  Registry r;
  auto& counter = r.counter_family("pacsnode_threads_total", "Per-thread test counter.", {"kind"}).with({"x"});
  auto& gauge = r.gauge("pacsnode_level", "Up and down.");
  auto& hist = r.histogram("pacsnode_threads_seconds", "Observed from threads.", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100'000; ++i) {
        counter.inc();
        gauge.inc(2);
        gauge.dec();
        hist.observe(t % 2 ? 1.0 : 0.25);
        if (i % 10'000 == 0) (void)r.render();  // scraping meanwhile
      }
    });
  for (auto& t : threads) t.join();
  CHECK(counter.value() == 400'000);
  CHECK(gauge.value() == 400'000);
  Histogram::Snapshot hs = hist.snapshot();
  CHECK(hs.cumulative == std::vector<std::uint64_t>{200'000, 400'000});
  CHECK(hs.sum == doctest::Approx(250'000));
  {
    Timer timer(hist);
  }
  CHECK(hist.snapshot().count == 400'001);
}

TEST_CASE("metrics: the node's registry is one") {
  CHECK(&registry() == &registry());
  registry().counter("pacsnode_unit_test_probe_total", "Registered by metrics_test.").inc();
  CHECK(render().find("pacsnode_unit_test_probe_total ") != std::string::npos);
  CHECK(content_type == "text/plain; version=0.0.4; charset=utf-8");
}
