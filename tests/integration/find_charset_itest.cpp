// Conformance case 35, end to end and down to the bytes: PatientName MÜLLER stored once in
// ISO_IR 100 (Latin-1) and once in ISO_IR 192 (UTF-8), sent with storescu; `MÜLLER*` queried
// with findscu in each character set finds both, and every response says ISO_IR 192 and
// carries the names as UTF-8 (what the node keeps), whatever the query's character set.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "tests/support/findscu.hpp"
#include "tests/support/node.hpp"

using namespace pacsnode;
using namespace pacsnode::test;

namespace {

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("C-FIND MÜLLER* in ISO_IR 100 and ISO_IR 192 finds Latin-1 and UTF-8 names; answers in UTF-8 (case 35)") {
  Node node;
  TempDir corpus("corpus");
  {
    auto [code, out] = run({"/usr/bin/python3", std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_query_corpus.py",
                            corpus.path().string()});
    REQUIRE_MESSAGE(code == 0, out);
  }
  // The premise: one stored file holds the name as Latin-1 bytes, another as UTF-8.
  bool latin1 = false, utf8 = false;
  for (const auto& file : files_below(corpus.path())) {
    const auto bytes = file_bytes(file);
    latin1 = latin1 || (bytes.find("M\xDCLLER^HANS") != std::string::npos && bytes.find("ISO_IR 100") != std::string::npos);
    utf8 = utf8 || (bytes.find("M\xC3\xBCller^Anna") != std::string::npos && bytes.find("ISO_IR 192") != std::string::npos);
  }
  REQUIRE(latin1);
  REQUIRE(utf8);
  {
    auto [code, out] = run({"storescu", "-aec", node.ae_title(), "+sd", "127.0.0.1", std::to_string(node.port()),
                            corpus.path().string()});
    REQUIRE_MESSAGE(code == 0, out);
  }

  const std::set<std::string> both = {"MÜLLER^HANS", "Müller^Anna"};
  struct Query {
    const char* how;
    std::string name, charset;
  };
  const std::vector<Query> queries = {
      {"ISO_IR 100 (the value as Latin-1 bytes)", "PatientName=M\xDCLLER*", "SpecificCharacterSet=ISO_IR 100"},
      {"ISO_IR 192", "PatientName=MÜLLER*", "SpecificCharacterSet=ISO_IR 192"},
  };
  for (const auto& q : queries) {
    for (const auto& [model, level] : {std::pair{"-S", "STUDY"}, std::pair{"-P", "PATIENT"}}) {
      INFO(q.how << ", " << model << " " << level);
      const auto r = findscu(node, model, {std::string("QueryRetrieveLevel=") + level, q.name, q.charset, "PatientID"});
      CHECK_MESSAGE(r.final_success(), r.output);
      REQUIRE(r.responses.size() == 2);
      CHECK(values_of(r.responses, "(0010,0020)") == std::set<std::string>{"LAT1", "UTF8"});
      CHECK(values_of(r.responses, "(0010,0010)") == both);
      CHECK(values_of(r.responses, "(0008,0005)") == std::set<std::string>{"ISO_IR 192"});
    }
  }
  // Case is folded, accents are not: MULLER* matches neither.
  const auto r = findscu(node, "-S", {"QueryRetrieveLevel=STUDY", "PatientName=MULLER*", "PatientID"});
  CHECK_MESSAGE(r.final_success(), r.output);
  CHECK(r.responses.empty());
}
