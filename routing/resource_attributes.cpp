#include "routing/resource_attributes.hpp"

#include <nlohmann/json.hpp>

#include "db/stability.hpp"
#include "dicom/attribute_text.hpp"
#include "dicom/json_values.hpp"

namespace pacsnode::routing {
namespace {

// A key field's `\`-separated values; "" is absent.
void set_text(Attributes& attributes, std::uint32_t tag, const std::string& text) {
  if (!text.empty()) attributes.set(tag, dicom::split_multi_value(text));
}

void set_number(Attributes& attributes, std::uint32_t tag, const std::optional<int>& number) {
  if (number) attributes.set(tag, {std::to_string(*number)});
}

}  // namespace

const Attributes::Values* Attributes::find(std::uint32_t tag) const {
  const auto it = values_.find(tag);
  return it == values_.end() ? nullptr : &it->second;
}

std::string Attributes::first(std::uint32_t tag) const {
  const Values* values = find(tag);
  return values && !values->empty() ? values->front() : std::string();
}

void Attributes::set(std::uint32_t tag, Values values) { values_[tag] = std::move(values); }

void Attributes::add_dicom_json(std::string_view json) {
  if (json.empty()) return;
  const auto object = nlohmann::json::parse(json, nullptr, false);
  if (!object.is_object()) return;
  for (const auto& [key, element] : object.items()) {
    const auto tag = dicom::parse_json_tag(key);
    if (!tag || values_.count(*tag) || !element.is_object()) continue;
    Values values;
    const auto vr = element.find("vr");
    const bool sequence = vr != element.end() && vr->is_string() && vr->get<std::string>() == "SQ";
    const auto list = element.find("Value");
    if (!sequence && list != element.end() && list->is_array()) {
      for (const auto& value : *list) {
        auto text = dicom::json_value_text(value);
        if (!text) {  // no text form: present, without values
          values.clear();
          break;
        }
        values.push_back(std::move(*text));
      }
    }
    values_.emplace(*tag, std::move(values));
  }
}

Attributes attributes_of(const IndexRecord& r) {
  Attributes a;
  set_text(a, 0x00100020, r.patient.patient_id);
  set_text(a, 0x00100021, r.patient.issuer_of_patient_id);
  set_text(a, 0x00100010, r.patient.patient_name);
  set_text(a, 0x00100030, r.patient.patient_birth_date);
  set_text(a, 0x00100040, r.patient.patient_sex);
  set_text(a, 0x0020000D, r.study.study_instance_uid);
  set_text(a, 0x00080020, r.study.study_date);
  set_text(a, 0x00080030, r.study.study_time);
  set_text(a, 0x00080050, r.study.accession_number);
  set_text(a, 0x00200010, r.study.study_id);
  set_text(a, 0x00081030, r.study.study_description);
  set_text(a, 0x00080090, r.study.referring_physician_name);
  set_text(a, 0x0020000E, r.series.series_instance_uid);
  set_text(a, 0x00080060, r.series.modality);
  set_number(a, 0x00200011, r.series.series_number);
  set_text(a, 0x0008103E, r.series.series_description);
  set_text(a, 0x00180015, r.series.body_part_examined);
  set_text(a, 0x00080021, r.series.series_date);
  set_text(a, 0x00080031, r.series.series_time);
  set_text(a, 0x00080018, r.instance.sop_instance_uid);
  set_text(a, 0x00080016, r.instance.sop_class_uid);
  set_number(a, 0x00200013, r.instance.instance_number);
  set_text(a, 0x00080023, r.instance.content_date);
  set_text(a, 0x00080033, r.instance.content_time);
  set_text(a, 0x00020016, r.instance.calling_ae_title);
  set_text(a, 0x00020010, r.instance.transfer_syntax_uid);
  AssociationContext::add(a.association().calling_ae, r.instance.calling_ae_title);
  AssociationContext::add(a.association().called_ae, r.instance.called_ae_title);
  // A key field wins over a copy in the JSON; a lower level over a higher one.
  a.add_dicom_json(r.instance.attributes_json);
  a.add_dicom_json(r.series.attributes_json);
  a.add_dicom_json(r.study.attributes_json);
  a.add_dicom_json(r.patient.attributes_json);
  return a;
}

Attributes attributes_of(const db::IndexedAttributes& indexed) {
  Attributes a = attributes_of(indexed.record);
  if (!indexed.modalities_in_study.empty()) a.set(0x00080061, indexed.modalities_in_study);
  if (!indexed.sop_classes_in_study.empty()) a.set(0x00080062, indexed.sop_classes_in_study);
  a.set(0x00201206, {std::to_string(indexed.number_of_study_related_series)});
  a.set(0x00201208, {std::to_string(indexed.number_of_study_related_instances)});
  if (indexed.has_series) a.set(0x00201209, {std::to_string(indexed.number_of_series_related_instances)});
  AssociationContext association;
  for (const auto& ae : indexed.calling_ae_titles) AssociationContext::add(association.calling_ae, ae);
  for (const auto& ae : indexed.called_ae_titles) AssociationContext::add(association.called_ae, ae);
  a.association() = std::move(association);
  return a;
}

const Attribute* IndexedSource::find(std::uint32_t tag) const {
  auto it = built_.find(tag);
  if (it != built_.end()) return &it->second;
  const auto* values = attributes_.find(tag);
  if (!values) return nullptr;
  Attribute a;
  a.tag = tag;
  a.vr = dicom::dictionary_vr(tag);
  for (const auto& v : *values) {
    if (!v.empty()) a.values.push_back(v);
  }
  return &built_.emplace(tag, std::move(a)).first->second;
}

}  // namespace pacsnode::routing
