#include <doctest/doctest.h>

#include "net/message_assembler.hpp"

using namespace pacsnode::net;
using Kind = MessageAssembler::Kind;

namespace {

std::vector<std::uint8_t> echo_command(bool with_data = false) {
  CommandSet c;
  c.set_ui(tag::AffectedSopClassUid, "1.2.840.10008.1.1");
  c.set_us(tag::CommandField, 0x0030);
  c.set_us(tag::MessageId, 7);
  c.set_us(tag::CommandDataSetType, with_data ? kDataSetPresent : kNoDataSet);
  return c.encode();
}

Pdv pdv(std::uint8_t pc, bool command, bool last, std::span<const std::uint8_t> data) {
  return Pdv{pc, static_cast<std::uint8_t>((command ? 1 : 0) | (last ? 2 : 0)), data};
}

auto accept_all = [](std::uint8_t) { return true; };

}  // namespace

TEST_CASE("a command in one PDV is a message") {
  MessageAssembler a;
  auto bytes = echo_command();
  auto step = a.feed(pdv(1, true, true, bytes), accept_all);
  CHECK(step.kind == Kind::Message);
  CHECK(a.command().message_id() == 7);
}

TEST_CASE("a command split into 1-byte PDVs is reassembled (conformance case 8)") {
  MessageAssembler a;
  auto bytes = echo_command();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const bool last = i + 1 == bytes.size();
    auto step = a.feed(pdv(3, true, last, std::span(bytes).subspan(i, 1)), accept_all);
    CHECK(step.kind == (last ? Kind::Message : Kind::NeedMore));
  }
  CHECK(a.command().command_field() == CommandField::CEchoRq);
}

TEST_CASE("command then data set fragments") {
  MessageAssembler a;
  auto bytes = echo_command(true);
  std::vector<std::uint8_t> data{1, 2, 3, 4};
  CHECK(a.feed(pdv(1, true, true, bytes), accept_all).kind == Kind::CommandThenData);
  CHECK(a.in_data_set());
  auto s1 = a.feed(pdv(1, false, false, std::span(data).first(2)), accept_all);
  CHECK(s1.kind == Kind::DataFragment);
  CHECK(s1.data.size() == 2);
  auto s2 = a.feed(pdv(1, false, true, std::span(data).subspan(2)), accept_all);
  CHECK(s2.kind == Kind::DataLast);
  CHECK(a.idle());
}

TEST_CASE("a data set PDV before the command is complete is refused (conformance case 9)") {
  MessageAssembler a;
  auto bytes = echo_command(true);
  std::vector<std::uint8_t> data{1, 2};
  CHECK(a.feed(pdv(1, true, false, std::span(bytes).first(10)), accept_all).kind == Kind::NeedMore);
  CHECK(a.feed(pdv(1, false, true, data), accept_all).kind == Kind::Error);
  MessageAssembler b;
  CHECK(b.feed(pdv(1, false, true, data), accept_all).kind == Kind::Error);
}

TEST_CASE("mixed presentation context ids within one message are refused (conformance case 10)") {
  MessageAssembler a;
  auto bytes = echo_command(true);
  std::vector<std::uint8_t> data{1, 2};
  CHECK(a.feed(pdv(1, true, true, bytes), accept_all).kind == Kind::CommandThenData);
  CHECK(a.feed(pdv(3, false, true, data), accept_all).kind == Kind::Error);
}

TEST_CASE("a PDV on a context that was not accepted is refused") {
  MessageAssembler a;
  auto bytes = echo_command();
  auto only_one = [](std::uint8_t id) { return id == 1; };
  CHECK(a.feed(pdv(5, true, true, bytes), only_one).kind == Kind::Error);
}

TEST_CASE("a new command while a data set is open is refused, an undecodable command too") {
  MessageAssembler a;
  auto bytes = echo_command(true);
  CHECK(a.feed(pdv(1, true, true, bytes), accept_all).kind == Kind::CommandThenData);
  CHECK(a.feed(pdv(1, true, true, bytes), accept_all).kind == Kind::Error);
  MessageAssembler b;
  std::vector<std::uint8_t> junk{0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x7F};
  CHECK(b.feed(pdv(1, true, true, junk), accept_all).kind == Kind::Error);
}

TEST_CASE("an oversized command set is refused") {
  MessageAssembler a;
  std::vector<std::uint8_t> chunk(16 * 1024, 0);
  MessageAssembler::Step step;
  for (int i = 0; i < 5; ++i) step = a.feed(pdv(1, true, false, chunk), accept_all);
  CHECK(step.kind == Kind::Error);
}
