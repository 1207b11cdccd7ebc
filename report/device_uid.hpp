#pragma once
// The Device Observer UID of a plug-in (TID 1004): a name-based UUID (RFC 4122 version 5,
// SHA-1) of the algorithm name, written as a UID under the 2.25 root (PS3.5 §B.2), so
// that every report of one plug-in names the same device, on every node.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pacsnode::report {

// The namespace UUID of pacsnode device observers (random, fixed forever).
inline constexpr std::array<std::uint8_t, 16> kDeviceNamespace = {
    0x6b, 0x1e, 0x4f, 0x0a, 0x93, 0x5c, 0x4d, 0x2e, 0xa8, 0x71, 0x3c, 0x52, 0xd9, 0x04, 0xe6, 0x17};

// "2.25." followed by the decimal value of the UUID v5 of `name` in `name_space`: the same
// name gives the same UID everywhere, forever.
std::string name_based_uid(const std::array<std::uint8_t, 16>& name_space, std::string_view name);

// name_based_uid(kDeviceNamespace, algorithm_name).
std::string device_observer_uid(std::string_view algorithm_name);

namespace detail {
std::array<std::uint8_t, 20> sha1(std::string_view bytes);
std::array<std::uint8_t, 16> uuid_v5(const std::array<std::uint8_t, 16>& name_space, std::string_view name);
std::string uuid_to_uid(const std::array<std::uint8_t, 16>& uuid);  // "2.25.<decimal>"
}  // namespace detail

}  // namespace pacsnode::report
