#include "dicom/japanese.hpp"

#include <iconv.h>

#include <cerrno>
#include <memory>

namespace pacsnode::dicom {
namespace {

constexpr char kEsc = '\x1B';

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

std::string_view first_term(std::string_view specific_character_set) {
  return trim(specific_character_set.substr(0, specific_character_set.find('\\')));
}

// JIS X 0208 and 0212 become EUC-JP, which the C library's iconv turns into UTF-8.
std::optional<std::string> euc_jp_to_utf8(const std::string& euc) {
  const iconv_t cd = iconv_open("UTF-8", "EUC-JP");
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  const std::unique_ptr<void, int (*)(iconv_t)> closer(cd, iconv_close);
  std::string out(euc.size() * 2 + 4, '\0');  // EUC-JP: 2 bytes -> 3, 3 -> 3, 1 -> <= 3
  char* in = const_cast<char*>(euc.data());
  std::size_t in_left = euc.size();
  char* next = out.data();
  std::size_t out_left = out.size();
  if (iconv(cd, &in, &in_left, &next, &out_left) == static_cast<std::size_t>(-1)) {
    return std::nullopt;
  }
  out.resize(out.size() - out_left);
  return out;
}

}  // namespace

bool needs_japanese_decoder(std::string_view specific_character_set) {
  std::size_t start = 0;
  while (start <= specific_character_set.size()) {
    std::size_t end = specific_character_set.find('\\', start);
    if (end == std::string_view::npos) end = specific_character_set.size();
    const std::string_view term = trim(specific_character_set.substr(start, end - start));
    if (term == "ISO 2022 IR 87" || term == "ISO 2022 IR 159") return true;
    start = end + 1;
  }
  return false;
}

std::optional<std::string> decode_japanese(std::string_view text,
                                           std::string_view specific_character_set,
                                           bool person_name) {
  enum class G0 { Ascii, JisRoman, Jis0208, Jis0212 };
  const std::string_view first = first_term(specific_character_set);
  const bool katakana_first = first == "ISO 2022 IR 13" || first == "ISO_IR 13";
  const G0 initial_g0 = katakana_first ? G0::JisRoman : G0::Ascii;
  G0 g0 = initial_g0;
  bool g1_katakana = katakana_first;

  std::string euc;
  euc.reserve(text.size() + text.size() / 2);
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto b = static_cast<unsigned char>(c);
    if (c == kEsc) {
      const std::string_view rest = text.substr(i + 1);
      if (rest.starts_with("(B")) {
        g0 = G0::Ascii;
      } else if (rest.starts_with("(J")) {
        g0 = G0::JisRoman;
      } else if (rest.starts_with("$B") || rest.starts_with("$@")) {
        g0 = G0::Jis0208;
      } else if (rest.starts_with(")I")) {
        g1_katakana = true;
      } else if (rest.starts_with("$(D")) {
        g0 = G0::Jis0212;
        ++i;  // one byte longer than the others
      } else {
        return std::nullopt;
      }
      i += 3;
    } else if (b >= 0xA1 && b <= 0xDF && g1_katakana) {
      euc += '\x8E';  // JIS X 0201 katakana in G1 (half-width)
      euc += c;
      ++i;
    } else if (b >= 0x80) {
      return std::nullopt;
    } else if ((g0 == G0::Jis0208 || g0 == G0::Jis0212) && b >= 0x21 && b <= 0x7E) {
      if (i + 1 >= text.size()) return std::nullopt;
      const auto second = static_cast<unsigned char>(text[i + 1]);
      if (second < 0x21 || second > 0x7E) return std::nullopt;
      if (g0 == G0::Jis0212) euc += '\x8F';
      euc += static_cast<char>(b | 0x80);
      euc += static_cast<char>(second | 0x80);
      i += 2;
    } else {
      // A single-byte character: delimiters return to the initial state (PS3.5 §6.1.2.5.3).
      const bool delimiter = c == '\\' || c == '\r' || c == '\n' || c == '\f' || c == '\t' ||
                             (person_name && (c == '^' || c == '='));
      if (delimiter) {
        g0 = initial_g0;
        g1_katakana = katakana_first;
      }
      euc += c;
      ++i;
    }
  }
  return euc_jp_to_utf8(euc);
}

}  // namespace pacsnode::dicom
