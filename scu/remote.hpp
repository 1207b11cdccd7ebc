#pragma once
// A remote DICOM node as the command line names it: AET@HOST:PORT.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pacsnode::scu {

struct RemoteNode {
  std::string ae_title;
  std::string host;
  std::uint16_t port = 104;
};

// "PACS@10.0.0.5:104", "PACS@[::1]:104". nullopt when malformed (no '@', no port, AE title
// empty or longer than 16 characters, port out of range).
std::optional<RemoteNode> parse_remote(std::string_view text);

}  // namespace pacsnode::scu
