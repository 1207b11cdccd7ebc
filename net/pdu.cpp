// Decoding side of net/pdu.hpp. Every length is checked against the bytes present
// before use; nothing is allocated from a length that was not.
#include "net/pdu.hpp"

#include <type_traits>

#include <fmt/format.h>

#include "net/pdu_items.hpp"

namespace pacsnode::net {
namespace {

using namespace detail;

PduError invalid(std::string message) { return PduError{AbortReason::InvalidPduParameterValue, std::move(message)}; }

// Big-endian cursor over bytes that are known to be present. A read past the end fails
// and leaves the reader failed: callers check ok() once after a group of reads.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? bytes_.size() - pos_ : 0; }

  std::span<const std::uint8_t> take(std::size_t n) {
    if (!ok_ || n > bytes_.size() - pos_) {
      ok_ = false;
      return {};
    }
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  std::uint8_t u8() {
    auto b = take(1);
    return b.empty() ? 0 : b[0];
  }
  std::uint16_t u16() {
    auto b = take(2);
    return b.empty() ? 0 : static_cast<std::uint16_t>(b[0] << 8 | b[1]);
  }
  std::uint32_t u32() {
    auto b = take(4);
    return b.empty() ? 0
                     : static_cast<std::uint32_t>(b[0]) << 24 | static_cast<std::uint32_t>(b[1]) << 16 |
                           static_cast<std::uint32_t>(b[2]) << 8 | static_cast<std::uint32_t>(b[3]);
  }
  // A 16-bit length followed by that many bytes.
  std::span<const std::uint8_t> counted16() { return take(u16()); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

std::string to_string(std::span<const std::uint8_t> b) { return std::string(b.begin(), b.end()); }

// UIDs in items are unpadded, but some peers send the data-set padding NUL along. A UID
// never contains a NUL, so all trailing ones go (which keeps decode(encode(x)) == x).
std::string to_uid(std::span<const std::uint8_t> b) {
  while (!b.empty() && b.back() == 0) b = b.first(b.size() - 1);
  return to_string(b);
}

// AE titles are compared trimmed; NULs appear in the padding of some peers.
std::string to_ae(std::span<const std::uint8_t> b) {
  while (!b.empty() && (b.back() == ' ' || b.back() == 0)) b = b.first(b.size() - 1);
  while (!b.empty() && b.front() == ' ') b = b.subspan(1);
  return to_string(b);
}

// Calls on_item(type, body) for every item (or sub-item: same 4-byte header) in `bytes`.
// on_item returns an error to stop.
template <class OnItem>
std::optional<PduError> for_each_item(std::span<const std::uint8_t> bytes, std::string_view where,
                                      OnItem&& on_item) {
  Reader r(bytes);
  while (r.remaining() > 0) {
    if (r.remaining() < kItemHeaderSize) {
      return invalid(fmt::format("{}: {} stray bytes where an item header was expected", where, r.remaining()));
    }
    const std::uint8_t type = r.u8();
    r.u8();  // reserved, not tested
    const std::uint16_t length = r.u16();
    if (length > r.remaining()) {
      return invalid(fmt::format("{}: item 0x{:02X} length {} runs past the end ({} bytes left)", where, type, length,
                                 r.remaining()));
    }
    if (auto error = on_item(type, r.take(length))) return error;
  }
  return std::nullopt;
}

std::optional<PduError> decode_context_rq(std::span<const std::uint8_t> body, PresentationContextRq& pc) {
  Reader r(body);
  pc.id = r.u8();
  r.take(3);  // reserved
  if (!r.ok()) return invalid("presentation context item (0x20) shorter than 4 bytes");
  bool have_abstract_syntax = false;
  return for_each_item(r.take(r.remaining()), "presentation context item (0x20)",
                       [&](std::uint8_t type, std::span<const std::uint8_t> value) -> std::optional<PduError> {
                         if (type == kAbstractSyntaxItem && !have_abstract_syntax) {
                           pc.abstract_syntax = to_uid(value);
                           have_abstract_syntax = true;
                         } else if (type == kTransferSyntaxItem) {
                           if (pc.transfer_syntaxes.size() == kMaxTransferSyntaxesPerContext) {
                             return invalid(fmt::format("presentation context {} proposes more than {} transfer syntaxes",
                                                        pc.id, kMaxTransferSyntaxesPerContext));
                           }
                           pc.transfer_syntaxes.push_back(to_uid(value));
                         }
                         return std::nullopt;
                       });
}

std::optional<PduError> decode_context_ac(std::span<const std::uint8_t> body, PresentationContextAc& pc) {
  Reader r(body);
  pc.id = r.u8();
  r.u8();
  pc.result = static_cast<PcResult>(r.u8());
  r.u8();
  if (!r.ok()) return invalid("presentation context item (0x21) shorter than 4 bytes");
  bool have_transfer_syntax = false;
  // A rejected context may come without its transfer syntax sub-item (fo-dicom #543).
  return for_each_item(r.take(r.remaining()), "presentation context item (0x21)",
                       [&](std::uint8_t type, std::span<const std::uint8_t> value) -> std::optional<PduError> {
                         if (type == kTransferSyntaxItem && !have_transfer_syntax) {
                           pc.transfer_syntax = to_uid(value);
                           have_transfer_syntax = true;
                         }
                         return std::nullopt;
                       });
}

std::optional<PduError> decode_common_extended(std::span<const std::uint8_t> body, CommonExtendedNegotiation& out) {
  Reader r(body);
  out.sop_class_uid = to_uid(r.counted16());
  out.service_class_uid = to_uid(r.counted16());
  Reader related(r.counted16());
  if (!r.ok()) return invalid("common extended negotiation sub-item (0x57) truncated");
  while (related.remaining() > 0) {
    auto uid = related.counted16();
    if (!related.ok()) return invalid("common extended negotiation sub-item (0x57): related class list truncated");
    out.related_general_sop_classes.push_back(to_uid(uid));
  }
  return std::nullopt;
}

std::optional<PduError> decode_user_info(std::span<const std::uint8_t> body, UserInformation& ui) {
  return for_each_item(body, "user information item (0x50)", [&](std::uint8_t type, std::span<const std::uint8_t> value)
                                                                 -> std::optional<PduError> {
    Reader r(value);
    switch (type) {
      case kMaxLengthItem:
        ui.max_length = r.u32();
        break;
      case kImplementationClassUidItem:
        ui.implementation_class_uid = to_uid(value);
        return std::nullopt;
      case kImplementationVersionNameItem:
        // Kept whole even when longer than the 16 characters PS3.7 allows.
        ui.implementation_version_name = to_string(value);
        return std::nullopt;
      case kAsyncOpsItem: {
        AsyncOpsWindow window;
        window.max_invoked = r.u16();
        window.max_performed = r.u16();
        if (r.ok()) ui.async_ops = window;
        break;
      }
      case kRoleSelectionItem: {
        RoleSelection role;
        role.sop_class_uid = to_uid(r.counted16());
        role.scu = r.u8() != 0;
        role.scp = r.u8() != 0;
        if (r.ok()) ui.roles.push_back(std::move(role));
        break;
      }
      case kSopClassExtendedItem: {
        SopClassExtendedNegotiation ext;
        ext.sop_class_uid = to_uid(r.counted16());
        ext.info = to_string(r.take(r.remaining()));
        if (r.ok()) ui.sop_class_extended.push_back(std::move(ext));
        break;
      }
      case kCommonExtendedItem: {
        CommonExtendedNegotiation ext;
        if (auto error = decode_common_extended(value, ext)) return error;
        ui.common_extended.push_back(std::move(ext));
        return std::nullopt;
      }
      case kUserIdentityRqItem: {
        UserIdentityRq identity;
        identity.type = r.u8();
        identity.positive_response_requested = r.u8() != 0;
        identity.primary = to_string(r.counted16());
        identity.secondary = to_string(r.counted16());
        if (r.ok()) ui.user_identity_rq = std::move(identity);
        break;
      }
      case kUserIdentityAcItem: {
        auto response = r.counted16();
        if (r.ok()) ui.user_identity_ac = to_string(response);
        break;
      }
      default:
        return std::nullopt;  // unknown sub-items are skipped (PS3.7 D.3.3)
    }
    if (!r.ok()) return invalid(fmt::format("user information sub-item 0x{:02X} truncated", type));
    return std::nullopt;
  });
}

// The body shared by A-ASSOCIATE-RQ and -AC. Presentation context items are handed to
// on_context(type, body); the rest fills `out`.
template <class Associate, class OnContext>
std::optional<PduError> decode_associate(std::span<const std::uint8_t> body, std::string_view name, Associate& out,
                                         OnContext&& on_context) {
  if (body.size() < kAssociateFixedSize) {
    return invalid(fmt::format("{} body of {} bytes is shorter than its {}-byte fixed part", name, body.size(),
                               kAssociateFixedSize));
  }
  Reader r(body);
  out.protocol_version = r.u16();
  r.take(2);
  out.called_ae = to_ae(r.take(kAeTitleSize));
  out.calling_ae = to_ae(r.take(kAeTitleSize));
  r.take(32);
  out.application_context.clear();  // absent stays empty: the acceptor rejects it
  bool have_user_info = false;
  return for_each_item(r.take(r.remaining()), name,
                       [&](std::uint8_t type, std::span<const std::uint8_t> value) -> std::optional<PduError> {
                         if (type == kApplicationContextItem) {
                           out.application_context = to_uid(value);
                         } else if (type == kPresentationContextRqItem || type == kPresentationContextAcItem) {
                           return on_context(type, value);
                         } else if (type == kUserInformationItem && !have_user_info) {
                           have_user_info = true;
                           return decode_user_info(value, out.user_info);
                         }
                         return std::nullopt;
                       });
}

std::optional<PduError> decode_pdata(std::span<const std::uint8_t> body, PDataTf& out) {
  if (body.empty()) return invalid("P-DATA-TF without any PDV");
  Reader r(body);
  while (r.remaining() > 0) {
    const std::uint32_t length = r.u32();
    if (!r.ok()) return invalid("P-DATA-TF: stray bytes where a PDV length was expected");
    if (length < 2) return invalid(fmt::format("P-DATA-TF: PDV item length {} below 2", length));
    if (length > r.remaining()) {
      return invalid(fmt::format("P-DATA-TF: PDV length {} runs past the PDU ({} bytes left)", length, r.remaining()));
    }
    Pdv pdv;
    pdv.pc_id = r.u8();
    pdv.control = r.u8();
    pdv.data = r.take(length - 2);
    out.pdvs.push_back(pdv);
  }
  return std::nullopt;
}

// Fixed 4-byte bodies: RJ, release RQ/RP, abort. Extra bytes are ignored.
std::optional<PduError> check_fixed4(std::span<const std::uint8_t> body, std::string_view name) {
  if (body.size() < 4) return invalid(fmt::format("{} body of {} bytes, 4 expected", name, body.size()));
  return std::nullopt;
}

DecodeResult fail(PduError error) { return DecodeResult{std::nullopt, std::move(error)}; }

std::string_view type_name(std::uint8_t type) {
  switch (static_cast<PduType>(type)) {
    case PduType::AAssociateRq: return "A-ASSOCIATE-RQ";
    case PduType::AAssociateAc: return "A-ASSOCIATE-AC";
    case PduType::AAssociateRj: return "A-ASSOCIATE-RJ";
    case PduType::PDataTf: return "P-DATA-TF";
    case PduType::AReleaseRq: return "A-RELEASE-RQ";
    case PduType::AReleaseRp: return "A-RELEASE-RP";
    case PduType::AAbort: return "A-ABORT";
  }
  return "unknown PDU";
}

}  // namespace

PduHeader decode_header(std::span<const std::uint8_t, kPduHeaderSize> bytes) {
  return PduHeader{bytes[0], static_cast<std::uint32_t>(bytes[2]) << 24 | static_cast<std::uint32_t>(bytes[3]) << 16 |
                                 static_cast<std::uint32_t>(bytes[4]) << 8 | static_cast<std::uint32_t>(bytes[5])};
}

std::optional<PduError> check_header(const PduHeader& header) {
  if (header.type < static_cast<std::uint8_t>(PduType::AAssociateRq) ||
      header.type > static_cast<std::uint8_t>(PduType::AAbort)) {
    return PduError{AbortReason::UnrecognizedPdu, fmt::format("unrecognised PDU type 0x{:02X}", header.type)};
  }
  const auto type = static_cast<PduType>(header.type);
  const std::uint32_t cap = type == PduType::PDataTf ? kMaxAcceptedPduLength
                            : type == PduType::AAssociateRq || type == PduType::AAssociateAc ? kMaxAssociatePduLength
                                                                                              : kMaxSmallPduLength;
  if (header.length > cap) {
    return invalid(fmt::format("{} PDU-length {} exceeds our cap of {}", type_name(header.type), header.length, cap));
  }
  return std::nullopt;
}

DecodeResult decode_pdu(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kPduHeaderSize) return fail(invalid(fmt::format("PDU of {} bytes has no header", bytes.size())));
  const auto header = decode_header(bytes.first<kPduHeaderSize>());
  if (auto error = check_header(header)) return fail(std::move(*error));
  const auto body = bytes.subspan(kPduHeaderSize);
  if (body.size() != header.length) {
    return fail(invalid(fmt::format("{} PDU-length {} but {} bytes of body", type_name(header.type), header.length,
                                    body.size())));
  }

  std::optional<PduError> error;
  DecodeResult result;
  switch (static_cast<PduType>(header.type)) {
    case PduType::AAssociateRq: {
      AAssociateRq rq;
      error = decode_associate(body, "A-ASSOCIATE-RQ", rq, [&](std::uint8_t type, std::span<const std::uint8_t> v) {
        if (type != kPresentationContextRqItem) return std::optional<PduError>{};  // an AC item in an RQ: skip
        if (rq.contexts.size() == kMaxPresentationContexts) {
          return std::optional<PduError>(
              invalid(fmt::format("A-ASSOCIATE-RQ proposes more than {} presentation contexts", kMaxPresentationContexts)));
        }
        PresentationContextRq pc;
        auto e = decode_context_rq(v, pc);
        if (!e) rq.contexts.push_back(std::move(pc));
        return e;
      });
      result.pdu = std::move(rq);
      break;
    }
    case PduType::AAssociateAc: {
      AAssociateAc ac;
      error = decode_associate(body, "A-ASSOCIATE-AC", ac, [&](std::uint8_t type, std::span<const std::uint8_t> v) {
        if (type != kPresentationContextAcItem) return std::optional<PduError>{};
        if (ac.contexts.size() == kMaxPresentationContexts) {
          return std::optional<PduError>(
              invalid(fmt::format("A-ASSOCIATE-AC answers more than {} presentation contexts", kMaxPresentationContexts)));
        }
        PresentationContextAc pc;
        auto e = decode_context_ac(v, pc);
        if (!e) ac.contexts.push_back(std::move(pc));
        return e;
      });
      result.pdu = std::move(ac);
      break;
    }
    case PduType::AAssociateRj:
      if (!(error = check_fixed4(body, "A-ASSOCIATE-RJ"))) result.pdu = AAssociateRj{body[1], body[2], body[3]};
      break;
    case PduType::PDataTf: {
      PDataTf pdata;
      error = decode_pdata(body, pdata);
      result.pdu = std::move(pdata);
      break;
    }
    case PduType::AReleaseRq:
      if (!(error = check_fixed4(body, "A-RELEASE-RQ"))) result.pdu = AReleaseRq{};
      break;
    case PduType::AReleaseRp:
      if (!(error = check_fixed4(body, "A-RELEASE-RP"))) result.pdu = AReleaseRp{};
      break;
    case PduType::AAbort:
      if (!(error = check_fixed4(body, "A-ABORT"))) result.pdu = AAbort{body[2], body[3]};
      break;
  }
  if (error) return fail(std::move(*error));
  return result;
}

// encode_pdu and pdu_name derive the PDU type from the variant index.
static_assert(std::is_same_v<std::variant_alternative_t<0, Pdu>, AAssociateRq> &&
              std::is_same_v<std::variant_alternative_t<3, Pdu>, PDataTf> &&
              std::is_same_v<std::variant_alternative_t<6, Pdu>, AAbort> && std::variant_size_v<Pdu> == 7);

std::string_view pdu_name(const Pdu& pdu) {
  // The variant's alternatives are in PDU type order, 0x01 first.
  return type_name(static_cast<std::uint8_t>(pdu.index() + 1));
}

}  // namespace pacsnode::net
