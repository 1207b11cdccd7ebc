#include "net/command_set.hpp"

#include <fmt/format.h>

namespace pacsnode::net {
namespace {

constexpr std::uint32_t kUndefinedLength = 0xFFFFFFFF;
constexpr std::size_t kElementHeaderSize = 8;  // tag(4) + length(4), Implicit VR

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v));
  put16(out, static_cast<std::uint16_t>(v >> 16));
}

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

std::uint32_t get32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(get16(p)) | static_cast<std::uint32_t>(get16(p + 2)) << 16;
}

std::vector<std::uint8_t> padded(std::string_view text, std::uint8_t pad) {
  std::vector<std::uint8_t> value(text.begin(), text.end());
  if (value.size() % 2 != 0) value.push_back(pad);
  return value;
}

}  // namespace

StatusClass classify_status(std::uint16_t s) {
  if (s == status::Success) return StatusClass::Success;
  if (s == status::Pending || s == status::PendingWarning) return StatusClass::Pending;
  if (s == status::Cancel) return StatusClass::Cancel;
  // 0001 (attribute list error), 0107 (attribute list), 0116 (value out of range) are the
  // general warnings of PS3.7 C; Bxxx the service-specific ones.
  if (s == 0x0001 || s == 0x0107 || s == 0x0116 || (s & 0xF000) == 0xB000) return StatusClass::Warning;
  return StatusClass::Failure;
}

void CommandSet::set_us(std::uint32_t tag, std::uint16_t value) {
  std::vector<std::uint8_t> bytes;
  put16(bytes, value);
  elements_[tag] = std::move(bytes);
}

void CommandSet::set_ul(std::uint32_t tag, std::uint32_t value) {
  std::vector<std::uint8_t> bytes;
  put32(bytes, value);
  elements_[tag] = std::move(bytes);
}

void CommandSet::set_ui(std::uint32_t tag, std::string_view uid) { elements_[tag] = padded(uid, '\0'); }

// Padded to even length only: some peers (Siemens) refuse a MoveDestination padded to 16.
void CommandSet::set_ae(std::uint32_t tag, std::string_view ae) { elements_[tag] = padded(ae, ' '); }

void CommandSet::set_lo(std::uint32_t tag, std::string_view text) { elements_[tag] = padded(text, ' '); }

void CommandSet::erase(std::uint32_t tag) { elements_.erase(tag); }

bool CommandSet::has(std::uint32_t tag) const { return elements_.contains(tag); }

std::optional<std::uint16_t> CommandSet::us(std::uint32_t tag) const {
  const auto it = elements_.find(tag);
  if (it == elements_.end() || it->second.size() != 2) return std::nullopt;
  return get16(it->second.data());
}

std::optional<std::uint32_t> CommandSet::ul(std::uint32_t tag) const {
  const auto it = elements_.find(tag);
  if (it == elements_.end() || it->second.size() != 4) return std::nullopt;
  return get32(it->second.data());
}

std::optional<std::string> CommandSet::str(std::uint32_t tag) const {
  const auto it = elements_.find(tag);
  if (it == elements_.end()) return std::nullopt;
  std::string_view text(reinterpret_cast<const char*>(it->second.data()), it->second.size());
  // Leading spaces are insignificant in AE and LO and never occur in UI.
  while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return std::string(text);
}

std::optional<CommandField> CommandSet::command_field() const {
  if (auto v = us(tag::CommandField)) return static_cast<CommandField>(*v);
  return std::nullopt;
}

std::optional<std::uint16_t> CommandSet::message_id() const { return us(tag::MessageId); }

// Only 0x0101 means "no data set": DCMTK and others send 0x0000, 0x0001, 0x0102 or 0xFEFE.
bool CommandSet::has_data_set() const {
  const auto type = us(tag::CommandDataSetType);
  return type && *type != kNoDataSet;
}

std::vector<std::uint8_t> CommandSet::encode() const {
  std::uint32_t group_length = 0;
  for (const auto& [tag, value] : elements_) {
    if (tag != tag::CommandGroupLength) group_length += static_cast<std::uint32_t>(kElementHeaderSize + value.size());
  }
  std::vector<std::uint8_t> out;
  out.reserve(kElementHeaderSize + 4 + group_length);
  const auto put_header = [&](std::uint32_t tag, std::size_t length) {
    put16(out, static_cast<std::uint16_t>(tag >> 16));
    put16(out, static_cast<std::uint16_t>(tag));
    put32(out, static_cast<std::uint32_t>(length));
  };
  put_header(tag::CommandGroupLength, 4);
  put32(out, group_length);
  // std::map keeps the tags ascending, as PS3.7 §6.3.1 requires.
  for (const auto& [tag, value] : elements_) {
    if (tag == tag::CommandGroupLength) continue;
    put_header(tag, value.size());
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

std::optional<CommandSet> CommandSet::decode(std::span<const std::uint8_t> bytes) {
  CommandSet set;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < kElementHeaderSize) return std::nullopt;
    const std::uint16_t group = get16(bytes.data() + pos);
    const std::uint16_t element = get16(bytes.data() + pos + 2);
    const std::uint32_t length = get32(bytes.data() + pos + 4);
    pos += kElementHeaderSize;
    if (group != 0x0000 || length == kUndefinedLength || length > bytes.size() - pos) return std::nullopt;
    // The group length is not trusted (some peers get it wrong); the bytes decide.
    const auto value = bytes.subspan(pos, length);
    set.elements_[element] = std::vector<std::uint8_t>(value.begin(), value.end());
    pos += length;
  }
  return set;
}

std::string CommandSet::describe() const {
  std::string line;
  if (const auto field = command_field()) {
    line = command_name(*field);
    if (line == "UNKNOWN") line = fmt::format("command=0x{:04X}", static_cast<unsigned>(*field));
  } else {
    line = "no-command-field";
  }
  if (auto v = message_id()) line += fmt::format(" msg={}", *v);
  if (auto v = us(tag::MessageIdBeingRespondedTo)) line += fmt::format(" rsp-to={}", *v);
  if (auto v = str(tag::AffectedSopClassUid)) {
    line += fmt::format(" class={}", *v);
  } else if (auto r = str(tag::RequestedSopClassUid)) {
    line += fmt::format(" class={}", *r);
  }
  if (auto v = str(tag::AffectedSopInstanceUid)) line += fmt::format(" instance={}", *v);
  if (auto v = str(tag::MoveDestination)) line += fmt::format(" dest={}", *v);
  if (auto v = us(tag::Priority)) line += fmt::format(" priority={}", *v);
  if (auto v = us(tag::Status)) line += fmt::format(" status=0x{:04X}", *v);
  if (auto v = us(tag::NumberOfRemainingSuboperations)) line += fmt::format(" remaining={}", *v);
  if (auto v = us(tag::NumberOfCompletedSuboperations)) line += fmt::format(" completed={}", *v);
  if (auto v = us(tag::NumberOfFailedSuboperations)) line += fmt::format(" failed={}", *v);
  if (auto v = us(tag::NumberOfWarningSuboperations)) line += fmt::format(" warning={}", *v);
  if (auto v = str(tag::ErrorComment)) line += fmt::format(" comment=\"{}\"", *v);
  line += has_data_set() ? " dataset=yes" : " dataset=no";
  // Peer-supplied strings must not break the one-line log format.
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return line;
}

std::string_view command_name(CommandField field) {
  switch (field) {
    case CommandField::CStoreRq: return "C-STORE-RQ";
    case CommandField::CStoreRsp: return "C-STORE-RSP";
    case CommandField::CGetRq: return "C-GET-RQ";
    case CommandField::CGetRsp: return "C-GET-RSP";
    case CommandField::CFindRq: return "C-FIND-RQ";
    case CommandField::CFindRsp: return "C-FIND-RSP";
    case CommandField::CMoveRq: return "C-MOVE-RQ";
    case CommandField::CMoveRsp: return "C-MOVE-RSP";
    case CommandField::CEchoRq: return "C-ECHO-RQ";
    case CommandField::CEchoRsp: return "C-ECHO-RSP";
    case CommandField::CCancelRq: return "C-CANCEL-RQ";
  }
  return "UNKNOWN";
}

}  // namespace pacsnode::net
