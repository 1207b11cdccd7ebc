// DIMSE command sets: ILE group 0000 bytes, tolerances, status classes.
#include <doctest/doctest.h>

#include "tests/support/bytes.hpp"

#include <cstdint>
#include <vector>

#include "net/command_set.hpp"
#include "net/uids.hpp"

using namespace pacsnode::net;

namespace {

using pacsnode::test::Bytes;
using pacsnode::test::lit;

// C-ECHO-RQ, message id 1, as every implementation sends it.
const Bytes kEchoRq = lit(
    "\x00\x00\x00\x00" "\x04\x00\x00\x00" "\x38\x00\x00\x00"   // (0000,0000) UL 56
    "\x00\x00\x02\x00" "\x12\x00\x00\x00" "1.2.840.10008.1.1\0"  // (0000,0002) UI, NUL-padded
    "\x00\x00\x00\x01" "\x02\x00\x00\x00" "\x30\x00"             // (0000,0100) C-ECHO-RQ
    "\x00\x00\x10\x01" "\x02\x00\x00\x00" "\x01\x00"             // (0000,0110) message id 1
    "\x00\x00\x00\x08" "\x02\x00\x00\x00" "\x01\x01");           // (0000,0800) no data set

CommandSet echo_rq() {
  CommandSet cmd;
  cmd.set_us(tag::CommandDataSetType, kNoDataSet);  // order of setting does not matter
  cmd.set_us(tag::MessageId, 1);
  cmd.set_us(tag::CommandField, static_cast<std::uint16_t>(CommandField::CEchoRq));
  cmd.set_ui(tag::AffectedSopClassUid, uid::Verification);
  return cmd;
}

}  // namespace

TEST_CASE("C-ECHO-RQ encodes to the exact ILE bytes and decodes back") {
  CHECK(echo_rq().encode() == kEchoRq);
  const auto cmd = CommandSet::decode(kEchoRq);
  REQUIRE(cmd.has_value());
  CHECK(cmd->command_field() == CommandField::CEchoRq);
  CHECK(cmd->message_id() == 1);
  CHECK(cmd->str(tag::AffectedSopClassUid) == std::string(uid::Verification));
  CHECK_FALSE(cmd->has_data_set());
  CHECK(cmd->encode() == kEchoRq);
  CHECK(cmd->describe() == "C-ECHO-RQ msg=1 class=1.2.840.10008.1.1 dataset=no");
}

TEST_CASE("CommandDataSetType: only 0x0101 means no data set (conformance 11)") {
  CommandSet cmd = echo_rq();
  for (std::uint16_t present : {0x0000, 0x0001, 0x0102, 0xFEFE}) {
    CAPTURE(present);
    cmd.set_us(tag::CommandDataSetType, present);
    CHECK(cmd.has_data_set());
    const auto back = CommandSet::decode(cmd.encode());
    REQUIRE(back.has_value());
    CHECK(back->has_data_set());
  }
  cmd.set_us(tag::CommandDataSetType, kNoDataSet);
  CHECK_FALSE(cmd.has_data_set());
  cmd.erase(tag::CommandDataSetType);
  CHECK_FALSE(cmd.has_data_set());
}

TEST_CASE("a wrong group length and retired elements are tolerated (conformance 13)") {
  const Bytes bytes = lit(
      "\x00\x00\x00\x00" "\x04\x00\x00\x00" "\x99\x09\x00\x00"   // group length: nonsense
      "\x00\x00\x01\x00" "\x04\x00\x00\x00" "\x50\x00\x00\x00"   // (0000,0001) Length to End, retired
      "\x00\x00\x02\x00" "\x12\x00\x00\x00" "1.2.840.10008.1.1\0"
      "\x00\x00\x00\x01" "\x02\x00\x00\x00" "\x30\x00"
      "\x00\x00\x10\x01" "\x02\x00\x00\x00" "\x07\x00"
      "\x00\x00\x00\x02" "\x06\x00\x00\x00" "ECHO  "            // (0000,0200) Initiator, retired
      "\x00\x00\x00\x08" "\x02\x00\x00\x00" "\x01\x01");
  const auto cmd = CommandSet::decode(bytes);
  REQUIRE(cmd.has_value());
  CHECK(cmd->command_field() == CommandField::CEchoRq);
  CHECK(cmd->message_id() == 7);
  CHECK(cmd->ul(0x00000001) == 0x50u);
  CHECK(cmd->str(0x00000200) == std::string("ECHO"));
  // Re-encoded with the true group length: everything after the first 12 bytes.
  const auto encoded = cmd->encode();
  CHECK(encoded.size() == bytes.size());
  CHECK(encoded[8] == static_cast<std::uint8_t>(bytes.size() - 12));
  CHECK(Bytes(encoded.begin() + 12, encoded.end()) == Bytes(bytes.begin() + 12, bytes.end()));
}

TEST_CASE("AE and UI values are padded to even length only (conformance 14)") {
  CommandSet cmd;
  cmd.set_ae(tag::MoveDestination, "STORESCP");
  CHECK(cmd.elements().at(tag::MoveDestination).size() == 8);
  cmd.set_ae(tag::MoveDestination, "ABC");
  CHECK(cmd.elements().at(tag::MoveDestination) == lit("ABC "));
  CHECK(cmd.str(tag::MoveDestination) == std::string("ABC"));
  cmd.set_ui(tag::AffectedSopInstanceUid, "1.2.3");
  CHECK(cmd.elements().at(tag::AffectedSopInstanceUid) == lit("1.2.3\0"));
  CHECK(cmd.str(tag::AffectedSopInstanceUid) == std::string("1.2.3"));
  cmd.set_lo(tag::ErrorComment, "bad");
  CHECK(cmd.elements().at(tag::ErrorComment) == lit("bad "));
}

TEST_CASE("the group length is recomputed whatever was set for it") {
  CommandSet cmd = echo_rq();
  cmd.set_ul(tag::CommandGroupLength, 12345);
  CHECK(cmd.encode() == kEchoRq);
}

TEST_CASE("decode refuses truncation, undefined lengths and other groups") {
  // Every cut that is not between two elements.
  for (std::size_t n = 1; n < kEchoRq.size(); ++n) {
    const bool boundary = n == 12 || n == 38 || n == 48 || n == 58;
    CAPTURE(n);
    CHECK(CommandSet::decode(std::span(kEchoRq.data(), n)).has_value() == boundary);
  }
  CHECK_FALSE(CommandSet::decode(lit("\x00\x00\x00\x09" "\xFF\xFF\xFF\xFF")).has_value());
  CHECK_FALSE(CommandSet::decode(lit("\x08\x00\x16\x00" "\x02\x00\x00\x00" "1\0")).has_value());
  CHECK_FALSE(CommandSet::decode(lit("\x00\x00\x00\x09" "\x00\x00\x00\x80" "\x01\x00")).has_value());
}

TEST_CASE("typed getters check the value length") {
  CommandSet cmd;
  cmd.set_ul(tag::Status, 1);
  CHECK_FALSE(cmd.us(tag::Status).has_value());
  CHECK(cmd.ul(tag::Status) == 1u);
  CHECK_FALSE(cmd.us(tag::Priority).has_value());
  CHECK_FALSE(cmd.str(tag::Priority).has_value());
  CHECK_FALSE(cmd.command_field().has_value());
  CHECK_FALSE(cmd.has(tag::Priority));
  CHECK(cmd.has(tag::Status));
}

TEST_CASE("status classes by range") {
  CHECK(classify_status(0x0000) == StatusClass::Success);
  CHECK(classify_status(0xFF00) == StatusClass::Pending);
  CHECK(classify_status(0xFF01) == StatusClass::Pending);
  CHECK(classify_status(0xFE00) == StatusClass::Cancel);
  for (std::uint16_t warning : {0x0001, 0x0107, 0x0116, 0xB000, 0xB006, 0xB007, 0xBFFF}) {
    CAPTURE(warning);
    CHECK(classify_status(warning) == StatusClass::Warning);
  }
  for (std::uint16_t failure : {0x0110, 0x0111, 0x0122, 0x0124, 0x0210, 0x0211, 0x0212, 0xA700, 0xA702, 0xA801, 0xA900,
                                0xC000, 0xCFFF, 0xFE01, 0xFF02}) {
    CAPTURE(failure);
    CHECK(classify_status(failure) == StatusClass::Failure);
  }
}

TEST_CASE("describe and command names") {
  CommandSet rsp;
  rsp.set_us(tag::CommandField, static_cast<std::uint16_t>(CommandField::CMoveRsp));
  rsp.set_us(tag::MessageIdBeingRespondedTo, 9);
  rsp.set_ui(tag::AffectedSopClassUid, "1.2.840.10008.5.1.4.1.2.2.2");
  rsp.set_us(tag::Status, 0xFF00);
  rsp.set_us(tag::NumberOfRemainingSuboperations, 3);
  rsp.set_us(tag::NumberOfCompletedSuboperations, 2);
  rsp.set_us(tag::CommandDataSetType, kNoDataSet);
  CHECK(rsp.describe() ==
        "C-MOVE-RSP rsp-to=9 class=1.2.840.10008.5.1.4.1.2.2.2 status=0xFF00 remaining=3 completed=2 dataset=no");
  CommandSet odd;
  odd.set_us(tag::CommandField, 0x0120);
  odd.set_lo(tag::ErrorComment, "two\nlines");
  CHECK(odd.describe() == "command=0x0120 comment=\"two?lines\" dataset=no");
  CHECK(command_name(CommandField::CStoreRq) == "C-STORE-RQ");
  CHECK(command_name(CommandField::CCancelRq) == "C-CANCEL-RQ");
  CHECK(command_name(CommandField::CGetRsp) == "C-GET-RSP");
  CHECK(command_name(static_cast<CommandField>(0x1234)) == "UNKNOWN");
}
