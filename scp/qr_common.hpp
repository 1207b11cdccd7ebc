#pragma once
// What the Query/Retrieve services (C-FIND, C-MOVE, C-GET) share.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "query/find_rows.hpp"

namespace pacsnode::scp {

// Statuses the Query/Retrieve services share (PS3.4 C.4).
inline constexpr std::uint16_t kPending = 0xFF00;
inline constexpr std::uint16_t kCancel = 0xFE00;
inline constexpr std::uint16_t kIdentifierDoesNotMatch = 0xA900;
inline constexpr std::uint16_t kUnableToProcess = 0xC001;
// The identifier did not fit in the memory a peer may use (net::MemorySink refused it).
inline constexpr std::uint16_t kOutOfResources = 0xA700;

// Shared with QIDO-RS (query/).
using query::find_key_of;
using query::query_level_of;

// An Error Comment (0000,0902) is LO: at most 64 characters.
inline std::string error_comment(std::string text) {
  if (text.size() > 64) text.resize(64);
  return text;
}

}  // namespace pacsnode::scp
