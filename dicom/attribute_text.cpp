#include "dicom/attribute_text.hpp"

#include <algorithm>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "dcmtk/config/osconfig.h"  // first, as DCMTK requires
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcdicent.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dchashdi.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcvr.h"

#include "base/edit_distance.hpp"
#include "base/error.hpp"
#include "dicom/text_decoding.hpp"
#include "dicom/utf8.hpp"

namespace pacsnode::dicom {
namespace {

// Larger values stay in the file unless asked for (DCMTK remembers their offset).
constexpr Uint32 kMaxReadLength = 4 * 1024;
// Above these lengths a value is not something a rule compares.
constexpr Uint32 kMaxTextLength = 64 * 1024;
constexpr Uint32 kMaxNumbersLength = 1024;

std::uint32_t tag_of(const DcmElement& element) {
  const DcmTag& tag = element.getTag();
  return static_cast<std::uint32_t>(tag.getGTag()) << 16 | tag.getETag();
}

bool is_binary_number(DcmEVR vr) {
  switch (vr) {
    case EVR_US: case EVR_SS: case EVR_UL: case EVR_SL: case EVR_FL: case EVR_FD: case EVR_AT:
    case EVR_UV: case EVR_SV:
      return true;
    default:
      return false;
  }
}

// Text VRs whose single value may contain a backslash (PS3.5 §6.2: LT, ST, UT, UR).
bool is_single_valued_text(DcmEVR vr) { return vr == EVR_LT || vr == EVR_ST || vr == EVR_UT || vr == EVR_UR; }
// Leading spaces are significant in these (and trailing ones never are).
bool keeps_leading_spaces(DcmEVR vr) { return vr == EVR_LT || vr == EVR_ST || vr == EVR_UT || vr == EVR_UC; }

std::string_view trim(std::string_view text, bool leading) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  while (leading && !text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

// A text value split into its values ("A\B" → A, B), each trimmed, as valid UTF-8. All
// values empty → no values (zero-length and "\" alike carry nothing).
std::vector<std::string> text_values(std::string_view raw, DcmEVR vr) {
  std::vector<std::string> values;
  const bool leading = !keeps_leading_spaces(vr);
  if (is_single_valued_text(vr)) {
    if (auto v = trim(raw, leading); !v.empty()) values.push_back(to_valid_utf8(v));
    return values;
  }
  bool any = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= raw.size(); ++i) {
    if (i == raw.size() || raw[i] == '\\') {
      const auto v = trim(raw.substr(start, i - start), leading);
      any = any || !v.empty();
      values.push_back(to_valid_utf8(v));
      start = i + 1;
    }
  }
  if (!any) values.clear();
  return values;
}

// Whether an element is read as text: what is not is recorded as opaque (when non-empty).
bool readable_as_text(DcmElement& element) {
  const DcmEVR vr = DcmVR(element.ident()).getValidEVR();
  const Uint32 length = element.getLengthField();
  if (length == DCM_UndefinedLength) return false;
  if (DcmVR(vr).isaString()) return length <= kMaxTextLength;
  return is_binary_number(vr) && length <= kMaxNumbersLength;
}

bool non_empty(DcmElement& element) {
  if (element.ident() == EVR_SQ || element.ident() == EVR_pixelSQ) {
    return static_cast<DcmSequenceOfItems&>(element).card() > 0;
  }
  return element.getLengthField() != 0;
}

AttributeText text_of(DcmElement& element) {
  AttributeText out;
  out.tag = tag_of(element);
  const DcmEVR vr = DcmVR(element.ident()).getValidEVR();
  out.vr = DcmVR(vr).getValidVRName();
  if (DcmVR(vr).isaString()) {
    char* raw = nullptr;
    Uint32 length = 0;
    if (element.getString(raw, length).good() && raw != nullptr) out.values = text_values({raw, length}, vr);
    return out;
  }
  const unsigned long count = element.getVM();
  for (unsigned long i = 0; i < count; ++i) {
    OFString value;
    if (element.getOFString(value, i).good()) out.values.emplace_back(value.c_str(), value.size());
  }
  return out;
}

AttributeText opaque_of(DcmElement& element) {
  AttributeText out;
  out.tag = tag_of(element);
  out.vr = DcmVR(element.ident()).getValidVRName();
  out.opaque = non_empty(element);
  return out;
}

}  // namespace

std::vector<AttributeText> read_attribute_text(const std::filesystem::path& part10_file) {
  std::error_code ec;
  const auto status = std::filesystem::status(part10_file, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    throw Error(ErrorCode::NotFound, fmt::format("{}: no such file", part10_file.string()));
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorCode::InvalidArgument, fmt::format("{}: not a regular file", part10_file.string()));
  }
  detail::configure_dcmtk();
  DcmFileFormat file_format;
  const OFCondition loaded = file_format.loadFile(OFFilename(part10_file.c_str()), EXS_Unknown, EGL_noChange,
                                                  kMaxReadLength, ERM_fileOnly);
  if (loaded.bad()) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{}: not a readable DICOM Part-10 file: {}", part10_file.string(), loaded.text()));
  }

  std::vector<AttributeText> out;
  DcmMetaInfo& meta = *file_format.getMetaInfo();
  for (unsigned long i = 0; i < meta.card(); ++i) {
    DcmElement* element = meta.getElement(i);
    if (element == nullptr || element->getTag().getETag() == 0x0000) continue;
    out.push_back(readable_as_text(*element) ? text_of(*element) : opaque_of(*element));
  }

  // What is not read as text leaves the data set before decoding, so that character-set
  // conversion never walks sequences or loads large values.
  DcmDataset& data_set = *file_format.getDataset();
  std::vector<DcmElement*> doomed;
  for (unsigned long i = 0; i < data_set.card(); ++i) {
    DcmElement* element = data_set.getElement(i);
    if (element == nullptr) continue;
    if (element->getTag().getETag() == 0x0000) {
      doomed.push_back(element);
    } else if (!readable_as_text(*element)) {
      out.push_back(opaque_of(*element));
      doomed.push_back(element);
    }
  }
  for (DcmElement* element : doomed) delete data_set.remove(element);

  OFString declared_charset;
  const bool has_charset = data_set.findAndGetOFStringArray(DCM_SpecificCharacterSet, declared_charset).good();
  detail::decode_text(data_set, part10_file);
  for (unsigned long i = 0; i < data_set.card(); ++i) {
    DcmElement* element = data_set.getElement(i);
    if (element == nullptr) continue;
    AttributeText attribute = text_of(*element);
    if (attribute.tag == 0x00080005 && has_charset) {
      attribute.values = text_values({declared_charset.c_str(), declared_charset.size()}, EVR_CS);
    }
    out.push_back(std::move(attribute));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
  return out;
}

std::string dictionary_vr(std::uint32_t tag) {
  const DcmTag dcm_tag(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
  const DcmEVR vr = dcm_tag.getEVR();
  if (vr == EVR_UNKNOWN || vr == EVR_UNKNOWN2B || vr == EVR_UN) return {};
  return DcmVR(DcmVR(vr).getValidEVR()).getValidVRName();
}

std::vector<std::string> similar_keywords(std::string_view word, std::size_t count) {
  std::vector<std::pair<std::size_t, std::string>> found;
  const std::size_t limit = std::min<std::size_t>(3, word.size() / 2 + 1);
  DcmDataDictionary& dictionary = dcmDataDict.wrlock();  // the iterators are not const
  for (auto it = dictionary.normalBegin(); it != dictionary.normalEnd(); ++it) {
    const DcmDictEntry* entry = *it;
    if (entry == nullptr || entry->getTagName() == nullptr || entry->getPrivateCreator() != nullptr) continue;
    const std::string_view name = entry->getTagName();
    // Cheap bound first: the length difference alone is at least the distance.
    const std::size_t gap = name.size() > word.size() ? name.size() - word.size() : word.size() - name.size();
    if (gap > limit) continue;
    if (const std::size_t d = edit_distance(word, name); d <= limit) found.emplace_back(d, std::string(name));
  }
  dcmDataDict.wrunlock();
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [distance, name] : found) {
    if (out.size() == count) break;
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

}  // namespace pacsnode::dicom
