#include "routing/sources.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "dicom/attribute_text.hpp"
#include "dicom/json_values.hpp"

namespace pacsnode::routing {
namespace {

void set_field(AttributeSet& set, std::uint32_t tag, const char* vr, const std::string& joined) {
  if (!joined.empty()) set.set(tag, vr, dicom::split_multi_value(joined));
}

void set_number(AttributeSet& set, std::uint32_t tag, const std::optional<int>& value) {
  if (value) set.set(tag, "IS", {std::to_string(*value)});
}

}  // namespace

AttributeSet read_file_attributes(const std::filesystem::path& part10_file) {
  AttributeSet set;
  for (auto& a : dicom::read_attribute_text(part10_file)) {
    set.set(Attribute{a.tag, std::move(a.vr), std::move(a.values), a.opaque});
  }
  return set;
}

void add_dicom_json(AttributeSet& attributes, std::string_view json) {
  const auto parsed = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (!parsed.is_object()) throw Error(ErrorCode::InvalidArgument, "DICOM JSON attributes: not a JSON object");
  for (const auto& [key, element] : parsed.items()) {
    const auto tag = dicom::parse_json_tag(key);
    if (!tag || !element.is_object()) continue;
    Attribute a;
    a.tag = *tag;
    if (const auto vr = element.find("vr"); vr != element.end() && vr->is_string()) a.vr = vr->get<std::string>();
    const auto values = element.find("Value");
    if (a.vr == "SQ") {
      a.opaque = values != element.end() && values->is_array() && !values->empty();
    } else if (values != element.end() && values->is_array()) {
      bool any = false;
      for (const auto& v : *values) {
        auto text = dicom::json_value_text(v);
        if (!text) {  // no text form
          a.values.clear();
          a.opaque = true;
          break;
        }
        any = any || !text->empty();
        a.values.push_back(std::move(*text));
      }
      if (!any) a.values.clear();
    } else if (element.contains("InlineBinary") || element.contains("BulkDataURI")) {
      a.opaque = true;
    }
    attributes.set(std::move(a));
  }
}

AttributeSet record_attributes(const IndexRecord& record) {
  AttributeSet set;
  // The JSON objects first: the fields below are the authoritative copies.
  for (const std::string* json : {&record.patient.attributes_json, &record.study.attributes_json,
                                  &record.series.attributes_json, &record.instance.attributes_json}) {
    if (!json->empty()) add_dicom_json(set, *json);
  }
  set_field(set, 0x00020010, "UI", record.instance.transfer_syntax_uid);
  set_field(set, 0x00080016, "UI", record.instance.sop_class_uid);
  set_field(set, 0x00080018, "UI", record.instance.sop_instance_uid);
  set_field(set, 0x00080020, "DA", record.study.study_date);
  set_field(set, 0x00080021, "DA", record.series.series_date);
  set_field(set, 0x00080023, "DA", record.instance.content_date);
  set_field(set, 0x00080030, "TM", record.study.study_time);
  set_field(set, 0x00080031, "TM", record.series.series_time);
  set_field(set, 0x00080033, "TM", record.instance.content_time);
  set_field(set, 0x00080050, "SH", record.study.accession_number);
  set_field(set, 0x00080060, "CS", record.series.modality);
  set_field(set, 0x00080090, "PN", record.study.referring_physician_name);
  set_field(set, 0x00081030, "LO", record.study.study_description);
  set_field(set, 0x0008103E, "LO", record.series.series_description);
  set_field(set, 0x00100010, "PN", record.patient.patient_name);
  set_field(set, 0x00100020, "LO", record.patient.patient_id);
  set_field(set, 0x00100021, "LO", record.patient.issuer_of_patient_id);
  set_field(set, 0x00100030, "DA", record.patient.patient_birth_date);
  set_field(set, 0x00100040, "CS", record.patient.patient_sex);
  set_field(set, 0x00180015, "CS", record.series.body_part_examined);
  set_field(set, 0x0020000D, "UI", record.study.study_instance_uid);
  set_field(set, 0x0020000E, "UI", record.series.series_instance_uid);
  set_field(set, 0x00200010, "SH", record.study.study_id);
  set_number(set, 0x00200011, record.series.series_number);
  set_number(set, 0x00200013, record.instance.instance_number);
  return set;
}

}  // namespace pacsnode::routing
