#include "routing/expression.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "routing/ast.hpp"

namespace pacsnode::routing {
namespace {

void collect_tags(const detail::Node& node, std::vector<std::uint32_t>& tags) {
  if (node.kind != detail::NodeKind::And && node.kind != detail::NodeKind::Or && node.kind != detail::NodeKind::Not &&
      node.kind != detail::NodeKind::Constant && node.attribute.field == detail::Field::Tag) {
    tags.push_back(node.attribute.tag);
  }
  for (const auto& child : node.children) collect_tags(*child, tags);
}

void append_trace(std::string& out, const TraceStep& step, int indent) {
  out.append(static_cast<std::size_t>(indent), ' ');
  out += fmt::format("{} at {}:{}: {}", step.text, step.position.line, step.position.column,
                     step.result ? "true" : "false");
  if (!step.detail.empty()) out += fmt::format(" ({})", step.detail);
  out += '\n';
  for (const auto& child : step.children) append_trace(out, child, indent + 2);
}

}  // namespace

ExpressionError::ExpressionError(SourcePosition position, std::string message)
    : std::runtime_error(fmt::format("{}:{}: {}", position.line, position.column, message)),
      position_(position),
      message_(std::move(message)) {}

Expression Expression::parse(std::string_view text) {
  Expression e;
  e.text_ = std::string(text);
  e.root_ = detail::parse_tree(e.text_);
  collect_tags(*e.root_, e.tags_);
  std::sort(e.tags_.begin(), e.tags_.end());
  e.tags_.erase(std::unique(e.tags_.begin(), e.tags_.end()), e.tags_.end());
  return e;
}

bool Expression::evaluate(const AttributeSource& attributes, const AssociationContext& association) const {
  return root_ != nullptr && detail::evaluate_node(*root_, attributes, association, text_, nullptr);
}

bool Expression::evaluate(const AttributeSource& attributes, const AssociationContext& association,
                          TraceStep& trace) const {
  trace = TraceStep{};
  if (root_ == nullptr) return false;
  return detail::evaluate_node(*root_, attributes, association, text_, &trace);
}

std::string format_trace(const TraceStep& trace, int indent) {
  std::string out;
  append_trace(out, trace, indent);
  return out;
}

}  // namespace pacsnode::routing
