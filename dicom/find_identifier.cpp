#include "dicom/find_identifier.hpp"

#include <mutex>
#include <unordered_map>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/dcmdata/dcwcache.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <functional>
#include <cstdio>

#include "base/error.hpp"
#include "dicom/data_set_bytes.hpp"
#include "dicom/dicom_json.hpp"
#include "dicom/japanese.hpp"
#include "dicom/nesting.hpp"
#include "dicom/utf8.hpp"

namespace pacsnode::dicom {
namespace {

constexpr std::uint32_t kSpecificCharacterSet = 0x00080005;
constexpr std::uint32_t kQueryRetrieveLevel = 0x00080052;
constexpr std::uint32_t kRetrieveAeTitle = 0x00080054;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

E_TransferSyntax xfer_of(const std::string& uid) {
  const DcmXfer xfer(uid.c_str());
  if (xfer.getXfer() == EXS_Unknown || xfer.isEncapsulated()) {
    throw Error(ErrorCode::InvalidArgument, "identifier in unsupported transfer syntax " + uid);
  }
  return xfer.getXfer();
}


std::uint32_t tag_of(const DcmTagKey& key) {
  return (static_cast<std::uint32_t>(key.getGroup()) << 16) | key.getElement();
}

bool is_text_vr(DcmEVR vr) {
  return vr == EVR_SH || vr == EVR_LO || vr == EVR_ST || vr == EVR_LT || vr == EVR_UT || vr == EVR_UC || vr == EVR_PN;
}

// What convertToUTF8 cannot do on the C library's iconv: Japanese (IR 87 / IR 159).
void decode_japanese_top_level(DcmDataset& data_set, const std::string& charset) {
  for (unsigned long i = 0; i < data_set.card(); ++i) {
    DcmElement* element = data_set.getElement(i);
    if (element == nullptr || !is_text_vr(element->ident())) continue;
    OFString raw;
    if (element->getOFStringArray(raw, OFFalse).bad()) continue;
    const auto decoded = decode_japanese(std::string_view(raw.c_str(), raw.size()), charset, element->ident() == EVR_PN);
    if (decoded) element->putOFStringArray(OFString(decoded->data(), decoded->size()));
  }
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

DcmElement* make_element(std::uint32_t tag, const std::string& vr) {
  DcmTag dcm_tag(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
  // Tags the dictionary does not know (private ones) keep the VR they came with.
  if (dcm_tag.getEVR() == EVR_UNKNOWN || dcm_tag.getEVR() == EVR_UN) {
    const DcmVR dcm_vr(vr.c_str());
    if (dcm_vr.isStandard()) dcm_tag.setVR(dcm_vr);
  }
  DcmElement* element = nullptr;
  if (DcmItem::newDicomElementWithVR(element, dcm_tag).bad() || element == nullptr) {
    throw Error(ErrorCode::Internal, "cannot create element for tag " + std::to_string(tag));
  }
  return element;
}


// One element as a key: its value trimmed and valid UTF-8 (after convertToUTF8); "" for SQ.
IdentifierKey key_of(DcmElement& element) {
  const DcmEVR evr = element.ident();
  std::string value;
  if (evr != EVR_SQ) {
    OFString text;
    if (element.getLength() > 0 && element.getOFStringArray(text).good()) {
      value = to_valid_utf8(trim(std::string_view(text.c_str(), text.size())));
    }
  }
  return {tag_of(element.getTag()), DcmVR(evr).getValidVRName(), std::move(value), {}};
}

}  // namespace

FindIdentifier parse_find_identifier(std::span<const std::uint8_t> bytes, const std::string& transfer_syntax_uid) {
  const E_TransferSyntax xfer = xfer_of(transfer_syntax_uid);
  // Deflate would put an inflating filter between the bytes and DCMTK, which SpanInputStream
  // cannot read from the middle of: no Q/R context is accepted in it.
  if (xfer == EXS_DeflatedLittleEndianExplicit) {
    throw Error(ErrorCode::InvalidArgument, "identifier in unsupported transfer syntax " + transfer_syntax_uid);
  }
  const DcmXfer xfer_info(xfer);
  if (nesting_depth(bytes, xfer_info.isExplicitVR(), xfer_info.isBigEndian()) > kMaxNestingDepth) {
    throw Error(ErrorCode::InvalidArgument,
                "identifier nests sequences deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  }
  detail::SpanInputStream stream(bytes);
  DcmDataset data_set;
  data_set.transferInit();
  const OFCondition status = data_set.read(stream, xfer, EGL_noChange);
  data_set.transferEnd();
  if (status.bad()) throw Error(ErrorCode::InvalidArgument, std::string("identifier does not parse: ") + status.text());

  FindIdentifier out;
  OFString charset;
  if (data_set.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).good()) {
    out.specific_character_set = std::string(trim(charset.c_str()));
  }
  if (data_set.convertToUTF8().bad() && needs_japanese_decoder(out.specific_character_set)) {
    decode_japanese_top_level(data_set, out.specific_character_set);
  }
  for (unsigned long i = 0; i < data_set.card(); ++i) {
    DcmElement* element = data_set.getElement(i);
    if (element == nullptr) continue;
    const std::uint32_t tag = tag_of(element->getTag());
    if ((tag & 0xFFFF) == 0 || tag < 0x00080000 || tag == kSpecificCharacterSet || tag == kRetrieveAeTitle) continue;
    auto key = key_of(*element);
    if (tag == kQueryRetrieveLevel) {
      out.level = key.value;
      continue;
    }
    if (element->ident() == EVR_SQ) {
      auto& sequence = static_cast<DcmSequenceOfItems&>(*element);
      if (DcmItem* item = sequence.card() > 0 ? sequence.getItem(0) : nullptr) {
        for (unsigned long k = 0; k < item->card(); ++k) {
          DcmElement* nested = item->getElement(k);
          if (nested == nullptr || (tag_of(nested->getTag()) & 0xFFFF) == 0) continue;
          key.item.push_back(key_of(*nested));
        }
      }
    }
    out.keys.push_back(std::move(key));
  }
  return out;
}

namespace {

// The response's data set: exactly `keys` with their values (see build_find_response);
// `ascii` tells whether every value is ASCII.
void fill_find_response(DcmItem& data_set, const std::vector<IdentifierKey>& keys,
                        const std::map<std::uint32_t, std::string>& values,
                        const std::map<std::uint32_t, std::vector<ResponseItem>>& sequences, bool& ascii) {
  // Puts one element into `into`; a sequence gets its items from `sequences`.
  std::function<void(DcmItem&, std::uint32_t, const std::string&, const std::string&, bool)> put_into =
      [&](DcmItem& into, std::uint32_t tag, const std::string& vr, const std::string& value, bool top) {
        DcmElement* element = make_element(tag, vr);
        if (element->ident() == EVR_SQ) {
          const auto found = top ? sequences.find(tag) : sequences.end();
          if (found != sequences.end()) {
            auto& sequence = static_cast<DcmSequenceOfItems&>(*element);
            for (const auto& response_item : found->second) {
              auto* item = new DcmItem();
              for (const auto& k : response_item) {
                if (k.vr != "SQ") put_into(*item, k.tag, k.vr, k.value, false);
              }
              sequence.append(item);
            }
          }
        } else if (!value.empty()) {
          ascii = ascii && is_ascii(value);
          if (element->putString(value.c_str(), static_cast<Uint32>(value.size())).bad()) {
            // A value the VR cannot hold (e.g. text in a binary VR): answer the key empty.
            element->clear();
          }
        }
        if (into.insert(element, OFTrue).bad()) delete element;
      };
  for (const auto& key : keys) {
    if (key.tag == kSpecificCharacterSet || key.tag == kQueryRetrieveLevel || key.tag == kRetrieveAeTitle) continue;
    const auto found = values.find(key.tag);
    put_into(data_set, key.tag, key.vr, found == values.end() ? std::string() : found->second, true);
  }
}

}  // namespace

std::vector<std::uint8_t> build_find_response(const std::vector<IdentifierKey>& keys,
                                              const std::map<std::uint32_t, std::string>& values,
                                              std::string_view level, std::string_view retrieve_ae_title,
                                              const std::string& transfer_syntax_uid,
                                              const std::map<std::uint32_t, std::vector<ResponseItem>>& sequences) {
  const E_TransferSyntax xfer = xfer_of(transfer_syntax_uid);
  DcmDataset data_set;
  bool ascii = true;
  fill_find_response(data_set, keys, values, sequences, ascii);
  const auto put = [&](std::uint32_t tag, const std::string& vr, const std::string& value) {
    DcmElement* element = make_element(tag, vr);
    if (!value.empty()) element->putString(value.c_str(), static_cast<Uint32>(value.size()));
    if (data_set.insert(element, OFTrue).bad()) delete element;
  };
  put(kQueryRetrieveLevel, "CS", std::string(level));
  put(kRetrieveAeTitle, "AE", std::string(retrieve_ae_title));
  if (!ascii) put(kSpecificCharacterSet, "CS", "ISO_IR 192");
  return detail::data_set_bytes(data_set, xfer);
}

std::string build_find_response_json(const std::vector<IdentifierKey>& keys,
                                     const std::map<std::uint32_t, std::string>& values,
                                     const std::map<std::uint32_t, std::vector<ResponseItem>>& sequences) {
  DcmDataset data_set;
  bool ascii = true;
  fill_find_response(data_set, keys, values, sequences, ascii);
  std::string out = "{";
  bool first = true;
  for (unsigned long i = 0; i < data_set.card(); ++i) {
    DcmElement* element = data_set.getElement(i);
    if (element == nullptr) continue;
    if (!first) out += ',';
    first = false;
    detail::append_json_attribute(out, *element);
  }
  out += '}';
  return out;
}

std::vector<std::uint8_t> build_failed_sop_list(const std::vector<std::string>& sop_instance_uids,
                                                const std::string& transfer_syntax_uid) {
  const E_TransferSyntax xfer = xfer_of(transfer_syntax_uid);
  DcmDataset data_set;
  std::string list;
  for (const auto& uid : sop_instance_uids) {
    // UI has a 16-bit length in Explicit VR: keep the list within 64 KiB.
    if (list.size() + uid.size() + 1 > 65000) break;
    if (!list.empty()) list += '\\';
    list += uid;
  }
  if (data_set.putAndInsertString(DCM_FailedSOPInstanceUIDList, list.c_str()).bad()) {
    throw Error(ErrorCode::Internal, "cannot build the Failed SOP Instance UID List");
  }
  return detail::data_set_bytes(data_set, xfer);
}

std::optional<IdentifierKey> key_for_keyword(std::string_view keyword) {
  if (keyword.empty()) return std::nullopt;
  const std::string name(keyword);
  // DCMTK finds an entry by name with a linear scan of its ~5,000 (half of a QIDO-RS
  // query's CPU before this): answers are remembered, up to a bound, as clients send
  // anything.
  static std::mutex mutex;
  static std::unordered_map<std::string, std::optional<IdentifierKey>> known;
  {
    std::lock_guard lock(mutex);
    if (const auto found = known.find(name); found != known.end()) return found->second;
  }
  std::optional<IdentifierKey> key;
  const DcmDataDictionary& dictionary = dcmDataDict.rdlock();
  const DcmDictEntry* entry = dictionary.findEntry(name.c_str());
  if (entry != nullptr && entry->getGroup() != 0xFFFF) {
    const DcmVR vr(entry->getEVR());
    key = IdentifierKey{tag_of(entry->getKey()), vr.getValidVRName(), ""};
  }
  dcmDataDict.rdunlock();
  std::lock_guard lock(mutex);
  if (known.size() < 8192) known.emplace(name, key);
  return key;
}

std::string keyword_of(std::uint32_t tag) {
  DcmTag dcm_tag(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
  const char* name = dcm_tag.getTagName();
  if (name != nullptr && std::string_view(name) != DcmTag_ERROR_TagName) return name;
  char text[16];
  std::snprintf(text, sizeof text, "(%04x,%04x)", tag >> 16, tag & 0xFFFF);
  return text;
}

}  // namespace pacsnode::dicom
