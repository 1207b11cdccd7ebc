#pragma once
// Internal to routing/: the parsed form of an expression. Every node keeps where it was
// written, so that errors and traces point at line:column.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "routing/expression.hpp"
#include "routing/values.hpp"

namespace re2 {
class RE2;
}

namespace pacsnode::routing::detail {

enum class NodeKind { And, Or, Not, Compare, In, NotIn, Match, Exists, Constant };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };
enum class Field { Tag, CallingAE, CalledAE, CallingHost };

struct AttributeRef {
  Field field = Field::Tag;
  std::uint32_t tag = 0;        // Field::Tag
  std::string name;             // as written: "Modality", "(0009,1001)", "CallingAE"
  std::string dictionary_vr;    // "" when the dictionary does not know the tag
};

// A literal with every reading of it prepared at load, so that evaluation parses only the
// resource's values. Which reading applies depends on the value's VR.
struct Literal {
  std::string text;             // the string's content, or the number as written
  std::optional<double> number;
  std::optional<Interval> date;
  std::optional<Interval> time;
  std::optional<Interval> datetime;
};

struct Node {
  NodeKind kind = NodeKind::Constant;
  std::size_t begin = 0;  // byte offsets of the node's text in the expression
  std::size_t end = 0;
  SourcePosition position;
  std::vector<std::unique_ptr<Node>> children;  // And, Or (two or more), Not (one)
  AttributeRef attribute;                        // Compare, In, NotIn, Match, Exists
  CompareOp op = CompareOp::Eq;                  // Compare
  std::vector<Literal> literals;                 // Compare (one), In and NotIn (one or more)
  std::shared_ptr<const re2::RE2> regex;         // Match
  bool constant = false;                         // Constant
};

// Parses `text` into a tree. Throws ExpressionError.
std::unique_ptr<Node> parse_tree(std::string_view text);

// Evaluates; fills `trace` when it is not null.
bool evaluate_node(const Node& node, const AttributeSource& attributes, const AssociationContext& association,
                   std::string_view text, TraceStep* trace);

}  // namespace pacsnode::routing::detail
