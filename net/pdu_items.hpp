#pragma once
// PS3.8 §9.3 item and sub-item types and fixed sizes, shared by the PDU decoder and
// encoder only (not part of the public interface).
#include <cstddef>
#include <cstdint>

namespace pacsnode::net::detail {

inline constexpr std::size_t kAeTitleSize = 16;
// Protocol version, reserved, called AE, calling AE, 32 reserved bytes.
inline constexpr std::size_t kAssociateFixedSize = 2 + 2 + kAeTitleSize + kAeTitleSize + 32;
// Items and sub-items alike: type(1), reserved(1), length(2).
inline constexpr std::size_t kItemHeaderSize = 4;

enum ItemType : std::uint8_t {
  kApplicationContextItem = 0x10,
  kPresentationContextRqItem = 0x20,
  kPresentationContextAcItem = 0x21,
  kAbstractSyntaxItem = 0x30,
  kTransferSyntaxItem = 0x40,
  kUserInformationItem = 0x50,
  kMaxLengthItem = 0x51,
  kImplementationClassUidItem = 0x52,
  kAsyncOpsItem = 0x53,
  kRoleSelectionItem = 0x54,
  kImplementationVersionNameItem = 0x55,
  kSopClassExtendedItem = 0x56,
  kCommonExtendedItem = 0x57,
  kUserIdentityRqItem = 0x58,
  kUserIdentityAcItem = 0x59,
};

}  // namespace pacsnode::net::detail
