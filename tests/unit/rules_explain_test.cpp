// Explanations: the trace of sub-expressions that decided a result, with the values seen;
// and rule sets: order, fallback, the tags they read, actions.
#include <doctest/doctest.h>

#include <string>

#include "routing/expression.hpp"
#include "routing/rules.hpp"

using namespace pacsnode::routing;

namespace {

AttributeSet mr() {
  AttributeSet a;
  a.set(0x00080008, "CS", {"DERIVED", "SECONDARY", "OTHER"});
  a.set(0x00080021, "DA", {"garbage"});
  a.set(0x00080060, "CS", {"MR"});
  a.set(0x0008103E, "LO", {"Thorax AX T1"});
  a.set(Attribute{0x00101002, "SQ", {}, true});
  return a;
}

std::string explain(std::string_view text, const AttributeSource& attributes = mr(),
                    const AssociationContext& association = {}) {
  TraceStep trace;
  Expression::parse(text).evaluate(attributes, association, trace);
  return format_trace(trace);
}

Rule rule(std::string name, Trigger on, std::string_view when, int priority = 0, bool fallback = false) {
  Rule r;
  r.name = std::move(name);
  r.on = on;
  r.when = Expression::parse(when);
  r.then = {Action{Verb::Forward, "archive"}};
  r.priority = priority;
  r.fallback = fallback;
  return r;
}

std::vector<std::string> names(const std::vector<const Rule*>& rules) {
  std::vector<std::string> out;
  for (const Rule* r : rules) out.push_back(r->name);
  return out;
}

}  // namespace

TEST_CASE("rules explain: a comparison shows what it saw") {
  CHECK(explain(R"(Modality == "CT")") == "Modality == \"CT\" at 1:1: false (Modality is \"MR\")\n");
  CHECK(explain(R"(BodyPartExamined == "CHEST")") ==
        "BodyPartExamined == \"CHEST\" at 1:1: false (BodyPartExamined absent)\n");
  CHECK(explain(R"(BodyPartExamined != "CHEST")") ==
        "BodyPartExamined != \"CHEST\" at 1:1: false (BodyPartExamined absent (!= is false for an attribute "
        "without a value))\n");
  CHECK(explain(R"(BodyPartExamined not in ["CHEST"])").find("absent (not in is false") != std::string::npos);
  CHECK(explain(R"(ImageType == "OTHER")") ==
        "ImageType == \"OTHER\" at 1:1: true (ImageType is \"DERIVED\\SECONDARY\\OTHER\")\n");
  CHECK(explain(R"(SeriesDate >= "2000")") ==
        "SeriesDate >= \"2000\" at 1:1: false (SeriesDate is \"garbage\" (not a date for VR DA))\n");
  CHECK(explain("exists OtherPatientIDsSequence") ==
        "exists OtherPatientIDsSequence at 1:1: true (OtherPatientIDsSequence present (SQ))\n");
  CHECK(explain("exists Modality") == "exists Modality at 1:1: true (Modality is \"MR\")\n");
  CHECK(explain(R"(CallingAE == "CT1")") == "CallingAE == \"CT1\" at 1:1: false (CallingAE absent)\n");
  CHECK(explain(R"(CallingAE == "CT1")", mr(), {{"MR7"}, {}, {}}) ==
        "CallingAE == \"CT1\" at 1:1: false (CallingAE is \"MR7\")\n");
  CHECK(explain(R"((0009,1001) == "x")") == "(0009,1001) == \"x\" at 1:1: false ((0009,1001) absent)\n");
  CHECK(explain("true") == "true at 1:1: true\n");
}

TEST_CASE("rules explain: the example of the issue, step by step") {
  const char* when = R"(Modality == "CT" and (BodyPartExamined == "CHEST" or SeriesDescription ~ "(?i)lung|thorax"))";
  // MR: the first operand of `and` decides alone.
  CHECK(explain(when) == "Modality == \"CT\" and (BodyPartExamined == \"CHEST\" or SeriesDescription ~ "
                         "\"(?i)lung|thorax\") at 1:1: false\n"
                         "  Modality == \"CT\" at 1:1: false (Modality is \"MR\")\n");
  // CT with a thorax series: every operand of a true `and`, the first true one of `or`.
  AttributeSet ct;
  ct.set(0x00080060, "CS", {"CT"});
  ct.set(0x0008103E, "LO", {"Thorax 1.0"});
  CHECK(explain(when, ct) == "Modality == \"CT\" and (BodyPartExamined == \"CHEST\" or SeriesDescription ~ "
                             "\"(?i)lung|thorax\") at 1:1: true\n"
                             "  Modality == \"CT\" at 1:1: true (Modality is \"CT\")\n"
                             "  (BodyPartExamined == \"CHEST\" or SeriesDescription ~ \"(?i)lung|thorax\") at 1:22: true\n"
                             "    SeriesDescription ~ \"(?i)lung|thorax\" at 1:54: true (SeriesDescription is \"Thorax 1.0\")\n");
  // CT, neither: a false `or` shows every operand.
  ct.set(0x0008103E, "LO", {"Head"});
  CHECK(explain(when, ct) == "Modality == \"CT\" and (BodyPartExamined == \"CHEST\" or SeriesDescription ~ "
                             "\"(?i)lung|thorax\") at 1:1: false\n"
                             "  (BodyPartExamined == \"CHEST\" or SeriesDescription ~ \"(?i)lung|thorax\") at 1:22: false\n"
                             "    BodyPartExamined == \"CHEST\" at 1:23: false (BodyPartExamined absent)\n"
                             "    SeriesDescription ~ \"(?i)lung|thorax\" at 1:54: false (SeriesDescription is \"Head\")\n");
}

TEST_CASE("rules explain: not, multi-line text, long and many values") {
  CHECK(explain("not exists BodyPartExamined") == "not exists BodyPartExamined at 1:1: true\n"
                                                   "  exists BodyPartExamined at 1:5: false (BodyPartExamined absent)\n");
  CHECK(explain("Modality == \"MR\"\n  and\tImageType == \"OTHER\"") ==
        "Modality == \"MR\" and ImageType == \"OTHER\" at 1:1: true\n"
        "  Modality == \"MR\" at 1:1: true (Modality is \"MR\")\n"
        "  ImageType == \"OTHER\" at 2:7: true (ImageType is \"DERIVED\\SECONDARY\\OTHER\")\n");
  AttributeSet big;
  big.set(0x0008103E, "LO", {std::string(100, 'x')});
  std::vector<std::string> many;
  for (int i = 0; i < 20; ++i) many.push_back(std::to_string(i));
  big.set(0x00200032, "DS", many);
  CHECK(explain(R"(SeriesDescription == "y")", big) ==
        "SeriesDescription == \"y\" at 1:1: false (SeriesDescription is \"" + std::string(64, 'x') + "…\")\n");
  CHECK(explain("ImagePositionPatient == 100", big) ==
        "ImagePositionPatient == 100 at 1:1: false (ImagePositionPatient is \"0\\1\\2\\3\\4\\5\\6\\7\\… (20 values)\")\n");
}

TEST_CASE("rules explain: the trace is indented for printing under a rule") {
  TraceStep trace;
  Expression::parse("not false").evaluate(mr(), {}, trace);
  CHECK(format_trace(trace, 4) == "    not false at 1:1: true\n      false at 1:5: false\n");
}

TEST_CASE("rule sets: evaluation order is priority, higher first, ties in file order") {
  const RuleSet set({rule("a", Trigger::Instance, "true"), rule("b", Trigger::Instance, "true", 10),
                     rule("c", Trigger::Instance, "true"), rule("d", Trigger::Instance, "true", 10),
                     rule("e", Trigger::Instance, "true", -1)});
  std::vector<std::string> order;
  for (const auto& r : set.rules()) order.push_back(r.name);
  CHECK(order == std::vector<std::string>{"b", "d", "a", "c", "e"});
  CHECK(names(set.match(Trigger::Instance, mr(), {})) == std::vector<std::string>{"b", "d", "a", "c", "e"});
  CHECK(set.find("c") != nullptr);
  CHECK(set.find("z") == nullptr);
}

TEST_CASE("rule sets: each `on` is evaluated on its own; fallbacks only when no other rule of the same `on` matched") {
  const RuleSet set({rule("mr", Trigger::Instance, R"(Modality == "MR")"),
                     rule("ct", Trigger::Instance, R"(Modality == "CT")"),
                     rule("rest", Trigger::Instance, "true", 0, true),
                     rule("rest-mr", Trigger::Instance, R"(Modality == "MR")", 5, true),
                     rule("ct-series", Trigger::Series, R"(Modality == "CT")"),
                     rule("series-rest", Trigger::Series, "true", 0, true)});
  CHECK(set.has(Trigger::Instance));
  CHECK(set.has(Trigger::Series));
  CHECK_FALSE(set.has(Trigger::Study));
  CHECK(names(set.match(Trigger::Instance, mr(), {})) == std::vector<std::string>{"mr"});
  // No instance rule matches a US image: its fallbacks whose conditions hold run.
  AttributeSet us;
  us.set(0x00080060, "CS", {"US"});
  CHECK(names(set.match(Trigger::Instance, us, {})) == std::vector<std::string>{"rest"});
  // The series fallback runs for MR although an instance rule matched: another `on`.
  CHECK(names(set.match(Trigger::Series, mr(), {})) == std::vector<std::string>{"series-rest"});
  CHECK(set.match(Trigger::Study, mr(), {}).empty());

  const auto outcomes = set.explain(Trigger::Instance, mr(), {});
  REQUIRE(outcomes.size() == 4);
  CHECK(outcomes[0].rule->name == "rest-mr");  // priority 5
  CHECK_FALSE(outcomes[0].matched);
  CHECK(outcomes[0].suppressed);               // its condition holds, but "mr" matched
  CHECK(outcomes[0].trace.result);
  CHECK(outcomes[1].rule->name == "mr");
  CHECK(outcomes[1].matched);
  CHECK(outcomes[2].rule->name == "ct");
  CHECK_FALSE(outcomes[2].matched);
  CHECK_FALSE(outcomes[2].suppressed);
  CHECK(outcomes[3].rule->name == "rest");
  CHECK(outcomes[3].suppressed);
  const auto us_outcomes = set.explain(Trigger::Instance, us, {});
  CHECK(us_outcomes[3].matched);
  CHECK_FALSE(us_outcomes[0].matched);  // rest-mr: its condition is false
  CHECK_FALSE(us_outcomes[0].suppressed);
}

TEST_CASE("rule sets: the tags each `on` reads") {
  const RuleSet set({rule("a", Trigger::Series, R"(Modality == "CT" and SeriesDescription ~ "x")"),
                     rule("b", Trigger::Series, R"(Modality == "MR" or CallingAE == "X")"),
                     rule("c", Trigger::Study, "exists StudyDate")});
  CHECK(set.tags(Trigger::Series) == std::vector<std::uint32_t>{0x00080060u, 0x0008103Eu});
  CHECK(set.tags(Trigger::Study) == std::vector<std::uint32_t>{0x00080020u});
  CHECK(set.tags(Trigger::Instance).empty());
}

TEST_CASE("rule actions: forward and analyze with one name") {
  std::string why;
  auto a = parse_action("forward archive", why);
  REQUIRE(a);
  CHECK(a->verb == Verb::Forward);
  CHECK(a->target == "archive");
  a = parse_action("  analyze   lung-density ", why);
  REQUIRE(a);
  CHECK(a->verb == Verb::Analyze);
  CHECK(to_string(*a) == "analyze lung-density");
  CHECK_FALSE(parse_action("send archive", why));
  CHECK(why.find("unknown action \"send\"") != std::string::npos);
  CHECK_FALSE(parse_action("forward", why));
  CHECK(why.find("needs a [[peers]] name") != std::string::npos);
  CHECK_FALSE(parse_action("analyze a b", why));
  CHECK(why.find("takes one name") != std::string::npos);
  CHECK_FALSE(parse_action("", why));
  CHECK(parse_trigger("series") == Trigger::Series);
  CHECK_FALSE(parse_trigger("Series"));
}
