// The rule language's lexer and parser: precedence, positions, and every error with its
// line:column.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "routing/ast.hpp"
#include "routing/expression.hpp"
#include "routing/lexer.hpp"

using namespace pacsnode::routing;
using detail::Node;
using detail::NodeKind;

namespace {

// The tree as an S-expression: (and (== Modality "CT") (not (exists BodyPartExamined))).
std::string shape(const Node& n) {
  static constexpr const char* kOps[] = {"==", "!=", "<", "<=", ">", ">="};
  std::string out = "(";
  switch (n.kind) {
    case NodeKind::And: out += "and"; break;
    case NodeKind::Or: out += "or"; break;
    case NodeKind::Not: out += "not"; break;
    case NodeKind::Compare: out += kOps[static_cast<int>(n.op)]; break;
    case NodeKind::In: out += "in"; break;
    case NodeKind::NotIn: out += "not-in"; break;
    case NodeKind::Match: out += "~"; break;
    case NodeKind::Exists: out += "exists"; break;
    case NodeKind::Constant: return n.constant ? "true" : "false";
  }
  if (!n.attribute.name.empty()) {
    out += ' ';
    out += n.attribute.name;
  }
  for (const auto& l : n.literals) {
    out += " \"";
    out += l.text;
    out += '"';
  }
  for (const auto& c : n.children) {
    out += ' ';
    out += shape(*c);
  }
  out += ')';
  return out;
}

std::string shape(std::string_view text) { return shape(*detail::parse_tree(text)); }

// Parses `text` expecting an error; returns "line:column: message".
std::string error_of(std::string_view text) {
  try {
    Expression::parse(text);
  } catch (const ExpressionError& e) {
    return e.what();
  }
  FAIL("no error for: " << text);
  return {};
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// The error is at `position` ("1:13") and its message mentions `fragment`.
void check_error(std::string_view text, std::string_view position, std::string_view fragment) {
  const std::string e = error_of(text);
  INFO("expression: " << text << "\nerror: " << e);
  CHECK(e.rfind(std::string(position) + ": ", 0) == 0);
  CHECK(contains(e, fragment));
}

}  // namespace

TEST_CASE("rules parser: and binds tighter than or, not tighter than and, comparisons tightest") {
  CHECK(shape(R"(Modality == "CT" or Modality == "MR" and Rows > 5)") ==
        R"((or (== Modality "CT") (and (== Modality "MR") (> Rows "5"))))");
  CHECK(shape(R"(not Modality == "CT" and Rows > 5)") == R"((and (not (== Modality "CT")) (> Rows "5")))");
  CHECK(shape(R"(not (Modality == "CT" and Rows > 5))") == R"((not (and (== Modality "CT") (> Rows "5"))))");
  CHECK(shape(R"((Modality == "CT" or Modality == "MR") and Rows > 5)") ==
        R"((and (or (== Modality "CT") (== Modality "MR")) (> Rows "5")))");
  CHECK(shape("not not exists Modality") == "(not (not (exists Modality)))");
}

TEST_CASE("rules parser: chains of and / or are one node; every operator parses") {
  CHECK(shape(R"(Rows == 1 and Rows != 2 and Rows < 3 and Rows <= 4 and Rows > 5 and Rows >= 6)") ==
        R"((and (== Rows "1") (!= Rows "2") (< Rows "3") (<= Rows "4") (> Rows "5") (>= Rows "6")))");
  CHECK(shape(R"(Modality in ["CT", "MR",] or Modality not in ['US'] or SeriesDescription ~ "(?i)lung" or true)") ==
        R"((or (in Modality "CT" "MR") (not-in Modality "US") (~ SeriesDescription) true))");
  CHECK(shape(R"((0008,0060) == "CT" and (0009,1001) == "x" and CallingAE == "A" and CalledAE == "B" and CallingHost == "h")") ==
        R"((and (== (0008,0060) "CT") (== (0009,1001) "x") (== CallingAE "A") (== CalledAE "B") (== CallingHost "h")))");
  CHECK(shape("false") == "false");
  CHECK(shape(R"((0008, 0060) == "CT")") == R"((== (0008,0060) "CT"))");  // spaces around the comma
  CHECK(shape(R"(((0008,0060) == "CT"))") == R"((== (0008,0060) "CT"))");  // a tag in parentheses
}

TEST_CASE("rules parser: keywords and tags resolve to tags and VRs once, at parse time") {
  const auto tree = detail::parse_tree(R"(Modality == "CT" and (0018,0050) > 1 and (0009,1001) == "x" and CallingAE == "M")");
  REQUIRE(tree->children.size() == 4);
  CHECK(tree->children[0]->attribute.tag == 0x00080060u);
  CHECK(tree->children[0]->attribute.dictionary_vr == "CS");
  CHECK(tree->children[1]->attribute.tag == 0x00180050u);
  CHECK(tree->children[1]->attribute.dictionary_vr == "DS");
  CHECK(tree->children[2]->attribute.tag == 0x00091001u);
  CHECK(tree->children[2]->attribute.dictionary_vr == "");  // private: the value's own VR decides
  CHECK(tree->children[3]->attribute.field == detail::Field::CallingAE);

  const Expression e = Expression::parse(R"(Rows > 1 and Modality == "CT" or Modality == "MR" or exists (0009,1001))");
  CHECK(e.tags() == std::vector<std::uint32_t>{0x00080060u, 0x00091001u, 0x00280010u});
}

TEST_CASE("rules parser: every node keeps its line:column; strings and numbers as written") {
  const std::string text = "Modality == \"CT\" and\n  (Rows > -1.5e2 or\n\tSeriesDescription ~ 'a\\'b\\\\.\\d')";
  const auto tree = detail::parse_tree(text);
  REQUIRE(tree->kind == NodeKind::And);
  CHECK(tree->position.line == 1);
  CHECK(tree->position.column == 1);
  const Node& rows = *tree->children[1]->children[0];
  CHECK(rows.position.line == 2);
  CHECK(rows.position.column == 4);
  CHECK(rows.literals[0].text == "-1.5e2");
  CHECK(rows.literals[0].number == doctest::Approx(-150.0));
  const Node& match = *tree->children[1]->children[1];
  CHECK(match.position.line == 3);
  CHECK(match.position.column == 2);  // a tab is one column
  CHECK(text.substr(match.begin, match.end - match.begin) == "SeriesDescription ~ 'a\\'b\\\\.\\d'");

  // Columns count characters, not bytes.
  const auto utf8 = detail::parse_tree("PatientName == \"Émile\" and Rows > 1");
  CHECK(utf8->children[1]->position.column == 28);
  check_error("PatientName == \"Émile\" and Bogus > 1", "1:28", "unknown keyword \"Bogus\"");

  // Escapes: \" \' \\ only; any other backslash stays (regular expressions read as written).
  const auto tokens = detail::tokenize(R"("a\"b" 'c\'d' "e\\f" "\d+\.")");
  CHECK(tokens[0].value == "a\"b");
  CHECK(tokens[1].value == "c'd");
  CHECK(tokens[2].value == "e\\f");
  CHECK(tokens[3].value == "\\d+\\.");
}

TEST_CASE("rules parser: lexical errors with their line:column") {
  check_error("Modality == \"CT\" $", "1:18", "unexpected character '$'");
  check_error("Modality == \"CT\" and Rows > 1 §", "1:31", "unexpected character '§'");
  check_error("Modality = \"CT\"", "1:10", "equality is written ==");
  check_error("Modality == \"CT\" && Rows > 1", "1:18", "joined with and");
  check_error("Modality == \"CT\" || Rows > 1", "1:18", "joined with or");
  check_error("! exists Modality", "1:1", "not for negation");
  check_error("Modality == \"CT", "1:13", "unterminated string");
  check_error("Modality ==\n  'CT", "2:3", "unterminated string");
  check_error("Rows > 12abc", "1:8", "malformed number '12abc'");
  check_error("Rows > 1.2.3", "1:8", "malformed number");
  check_error("Modality == \"CT\"\x01", "1:17", "control character 0x01");
}

TEST_CASE("rules parser: syntax errors with their line:column") {
  check_error("", "1:1", "expected a condition");
  check_error("   ", "1:4", "found the end of the expression");
  check_error("Modality \"CT\"", "1:10", "expected a comparison after Modality");
  check_error("Modality", "1:9", "to test presence write exists Modality");
  check_error("Modality ==", "1:12", "expected a value (a string in quotes or a number) after ==");
  check_error("Modality == Rows", "1:13", "expected a value");
  check_error("\"CT\" == Modality", "1:1", "the attribute goes on the left");
  check_error("5 < Rows", "1:1", "the attribute goes on the left");
  check_error("(Modality == \"CT\"", "1:18", "expected ')' to close the '(' at 1:1");
  check_error("Modality == \"CT\")", "1:17", "unmatched ')'");
  check_error("Modality == \"CT\" Rows > 1", "1:18", "expected and, or or the end");
  check_error("Modality == \"CT\" AND Rows > 1", "1:18", "written in lower case: and");
  check_error("Rows < 5 < 6", "1:10", "comparisons do not chain");
  check_error("Modality == \"CT\" and", "1:21", "expected a condition");
  check_error("Modality == \"CT\" and or", "1:22", "expected a condition");
  check_error("Modality ==\n\"CT\" and\n  (Rows > )", "3:11", "expected a value");
  check_error("exists", "1:7", "expected an attribute after exists");
  check_error("exists 5", "1:8", "expected an attribute after exists");
  check_error("not", "1:4", "expected a condition");
  check_error("Modality in \"CT\"", "1:13", "expected '[' after in");
  check_error("Modality in []", "1:14", "in [] needs at least one value");
  check_error("Modality in [\"CT\" \"MR\"]", "1:19", "expected ',' or ']'");
  check_error("Modality not in", "1:16", "expected '[' after not in");
  check_error("Modality not == \"CT\"", "1:10", "expected a comparison after Modality");
  check_error("SeriesDescription ~ 5", "1:21", "expected a regular expression in quotes");
}

TEST_CASE("rules parser: keywords, regular expressions and literals are checked against the dictionary") {
  check_error("Modalty == \"CT\"", "1:1", "unknown keyword \"Modalty\": not in the DICOM data dictionary (did you mean \"Modality\"?)");
  check_error("Modality == \"CT\" and\n  BodyPartExamind == \"CHEST\"", "2:3", "did you mean \"BodyPartExamined\"?");
  check_error("Zzzzzzzzzzzz == 1", "1:1", "unknown keyword \"Zzzzzzzzzzzz\"");
  check_error("SeriesDescription ~ \"(?i)lung|(thorax\"", "1:21", "bad regular expression \"(?i)lung|(thorax\": missing )");
  check_error("SeriesDescription ~ \"a**\"", "1:21", "bad regular expression");
  check_error("SeriesDescription ~ \"(a)\\1\"", "1:21", "bad regular expression");  // no backreferences in RE2
  check_error("StudyDate >= \"2024-01-01\"", "1:14", "StudyDate has VR DA and compares as a date");
  check_error("StudyDate in [\"20240101\", \"20241399\"]", "1:27", "is not one");
  check_error("StudyTime < \"25\"", "1:13", "StudyTime has VR TM and compares as a time");
  check_error("AcquisitionDateTime > \"2024+2500\"", "1:23", "VR DT");
  check_error("SliceThickness > \"thick\"", "1:18", "SliceThickness has VR DS and compares as a number: \"thick\" is not one");
  check_error("PixelData == \"x\"", "1:14", "holds no text to compare");
  check_error("ReferencedImageSequence ~ \"x\"", "1:1", "VR SQ");
  // Text compares with whatever is written; numbers and dates take strings that hold them.
  CHECK_NOTHROW(Expression::parse("PatientID == 123 and SliceThickness == \"5\" and StudyDate == 20240101"));
  CHECK_NOTHROW(Expression::parse("exists PixelData and exists ReferencedImageSequence"));
  CHECK_NOTHROW(Expression::parse("StudyDate == \"2024\" and StudyDate < \"202401\" and StudyTime >= \"0730\""));
}
