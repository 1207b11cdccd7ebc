#pragma once
// What a rule sees of a resource: its attributes by tag, each with its values as text, in
// the form the index holds them (UTF-8; DA "YYYYMMDD", TM "HHMMSS[.F]", numbers in decimal,
// PN as "Alphabetic=Ideographic=Phonetic"). Built the same way from the index (what the
// sweeper evaluates) and from a file (what `pacsnode rules test FILE.dcm` evaluates), so the
// two cannot disagree.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/index_record.hpp"
#include "routing/attributes.hpp"

namespace pacsnode::db {
struct IndexedAttributes;
}

namespace pacsnode::routing {

class Attributes {
 public:
  using Values = std::vector<std::string>;

  // The attribute's values; nullptr when the resource has no such attribute. An attribute
  // without a value (or a sequence, or binary data) is present with no values.
  const Values* find(std::uint32_t tag) const;
  // The first value, or "" when absent or empty.
  std::string first(std::uint32_t tag) const;
  bool has(std::uint32_t tag) const { return find(tag) != nullptr; }
  std::size_t size() const { return values_.size(); }

  // Sets (replaces) one attribute.
  void set(std::uint32_t tag, Values values);
  // Adds the attributes of a DICOM JSON model object (PS3.18 F.2, a level's stored
  // attributes) that are not set yet. Malformed JSON adds nothing.
  void add_dicom_json(std::string_view json);

  // What the index keeps of the association(s) the resource came over: CallingAE and
  // CalledAE (every distinct value of a series' or study's instances). The index keeps no
  // CallingHost.
  const AssociationContext& association() const { return association_; }
  AssociationContext& association() { return association_; }

 private:
  std::unordered_map<std::uint32_t, Values> values_;
  AssociationContext association_;
};

// Attributes as the rules engine reads them (Expression::evaluate, RuleSet::explain): each
// attribute with its dictionary VR, built when a rule first asks for it. Not thread-safe;
// one per evaluation. `attributes` must outlive it.
class IndexedSource final : public AttributeSource {
 public:
  explicit IndexedSource(const Attributes& attributes) : attributes_(attributes) {}
  const Attribute* find(std::uint32_t tag) const override;

 private:
  const Attributes& attributes_;
  mutable std::map<std::uint32_t, Attribute> built_;
};

// An index record's attributes: its key fields under their tags (an empty field is
// absent), then each level's DICOM JSON, instance first. The calling AE title appears as
// SourceApplicationEntityTitle (0002,0016), the transfer syntax as TransferSyntaxUID
// (0002,0010), when set; the calling and called AE titles as association(). For a file: attributes_of(dicom::extract_index_record(path)) plus
// the header's source AE title.
Attributes attributes_of(const IndexRecord& record);
// The same for a resource read from the index, with the derived study and series
// attributes (ModalitiesInStudy, SOPClassesInStudy, NumberOfStudyRelatedSeries,
// NumberOfStudyRelatedInstances, NumberOfSeriesRelatedInstances), and as association() the
// calling and called AE titles of all its instances.
Attributes attributes_of(const db::IndexedAttributes& indexed);

}  // namespace pacsnode::routing
