#pragma once
// PS3.8 §9.3 Protocol Data Units: one type per PDU, encoded to and decoded from bytes.
// The decoder never allocates from an unchecked length field: every length is checked
// against the bytes actually present before it is used.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pacsnode::net {

inline constexpr std::string_view kApplicationContext = "1.2.840.10008.3.1.1.1";
// Hard cap on the PDU-length we accept from a peer, whatever we advertised: a larger
// header is refused before any buffer is allocated.
inline constexpr std::uint32_t kMaxAcceptedPduLength = 16u * 1024u * 1024u;
// An A-ASSOCIATE-RQ/AC is refused above this: 128 contexts of 64 transfer syntaxes each
// with 64-character UIDs still fit, a real one takes a few KiB, and a connection that has
// not yet been accepted as an association must not be able to make us hold megabytes.
inline constexpr std::uint32_t kMaxAssociatePduLength = 256u * 1024u;
// A-ASSOCIATE-RJ, A-RELEASE-RQ/RP and A-ABORT have a 4-byte body; anything near this is garbage.
inline constexpr std::uint32_t kMaxSmallPduLength = 1024u;
// PS3.8 §9.3.2.2: presentation context ids are odd bytes, so at most 128 contexts; a
// context proposing more transfer syntaxes than this is not a real one.
inline constexpr std::size_t kMaxPresentationContexts = 128;
inline constexpr std::size_t kMaxTransferSyntaxesPerContext = 64;
inline constexpr std::size_t kPduHeaderSize = 6;

enum class PduType : std::uint8_t {
  AAssociateRq = 0x01,
  AAssociateAc = 0x02,
  AAssociateRj = 0x03,
  PDataTf = 0x04,
  AReleaseRq = 0x05,
  AReleaseRp = 0x06,
  AAbort = 0x07,
};

// Presentation context result/reason (PS3.8 §9.3.3.2).
enum class PcResult : std::uint8_t {
  Acceptance = 0,
  UserRejection = 1,
  ProviderRejection = 2,  // no reason given
  AbstractSyntaxNotSupported = 3,
  TransferSyntaxesNotSupported = 4,
};

struct PresentationContextRq {
  std::uint8_t id = 0;
  std::string abstract_syntax;
  std::vector<std::string> transfer_syntaxes;
  bool operator==(const PresentationContextRq&) const = default;
};

struct PresentationContextAc {
  std::uint8_t id = 0;
  PcResult result = PcResult::Acceptance;
  std::string transfer_syntax;  // may be empty when result != Acceptance
  bool operator==(const PresentationContextAc&) const = default;
};

struct AsyncOpsWindow {
  std::uint16_t max_invoked = 1;    // 0 = unlimited
  std::uint16_t max_performed = 1;  // 0 = unlimited
  bool operator==(const AsyncOpsWindow&) const = default;
};

struct RoleSelection {
  std::string sop_class_uid;
  bool scu = false;
  bool scp = false;
  bool operator==(const RoleSelection&) const = default;
};

struct SopClassExtendedNegotiation {  // item 0x56
  std::string sop_class_uid;
  std::string info;  // application information, raw bytes
  bool operator==(const SopClassExtendedNegotiation&) const = default;
};

struct CommonExtendedNegotiation {  // item 0x57, RQ only
  std::string sop_class_uid;
  std::string service_class_uid;
  std::vector<std::string> related_general_sop_classes;
  bool operator==(const CommonExtendedNegotiation&) const = default;
};

enum class UserIdentityType : std::uint8_t {
  Username = 1,
  UsernamePasscode = 2,
  Kerberos = 3,
  Saml = 4,
  Jwt = 5,
};

struct UserIdentityRq {  // item 0x58
  std::uint8_t type = 1;  // raw, may be outside UserIdentityType
  bool positive_response_requested = false;
  std::string primary;    // username or token
  std::string secondary;  // passcode (type 2 only)
  bool operator==(const UserIdentityRq&) const = default;
};

struct UserInformation {  // item 0x50
  std::uint32_t max_length = 0;  // 0 = unlimited
  std::string implementation_class_uid;
  std::string implementation_version_name;  // empty = absent
  std::optional<AsyncOpsWindow> async_ops;
  std::vector<RoleSelection> roles;
  std::vector<SopClassExtendedNegotiation> sop_class_extended;
  std::vector<CommonExtendedNegotiation> common_extended;  // RQ only
  std::optional<UserIdentityRq> user_identity_rq;          // RQ only
  std::optional<std::string> user_identity_ac;             // AC only (0x59 server response)
  bool operator==(const UserInformation&) const = default;
};

struct AAssociateRq {
  std::uint16_t protocol_version = 1;
  std::string called_ae;   // trimmed of padding spaces (and trailing NULs) on decode
  std::string calling_ae;  // idem
  std::string application_context{kApplicationContext};
  std::vector<PresentationContextRq> contexts;
  UserInformation user_info;
  bool operator==(const AAssociateRq&) const = default;
};

struct AAssociateAc {
  std::uint16_t protocol_version = 1;
  std::string called_ae;   // echoed from the RQ, not tested on receive
  std::string calling_ae;
  std::string application_context{kApplicationContext};
  std::vector<PresentationContextAc> contexts;
  UserInformation user_info;
  bool operator==(const AAssociateAc&) const = default;
};

enum class RjResult : std::uint8_t { Permanent = 1, Transient = 2 };
enum class RjSource : std::uint8_t { ServiceUser = 1, ServiceProviderAcse = 2, ServiceProviderPresentation = 3 };

struct AAssociateRj {
  std::uint8_t result = 1;
  std::uint8_t source = 1;
  std::uint8_t reason = 1;
  bool operator==(const AAssociateRj&) const = default;
};

// One Presentation Data Value. `data` points into the buffer the PDU was decoded from
// (decode) or is copied into the output (encode): the caller keeps that buffer alive.
struct Pdv {
  std::uint8_t pc_id = 0;
  std::uint8_t control = 0;  // bit 0: command (1) / data set (0); bit 1: last fragment
  std::span<const std::uint8_t> data;
  bool is_command() const { return (control & 0x01) != 0; }
  bool is_last() const { return (control & 0x02) != 0; }
  // Compares the bytes, not where they live.
  bool operator==(const Pdv& other) const {
    return pc_id == other.pc_id && control == other.control && std::ranges::equal(data, other.data);
  }
};

struct PDataTf {
  std::vector<Pdv> pdvs;
  bool operator==(const PDataTf&) const = default;
};

struct AReleaseRq {
  bool operator==(const AReleaseRq&) const = default;
};
struct AReleaseRp {
  bool operator==(const AReleaseRp&) const = default;
};

enum class AbortSource : std::uint8_t { ServiceUser = 0, Reserved = 1, ServiceProvider = 2 };
enum class AbortReason : std::uint8_t {
  NotSpecified = 0,
  UnrecognizedPdu = 1,
  UnexpectedPdu = 2,
  UnrecognizedPduParameter = 4,
  UnexpectedPduParameter = 5,
  InvalidPduParameterValue = 6,
};

struct AAbort {
  std::uint8_t source = 0;
  std::uint8_t reason = 0;
  bool operator==(const AAbort&) const = default;
};

using Pdu = std::variant<AAssociateRq, AAssociateAc, AAssociateRj, PDataTf, AReleaseRq, AReleaseRp, AAbort>;

// Why a PDU was refused: the A-ABORT reason to send (source is always 2, provider) and a
// sentence for the log.
struct PduError {
  AbortReason reason = AbortReason::InvalidPduParameterValue;
  std::string message;
};

// The 6-byte header: type and PDU-length (which excludes the header).
struct PduHeader {
  std::uint8_t type = 0;
  std::uint32_t length = 0;
};
PduHeader decode_header(std::span<const std::uint8_t, kPduHeaderSize> bytes);

// Refuses a header before its body is read (and before any buffer is sized from it):
// unknown type → UnrecognizedPdu; PDU-length above the cap of its type →
// InvalidPduParameterValue: kMaxAssociatePduLength for A-ASSOCIATE-RQ/AC,
// kMaxSmallPduLength for RJ/release/abort, kMaxAcceptedPduLength for P-DATA-TF (the
// association applies the max PDU length it advertised on top). nullopt when the body may
// be read.
std::optional<PduError> check_header(const PduHeader& header);

// Decodes one whole PDU: `bytes` is header + body, exactly header.length + 6 bytes.
// PDataTf's PDVs point into `bytes`.
// Errors: unknown type → UnrecognizedPdu; truncated/overflowing lengths, a size that is
// not header.length + 6, a zero-PDV P-DATA, a PDV shorter than 2 bytes, an RQ/AC/RJ/
// release/abort body shorter than its fixed part, an RQ/AC with more than
// kMaxPresentationContexts contexts or a context with more than
// kMaxTransferSyntaxesPerContext transfer syntaxes → InvalidPduParameterValue.
// Tolerated, as interoperability asks (PS3.8 §9.3.1 and the peers in the wild):
// - unknown item types inside A-ASSOCIATE-RQ/AC and unknown user-information sub-items
//   are skipped; missing items decode as empty (application context "", no contexts,
//   default user information), so that the acceptor answers with an A-ASSOCIATE-RJ or a
//   context rejection rather than an abort;
// - an even, zero or repeated presentation context id in an RQ is decoded as is:
//   negotiate() answers that context with a provider rejection (result 2), so one bad
//   context does not cost the whole association;
// - an AC context with a non-zero result and no (or an empty) transfer syntax;
// - AE titles lose trailing spaces/NULs and leading spaces; UIDs lose trailing NULs;
//   the protocol version is returned as is (the acceptor decides); A-ABORT source 1.
struct DecodeResult {
  std::optional<Pdu> pdu;
  PduError error;  // meaningful when !pdu
};
DecodeResult decode_pdu(std::span<const std::uint8_t> bytes);

// Encodes one PDU, header included, byte-exact per PS3.8 §9.3, such that decode_pdu gives
// it back. AE titles are space-padded (or cut) to 16 bytes; empty optional fields
// (application context, implementation class UID, version name) are left out.
// Throws std::length_error when a field cannot be represented (an item over 65535 bytes).
std::vector<std::uint8_t> encode_pdu(const Pdu& pdu);

// Appends one P-DATA-TF PDU holding a single PDV to `out` (hot path: no intermediate Pdu).
void append_pdata(std::vector<std::uint8_t>& out, std::uint8_t pc_id, std::uint8_t control,
                  std::span<const std::uint8_t> fragment);

// Name of the PDU type, for logs ("A-ASSOCIATE-RQ").
std::string_view pdu_name(const Pdu& pdu);

}  // namespace pacsnode::net
