#include "routing/lexer.hpp"

#include <fmt/format.h>

namespace pacsnode::routing::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_identifier_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || is_digit(c); }

unsigned hex_value(std::string_view s) {
  unsigned v = 0;
  for (const char c : s) v = v * 16 + static_cast<unsigned>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
  return v;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    for (;;) {
      skip_space();
      Token token;
      token.begin = i_;
      token.position = position_;
      if (i_ == text_.size()) {
        token.kind = TokenKind::End;
        token.end = i_;
        tokens.push_back(std::move(token));
        return tokens;
      }
      scan(token);
      token.end = i_;
      tokens.push_back(std::move(token));
    }
  }

 private:
  std::string_view text_;
  std::size_t i_ = 0;
  SourcePosition position_;

  char peek(std::size_t ahead = 0) const { return i_ + ahead < text_.size() ? text_[i_ + ahead] : '\0'; }

  // Columns count code points: UTF-8 continuation bytes do not move the column.
  void advance(std::size_t n = 1) {
    for (; n > 0 && i_ < text_.size(); --n, ++i_) {
      const auto c = static_cast<unsigned char>(text_[i_]);
      if (c == '\n') {
        ++position_.line;
        position_.column = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++position_.column;
      }
    }
  }

  void skip_space() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') advance();
  }

  [[noreturn]] void fail(SourcePosition at, std::string message) const { throw ExpressionError(at, std::move(message)); }

  // "(gggg,eeee)" at the current position, spaces allowed around the comma: its length.
  std::size_t tag_ahead() const {
    std::size_t k = i_ + 1;
    auto hex4 = [&] {
      for (int n = 0; n < 4; ++n, ++k) {
        if (k >= text_.size() || !is_hex(text_[k])) return false;
      }
      return true;
    };
    auto spaces = [&] {
      while (k < text_.size() && text_[k] == ' ') ++k;
    };
    if (!hex4()) return 0;
    spaces();
    if (k >= text_.size() || text_[k] != ',') return 0;
    ++k;
    spaces();
    if (!hex4()) return 0;
    if (k >= text_.size() || text_[k] != ')') return 0;
    return k + 1 - i_;
  }

  void scan(Token& token) {
    const char c = peek();
    const SourcePosition at = position_;
    auto one = [&](TokenKind kind, std::size_t length = 1) {
      token.kind = kind;
      advance(length);
    };
    switch (c) {
      case '(':
        if (const std::size_t length = tag_ahead()) {
          const std::string_view written = text_.substr(i_, length);
          token.kind = TokenKind::Tag;
          token.tag = hex_value(written.substr(1, 4)) << 16 | hex_value(written.substr(length - 5, 4));
          token.value = fmt::format("({},{})", written.substr(1, 4), written.substr(length - 5, 4));
          advance(length);
          return;
        }
        return one(TokenKind::LParen);
      case ')': return one(TokenKind::RParen);
      case '[': return one(TokenKind::LBracket);
      case ']': return one(TokenKind::RBracket);
      case ',': return one(TokenKind::Comma);
      case '~': return one(TokenKind::Tilde);
      case '<': return peek(1) == '=' ? one(TokenKind::Le, 2) : one(TokenKind::Lt);
      case '>': return peek(1) == '=' ? one(TokenKind::Ge, 2) : one(TokenKind::Gt);
      case '=':
        if (peek(1) == '=') return one(TokenKind::Eq, 2);
        fail(at, "unexpected '='; equality is written ==");
      case '!':
        if (peek(1) == '=') return one(TokenKind::Ne, 2);
        fail(at, "unexpected '!'; write != for \"not equal\" or not for negation");
      case '&':
        fail(at, "unexpected '&'; conditions are joined with and");
      case '|':
        fail(at, "unexpected '|'; conditions are joined with or");
      case '"':
      case '\'':
        return string(token, c);
      default:
        break;
    }
    if (is_digit(c) || ((c == '-' || c == '+' || c == '.') && (is_digit(peek(1)) || (peek(1) == '.' && is_digit(peek(2)))))) {
      return number(token);
    }
    if (is_identifier_start(c)) {
      const std::size_t start = i_;
      while (is_identifier_char(peek())) advance();
      token.kind = TokenKind::Identifier;
      token.value = std::string(text_.substr(start, i_ - start));
      return;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) fail(at, fmt::format("unexpected control character 0x{:02X}", static_cast<unsigned>(static_cast<unsigned char>(c))));
    // One whole UTF-8 sequence, so that the message shows the character.
    std::size_t length = 1;
    while (i_ + length < text_.size() && (static_cast<unsigned char>(text_[i_ + length]) & 0xC0) == 0x80) ++length;
    fail(at, fmt::format("unexpected character '{}'", text_.substr(i_, length)));
  }

  void string(Token& token, char quote) {
    const SourcePosition at = position_;
    token.kind = TokenKind::String;
    advance();
    for (;;) {
      if (i_ == text_.size()) fail(at, fmt::format("unterminated string: no closing {}", quote));
      const char c = peek();
      if (c == quote) {
        advance();
        return;
      }
      if (c == '\\' && (peek(1) == quote || peek(1) == '\\')) {
        token.value += peek(1);
        advance(2);
        continue;
      }
      token.value += c;
      advance();
    }
  }

  // Digits with an optional sign, fraction and exponent; letters right after (12abc) are an
  // error here rather than a confusing one later.
  void number(Token& token) {
    const SourcePosition at = position_;
    const std::size_t start = i_;
    token.kind = TokenKind::Number;
    if (peek() == '-' || peek() == '+') advance();
    while (is_digit(peek())) advance();
    if (peek() == '.') {
      advance();
      while (is_digit(peek())) advance();
    }
    if ((peek() == 'e' || peek() == 'E') && (is_digit(peek(1)) || ((peek(1) == '-' || peek(1) == '+') && is_digit(peek(2))))) {
      advance(2);
      while (is_digit(peek())) advance();
    }
    token.value = std::string(text_.substr(start, i_ - start));
    if (is_identifier_char(peek()) || peek() == '.') {
      while (is_identifier_char(peek()) || peek() == '.') advance();
      fail(at, fmt::format("malformed number '{}' (a text value is written in quotes)", text_.substr(start, i_ - start)));
    }
  }
};

}  // namespace

std::string_view describe(TokenKind kind) {
  switch (kind) {
    case TokenKind::Identifier: return "a name";
    case TokenKind::Tag: return "a tag";
    case TokenKind::String: return "a string";
    case TokenKind::Number: return "a number";
    case TokenKind::Eq: return "==";
    case TokenKind::Ne: return "!=";
    case TokenKind::Lt: return "<";
    case TokenKind::Le: return "<=";
    case TokenKind::Gt: return ">";
    case TokenKind::Ge: return ">=";
    case TokenKind::Tilde: return "~";
    case TokenKind::LParen: return "(";
    case TokenKind::RParen: return ")";
    case TokenKind::LBracket: return "[";
    case TokenKind::RBracket: return "]";
    case TokenKind::Comma: return ",";
    case TokenKind::End: return "the end of the expression";
  }
  return "?";
}

std::vector<Token> tokenize(std::string_view text) { return Lexer(text).run(); }

}  // namespace pacsnode::routing::detail
