#include "report/device_uid.hpp"

#include <algorithm>
#include <vector>

namespace pacsnode::report {
namespace detail {
namespace {

std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

}  // namespace

// FIPS 180-4 SHA-1. Used for a name-based identifier only, never for security.
std::array<std::uint8_t, 20> sha1(std::string_view bytes) {
  std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::vector<std::uint8_t> message(bytes.begin(), bytes.end());
  const std::uint64_t bit_length = static_cast<std::uint64_t>(bytes.size()) * 8;
  message.push_back(0x80);
  while (message.size() % 64 != 56) message.push_back(0);
  for (int shift = 56; shift >= 0; shift -= 8) message.push_back(static_cast<std::uint8_t>(bit_length >> shift));

  for (std::size_t block = 0; block < message.size(); block += 64) {
    std::uint32_t w[80];
    for (int t = 0; t < 16; ++t) {
      const std::uint8_t* p = &message[block + 4 * static_cast<std::size_t>(t)];
      w[t] = static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
             static_cast<std::uint32_t>(p[2]) << 8 | p[3];
    }
    for (int t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; ++t) {
      std::uint32_t f, k;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const std::uint32_t temp = rotl(a, 5) + f + e + k + w[t];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::array<std::uint8_t, 20> digest{};
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) digest[static_cast<std::size_t>(4 * i + j)] = static_cast<std::uint8_t>(h[i] >> (24 - 8 * j));
  }
  return digest;
}

std::array<std::uint8_t, 16> uuid_v5(const std::array<std::uint8_t, 16>& name_space, std::string_view name) {
  std::string input(name_space.begin(), name_space.end());
  input.append(name);
  const auto digest = sha1(input);
  std::array<std::uint8_t, 16> uuid{};
  std::copy_n(digest.begin(), 16, uuid.begin());
  uuid[6] = static_cast<std::uint8_t>((uuid[6] & 0x0F) | 0x50);  // version 5
  uuid[8] = static_cast<std::uint8_t>((uuid[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return uuid;
}

std::string uuid_to_uid(const std::array<std::uint8_t, 16>& uuid) {
  unsigned __int128 value = 0;
  for (const std::uint8_t byte : uuid) value = (value << 8) | byte;
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  std::reverse(digits.begin(), digits.end());
  return "2.25." + digits;
}

}  // namespace detail

std::string name_based_uid(const std::array<std::uint8_t, 16>& name_space, std::string_view name) {
  return detail::uuid_to_uid(detail::uuid_v5(name_space, name));
}

std::string device_observer_uid(std::string_view algorithm_name) { return name_based_uid(kDeviceNamespace, algorithm_name); }

}  // namespace pacsnode::report
