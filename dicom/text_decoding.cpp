#include "dicom/text_decoding.hpp"

#include <mutex>
#include <string>
#include <string_view>

#include "dcmtk/config/osconfig.h"  // first, as DCMTK requires
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcsequen.h"

#include "base/log.hpp"
#include "dicom/japanese.hpp"
#include "dicom/utf8.hpp"

namespace pacsnode::dicom::detail {
namespace {

// The fallback for what DCMTK cannot decode on the C library's iconv: Japanese (ISO 2022 IR
// 87 / 159). Decodes every text element affected by Specific Character Set, each item under
// its own declaration if it has one.
void decode_japanese_text(DcmItem& item, std::string charset) {
  OFString own;
  if (item.findAndGetOFStringArray(DCM_SpecificCharacterSet, own).good()) charset = own.c_str();
  const unsigned long count = item.card();
  for (unsigned long i = 0; i < count; ++i) {
    DcmElement* element = item.getElement(i);
    if (element == nullptr) continue;
    const DcmEVR vr = element->ident();
    if (vr == EVR_SQ) {
      auto& sequence = static_cast<DcmSequenceOfItems&>(*element);
      for (unsigned long k = 0; k < sequence.card(); ++k) {
        if (DcmItem* nested = sequence.getItem(k)) decode_japanese_text(*nested, charset);
      }
      continue;
    }
    if (vr != EVR_SH && vr != EVR_LO && vr != EVR_ST && vr != EVR_LT && vr != EVR_UT &&
        vr != EVR_UC && vr != EVR_PN) {
      continue;
    }
    OFString raw;
    if (element->getOFStringArray(raw, OFFalse).bad()) continue;
    const auto decoded =
        decode_japanese(std::string_view(raw.c_str(), raw.size()), charset, vr == EVR_PN);
    if (decoded) element->putOFStringArray(OFString(decoded->data(), decoded->size()));
  }
}

}  // namespace

// Data that passed through a node that did not know a tag arrives with it as UN (e.g. a
// Study Instance UID): the dictionary's VR is the one to read it with.
void configure_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] { dcmEnableUnknownVRConversion.set(OFTrue); });
}

// DCMTK converts through the C library's iconv, which lacks the ISO 2022 Japanese sets.
void decode_text(DcmDataset& data_set, const std::filesystem::path& file) {
  if (data_set.convertToUTF8().good()) return;
  OFString declared;
  data_set.findAndGetOFStringArray(DCM_SpecificCharacterSet, declared);
  const std::string charset = declared.c_str();
  if (needs_japanese_decoder(charset)) {
    decode_japanese_text(data_set, charset);
    return;
  }
  OFString sop_instance_uid;
  data_set.findAndGetOFString(DCM_SOPInstanceUID, sop_instance_uid);
  log::warn("sop={} file={}: cannot decode text from Specific Character Set '{}'; "
            "undecodable bytes are read as Latin-1",
            to_valid_utf8(sop_instance_uid.c_str()), file.string(), to_valid_utf8(charset));
}

}  // namespace pacsnode::dicom::detail
