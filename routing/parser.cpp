// The expression parser: precedence climbing (Pratt) over the lexer's tokens. Binding
// powers: or 1, and 2, not 3; a comparison is one operand, so `not a == 1 and b` reads
// ((not (a == 1)) and b).
#include <re2/re2.h>

#include <fmt/format.h>

#include "dicom/attribute_text.hpp"
#include "dicom/find_identifier.hpp"
#include "routing/ast.hpp"
#include "routing/lexer.hpp"

namespace pacsnode::routing::detail {
namespace {

constexpr int kOrPower = 1;
constexpr int kAndPower = 2;
constexpr int kNotPower = 3;

bool is_word(const Token& token, std::string_view word) {
  return token.kind == TokenKind::Identifier && token.value == word;
}

bool is_reserved(std::string_view word) {
  for (auto w : {"and", "or", "not", "in", "exists", "true", "false"}) {
    if (word == w) return true;
  }
  return false;
}

bool is_comparison(TokenKind kind) {
  return kind == TokenKind::Eq || kind == TokenKind::Ne || kind == TokenKind::Lt || kind == TokenKind::Le ||
         kind == TokenKind::Gt || kind == TokenKind::Ge || kind == TokenKind::Tilde;
}

std::string in_quotes(std::string_view s) { return fmt::format("\"{}\"", s); }

// How a token reads in "found ..." of a message.
std::string found(const Token& token) {
  switch (token.kind) {
    case TokenKind::Identifier: return is_reserved(token.value) ? token.value : in_quotes(token.value);
    case TokenKind::Tag: return "tag " + token.value;
    case TokenKind::String: return "string " + in_quotes(token.value);
    case TokenKind::Number: return "number " + token.value;
    case TokenKind::End: return std::string(describe(token.kind));
    default: return fmt::format("'{}'", describe(token.kind));
  }
}

const char* vr_meaning(ValueKind kind) {
  switch (kind) {
    case ValueKind::Number: return "a number";
    case ValueKind::Date: return "a date (YYYY, YYYYMM or YYYYMMDD)";
    case ValueKind::Time: return "a time (HH, HHMM, HHMMSS or HHMMSS.FFFFFF)";
    case ValueKind::DateTime: return "a date-time (YYYY to YYYYMMDDHHMMSS.FFFFFF, optionally &ZZXX)";
    default: return "text";
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), tokens_(tokenize(text)) {}

  std::unique_ptr<Node> run() {
    auto root = expression(0);
    const Token& next = peek();
    if (next.kind != TokenKind::End) {
      if (next.kind == TokenKind::RParen) fail(next, "unmatched ')'");
      if (is_comparison(next.kind)) {
        fail(next, fmt::format("unexpected {}: comparisons do not chain (write a < b and b < c)", found(next)));
      }
      const bool shouted = next.kind == TokenKind::Identifier && (next.value == "AND" || next.value == "OR");
      fail(next, fmt::format("expected and, or or the end of the expression, found {}{}", found(next),
                             shouted ? fmt::format(" (operators are written in lower case: {})",
                                                   next.value == "AND" ? "and" : "or")
                                     : std::string()));
    }
    return root;
  }

 private:
  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t i_ = 0;

  const Token& peek(std::size_t ahead = 0) const { return tokens_[std::min(i_ + ahead, tokens_.size() - 1)]; }
  const Token& take() {
    const Token& t = tokens_[i_];
    if (i_ + 1 < tokens_.size()) ++i_;
    return t;
  }
  const Token& previous() const { return tokens_[i_ == 0 ? 0 : i_ - 1]; }

  [[noreturn]] void fail(const Token& at, std::string message) const {
    throw ExpressionError(at.position, std::move(message));
  }

  static std::unique_ptr<Node> node(NodeKind kind, const Token& first) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->begin = first.begin;
    n->end = first.end;
    n->position = first.position;
    return n;
  }

  std::unique_ptr<Node> expression(int min_power) {
    auto left = prefix();
    for (;;) {
      const Token& op = peek();
      const int power = is_word(op, "and") ? kAndPower : is_word(op, "or") ? kOrPower : 0;
      if (power == 0 || power <= min_power) return left;
      take();
      auto right = expression(power);
      const NodeKind kind = power == kAndPower ? NodeKind::And : NodeKind::Or;
      // a and b and c is one node with three operands: a flatter trace.
      if (left->kind != kind) {
        auto joined = std::make_unique<Node>();
        joined->kind = kind;
        joined->begin = left->begin;
        joined->position = left->position;
        joined->children.push_back(std::move(left));
        left = std::move(joined);
      }
      left->end = right->end;
      left->children.push_back(std::move(right));
    }
  }

  std::unique_ptr<Node> prefix() {
    const Token& first = peek();
    if (is_word(first, "not")) {
      take();
      auto n = node(NodeKind::Not, first);
      auto operand = expression(kNotPower);
      n->end = operand->end;
      n->children.push_back(std::move(operand));
      return n;
    }
    if (first.kind == TokenKind::LParen) {
      take();
      auto inner = expression(0);
      if (peek().kind != TokenKind::RParen) {
        fail(peek(), fmt::format("expected ')' to close the '(' at {}:{}, found {}", first.position.line,
                                 first.position.column, found(peek())));
      }
      // The group is written with its parentheses: so its text and its parent's read.
      inner->begin = first.begin;
      inner->position = first.position;
      inner->end = take().end;
      return inner;
    }
    if (is_word(first, "exists")) {
      take();
      auto n = node(NodeKind::Exists, first);
      n->attribute = attribute(peek(), "exists");
      take();
      n->end = previous().end;
      return n;
    }
    if (is_word(first, "true") || is_word(first, "false")) {
      take();
      auto n = node(NodeKind::Constant, first);
      n->constant = first.value == "true";
      return n;
    }
    if (first.kind == TokenKind::Identifier && !is_reserved(first.value)) return comparison();
    if (first.kind == TokenKind::Tag) return comparison();
    if (first.kind == TokenKind::String || first.kind == TokenKind::Number) {
      fail(first, fmt::format("expected a condition, found {}: the attribute goes on the left, as in Modality == \"CT\"",
                              found(first)));
    }
    fail(first, fmt::format("expected a condition (an attribute compared with a value, exists, not or '('), found {}",
                            found(first)));
  }

  // A keyword, a tag or an association field; `after` names what came before, for messages.
  AttributeRef attribute(const Token& token, std::string_view after) const {
    AttributeRef ref;
    ref.name = token.value;
    if (token.kind == TokenKind::Tag) {
      ref.tag = token.tag;
      ref.dictionary_vr = dicom::dictionary_vr(token.tag);
      return ref;
    }
    if (token.kind != TokenKind::Identifier || is_reserved(token.value)) {
      fail(token, fmt::format("expected an attribute after {} (a keyword such as Modality, a tag such as (0008,0060), "
                              "CallingAE, CalledAE or CallingHost), found {}",
                              after, found(token)));
    }
    if (token.value == "CallingAE") ref.field = Field::CallingAE;
    if (token.value == "CalledAE") ref.field = Field::CalledAE;
    if (token.value == "CallingHost") ref.field = Field::CallingHost;
    if (ref.field != Field::Tag) return ref;
    if (auto key = dicom::key_for_keyword(token.value)) {
      ref.tag = key->tag;
      ref.dictionary_vr = dicom::dictionary_vr(key->tag);
      if (ref.dictionary_vr.empty()) ref.dictionary_vr = key->vr;
      return ref;
    }
    std::string hint;
    for (auto word : {"and", "or", "not", "in", "exists", "true", "false"}) {
      std::string upper;
      for (const char* c = word; *c; ++c) upper += static_cast<char>(*c - 'a' + 'A');
      if (token.value == upper) hint = fmt::format(" (operators are written in lower case: {})", word);
    }
    if (hint.empty()) {
      const auto similar = dicom::similar_keywords(token.value, 1);
      if (!similar.empty()) hint = fmt::format(" (did you mean \"{}\"?)", similar.front());
    }
    fail(token, fmt::format("unknown keyword \"{}\": not in the DICOM data dictionary{}", token.value, hint));
  }

  std::unique_ptr<Node> comparison() {
    const Token& first = take();
    AttributeRef ref = attribute(first, "");
    const Token& op = peek();
    std::unique_ptr<Node> n;
    if (is_comparison(op.kind) && op.kind != TokenKind::Tilde) {
      take();
      n = node(NodeKind::Compare, first);
      n->op = op.kind == TokenKind::Eq ? CompareOp::Eq : op.kind == TokenKind::Ne ? CompareOp::Ne
            : op.kind == TokenKind::Lt ? CompareOp::Lt : op.kind == TokenKind::Le ? CompareOp::Le
            : op.kind == TokenKind::Gt ? CompareOp::Gt : CompareOp::Ge;
      n->literals.push_back(literal(ref, std::string(describe(op.kind))));
    } else if (op.kind == TokenKind::Tilde) {
      take();
      n = node(NodeKind::Match, first);
      check_comparable(ref, first, "~");
      const Token& pattern = peek();
      if (pattern.kind != TokenKind::String) {
        fail(pattern, fmt::format("expected a regular expression in quotes after ~, found {}", found(pattern)));
      }
      take();
      RE2::Options options;
      options.set_log_errors(false);
      auto regex = std::make_shared<const RE2>(pattern.value, options);
      if (!regex->ok()) {
        fail(pattern, fmt::format("bad regular expression \"{}\": {}", pattern.value, regex->error()));
      }
      n->regex = std::move(regex);
    } else if (is_word(op, "in") || (is_word(op, "not") && is_word(peek(1), "in"))) {
      const bool negated = is_word(op, "not");
      take();
      if (negated) take();
      n = node(negated ? NodeKind::NotIn : NodeKind::In, first);
      const std::string what = negated ? "not in" : "in";
      const Token& open = peek();
      if (open.kind != TokenKind::LBracket) {
        fail(open, fmt::format("expected '[' after {}, as in Modality in [\"CT\", \"MR\"], found {}", what, found(open)));
      }
      take();
      if (peek().kind == TokenKind::RBracket) fail(peek(), fmt::format("{} [] needs at least one value", what));
      for (;;) {
        n->literals.push_back(literal(ref, what));
        if (peek().kind == TokenKind::Comma) {
          take();
          if (peek().kind == TokenKind::RBracket) break;  // a trailing comma is fine
          continue;
        }
        if (peek().kind == TokenKind::RBracket) break;
        fail(peek(), fmt::format("expected ',' or ']' in the list after {}, found {}", what, found(peek())));
      }
      take();
    } else {
      fail(op, fmt::format("expected a comparison after {} (==, !=, <, <=, >, >=, ~, in, not in), found {}; "
                           "to test presence write exists {}",
                           first.value, found(op), first.value));
    }
    n->attribute = std::move(ref);
    n->end = previous().end;
    return n;
  }

  ValueKind kind_of(const AttributeRef& ref) const {
    return ref.field == Field::Tag ? kind_of_vr(ref.dictionary_vr) : ValueKind::Text;
  }

  void check_comparable(const AttributeRef& ref, const Token& at, std::string_view op) const {
    if (kind_of(ref) == ValueKind::Binary) {
      fail(at, fmt::format("{} has VR {}: it holds no text to compare with {} (exists {} tests its presence)",
                           ref.name, ref.dictionary_vr, op, ref.name));
    }
  }

  // A string or number after `op`, checked against what the attribute's VR compares as.
  Literal literal(const AttributeRef& ref, const std::string& op) {
    const Token& token = peek();
    if (token.kind != TokenKind::String && token.kind != TokenKind::Number) {
      fail(token, fmt::format("expected a value (a string in quotes or a number) after {}, found {}", op, found(token)));
    }
    check_comparable(ref, token, op);
    take();
    Literal lit;
    lit.text = token.value;
    lit.number = parse_number(lit.text);
    lit.date = parse_date(lit.text);
    lit.time = parse_time(lit.text);
    lit.datetime = parse_datetime(lit.text);
    const ValueKind kind = kind_of(ref);
    const bool fits = kind == ValueKind::Number   ? lit.number.has_value()
                      : kind == ValueKind::Date     ? lit.date.has_value()
                      : kind == ValueKind::Time     ? lit.time.has_value()
                      : kind == ValueKind::DateTime ? lit.datetime.has_value()
                                                    : true;
    if (!fits) {
      fail(token, fmt::format("{} has VR {} and compares as {}: {} is not one", ref.name, ref.dictionary_vr,
                              vr_meaning(kind), token.kind == TokenKind::String ? in_quotes(lit.text) : lit.text));
    }
    return lit;
  }
};

}  // namespace

std::unique_ptr<Node> parse_tree(std::string_view text) { return Parser(text).run(); }

}  // namespace pacsnode::routing::detail
