// Durations as the configuration writes them ("30s", "1h30m").
#include <doctest/doctest.h>

#include "base/duration.hpp"

using pacsnode::format_duration;
using pacsnode::parse_duration;

TEST_CASE("durations: the configuration's spelling") {
  using std::chrono::milliseconds;
  CHECK(parse_duration("30s") == milliseconds(30'000));
  CHECK(parse_duration("10m") == milliseconds(600'000));
  CHECK(parse_duration("1h30m") == milliseconds(5'400'000));
  CHECK(parse_duration("2d") == milliseconds(172'800'000));
  CHECK(parse_duration("500ms") == milliseconds(500));
  CHECK(parse_duration("1m500ms") == milliseconds(60'500));
  CHECK(parse_duration("0s") == milliseconds(0));
  for (const char* bad : {"", "30", "s", "1.5h", "10 m", "-1s", "30m1h", "1s1s", "1x", "1M", "99999999999d"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad));
  }
  CHECK(format_duration(milliseconds(90'000)) == "1m30s");
  CHECK(format_duration(milliseconds(30'000)) == "30s");
  CHECK(format_duration(milliseconds(1'500)) == "1s500ms");
  CHECK(format_duration(milliseconds(0)) == "0s");
  CHECK(format_duration(std::chrono::hours(24)) == "1d");
}
