#pragma once
// What a rule reads: the attributes of one resource (an instance being stored, a file, a
// series or study as the index holds it) and the association it came over.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::routing {

struct Attribute {
  std::uint32_t tag = 0;            // 0xggggeeee
  std::string vr;                   // "CS", "DA", ...; "" when unknown (then compared as text)
  std::vector<std::string> values;  // UTF-8, padding trimmed; empty: no value (the attribute counts as absent)
  // A value that has no text form (a sequence with items, binary data): `exists` is true,
  // comparisons see no value.
  bool opaque = false;
};

// The attributes of one resource, looked up by tag. Implement it over whatever holds them
// (a data set, index rows); AttributeSet is the ready-made one.
class AttributeSource {
 public:
  virtual ~AttributeSource() = default;
  // The attribute with this tag, or nullptr when the resource does not have it.
  virtual const Attribute* find(std::uint32_t tag) const = 0;
};

// Attributes in a vector kept sorted by tag: cheap to build in tag order, binary search to read.
class AttributeSet final : public AttributeSource {
 public:
  // Adds the attribute, replacing one with the same tag.
  void set(Attribute attribute);
  void set(std::uint32_t tag, std::string vr, std::vector<std::string> values);
  // The attribute with one text value; an empty `value` sets no value (absent for rules).
  void set_text(std::uint32_t tag, std::string vr, std::string value);
  const Attribute* find(std::uint32_t tag) const override;
  const std::vector<Attribute>& attributes() const { return sorted_; }
  std::size_t size() const { return sorted_.size(); }

 private:
  std::vector<Attribute> sorted_;
};

// The association(s) a resource came over: CallingAE, CalledAE and CallingHost in rules.
// One value for an instance; for a series or study, every distinct value of its instances
// (a rule matches when any does, like a multi-valued attribute). A field without a value is
// absent for rules (e.g. CalledAE for an instance from STOW-RS, or all three in `pacsnode
// rules test FILE` without options). Holds no empty strings: add values with add().
struct AssociationContext {
  // Appends `value` to `field` unless it is empty or already there.
  static void add(std::vector<std::string>& field, std::string value);

  std::vector<std::string> calling_ae;    // trimmed
  std::vector<std::string> called_ae;     // trimmed
  std::vector<std::string> calling_host;  // numeric address or host name
};

}  // namespace pacsnode::routing
