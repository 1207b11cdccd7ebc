#pragma once
// Internal to routing/: the tokens of a rule expression.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "routing/expression.hpp"

namespace pacsnode::routing::detail {

enum class TokenKind {
  Identifier,  // keywords (Modality), association fields (CallingAE) and the words and, or, not, in, exists, true, false
  Tag,         // (gggg,eeee)
  String,      // "..." or '...'
  Number,      // 12, -3.5, 1e3
  Eq, Ne, Lt, Le, Gt, Ge, Tilde,
  LParen, RParen, LBracket, RBracket, Comma,
  End,
};

struct Token {
  TokenKind kind = TokenKind::End;
  std::size_t begin = 0;  // byte offsets into the text
  std::size_t end = 0;
  SourcePosition position;
  std::string value;      // String: unescaped; Number, Identifier: as written
  std::uint32_t tag = 0;  // Tag
};

// What a token kind is called in messages ("==", "a string", "the end of the expression").
std::string_view describe(TokenKind kind);

// Splits `text` into tokens, the last one End. Inside strings `\"`, `\'` and `\\` stand for
// the quote and the backslash; any other backslash stands for itself, so that regular
// expressions read as written ("\d+"). Throws ExpressionError (unexpected character,
// unterminated string).
std::vector<Token> tokenize(std::string_view text);

}  // namespace pacsnode::routing::detail
