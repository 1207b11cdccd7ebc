#include <doctest/doctest.h>
#include <string>
TEST_CASE("binary exists") { CHECK(std::string(PACSNODE_BINARY).size() > 0); }
