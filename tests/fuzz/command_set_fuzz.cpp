// libFuzzer target for DIMSE command set decoding: no crash on any input, and what
// decodes re-encodes to the same elements with a correct group length.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "net/command_set.hpp"

using namespace pacsnode::net;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "command_set_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto decoded = CommandSet::decode(std::span<const std::uint8_t>(data, size));
  if (!decoded) return 0;

  // The accessors a session calls on a peer's command must hold on any content.
  (void)decoded->describe();
  (void)decoded->has_data_set();
  if (const auto field = decoded->command_field()) (void)command_name(*field);
  if (const auto status = decoded->us(tag::Status)) (void)classify_status(*status);

  const auto encoded = decoded->encode();
  const auto again = CommandSet::decode(encoded);
  if (!again) fail("encode() produced bytes that decode() refuses");
  const auto group_length = again->ul(tag::CommandGroupLength);
  if (!group_length || *group_length != encoded.size() - 12) fail("wrong (0000,0000)");

  auto expected = decoded->elements();
  auto actual = again->elements();
  expected.erase(tag::CommandGroupLength);
  actual.erase(tag::CommandGroupLength);
  if (expected != actual) fail("decode(encode(x)) lost or changed elements");
  if (again->encode() != encoded) fail("encoding is not canonical");
  return 0;
}
