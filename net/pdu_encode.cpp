// Encoding side of net/pdu.hpp: byte-exact PS3.8 §9.3, and the P-DATA hot path.
#include "net/pdu.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "net/pdu_items.hpp"

namespace pacsnode::net {
namespace {

using namespace detail;

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
  void counted16(std::string_view s) {
    u16(checked16(s.size()));
    bytes(s);
  }
  void ae(std::string_view title) {
    const auto n = std::min(title.size(), kAeTitleSize);
    bytes(title.substr(0, n));
    out_.insert(out_.end(), kAeTitleSize - n, ' ');
  }

  // Items: header now, length patched by end_item() once the content is known.
  std::size_t begin_item(std::uint8_t type) {
    const auto at = out_.size();
    u8(type);
    u8(0);
    u16(0);
    return at;
  }
  void end_item(std::size_t at) { patch16(at + 2, checked16(out_.size() - at - kItemHeaderSize)); }
  void item(std::uint8_t type, std::string_view value) {
    const auto at = begin_item(type);
    bytes(value);
    end_item(at);
  }

  std::size_t size() const { return out_.size(); }
  // A 16-bit length of everything written after `at + 2`.
  void patch_length16(std::size_t at) { patch16(at, checked16(out_.size() - at - 2)); }
  void patch16(std::size_t at, std::uint16_t v) {
    out_[at] = static_cast<std::uint8_t>(v >> 8);
    out_[at + 1] = static_cast<std::uint8_t>(v);
  }
  void patch32(std::size_t at, std::uint32_t v) {
    out_[at] = static_cast<std::uint8_t>(v >> 24);
    out_[at + 1] = static_cast<std::uint8_t>(v >> 16);
    out_[at + 2] = static_cast<std::uint8_t>(v >> 8);
    out_[at + 3] = static_cast<std::uint8_t>(v);
  }

 private:
  static std::uint16_t checked16(std::size_t n) {
    if (n > 0xFFFF) throw std::length_error(fmt::format("PDU item of {} bytes exceeds 65535", n));
    return static_cast<std::uint16_t>(n);
  }
  std::vector<std::uint8_t>& out_;
};

void encode_user_info(Writer& w, const UserInformation& ui) {
  const auto at = w.begin_item(kUserInformationItem);
  const auto max_length = w.begin_item(kMaxLengthItem);
  w.u32(ui.max_length);
  w.end_item(max_length);
  if (!ui.implementation_class_uid.empty()) w.item(kImplementationClassUidItem, ui.implementation_class_uid);
  if (ui.async_ops) {
    const auto item = w.begin_item(kAsyncOpsItem);
    w.u16(ui.async_ops->max_invoked);
    w.u16(ui.async_ops->max_performed);
    w.end_item(item);
  }
  for (const auto& role : ui.roles) {
    const auto item = w.begin_item(kRoleSelectionItem);
    w.counted16(role.sop_class_uid);
    w.u8(role.scu ? 1 : 0);
    w.u8(role.scp ? 1 : 0);
    w.end_item(item);
  }
  if (!ui.implementation_version_name.empty()) w.item(kImplementationVersionNameItem, ui.implementation_version_name);
  for (const auto& ext : ui.sop_class_extended) {
    const auto item = w.begin_item(kSopClassExtendedItem);
    w.counted16(ext.sop_class_uid);
    w.bytes(ext.info);
    w.end_item(item);
  }
  for (const auto& ext : ui.common_extended) {
    const auto item = w.begin_item(kCommonExtendedItem);
    w.counted16(ext.sop_class_uid);
    w.counted16(ext.service_class_uid);
    const auto related_at = w.size();
    w.u16(0);
    for (const auto& uid : ext.related_general_sop_classes) w.counted16(uid);
    w.patch_length16(related_at);
    w.end_item(item);
  }
  if (ui.user_identity_rq) {
    const auto& id = *ui.user_identity_rq;
    const auto item = w.begin_item(kUserIdentityRqItem);
    w.u8(id.type);
    w.u8(id.positive_response_requested ? 1 : 0);
    w.counted16(id.primary);
    w.counted16(id.secondary);
    w.end_item(item);
  }
  if (ui.user_identity_ac) {
    const auto item = w.begin_item(kUserIdentityAcItem);
    w.counted16(*ui.user_identity_ac);
    w.end_item(item);
  }
  w.end_item(at);
}

template <class Associate>
void encode_associate_fixed(Writer& w, const Associate& a) {
  w.u16(a.protocol_version);
  w.zeros(2);
  w.ae(a.called_ae);
  w.ae(a.calling_ae);
  w.zeros(32);
  if (!a.application_context.empty()) w.item(kApplicationContextItem, a.application_context);
}

void encode_body(Writer& w, const AAssociateRq& rq) {
  encode_associate_fixed(w, rq);
  for (const auto& pc : rq.contexts) {
    const auto item = w.begin_item(kPresentationContextRqItem);
    w.u8(pc.id);
    w.zeros(3);
    w.item(kAbstractSyntaxItem, pc.abstract_syntax);
    for (const auto& ts : pc.transfer_syntaxes) w.item(kTransferSyntaxItem, ts);
    w.end_item(item);
  }
  encode_user_info(w, rq.user_info);
}

void encode_body(Writer& w, const AAssociateAc& ac) {
  encode_associate_fixed(w, ac);
  for (const auto& pc : ac.contexts) {
    const auto item = w.begin_item(kPresentationContextAcItem);
    w.u8(pc.id);
    w.u8(0);
    w.u8(static_cast<std::uint8_t>(pc.result));
    w.u8(0);
    // Always present, even when empty: some parsers insist on the sub-item.
    w.item(kTransferSyntaxItem, pc.transfer_syntax);
    w.end_item(item);
  }
  encode_user_info(w, ac.user_info);
}

void encode_body(Writer& w, const AAssociateRj& rj) {
  w.u8(0);
  w.u8(rj.result);
  w.u8(rj.source);
  w.u8(rj.reason);
}

void encode_body(Writer& w, const PDataTf& p) {
  for (const auto& pdv : p.pdvs) {
    w.u32(static_cast<std::uint32_t>(pdv.data.size() + 2));
    w.u8(pdv.pc_id);
    w.u8(pdv.control);
    w.bytes(pdv.data);
  }
}

void encode_body(Writer& w, const AReleaseRq&) { w.zeros(4); }
void encode_body(Writer& w, const AReleaseRp&) { w.zeros(4); }

void encode_body(Writer& w, const AAbort& a) {
  w.zeros(2);
  w.u8(a.source);
  w.u8(a.reason);
}

}  // namespace

std::vector<std::uint8_t> encode_pdu(const Pdu& pdu) {
  std::vector<std::uint8_t> out;
  Writer w(out);
  w.u8(static_cast<std::uint8_t>(pdu.index() + 1));  // alternatives are in PDU type order
  w.u8(0);
  w.u32(0);  // PDU-length, patched below
  std::visit([&](const auto& p) { encode_body(w, p); }, pdu);
  const auto length = out.size() - kPduHeaderSize;
  if (length > 0xFFFFFFFFu) throw std::length_error("PDU longer than 4 GiB");
  w.patch32(2, static_cast<std::uint32_t>(length));
  return out;
}

void append_pdata(std::vector<std::uint8_t>& out, std::uint8_t pc_id, std::uint8_t control,
                  std::span<const std::uint8_t> fragment) {
  const std::size_t pdv_length = fragment.size() + 2;
  const std::size_t pdu_length = pdv_length + 4;
  if (pdu_length > 0xFFFFFFFFu) throw std::length_error("P-DATA fragment longer than 4 GiB");
  const std::size_t at = out.size();
  out.resize(at + kPduHeaderSize + pdu_length);
  std::uint8_t* p = out.data() + at;
  const auto put32 = [](std::uint8_t* d, std::size_t v) {
    d[0] = static_cast<std::uint8_t>(v >> 24);
    d[1] = static_cast<std::uint8_t>(v >> 16);
    d[2] = static_cast<std::uint8_t>(v >> 8);
    d[3] = static_cast<std::uint8_t>(v);
  };
  p[0] = static_cast<std::uint8_t>(PduType::PDataTf);
  p[1] = 0;
  put32(p + 2, pdu_length);
  put32(p + 6, pdv_length);
  p[10] = pc_id;
  p[11] = control;
  if (!fragment.empty()) std::memcpy(p + 12, fragment.data(), fragment.size());
}

}  // namespace pacsnode::net
