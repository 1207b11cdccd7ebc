#include <doctest/doctest.h>
#include "base/log.hpp"
TEST_CASE("log levels parse") {
  CHECK(pacsnode::log::parse_level("info") == pacsnode::log::Level::info);
  CHECK_FALSE(pacsnode::log::parse_level("loud").has_value());
}
