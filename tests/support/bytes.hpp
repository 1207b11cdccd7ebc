#pragma once
// Byte literals for protocol tests.
#include <cstdint>
#include <vector>

namespace pacsnode::test {

using Bytes = std::vector<std::uint8_t>;

// A string literal as bytes, without its terminating NUL. Adjacent literals keep hex
// escapes from swallowing the characters that follow them: lit("\x01" "A").
template <std::size_t N>
Bytes lit(const char (&s)[N]) {
  return Bytes(s, s + N - 1);
}

}  // namespace pacsnode::test
