#include "tests/support/findscu.hpp"

#include <doctest/doctest.h>

#include <sstream>

namespace pacsnode::test {

FindResponse read_find_response(const std::filesystem::path& file, std::string* whole) {
  auto [code, dump] = run({"dcmdump", "-q", "-Un", "+uc", file.string()});
  if (whole) *whole = dump;
  FindResponse response;
  std::istringstream in(dump);
  std::string line;
  while (std::getline(in, line)) {
    const auto at = line.find_first_not_of(' ');
    if (at == std::string::npos || line[at] != '(' || at != 0) continue;  // top level only
    const std::string tag = line.substr(at, 11);
    if (tag.rfind("(0002,", 0) == 0) continue;
    std::string value;
    const auto open = line.find('[');
    const auto hash = line.find(" #");
    if (open != std::string::npos && open < hash) {
      const auto close = line.rfind(']', hash);
      value = line.substr(open + 1, close - open - 1);
    }
    response[tag] = value;
  }
  return response;
}

FindResult findscu(const Node& node, const std::string& model, const std::vector<std::string>& keys,
                   const std::vector<std::string>& extra) {
  TempDir out("findscu");
  std::vector<std::string> argv = {"findscu", "-v", model, "-aec", node.ae_title(), "-X", "-od", out.path().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  for (const auto& key : keys) {
    argv.push_back("-k");
    argv.push_back(key);
  }
  argv.push_back("127.0.0.1");
  argv.push_back(std::to_string(node.port()));
  FindResult result;
  std::tie(result.code, result.output) = run(argv);
  for (const auto& file : files_below(out.path())) {
    result.dumps.emplace_back();
    result.responses.push_back(read_find_response(file, &result.dumps.back()));
  }
  return result;
}

std::set<std::string> tags_of(const FindResponse& response) {
  std::set<std::string> tags;
  for (const auto& [tag, value] : response) tags.insert(tag);
  return tags;
}

std::set<std::string> values_of(const std::vector<FindResponse>& responses, const std::string& tag) {
  std::set<std::string> values;
  for (const auto& r : responses) values.insert(r.count(tag) ? r.at(tag) : "<absent>");
  return values;
}

}  // namespace pacsnode::test
