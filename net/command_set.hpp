#pragma once
// DIMSE command sets (PS3.7 §9.3, §E): group 0000 elements, always Implicit VR Little
// Endian, (0000,0000) group length first, ascending tags. Kept as raw values by tag so that
// unknown or retired elements survive and are tolerated.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::net {

namespace tag {  // (0000,eeee) as 0x0000eeee
inline constexpr std::uint32_t CommandGroupLength = 0x00000000;
inline constexpr std::uint32_t AffectedSopClassUid = 0x00000002;
inline constexpr std::uint32_t RequestedSopClassUid = 0x00000003;
inline constexpr std::uint32_t CommandField = 0x00000100;
inline constexpr std::uint32_t MessageId = 0x00000110;
inline constexpr std::uint32_t MessageIdBeingRespondedTo = 0x00000120;
inline constexpr std::uint32_t MoveDestination = 0x00000600;
inline constexpr std::uint32_t Priority = 0x00000700;
inline constexpr std::uint32_t CommandDataSetType = 0x00000800;
inline constexpr std::uint32_t Status = 0x00000900;
inline constexpr std::uint32_t OffendingElement = 0x00000901;
inline constexpr std::uint32_t ErrorComment = 0x00000902;
inline constexpr std::uint32_t ErrorId = 0x00000903;
inline constexpr std::uint32_t AffectedSopInstanceUid = 0x00001000;
inline constexpr std::uint32_t RequestedSopInstanceUid = 0x00001001;
inline constexpr std::uint32_t NumberOfRemainingSuboperations = 0x00001020;
inline constexpr std::uint32_t NumberOfCompletedSuboperations = 0x00001021;
inline constexpr std::uint32_t NumberOfFailedSuboperations = 0x00001022;
inline constexpr std::uint32_t NumberOfWarningSuboperations = 0x00001023;
inline constexpr std::uint32_t MoveOriginatorApplicationEntityTitle = 0x00001030;
inline constexpr std::uint32_t MoveOriginatorMessageId = 0x00001031;
}  // namespace tag

enum class CommandField : std::uint16_t {
  CStoreRq = 0x0001,
  CStoreRsp = 0x8001,
  CGetRq = 0x0010,
  CGetRsp = 0x8010,
  CFindRq = 0x0020,
  CFindRsp = 0x8020,
  CMoveRq = 0x0021,
  CMoveRsp = 0x8021,
  CEchoRq = 0x0030,
  CEchoRsp = 0x8030,
  CCancelRq = 0x0FFF,
};

inline constexpr std::uint16_t kNoDataSet = 0x0101;
inline constexpr std::uint16_t kDataSetPresent = 0x0001;  // what we send; any value != 0x0101 means present

// Status classes by range (PS3.7 Annex C).
enum class StatusClass { Success, Pending, Cancel, Warning, Failure };
StatusClass classify_status(std::uint16_t status);

namespace status {
inline constexpr std::uint16_t Success = 0x0000;
inline constexpr std::uint16_t Pending = 0xFF00;
inline constexpr std::uint16_t PendingWarning = 0xFF01;
inline constexpr std::uint16_t Cancel = 0xFE00;
inline constexpr std::uint16_t ProcessingFailure = 0x0110;
inline constexpr std::uint16_t NoSuchSopClass = 0x0118;
inline constexpr std::uint16_t SopClassNotSupported = 0x0122;
inline constexpr std::uint16_t OutOfResources = 0xA700;
inline constexpr std::uint16_t DataSetDoesNotMatchSopClass = 0xA900;
inline constexpr std::uint16_t CannotUnderstand = 0xC000;
}  // namespace status

class CommandSet {
 public:
  // Typed setters replace an existing element. UI values are NUL-padded and AE values
  // space-padded to even length on encode (never AE to 16).
  void set_us(std::uint32_t tag, std::uint16_t value);
  void set_ul(std::uint32_t tag, std::uint32_t value);
  void set_ui(std::uint32_t tag, std::string_view uid);
  void set_ae(std::uint32_t tag, std::string_view ae);
  void set_lo(std::uint32_t tag, std::string_view text);  // LO/SH/ST-like text, space-padded
  void erase(std::uint32_t tag);
  bool has(std::uint32_t tag) const;

  // Typed getters: nullopt when absent or of the wrong length. String getters strip
  // trailing NUL/space padding and leading spaces (insignificant in AE, LO; absent in UI).
  std::optional<std::uint16_t> us(std::uint32_t tag) const;
  std::optional<std::uint32_t> ul(std::uint32_t tag) const;
  std::optional<std::string> str(std::uint32_t tag) const;

  std::optional<CommandField> command_field() const;
  std::optional<std::uint16_t> message_id() const;
  bool has_data_set() const;  // CommandDataSetType present and != 0x0101

  // Encodes with a correct (0000,0000) in front, whatever was set for it.
  std::vector<std::uint8_t> encode() const;
  // Decodes ILE group-0000 bytes. Tolerates a wrong (0000,0000), retired elements and
  // unknown tags; refuses (nullopt) element lengths that run past the end, undefined
  // lengths, and tags outside group 0000.
  static std::optional<CommandSet> decode(std::span<const std::uint8_t> bytes);

  const std::map<std::uint32_t, std::vector<std::uint8_t>>& elements() const { return elements_; }
  // One line for logs: "C-ECHO-RQ msg=1 class=1.2.840.10008.1.1 dataset=no"; control
  // characters from the peer are replaced by '?'.
  std::string describe() const;

 private:
  std::map<std::uint32_t, std::vector<std::uint8_t>> elements_;
};

std::string_view command_name(CommandField field);

}  // namespace pacsnode::net
