#pragma once
// What the Query/Retrieve services (C-FIND, C-MOVE, C-GET) share.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "db/find_query.hpp"
#include "dicom/find_identifier.hpp"

namespace pacsnode::scp {

// Statuses the Query/Retrieve services share (PS3.4 C.4).
inline constexpr std::uint16_t kPending = 0xFF00;
inline constexpr std::uint16_t kCancel = 0xFE00;
inline constexpr std::uint16_t kIdentifierDoesNotMatch = 0xA900;
inline constexpr std::uint16_t kUnableToProcess = 0xC001;
// The identifier did not fit in the memory a peer may use (net::MemorySink refused it).
inline constexpr std::uint16_t kOutOfResources = 0xA700;

// (0008,0052) Query/Retrieve Level text → level; nullopt for anything else.
inline std::optional<db::QueryLevel> query_level_of(std::string_view text) {
  if (text == "PATIENT") return db::QueryLevel::Patient;
  if (text == "STUDY") return db::QueryLevel::Study;
  if (text == "SERIES") return db::QueryLevel::Series;
  if (text == "IMAGE") return db::QueryLevel::Image;
  return std::nullopt;
}

// An identifier key as the SQL builder takes it (a sequence with its item's keys).
inline db::FindKey find_key_of(const dicom::IdentifierKey& key) {
  db::FindKey out{key.tag, key.vr, key.value};
  for (const auto& k : key.item) out.item.push_back(find_key_of(k));
  return out;
}

// An Error Comment (0000,0902) is LO: at most 64 characters.
inline std::string error_comment(std::string text) {
  if (text.size() > 64) text.resize(64);
  return text;
}

}  // namespace pacsnode::scp
