// Evaluation of a parsed expression, with the trace that explains it when asked for.
// Semantics (README.md, "Routing rules"): a multi-valued attribute matches when any value
// does; an absent one (or one without a value) matches nothing, and `!=` / `not in` are
// false for it too; values compare by their VR as numbers, dates, times, date-times or text.
#include <re2/re2.h>

#include <fmt/format.h>

#include <span>

#include "routing/ast.hpp"

namespace pacsnode::routing::detail {
namespace {

// The values one condition looks at, whatever they come from.
struct Seen {
  std::span<const std::string> values;
  std::string_view vr;  // the value's VR if known, else the dictionary's
  bool present = false;
  bool opaque = false;
};

Seen look_up(const AttributeRef& ref, const AttributeSource& attributes, const AssociationContext& association) {
  Seen seen;
  const std::vector<std::string>* field = nullptr;
  switch (ref.field) {
    case Field::CallingAE: field = &association.calling_ae; break;
    case Field::CalledAE: field = &association.called_ae; break;
    case Field::CallingHost: field = &association.calling_host; break;
    case Field::Tag: {
      const Attribute* a = attributes.find(ref.tag);
      if (a == nullptr) return seen;
      seen.present = true;
      seen.values = a->values;
      seen.vr = a->vr.empty() ? std::string_view(ref.dictionary_vr) : std::string_view(a->vr);
      seen.opaque = a->opaque;
      return seen;
    }
  }
  if (!field->empty()) {
    seen.present = true;
    seen.values = std::span<const std::string>(*field);
  }
  return seen;
}

bool holds(CompareOp op, int order) {  // order: <0 value before literal, 0 equal, >0 after
  switch (op) {
    case CompareOp::Eq: return order == 0;
    case CompareOp::Ne: return order != 0;
    case CompareOp::Lt: return order < 0;
    case CompareOp::Le: return order <= 0;
    case CompareOp::Gt: return order > 0;
    case CompareOp::Ge: return order >= 0;
  }
  return false;
}

// Where a value's instant lies relative to a literal's interval: before, inside, after.
int order_in(std::int64_t value, const Interval& interval) {
  return value < interval.first ? -1 : value > interval.last ? 1 : 0;
}

// One value against one literal: nullopt when the value cannot be read as its VR says (a
// malformed date, a DS that is no number) or the literal has no such reading.
std::optional<bool> compare(std::string_view value, ValueKind kind, CompareOp op, const Literal& literal) {
  switch (kind) {
    case ValueKind::Number: {
      const auto v = parse_number(value);
      if (!v || !literal.number) return std::nullopt;
      return holds(op, *v < *literal.number ? -1 : *v > *literal.number ? 1 : 0);
    }
    case ValueKind::Date: {
      const auto v = parse_date(value);
      if (!v || !literal.date) return std::nullopt;
      return holds(op, order_in(v->first, *literal.date));
    }
    case ValueKind::Time: {
      const auto v = parse_time(value);
      if (!v || !literal.time) return std::nullopt;
      return holds(op, order_in(v->first, *literal.time));
    }
    case ValueKind::DateTime: {
      const auto v = parse_datetime(value);
      if (!v || !literal.datetime) return std::nullopt;
      return holds(op, order_in(v->first, *literal.datetime));
    }
    case ValueKind::Binary:
      return std::nullopt;
    case ValueKind::Text: {
      const int c = value.compare(literal.text);
      return holds(op, c < 0 ? -1 : c > 0 ? 1 : 0);
    }
  }
  return std::nullopt;
}

// Of `seen`'s values: does any satisfy `test`, and could any be compared at all.
struct Scan {
  bool any = false;
  bool comparable = false;
};

template <typename Test>
Scan scan(const Seen& seen, Test&& test) {
  Scan s;
  for (const std::string& value : seen.values) {
    const std::optional<bool> r = test(value);
    if (!r) continue;
    s.comparable = true;
    if (*r) {
      s.any = true;
      return s;
    }
  }
  return s;
}

// ----- trace text -----

constexpr std::size_t kMaxShownValues = 8;
constexpr std::size_t kMaxShownBytes = 64;

// At most kMaxShownBytes, cut on a character boundary.
std::string shorten(std::string_view value) {
  if (value.size() <= kMaxShownBytes) return std::string(value);
  std::size_t cut = kMaxShownBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return std::string(value.substr(0, cut)) + "…";
}

std::string shown_values(const Seen& seen) {
  std::string out = "\"";
  for (std::size_t i = 0; i < seen.values.size() && i < kMaxShownValues; ++i) {
    if (i > 0) out += '\\';
    out += shorten(seen.values[i]);
  }
  if (seen.values.size() > kMaxShownValues) out += fmt::format("\\… ({} values)", seen.values.size());
  return out + "\"";
}

const char* kind_noun(ValueKind kind) {
  switch (kind) {
    case ValueKind::Number: return "a number";
    case ValueKind::Date: return "a date";
    case ValueKind::Time: return "a time";
    case ValueKind::DateTime: return "a date-time";
    default: return "comparable";
  }
}

std::string absent_detail(const AttributeRef& ref, const Seen& seen) {
  if (seen.opaque) return fmt::format("{} has no text value ({})", ref.name, seen.vr);
  if (seen.present) return fmt::format("{} has no value", ref.name);
  return fmt::format("{} absent", ref.name);
}

std::string seen_detail(const AttributeRef& ref, const Seen& seen, bool comparable, ValueKind kind) {
  std::string out = fmt::format("{} is {}", ref.name, shown_values(seen));
  if (!comparable) {
    out += seen.values.size() == 1 ? fmt::format(" (not {}", kind_noun(kind))
                                   : fmt::format(" (none is {}", kind_noun(kind));
    out += seen.vr.empty() ? ")" : fmt::format(" for VR {})", seen.vr);
  }
  return out;
}

std::string folded(std::string_view text) {
  std::string out;
  bool space = false;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// ----- the evaluator -----

struct Evaluator {
  const AttributeSource& attributes;
  const AssociationContext& association;
  std::string_view text;

  bool run(const Node& node, TraceStep* trace) const {
    if (trace != nullptr) {
      trace->text = folded(text.substr(node.begin, node.end - node.begin));
      trace->position = node.position;
    }
    const bool result = decide(node, trace);
    if (trace != nullptr) trace->result = result;
    return result;
  }

  bool decide(const Node& node, TraceStep* trace) const {
    switch (node.kind) {
      case NodeKind::Constant:
        return node.constant;
      case NodeKind::Not: {
        TraceStep* child = trace ? &trace->children.emplace_back() : nullptr;
        return !run(*node.children.front(), child);
      }
      case NodeKind::And:
      case NodeKind::Or:
        return junction(node, trace);
      case NodeKind::Exists: {
        const Seen seen = look_up(node.attribute, attributes, association);
        const bool exists = !seen.values.empty() || seen.opaque;
        if (trace != nullptr) {
          trace->detail = exists ? (seen.opaque ? fmt::format("{} present ({})", node.attribute.name, seen.vr)
                                                : seen_detail(node.attribute, seen, true, ValueKind::Text))
                                 : absent_detail(node.attribute, seen);
        }
        return exists;
      }
      case NodeKind::Compare:
      case NodeKind::In:
      case NodeKind::NotIn:
      case NodeKind::Match:
        return condition(node, trace);
    }
    return false;
  }

  // and: the first false operand decides, else all do; or: the first true one, else all.
  bool junction(const Node& node, TraceStep* trace) const {
    const bool is_and = node.kind == NodeKind::And;
    if (trace == nullptr) {
      for (const auto& child : node.children) {
        if (run(*child, nullptr) != is_and) return !is_and;
      }
      return is_and;
    }
    std::vector<TraceStep> all;
    all.reserve(node.children.size());
    for (const auto& child : node.children) {
      TraceStep step;
      if (run(*child, &step) != is_and) {
        trace->children.push_back(std::move(step));
        return !is_and;
      }
      all.push_back(std::move(step));
    }
    trace->children = std::move(all);
    return is_and;
  }

  bool condition(const Node& node, TraceStep* trace) const {
    const Seen seen = look_up(node.attribute, attributes, association);
    if (seen.values.empty()) {
      if (trace != nullptr) {
        trace->detail = absent_detail(node.attribute, seen);
        if (node.kind == NodeKind::NotIn || (node.kind == NodeKind::Compare && node.op == CompareOp::Ne)) {
          trace->detail += fmt::format(" ({} is false for an attribute without a value)",
                                       node.kind == NodeKind::NotIn ? "not in" : "!=");
        }
      }
      return false;
    }
    const ValueKind kind = kind_of_vr(seen.vr);
    Scan s;
    bool result = false;
    switch (node.kind) {
      case NodeKind::Compare: {
        // != is "present and no value equal": the negation of == over the values.
        const CompareOp op = node.op == CompareOp::Ne ? CompareOp::Eq : node.op;
        s = scan(seen, [&](const std::string& v) { return compare(v, kind, op, node.literals.front()); });
        result = node.op == CompareOp::Ne ? !s.any : s.any;
        if (node.op == CompareOp::Ne) s.comparable = true;  // unreadable values are unequal, not a problem
        break;
      }
      case NodeKind::In:
      case NodeKind::NotIn:
        s = scan(seen, [&](const std::string& v) -> std::optional<bool> {
          bool comparable = false;
          for (const Literal& literal : node.literals) {
            const auto r = compare(v, kind, CompareOp::Eq, literal);
            if (r && *r) return true;
            comparable = comparable || r.has_value();
          }
          return comparable ? std::optional<bool>(false) : std::nullopt;
        });
        result = node.kind == NodeKind::NotIn ? !s.any : s.any;
        if (node.kind == NodeKind::NotIn) s.comparable = true;
        break;
      case NodeKind::Match:
        s = scan(seen, [&](const std::string& v) -> std::optional<bool> { return RE2::PartialMatch(v, *node.regex); });
        result = s.any;
        break;
      default:
        break;
    }
    if (trace != nullptr) trace->detail = seen_detail(node.attribute, seen, s.comparable || s.any, kind);
    return result;
  }
};

}  // namespace

bool evaluate_node(const Node& node, const AttributeSource& attributes, const AssociationContext& association,
                   std::string_view text, TraceStep* trace) {
  return Evaluator{attributes, association, text}.run(node, trace);
}

}  // namespace pacsnode::routing::detail
