// The cost of routing rules per instance: 20 realistic rules evaluated on one instance's
// attributes (RuleSet::match, what ingest will call per stored instance), the same with
// explanations (RuleSet::explain, what `rules test` does), and building the attributes
// (from a file, from an IndexRecord). Measures; asserts nothing.
//
//   build/bench/pacsnode_bench_rules [FILE.dcm] [--iterations N]
//
// Times are thread CPU time (the machine is shared) and wall time, the median of 5 rounds.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dicom/extract.hpp"
#include "routing/rules.hpp"
#include "routing/sources.hpp"

using namespace pacsnode;
using namespace pacsnode::routing;

namespace {

constexpr const char* kRules[] = {
    R"(Modality == "CT" and (BodyPartExamined == "CHEST" or SeriesDescription ~ "(?i)lung|thorax"))",
    R"(Modality in ["MR", "CT"] and StudyDescription ~ "(?i)brain|head")",
    R"(Modality == "MG")",
    R"(Modality == "CR" or Modality == "DX")",
    R"(CallingAE == "CT_SCANNER_1")",
    R"(CallingAE in ["MR1", "MR2", "MR3"] and Modality == "MR")",
    R"(Modality == "CT" and SliceThickness <= 1.5)",
    R"(ImageType == "LOCALIZER")",
    R"(Modality == "CT" and ImageType != "DERIVED" and ImageType == "AXIAL")",
    R"(StudyDate >= "20200101" and StudyTime < "0800")",
    R"(Manufacturer ~ "(?i)siemens" and ManufacturerModelName ~ "SOMATOM")",
    R"(InstitutionName == "JFK IMAGING CENTER" and CalledAE == "PACSNODE")",
    R"(Modality == "CT" and exists ContrastBolusAgent)",
    R"(PatientAge >= "065Y" and PatientSex == "F")",
    R"(Modality == "CT" and not exists BodyPartExamined and KVP > 100)",
    R"(SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.22")",
    R"((0009,1001) == "GE_GENESIS_FF")",
    R"(StationName ~ "^CT0[0-9]_" and AcquisitionDate >= "1997")",
    R"(AccessionNumber ~ "^ER" or ReferringPhysicianName ~ "(?i)emergency")",
    R"(true)",  // a fallback
};

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct Figure {
  double cpu_us;
  double wall_us;
};

// Median over 5 rounds of `iterations` calls of `body`, per call.
template <typename Body>
Figure measure(int iterations, Body&& body) {
  std::vector<Figure> rounds;
  for (int round = 0; round < 5; ++round) {
    const double cpu0 = thread_cpu_us();
    const auto wall0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) body();
    const double wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall0).count();
    rounds.push_back({(thread_cpu_us() - cpu0) / iterations, wall / iterations});
  }
  std::sort(rounds.begin(), rounds.end(), [](const Figure& a, const Figure& b) { return a.cpu_us < b.cpu_us; });
  return rounds[2];
}

void report(const char* what, const Figure& f) {
  std::printf("%-62s %9.3f us CPU  %9.3f us wall\n", what, f.cpu_us, f.wall_us);
}

}  // namespace

int main(int argc, char** argv) {
  std::string file = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";
  int iterations = 20000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = std::max(1, std::atoi(argv[++i]));
    } else {
      file = argv[i];
    }
  }

  std::vector<Rule> rules;
  for (std::size_t i = 0; i < std::size(kRules); ++i) {
    Rule r;
    r.name = "rule-" + std::to_string(i);
    r.on = Trigger::Instance;
    r.when = Expression::parse(kRules[i]);
    r.then = {Action{Verb::Forward, "archive"}};
    r.fallback = i + 1 == std::size(kRules);
    rules.push_back(std::move(r));
  }
  const RuleSet set(std::move(rules));
  const AttributeSet attributes = read_file_attributes(file);
  const IndexRecord record = dicom::extract_index_record(file);
  const AssociationContext association{{"CT_SCANNER_2"}, {"PACSNODE"}, {"10.0.0.7"}};

  std::size_t matched = set.match(Trigger::Instance, attributes, association).size();
  std::printf("%zu rules on %s (%zu attributes, %zu rules matched), %d iterations x 5 rounds, medians:\n",
              set.rules().size(), file.c_str(), attributes.size(), matched, iterations);

  std::size_t sink = 0;
  report("match: 20 rules, one instance (per stored instance)", measure(iterations, [&] {
           sink += set.match(Trigger::Instance, attributes, association).size();
         }));
  report("explain: 20 rules with traces (rules test)", measure(std::max(1, iterations / 10), [&] {
           sink += set.explain(Trigger::Instance, attributes, association).size();
         }));
  report("record_attributes: IndexRecord -> attributes (ingest)", measure(std::max(1, iterations / 10), [&] {
           sink += record_attributes(record).size();
         }));
  report("read_file_attributes: the file -> attributes (rules test)", measure(std::max(1, iterations / 100), [&] {
           sink += read_file_attributes(file).size();
         }));
  return sink == 0 ? 1 : 0;
}
