#pragma once
// The `when` of a rule: a small expression language over DICOM attributes, parsed once into
// a tree that is evaluated (never re-parsed) per resource, and that can explain its result.
//
//   Modality == "CT" and (BodyPartExamined == "CHEST" or SeriesDescription ~ "(?i)lung")
//
// Grammar, operators and comparison semantics: README.md, "Routing rules". RE2 and DCMTK
// stay inside the .cpp files.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "routing/attributes.hpp"

namespace pacsnode::routing {

namespace detail {
struct Node;
}

// A place inside the expression's text, counted from 1 (columns in code points).
struct SourcePosition {
  unsigned line = 1;
  unsigned column = 1;
};

// A syntax error, an unknown keyword, a bad regular expression, a literal that the
// attribute's VR cannot compare with. what() reads "<line>:<column>: <message>".
class ExpressionError : public std::runtime_error {
 public:
  ExpressionError(SourcePosition position, std::string message);
  SourcePosition position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  SourcePosition position_;
  std::string message_;
};

// Why an expression came out as it did: one step per sub-expression that decided the result
// (for `a and b` that is false: the first false operand; true: every operand), each with
// the values it saw.
struct TraceStep {
  std::string text;          // the sub-expression as written, whitespace runs folded to one space
  SourcePosition position;
  bool result = false;
  std::string detail;        // `Modality is "MR"`, `BodyPartExamined absent`; "" for and/or/not
  std::vector<TraceStep> children;
};

class Expression {
 public:
  // Parses and checks `text`: keywords are resolved to tags (DCMTK's dictionary), literals
  // checked against the attribute's VR, regular expressions compiled (RE2). Throws
  // ExpressionError.
  static Expression parse(std::string_view text);

  // True when the resource matches. Thread-safe; allocates nothing on the common paths.
  bool evaluate(const AttributeSource& attributes, const AssociationContext& association) const;
  // The same result, and in `trace` why.
  bool evaluate(const AttributeSource& attributes, const AssociationContext& association, TraceStep& trace) const;

  const std::string& text() const { return text_; }
  // The tags the expression reads, sorted, each once (association fields are not tags).
  const std::vector<std::uint32_t>& tags() const { return tags_; }

 private:
  std::shared_ptr<const detail::Node> root_;
  std::string text_;
  std::vector<std::uint32_t> tags_;
};

// The trace as lines "<text> at <line>:<column>: true|false (<detail>)", children indented
// two more spaces than their parent; the first line indented by `indent` spaces.
std::string format_trace(const TraceStep& trace, int indent = 0);

}  // namespace pacsnode::routing
