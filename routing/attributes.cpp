#include "routing/attributes.hpp"

#include <algorithm>

namespace pacsnode::routing {

void AttributeSet::set(Attribute attribute) {
  // Sources add in tag order almost always: appending is the common case.
  if (sorted_.empty() || sorted_.back().tag < attribute.tag) {
    sorted_.push_back(std::move(attribute));
    return;
  }
  const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), attribute.tag,
                                   [](const Attribute& a, std::uint32_t tag) { return a.tag < tag; });
  if (it != sorted_.end() && it->tag == attribute.tag) {
    *it = std::move(attribute);
  } else {
    sorted_.insert(it, std::move(attribute));
  }
}

void AttributeSet::set(std::uint32_t tag, std::string vr, std::vector<std::string> values) {
  set(Attribute{tag, std::move(vr), std::move(values), false});
}

void AttributeSet::set_text(std::uint32_t tag, std::string vr, std::string value) {
  std::vector<std::string> values;
  if (!value.empty()) values.push_back(std::move(value));
  set(tag, std::move(vr), std::move(values));
}

const Attribute* AttributeSet::find(std::uint32_t tag) const {
  const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), tag,
                                   [](const Attribute& a, std::uint32_t t) { return a.tag < t; });
  return it != sorted_.end() && it->tag == tag ? &*it : nullptr;
}

}  // namespace pacsnode::routing

namespace pacsnode::routing {

void AssociationContext::add(std::vector<std::string>& field, std::string value) {
  if (value.empty() || std::find(field.begin(), field.end(), value) != field.end()) return;
  field.push_back(std::move(value));
}

}  // namespace pacsnode::routing
