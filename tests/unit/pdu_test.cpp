// PS3.8 PDUs against hand-written byte literals, round trips, and malformed input.
#include <doctest/doctest.h>

#include "tests/support/bytes.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "net/pdu.hpp"
#include "net/uids.hpp"

using namespace pacsnode::net;

namespace {

using pacsnode::test::Bytes;
using pacsnode::test::lit;

// What DCMTK 3.6.7's echoscu sends by default: one Verification context with ILE,
// max length 16384, its implementation class UID (odd length, unpadded) and version.
const Bytes kEchoscuRq = lit(
    "\x01\x00" "\x00\x00\x00\xCD"  // A-ASSOCIATE-RQ, PDU-length 205
    "\x00\x01" "\x00\x00"          // protocol version 1, reserved
    "ANY-SCP         "             // called AE
    "ECHOSCU         "             // calling AE
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"  // reserved
    "\x10\x00\x00\x15" "1.2.840.10008.3.1.1.1"
    "\x20\x00\x00\x2E" "\x01\x00\x00\x00"
    "\x30\x00\x00\x11" "1.2.840.10008.1.1"
    "\x40\x00\x00\x11" "1.2.840.10008.1.2"
    "\x50\x00\x00\x3A"
    "\x51\x00\x00\x04" "\x00\x00\x40\x00"
    "\x52\x00\x00\x1B" "1.2.276.0.7230010.3.0.3.6.7"
    "\x55\x00\x00\x0F" "OFFIS_DCMTK_367");

// Offsets in kEchoscuRq where a top-level item ends: a PDU cut there is still well formed.
constexpr std::size_t kRqItemBoundaries[] = {74, 99, 149};

AAssociateRq echoscu_rq() {
  AAssociateRq rq;
  rq.called_ae = "ANY-SCP";
  rq.calling_ae = "ECHOSCU";
  rq.contexts.push_back({1, std::string(uid::Verification), {std::string(uid::ImplicitVrLittleEndian)}});
  rq.user_info.max_length = 16384;
  rq.user_info.implementation_class_uid = "1.2.276.0.7230010.3.0.3.6.7";
  rq.user_info.implementation_version_name = "OFFIS_DCMTK_367";
  return rq;
}

// The answer: context 1 accepted with ILE, context 3 rejected (abstract syntax) with an
// empty transfer syntax sub-item.
const Bytes kAc = lit(
    "\x02\x00" "\x00\x00\x00\xC4"
    "\x00\x01" "\x00\x00"
    "ANY-SCP         "
    "ECHOSCU         "
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    "\x10\x00\x00\x15" "1.2.840.10008.3.1.1.1"
    "\x21\x00\x00\x19" "\x01\x00\x00\x00"
    "\x40\x00\x00\x11" "1.2.840.10008.1.2"
    "\x21\x00\x00\x08" "\x03\x00\x03\x00"
    "\x40\x00\x00\x00"
    "\x50\x00\x00\x3A"
    "\x51\x00\x00\x04" "\x00\x00\x40\x00"
    "\x52\x00\x00\x1B" "1.2.276.0.7230010.3.0.3.6.7"
    "\x55\x00\x00\x0F" "OFFIS_DCMTK_367");

AAssociateAc expected_ac() {
  AAssociateAc ac;
  ac.called_ae = "ANY-SCP";
  ac.calling_ae = "ECHOSCU";
  ac.contexts.push_back({1, PcResult::Acceptance, std::string(uid::ImplicitVrLittleEndian)});
  ac.contexts.push_back({3, PcResult::AbstractSyntaxNotSupported, ""});
  ac.user_info.max_length = 16384;
  ac.user_info.implementation_class_uid = "1.2.276.0.7230010.3.0.3.6.7";
  ac.user_info.implementation_version_name = "OFFIS_DCMTK_367";
  return ac;
}

template <class T>
T decode_as(const Bytes& bytes) {
  const auto result = decode_pdu(bytes);
  REQUIRE_MESSAGE(result.pdu.has_value(), result.error.message);
  REQUIRE(std::holds_alternative<T>(*result.pdu));
  return std::get<T>(*result.pdu);
}

AbortReason refusal(const Bytes& bytes) {
  const auto result = decode_pdu(bytes);
  REQUIRE_FALSE(result.pdu.has_value());
  CHECK_FALSE(result.error.message.empty());
  return result.error.reason;
}

void set_pdu_length(Bytes& bytes) {
  const auto n = static_cast<std::uint32_t>(bytes.size() - kPduHeaderSize);
  bytes[2] = static_cast<std::uint8_t>(n >> 24);
  bytes[3] = static_cast<std::uint8_t>(n >> 16);
  bytes[4] = static_cast<std::uint8_t>(n >> 8);
  bytes[5] = static_cast<std::uint8_t>(n);
}

}  // namespace

TEST_CASE("A-ASSOCIATE-RQ as echoscu sends it decodes and re-encodes byte for byte") {
  CHECK(decode_as<AAssociateRq>(kEchoscuRq) == echoscu_rq());
  CHECK(encode_pdu(echoscu_rq()) == kEchoscuRq);
  const auto header = decode_header(std::span<const std::uint8_t, kPduHeaderSize>(kEchoscuRq.data(), kPduHeaderSize));
  CHECK(header.type == 0x01);
  CHECK(header.length == 205);
  CHECK_FALSE(check_header(header).has_value());
  CHECK(pdu_name(Pdu{echoscu_rq()}) == "A-ASSOCIATE-RQ");
}

TEST_CASE("A-ASSOCIATE-AC decodes and re-encodes byte for byte") {
  CHECK(decode_as<AAssociateAc>(kAc) == expected_ac());
  CHECK(encode_pdu(expected_ac()) == kAc);
}

TEST_CASE("A-ASSOCIATE-AC with a rejected context lacking its transfer syntax sub-item decodes") {
  Bytes bytes = kAc;
  // Shorten the second 0x21 item to its 4 fixed bytes: drop the empty 0x40 sub-item.
  const std::size_t item = 6 + 68 + 25 + 29;
  REQUIRE(bytes[item] == 0x21);
  bytes[item + 3] = 0x04;
  bytes.erase(bytes.begin() + item + 8, bytes.begin() + item + 12);
  set_pdu_length(bytes);
  const auto ac = decode_as<AAssociateAc>(bytes);
  CHECK(ac == expected_ac());
  CHECK(encode_pdu(ac) == kAc);  // we always write the sub-item back
}

TEST_CASE("A-ASSOCIATE-RJ, release, abort literals") {
  const Bytes rj = lit("\x03\x00" "\x00\x00\x00\x04" "\x00\x01\x01\x07");
  CHECK(decode_as<AAssociateRj>(rj) == AAssociateRj{1, 1, 7});
  CHECK(encode_pdu(AAssociateRj{1, 1, 7}) == rj);

  const Bytes release_rq = lit("\x05\x00" "\x00\x00\x00\x04" "\x00\x00\x00\x00");
  const Bytes release_rp = lit("\x06\x00" "\x00\x00\x00\x04" "\x00\x00\x00\x00");
  decode_as<AReleaseRq>(release_rq);
  decode_as<AReleaseRp>(release_rp);
  CHECK(encode_pdu(AReleaseRq{}) == release_rq);
  CHECK(encode_pdu(AReleaseRp{}) == release_rp);

  const Bytes abort = lit("\x07\x00" "\x00\x00\x00\x04" "\x00\x00\x02\x06");
  CHECK(decode_as<AAbort>(abort) == AAbort{2, 6});
  CHECK(encode_pdu(AAbort{2, 6}) == abort);
  // Source 1 is reserved, but some peers send it (pynetdicom #561).
  CHECK(decode_as<AAbort>(lit("\x07\x00" "\x00\x00\x00\x04" "\x00\x00\x01\x00")) == AAbort{1, 0});
  CHECK(pdu_name(Pdu{AAbort{}}) == "A-ABORT");
}

TEST_CASE("P-DATA-TF with two PDVs") {
  const Bytes bytes = lit(
      "\x04\x00" "\x00\x00\x00\x12"
      "\x00\x00\x00\x06" "\x01\x03" "\xAA\xBB\xCC\xDD"  // command, last fragment
      "\x00\x00\x00\x04" "\x01\x00" "\x01\x02");        // data set, more to come
  const auto pdata = decode_as<PDataTf>(bytes);
  REQUIRE(pdata.pdvs.size() == 2);
  CHECK(pdata.pdvs[0].pc_id == 1);
  CHECK(pdata.pdvs[0].is_command());
  CHECK(pdata.pdvs[0].is_last());
  CHECK(pdata.pdvs[0].data.size() == 4);
  CHECK(pdata.pdvs[0].data[3] == 0xDD);
  CHECK(pdata.pdvs[0].data.data() == bytes.data() + 12);  // points into the input
  CHECK_FALSE(pdata.pdvs[1].is_command());
  CHECK_FALSE(pdata.pdvs[1].is_last());
  CHECK(pdata.pdvs[1].data.size() == 2);
  CHECK(encode_pdu(pdata) == bytes);
}

TEST_CASE("append_pdata writes what encode_pdu writes, after what is there") {
  const Bytes fragment = lit("\x10\x20\x30");
  PDataTf one;
  one.pdvs.push_back(Pdv{5, 0x02, fragment});
  Bytes out = lit("xy");
  append_pdata(out, 5, 0x02, fragment);
  CHECK(Bytes(out.begin() + 2, out.end()) == encode_pdu(one));
  CHECK(out.size() == 2 + 6 + 6 + 3);
  Bytes empty;
  append_pdata(empty, 1, 0x03, {});
  CHECK(empty == lit("\x04\x00" "\x00\x00\x00\x06" "\x00\x00\x00\x02" "\x01\x03"));
}

TEST_CASE("every user information sub-item round-trips") {
  AAssociateRq rq = echoscu_rq();
  rq.protocol_version = 3;
  rq.contexts.push_back({3, std::string(uid::StudyRootGet), {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2"}});
  rq.user_info.async_ops = AsyncOpsWindow{0, 0};
  rq.user_info.roles.push_back({"1.2.840.10008.5.1.4.1.1.2", true, true});
  rq.user_info.roles.push_back({"1.2.840.10008.5.1.4.1.1.4", false, true});
  rq.user_info.sop_class_extended.push_back({std::string(uid::StudyRootFind), std::string("\x01\x00\x01", 3)});
  rq.user_info.common_extended.push_back(
      {"1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.4.2", {"1.2.840.10008.5.1.4.1.1.88.11", "1.2.3"}});
  rq.user_info.common_extended.push_back({"1.2.4", "1.2.5", {}});
  rq.user_info.user_identity_rq = UserIdentityRq{2, true, "alice", "s3cret"};
  rq.user_info.implementation_version_name = "A_VERSION_NAME_LONGER_THAN_16";  // tolerated
  const auto bytes = encode_pdu(rq);
  CHECK(decode_as<AAssociateRq>(bytes) == rq);

  AAssociateAc ac = expected_ac();
  ac.user_info.roles.push_back({"1.2.840.10008.5.1.4.1.1.2", true, false});
  ac.user_info.user_identity_ac = "";
  CHECK(decode_as<AAssociateAc>(encode_pdu(ac)) == ac);
  ac.user_info.user_identity_ac = "kerberos-ticket";
  CHECK(decode_as<AAssociateAc>(encode_pdu(ac)) == ac);
}

TEST_CASE("user identity type 2 is encoded per PS3.7 D.3.3.7") {
  AAssociateRq rq;
  rq.application_context.clear();
  rq.user_info.user_identity_rq = UserIdentityRq{2, true, "bob", "pw"};
  const auto bytes = encode_pdu(rq);
  const Bytes expected_tail = lit(
      "\x50\x00\x00\x17"
      "\x51\x00\x00\x04" "\x00\x00\x00\x00"
      "\x58\x00\x00\x0B" "\x02\x01" "\x00\x03" "bob" "\x00\x02" "pw");
  REQUIRE(bytes.size() == 6 + 68 + expected_tail.size());
  CHECK(Bytes(bytes.end() - static_cast<std::ptrdiff_t>(expected_tail.size()), bytes.end()) == expected_tail);
  const auto back = decode_as<AAssociateRq>(bytes);
  CHECK(back == rq);
  CHECK(back.user_info.user_identity_rq->type == static_cast<std::uint8_t>(UserIdentityType::UsernamePasscode));
}

TEST_CASE("RQ tolerances: NUL-padded AE, NUL-terminated UID, even id, unknown items, no class UID") {
  const Bytes bytes = lit(
      "\x01\x00" "\x00\x00\x00\xAB"
      "\x00\x03" "\x00\x00"                                       // version 3: the acceptor decides
      "  PACS\0\0\0\0\0\0\0\0\0\0"                                // leading spaces, trailing NULs
      "MODALITY\0 \0     "
      "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
      "\x10\x00\x00\x16" "1.2.840.10008.3.1.1.1\0"                // trailing NUL
      "\x60\x00\x00\x02" "??"                                     // unknown item: skipped
      "\x20\x00\x00\x2F" "\x02\x00\x00\x00"                       // even id: decoded as is
      "\x30\x00\x00\x12" "1.2.840.10008.1.1\0"
      "\x40\x00\x00\x11" "1.2.840.10008.1.2"
      "\x50\x00\x00\x10"
      "\x5F\x00\x00\x04" "junk"                                   // unknown sub-item: skipped
      "\x51\x00\x00\x04" "\x00\x00\x00\x00");                     // no implementation class UID
  const auto rq = decode_as<AAssociateRq>(bytes);
  CHECK(rq.protocol_version == 3);
  CHECK(rq.called_ae == "PACS");
  CHECK(rq.calling_ae == "MODALITY");
  CHECK(rq.application_context == kApplicationContext);
  REQUIRE(rq.contexts.size() == 1);
  CHECK(rq.contexts[0].id == 2);
  CHECK(rq.contexts[0].abstract_syntax == uid::Verification);
  CHECK(rq.user_info.implementation_class_uid.empty());
  CHECK(rq.user_info.max_length == 0);
}

TEST_CASE("a missing application context decodes as empty, so the acceptor can reject it") {
  Bytes bytes = kEchoscuRq;
  bytes.erase(bytes.begin() + 74, bytes.begin() + 99);
  set_pdu_length(bytes);
  CHECK(decode_as<AAssociateRq>(bytes).application_context.empty());
}

TEST_CASE("an RQ cut at any byte is refused unless the cut falls between items") {
  for (std::size_t n = 0; n < kEchoscuRq.size(); ++n) {
    CAPTURE(n);
    Bytes cut(kEchoscuRq.begin(), kEchoscuRq.begin() + static_cast<std::ptrdiff_t>(n));
    // As it comes off the wire: the header still claims 205 bytes.
    CHECK_FALSE(decode_pdu(cut).pdu.has_value());
    if (n < kPduHeaderSize) continue;
    // And with a header made consistent: only the item lengths can tell.
    set_pdu_length(cut);
    const bool boundary = std::find(std::begin(kRqItemBoundaries), std::end(kRqItemBoundaries), n) !=
                          std::end(kRqItemBoundaries);
    const auto result = decode_pdu(cut);
    CHECK(result.pdu.has_value() == boundary);
    if (!result.pdu) CHECK(result.error.reason == AbortReason::InvalidPduParameterValue);
  }
}

TEST_CASE("item and sub-item lengths that overflow are refused") {
  SUBCASE("presentation context item longer than the PDU") {
    Bytes bytes = kEchoscuRq;
    bytes[99 + 2] = 0xFF;
    bytes[99 + 3] = 0xFF;
    CHECK(refusal(bytes) == AbortReason::InvalidPduParameterValue);
  }
  SUBCASE("abstract syntax sub-item longer than its item") {
    Bytes bytes = kEchoscuRq;
    bytes[107 + 3] = 0x40;
    CHECK(refusal(bytes) == AbortReason::InvalidPduParameterValue);
  }
  SUBCASE("role selection UID length past its sub-item") {
    AAssociateRq rq = echoscu_rq();
    rq.user_info.roles.push_back({"1.2.3", true, true});
    Bytes bytes = encode_pdu(rq);
    const Bytes role = lit("\x54\x00\x00\x09" "\x00\x05" "1.2.3");
    const auto at = std::search(bytes.begin(), bytes.end(), role.begin(), role.end());
    REQUIRE(at != bytes.end());
    at[5] = 0x08;  // UID length 8 in a 9-byte sub-item
    CHECK(refusal(bytes) == AbortReason::InvalidPduParameterValue);
  }
  SUBCASE("max length sub-item shorter than 4 bytes") {
    Bytes bytes(kEchoscuRq.begin(), kEchoscuRq.begin() + 149);
    const Bytes user_info = lit("\x50\x00\x00\x06" "\x51\x00\x00\x02" "\x40\x00");
    bytes.insert(bytes.end(), user_info.begin(), user_info.end());
    set_pdu_length(bytes);
    CHECK(refusal(bytes) == AbortReason::InvalidPduParameterValue);
  }
}

TEST_CASE("PDU-length 0xFFFFFFFF is refused from the header alone") {
  const Bytes bytes = lit("\x01\x00" "\xFF\xFF\xFF\xFF" "\x00\x01\x00\x00");
  const auto header = decode_header(std::span<const std::uint8_t, kPduHeaderSize>(bytes.data(), kPduHeaderSize));
  CHECK(header.length == 0xFFFFFFFFu);
  REQUIRE(check_header(header).has_value());
  CHECK(check_header(header)->reason == AbortReason::InvalidPduParameterValue);
  CHECK(refusal(bytes) == AbortReason::InvalidPduParameterValue);
}

TEST_CASE("malformed P-DATA-TF is refused") {
  CHECK(refusal(lit("\x04\x00" "\x00\x00\x00\x00")) == AbortReason::InvalidPduParameterValue);  // zero PDVs
  CHECK(refusal(lit("\x04\x00" "\x00\x00\x00\x05" "\x00\x00\x00\x01" "\x01")) ==
        AbortReason::InvalidPduParameterValue);  // PDV length 1
  CHECK(refusal(lit("\x04\x00" "\x00\x00\x00\x04" "\x00\x00\x00\x00")) ==
        AbortReason::InvalidPduParameterValue);  // PDV length 0
  CHECK(refusal(lit("\x04\x00" "\x00\x00\x00\x08" "\x00\x00\x00\x09" "\x01\x03\xAA\xBB")) ==
        AbortReason::InvalidPduParameterValue);  // PDV runs past the PDU
  CHECK(refusal(lit("\x04\x00" "\x00\x00\x00\x08" "\x00\x00\x00\x02" "\x01\x03" "\x00\x00")) ==
        AbortReason::InvalidPduParameterValue);  // stray bytes after a PDV
}

TEST_CASE("other refusals") {
  CHECK(refusal(lit("\x08\x00" "\x00\x00\x00\x04" "\x00\x00\x00\x00")) == AbortReason::UnrecognizedPdu);
  CHECK(refusal(lit("\x00\x00" "\x00\x00\x00\x00")) == AbortReason::UnrecognizedPdu);
  CHECK(refusal(lit("\x05\x00" "\x00\x00\x00\x02" "\x00\x00")) == AbortReason::InvalidPduParameterValue);
  CHECK(refusal(lit("\x03\x00" "\x00\x00\x00\x03" "\x00\x01\x01")) == AbortReason::InvalidPduParameterValue);
  CHECK(refusal(lit("\x02\x00" "\x00\x00\x00\x04" "\x00\x01\x00\x00")) == AbortReason::InvalidPduParameterValue);
  CHECK(refusal(lit("\x05\x00" "\x00\x00\x00\x04" "\x00\x00\x00\x00" "extra")) ==
        AbortReason::InvalidPduParameterValue);  // more bytes than the header claims
  CHECK(refusal(lit("\x05\x00\x00")) == AbortReason::InvalidPduParameterValue);
}

TEST_CASE("AE titles are padded or cut to 16 bytes on encode") {
  AAssociateRq rq;
  // Built rather than assigned from a literal: g++ 12 warns falsely (-Wrestrict, PR 105329)
  // on assigning a 1-char literal to a std::string here.
  rq.called_ae = std::string(1, 'A');
  rq.calling_ae = "SEVENTEEN_CHARS_X";
  const auto bytes = encode_pdu(rq);
  CHECK(std::string(bytes.begin() + 10, bytes.begin() + 26) == "A               ");
  CHECK(std::string(bytes.begin() + 26, bytes.begin() + 42) == "SEVENTEEN_CHARS_");
}

TEST_CASE("an A-ASSOCIATE-RQ/AC header is refused above 256 KiB, other small PDUs above 1 KiB") {
  // A connection that is not yet an association must not make the node size a buffer
  // from a 16 MiB length field (issue 13: 150 such sockets took 2 GB).
  for (const std::uint8_t type : {std::uint8_t{0x01}, std::uint8_t{0x02}}) {
    auto refused = check_header(PduHeader{type, kMaxAssociatePduLength + 1});
    REQUIRE(refused);
    CHECK(refused->reason == AbortReason::InvalidPduParameterValue);
    CHECK_FALSE(check_header(PduHeader{type, kMaxAssociatePduLength}));
    CHECK(check_header(PduHeader{type, 16u * 1024u * 1024u}));
  }
  for (const std::uint8_t type : {std::uint8_t{0x03}, std::uint8_t{0x05}, std::uint8_t{0x06}, std::uint8_t{0x07}}) {
    CHECK(check_header(PduHeader{type, kMaxSmallPduLength + 1}));
    CHECK_FALSE(check_header(PduHeader{type, 4}));
  }
  // P-DATA is limited by what the association advertised, up to the absolute cap.
  CHECK_FALSE(check_header(PduHeader{0x04, kMaxAcceptedPduLength}));
  CHECK(check_header(PduHeader{0x04, kMaxAcceptedPduLength + 1}));
}

TEST_CASE("more than 128 presentation contexts, or more than 64 transfer syntaxes in one, are refused") {
  auto rq_with = [](std::size_t contexts, std::size_t syntaxes) {
    AAssociateRq rq;
    rq.called_ae = "PACSNODE";
    rq.calling_ae = "HOSTILE";
    for (std::size_t i = 0; i < contexts; ++i) {
      PresentationContextRq pc;
      pc.id = static_cast<std::uint8_t>((2 * i + 1) & 0xFF);
      pc.abstract_syntax = "1.2.840.10008.1.1";
      for (std::size_t t = 0; t < syntaxes; ++t) pc.transfer_syntaxes.push_back("1.2.840.10008.1.2");
      rq.contexts.push_back(pc);
    }
    return encode_pdu(rq);
  };
  auto ok = decode_pdu(rq_with(128, 64));
  REQUIRE(ok.pdu);
  CHECK(std::get<AAssociateRq>(*ok.pdu).contexts.size() == 128);

  auto too_many = decode_pdu(rq_with(129, 1));
  REQUIRE_FALSE(too_many.pdu);
  CHECK(too_many.error.reason == AbortReason::InvalidPduParameterValue);
  CHECK(too_many.error.message.find("more than 128 presentation contexts") != std::string::npos);

  auto too_many_syntaxes = decode_pdu(rq_with(1, 65));
  REQUIRE_FALSE(too_many_syntaxes.pdu);
  CHECK(too_many_syntaxes.error.message.find("more than 64 transfer syntaxes") != std::string::npos);
}
