// When a rule is due (routing/firing.hpp) and what a rule sees (routing/attributes.hpp).
#include <doctest/doctest.h>

#include "db/stability.hpp"
#include "routing/resource_attributes.hpp"
#include "routing/firing.hpp"

using namespace pacsnode;
using namespace std::chrono_literals;
using routing::due_at;
using routing::RuleSpec;

namespace {

constexpr std::int64_t kSecond = 1'000'000;

db::PendingResource resource(std::int64_t version, std::int64_t first, std::int64_t last, std::int64_t pending) {
  return {"series", "1.2.3", "1.2", version, first * kSecond, last * kSecond, pending * kSecond};
}

RuleSpec rule(std::chrono::seconds stable_after, std::optional<std::chrono::seconds> max_wait = std::nullopt) {
  RuleSpec r;
  r.name = "r";
  r.stable_after = stable_after;
  r.max_wait = max_wait;
  return r;
}

}  // namespace

TEST_CASE("routing: a rule is due stable_after after the last arrival") {
  const auto r = resource(3, 100, 130, 100);
  CHECK(due_at(rule(60s), r, nullptr) == 190 * kSecond);
  // Every arrival moves last_arrival, and the due time with it.
  CHECK(due_at(rule(60s), resource(4, 100, 170, 100), nullptr) == 230 * kSecond);
}

TEST_CASE("routing: max_wait fires a busy resource anyway, from its first unseen arrival") {
  const auto r = resource(50, 100, 1000, 100);
  CHECK(due_at(rule(60s, 300s), r, nullptr) == 400 * kSecond);
  CHECK(due_at(rule(60s, 3000s), r, nullptr) == 1060 * kSecond);  // quiet first
}

TEST_CASE("routing: a rule that has looked at this version is not due; a later arrival makes it due again") {
  db::RuleProgress seen{7, 1, std::nullopt};
  CHECK(due_at(rule(60s), resource(7, 100, 130, 100), &seen) == std::nullopt);
  // Instance 8 arrived at 500 after the firing: due a quiet period later (the amendment).
  db::RuleProgress fired{7, 1, 500 * kSecond};
  CHECK(due_at(rule(60s), resource(8, 100, 500, 100), &fired) == 560 * kSecond);
  // The amendment's max_wait runs from the first arrival after the firing, not the first ever.
  CHECK(due_at(rule(60s, 120s), resource(12, 100, 610, 100), &fired) == 620 * kSecond);
}

TEST_CASE("routing: attributes from an index record — key fields, then each level's DICOM JSON") {
  IndexRecord record;
  record.patient = {"P1", "", "Doe^John", "19700101", "M", R"({"00101010":{"vr":"AS","Value":["054Y"]}})"};
  record.study = {"1.2", "20240115", "101500", "ACC1", "", "CT Chest", "", "{}"};
  record.series.series_instance_uid = "1.2.3";
  record.series.modality = "CT";
  record.series.series_number = 4;
  record.series.attributes_json =
      R"({"00080070":{"vr":"LO","Value":["ACME"]},"00080060":{"vr":"CS","Value":["MR"]},)"
      R"("00081111":{"vr":"SQ","Value":[{"00081150":{"vr":"UI","Value":["1.2.9"]}}]}})";
  record.instance.sop_instance_uid = "1.2.3.4";
  record.instance.attributes_json =
      R"({"00080008":{"vr":"CS","Value":["ORIGINAL","PRIMARY","AXIAL"]},"00180050":{"vr":"DS","Value":[1.25]},)"
      R"("00100010":{"vr":"PN","Value":[{"Alphabetic":"X^Y"}]},"00280030":{"vr":"DS"}})";
  record.instance.calling_ae_title = "CT1";

  const auto a = routing::attributes_of(record);
  CHECK(a.first(0x00080060) == "CT");  // the key column wins over a copy in the JSON
  CHECK(a.first(0x00100010) == "Doe^John");
  CHECK(a.first(0x00200011) == "4");
  CHECK(a.first(0x00080070) == "ACME");
  CHECK(a.first(0x00101010) == "054Y");
  CHECK(*a.find(0x00080008) == std::vector<std::string>{"ORIGINAL", "PRIMARY", "AXIAL"});
  CHECK(a.first(0x00180050) == "1.25");
  CHECK(a.first(0x00020016) == "CT1");
  REQUIRE(a.find(0x00081111) != nullptr);  // a sequence: present, no values
  CHECK(a.find(0x00081111)->empty());
  REQUIRE(a.find(0x00280030) != nullptr);  // present without a value
  CHECK(a.find(0x00280030)->empty());
  CHECK(a.find(0x00200010) == nullptr);  // StudyID: empty, so absent
  CHECK(a.find(0x0008103E) == nullptr);
}

TEST_CASE("routing: attributes of an indexed study carry the derived study attributes") {
  db::IndexedAttributes indexed;
  indexed.record.study.study_instance_uid = "1.2";
  indexed.modalities_in_study = {"CT", "SR"};
  indexed.number_of_study_related_series = 2;
  indexed.number_of_study_related_instances = 11;
  const auto a = routing::attributes_of(indexed);
  CHECK(*a.find(0x00080061) == std::vector<std::string>{"CT", "SR"});
  CHECK(a.first(0x00201206) == "2");
  CHECK(a.first(0x00201208) == "11");
  CHECK(a.find(0x00201209) == nullptr);
  CHECK(a.find(0x0020000E) == nullptr);
}

TEST_CASE("routing: malformed stored JSON adds nothing") {
  routing::Attributes a;
  a.add_dicom_json("{not json");
  a.add_dicom_json("[1,2]");
  a.add_dicom_json(R"({"nothex!!":{"vr":"CS","Value":["X"]}})");
  CHECK(a.size() == 0);
}
