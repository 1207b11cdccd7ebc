#include "dicom/dicom_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include "dcmtk/config/osconfig.h"  // first, as DCMTK requires
#include "dcmtk/dcmdata/dcelem.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcvr.h"

#include "base/json.hpp"
#include "dicom/utf8.hpp"

namespace pacsnode::dicom::detail {
namespace {

// Text is made valid UTF-8 first (a data set may lie about its character set).
void append_json_text(std::string& out, std::string_view raw) { pacsnode::append_json_string(out, to_valid_utf8(raw)); }

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// Trailing padding (space, NUL) never matters; leading spaces do in LT, ST, UT and UC.
std::string_view trim(std::string_view text, bool leading) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  while (leading && !text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

std::size_t take_digits(std::string_view text, std::size_t& i) {
  const std::size_t start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  return i - start;
}

// An IS or DS value as a JSON number ("+007.50" -> "7.50"), nullopt when it is not one.
std::optional<std::string> json_number(std::string_view value, bool decimal) {
  std::string out;
  std::size_t i = 0;
  if (i < value.size() && (value[i] == '+' || value[i] == '-')) {
    if (value[i] == '-') out += '-';
    ++i;
  }
  const std::size_t int_start = i;
  const std::size_t int_digits = take_digits(value, i);
  std::string_view integer = value.substr(int_start, int_digits);
  while (integer.size() > 1 && integer.front() == '0') integer.remove_prefix(1);
  std::string_view fraction;
  std::string_view exponent;
  if (decimal && i < value.size() && value[i] == '.') {
    const std::size_t start = ++i;
    fraction = value.substr(start, take_digits(value, i));
  }
  if (int_digits == 0 && fraction.empty()) return std::nullopt;
  if (decimal && i < value.size() && (value[i] == 'e' || value[i] == 'E')) {
    const std::size_t start = i++;
    if (i < value.size() && (value[i] == '+' || value[i] == '-')) ++i;
    if (take_digits(value, i) == 0) return std::nullopt;
    exponent = value.substr(start, i - start);
  }
  if (i != value.size()) return std::nullopt;
  out += integer.empty() ? std::string_view("0") : integer;
  if (!fraction.empty()) (out += '.') += fraction;
  out += exponent;
  // Valid JSON past a double's range ("1E2002", found by tests/fuzz/dimse_fuzz) is stored by
  // jsonb but refused by the JSON readers of the stored attributes (C-FIND reads them with
  // nlohmann, a DICOMweb client with JavaScript): a string, as for any other number a JSON
  // number cannot represent.
  double parsed = 0;
  const auto [end, error] = std::from_chars(out.data(), out.data() + out.size(), parsed);
  if (error != std::errc() || end != out.data() + out.size() || !std::isfinite(parsed)) return std::nullopt;
  return out;
}

template <typename T>
void append_number(std::string& out, T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) {
      out += "null";
      return;
    }
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

template <typename T>
void append_binary_numbers(std::string& out, DcmElement& element,
                           OFCondition (DcmElement::*get)(T&, const unsigned long)) {
  const unsigned long count = element.getVM();
  if (count == 0) return;
  out += ",\"Value\":[";
  for (unsigned long i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    T value{};
    if ((element.*get)(value, i).good()) {
      append_number(out, value);
    } else {
      out += "null";
    }
  }
  out += ']';
}

void append_base64(std::string& out, const std::vector<std::uint8_t>& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 0x3F];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const std::uint32_t n = bytes[i] << 16 | (two ? bytes[i + 1] << 8 : 0);
    out += kAlphabet[(n >> 18) & 0x3F];
    out += kAlphabet[(n >> 12) & 0x3F];
    out += two ? kAlphabet[(n >> 6) & 0x3F] : '=';
    out += '=';
  }
}

void append_inline_binary(std::string& out, DcmElement& element) {
  const Uint32 length = element.getLengthField();
  if (length == 0 || length == DCM_UndefinedLength) return;
  std::vector<std::uint8_t> bytes(length);
  // Little endian whatever the file's byte order, as PS3.18 F.2.7 requires.
  if (element.getPartialValue(bytes.data(), 0, length, nullptr, EBO_LittleEndian).bad()) return;
  out += ",\"InlineBinary\":\"";
  append_base64(out, bytes);
  out += '"';
}

// PN: one object per value with the Alphabetic, Ideographic and Phonetic groups present.
void append_person_names(std::string& out, const std::vector<std::string_view>& values) {
  static constexpr const char* kGroups[] = {"Alphabetic", "Ideographic", "Phonetic"};
  for (std::size_t v = 0; v < values.size(); ++v) {
    if (v > 0) out += ',';
    const std::vector<std::string_view> groups = split(values[v], '=');
    bool any = false;
    for (std::size_t g = 0; g < groups.size() && g < 3; ++g) {
      const std::string_view group = trim(groups[g], true);
      if (group.empty()) continue;
      out += any ? ",\"" : "{\"";
      out += kGroups[g];
      out += "\":";
      append_json_text(out, group);
      any = true;
    }
    out += any ? "}" : "null";
  }
}

void append_text_values(std::string& out, DcmElement& element, DcmEVR vr) {
  OFString raw;
  if (element.getOFStringArray(raw, OFTrue).bad()) return;
  const std::string_view all(raw.c_str(), raw.size());
  // LT, ST, UT and UR hold one value in which a backslash is just a character.
  const bool single = vr == EVR_LT || vr == EVR_ST || vr == EVR_UT || vr == EVR_UR;
  const bool keep_leading = single || vr == EVR_UC;
  std::vector<std::string_view> values = single ? std::vector{all} : split(all, '\\');
  for (auto& value : values) value = trim(value, !keep_leading);
  if (values.size() == 1 && values[0].empty()) return;

  out += ",\"Value\":[";
  if (vr == EVR_PN) {
    append_person_names(out, values);
  } else {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      if (values[i].empty()) {
        out += "null";
      } else if (vr == EVR_DS || vr == EVR_IS) {
        // A malformed number is kept as a string rather than dropped (PS3.18 allows a string
        // for a DS/IS value that a JSON number cannot represent).
        const auto number = json_number(values[i], vr == EVR_DS);
        if (number) {
          out += *number;
        } else {
          append_json_text(out, values[i]);
        }
      } else {
        append_json_text(out, values[i]);
      }
    }
  }
  out += ']';
}

void append_tags(std::string& out, DcmElement& element) {
  const unsigned long count = element.getVM();
  if (count == 0) return;
  out += ",\"Value\":[";
  for (unsigned long i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    DcmTagKey key;
    if (element.getTagVal(key, i).bad()) {
      out += "null";
      continue;
    }
    char text[12];
    std::snprintf(text, sizeof text, "\"%04X%04X\"", key.getGroup(), key.getElement());
    out += text;
  }
  out += ']';
}

void append_items(std::string& out, DcmSequenceOfItems& sequence) {
  const unsigned long count = sequence.card();
  if (count == 0) return;
  out += ",\"Value\":[";
  for (unsigned long i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    out += '{';
    DcmItem* item = sequence.getItem(i);
    const unsigned long elements = item != nullptr ? item->card() : 0;
    for (unsigned long j = 0; j < elements; ++j) {
      if (j > 0) out += ',';
      append_json_attribute(out, *item->getElement(j));
    }
    out += '}';
  }
  out += ']';
}

}  // namespace

void append_json_attribute(std::string& out, DcmElement& element) {
  const DcmTag& tag = element.getTag();
  // ident() is the VR of the element's class; internal VRs (ox, xs, lt, up, unknown) map to
  // the standard VR that DCMTK itself would write.
  const DcmVR vr(DcmVR(element.ident()).getValidEVR());
  const DcmEVR evr = vr.getEVR();

  char key[32];
  std::snprintf(key, sizeof key, "\"%04X%04X\":{\"vr\":\"%s\"", tag.getGTag(), tag.getETag(),
                vr.getValidVRName());
  out += key;

  if (element.getLengthField() != 0 || evr == EVR_SQ) {
    switch (evr) {
      case EVR_SQ: append_items(out, static_cast<DcmSequenceOfItems&>(element)); break;
      case EVR_AT: append_tags(out, element); break;
      case EVR_US: append_binary_numbers<Uint16>(out, element, &DcmElement::getUint16); break;
      case EVR_SS: append_binary_numbers<Sint16>(out, element, &DcmElement::getSint16); break;
      case EVR_UL: append_binary_numbers<Uint32>(out, element, &DcmElement::getUint32); break;
      case EVR_SL: append_binary_numbers<Sint32>(out, element, &DcmElement::getSint32); break;
      case EVR_UV: append_binary_numbers<Uint64>(out, element, &DcmElement::getUint64); break;
      case EVR_SV: append_binary_numbers<Sint64>(out, element, &DcmElement::getSint64); break;
      case EVR_FL: append_binary_numbers<Float32>(out, element, &DcmElement::getFloat32); break;
      case EVR_FD: append_binary_numbers<Float64>(out, element, &DcmElement::getFloat64); break;
      default:
        if (vr.isaString()) {
          append_text_values(out, element, evr);
        } else {
          append_inline_binary(out, element);  // OB, OD, OF, OL, OV, OW, UN
        }
    }
  }
  out += '}';
}

}  // namespace pacsnode::dicom::detail
