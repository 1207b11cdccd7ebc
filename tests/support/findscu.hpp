#pragma once
// DCMTK findscu against a test node: every pending response extracted (-X) and read back
// with dcmdump, top-level elements only.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support/node.hpp"

namespace pacsnode::test {

using FindResponse = std::map<std::string, std::string>;  // "(0010,0020)" → value ("" when empty)

struct FindResult {
  int code = 0;
  std::string output;
  std::vector<FindResponse> responses;
  std::vector<std::string> dumps;  // each response as dcmdump printed it (nested items too)
  bool final_success() const { return output.find("Final Find Response (Success)") != std::string::npos; }
  bool final_cancel() const { return output.find("Final Find Response (Cancel") != std::string::npos; }
  bool refused() const { return output.find("Final Find Response (Error: DataSetDoesNotMatchSOPClass)") != std::string::npos; }
};

// One response file's top-level elements as dcmdump prints them (+uc: values as UTF-8
// where the file says so); `dump`, when given, receives dcmdump's whole output.
FindResponse read_find_response(const std::filesystem::path& file, std::string* dump = nullptr);

// findscu -S (study root) or -P (patient root) with `keys` ("PatientID=PAT0001", ...; the
// bytes of each value go as given) and `extra` options.
FindResult findscu(const Node& node, const std::string& model, const std::vector<std::string>& keys,
                   const std::vector<std::string>& extra = {});

std::set<std::string> tags_of(const FindResponse& response);
// Every response's value of `tag` ("<absent>" where missing).
std::set<std::string> values_of(const std::vector<FindResponse>& responses, const std::string& tag);

}  // namespace pacsnode::test
