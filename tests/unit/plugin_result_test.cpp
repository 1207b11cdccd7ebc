#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "plugins/result.hpp"

using namespace pacsnode::plugins;
using nlohmann::json;

namespace {

const std::vector<std::string> kInputs = {"1.2.3.4.1", "1.2.3.4.2"};

json code(const char* value, const char* scheme, const char* meaning) {
  return {{"CodeValue", value}, {"CodingSchemeDesignator", scheme}, {"CodeMeaning", meaning}};
}

json good() {
  json item1 = {{"quantity", code("118565006", "SCT", "Volume")},
                {"value", 2604.3},
                {"units", code("cm3", "UCUM", "cubic centimeter")},
                {"method", code("126030", "DCM", "Sum of segmented voxel method for volume")}};
  json item2 = {{"quantity", code("112031", "DCM", "Attenuation Coefficient")},
                {"value", -861.25},
                {"units", code("[hnsf'U]", "UCUM", "Hounsfield unit")},
                {"derivationModifier", code("373098007", "SCT", "Mean")}};
  json group = {{"TrackingIdentifier", "right lung"},
                {"Finding", code("39607008", "SCT", "Lung")},
                {"FindingSite", code("39607008", "SCT", "Lung")},
                {"Laterality", code("24028007", "SCT", "Right")},
                {"imageReferences", {"1.2.3.4.2"}},
                {"measurementItems", {item1, item2}}};
  json second = {{"TrackingIdentifier", "left lung"},
                 {"Finding", code("39607008", "SCT", "Lung")},
                 {"measurementItems", {item2}}};
  return {{"contract", 1},
          {"algorithm", {{"name", "lung-density"}, {"version", "1.0.0"}}},
          {"summary", "Both lungs"},
          {"futureKey", {{"anything", true}}},
          {"Measurements", {group, second, group}}};
}

std::string error_of(const json& doc) {
  try {
    parse_result(doc.dump(), kInputs);
  } catch (const pacsnode::Error& e) {
    CHECK(e.code() == pacsnode::ErrorCode::InvalidArgument);
    return e.what();
  }
  return "(accepted)";
}

std::string error_of_text(const std::string& text) {
  try {
    parse_result(text, kInputs);
  } catch (const pacsnode::Error& e) {
    return e.what();
  }
  return "(accepted)";
}

bool same(const AnalysisResult& a, const AnalysisResult& b) {
  if (a.contract != b.contract || a.algorithm_name != b.algorithm_name || a.algorithm_version != b.algorithm_version ||
      a.summary != b.summary || a.groups.size() != b.groups.size()) {
    return false;
  }
  for (std::size_t g = 0; g < a.groups.size(); ++g) {
    const auto& x = a.groups[g];
    const auto& y = b.groups[g];
    if (x.tracking_identifier != y.tracking_identifier || x.finding != y.finding || x.finding_site != y.finding_site ||
        x.laterality != y.laterality || x.image_references != y.image_references || x.image_region != y.image_region ||
        x.items.size() != y.items.size()) {
      return false;
    }
    for (std::size_t i = 0; i < x.items.size(); ++i) {
      const auto& p = x.items[i];
      const auto& q = y.items[i];
      if (p.quantity != q.quantity || p.value != q.value || p.unit != q.unit || p.derivation != q.derivation ||
          p.method != q.method) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

TEST_CASE("plugin result: a good result.json is read field by field and round-trips") {
  const AnalysisResult r = parse_result(good().dump(), kInputs);
  CHECK(r.contract == 1);
  CHECK(r.algorithm_name == "lung-density");
  CHECK(r.algorithm_version == "1.0.0");
  CHECK(r.summary == "Both lungs");
  REQUIRE(r.groups.size() == 3);
  const MeasurementGroup& g = r.groups[0];
  CHECK(g.tracking_identifier == "right lung");
  CHECK(g.finding == Code{"39607008", "SCT", "Lung"});
  CHECK(g.laterality == Code{"24028007", "SCT", "Right"});
  CHECK(g.image_references == std::vector<std::string>{"1.2.3.4.2"});
  REQUIRE(g.items.size() == 2);
  CHECK(g.items[0].value == 2604.3);
  CHECK(g.items[0].unit == Code{"cm3", "UCUM", "cubic centimeter"});
  CHECK(g.items[0].method == Code{"126030", "DCM", "Sum of segmented voxel method for volume"});
  CHECK_FALSE(g.items[0].derivation.has_value());
  CHECK(g.items[1].derivation == Code{"373098007", "SCT", "Mean"});
  CHECK_FALSE(r.groups[1].finding_site.has_value());
  CHECK(r.groups[1].image_references.empty());

  const std::string written = result_to_json(r);
  const AnalysisResult again = parse_result(written, kInputs);
  CHECK(same(r, again));
  CHECK(result_to_json(again) == written);
}

TEST_CASE("plugin result: each broken field is named") {
  json doc = good();
  doc["Measurements"][2]["measurementItems"][0].erase("units");
  CHECK(error_of(doc) == "Measurements[2].measurementItems[0].units: missing");

  doc = good();
  doc["contract"] = 2;
  CHECK(error_of(doc) == "contract: must be 1 (got 2)");
  doc.erase("contract");
  CHECK(error_of(doc) == "contract: missing");

  doc = good();
  doc["algorithm"].erase("name");
  CHECK(error_of(doc) == "algorithm.name: missing");
  doc["algorithm"]["name"] = "";
  CHECK(error_of(doc) == "algorithm.name: must be 1-64 characters (got 0)");
  doc["algorithm"] = "x";
  CHECK(error_of(doc) == "algorithm: must be an object (got a string)");

  doc = good();
  doc.erase("Measurements");
  CHECK(error_of(doc) == "Measurements: missing");
  doc["Measurements"] = json::object();
  CHECK(error_of(doc) == "Measurements: must be an array (got an object)");

  doc = good();
  doc["Measurements"][1]["TrackingIdentifier"] = std::string(65, 'x');
  CHECK(error_of(doc) == "Measurements[1].TrackingIdentifier: must be 1-64 characters (got 65)");
  doc["Measurements"][1]["TrackingIdentifier"] = "";
  CHECK(error_of(doc) == "Measurements[1].TrackingIdentifier: must be 1-64 characters (got 0)");
  // Characters, not bytes: 64 two-byte characters are fine.
  std::string umlauts;
  for (int i = 0; i < 64; ++i) umlauts += "\xC3\xBC";
  doc["Measurements"][1]["TrackingIdentifier"] = umlauts;
  CHECK(error_of(doc) == "(accepted)");

  doc = good();
  doc["Measurements"][0].erase("Finding");
  CHECK(error_of(doc) == "Measurements[0].Finding: missing");

  doc = good();
  doc["Measurements"][0]["Finding"]["CodeValue"] = std::string(17, '1');
  CHECK(error_of(doc) == "Measurements[0].Finding.CodeValue: must be 1-16 characters (got 17)");
  doc["Measurements"][0]["Finding"]["CodeValue"] = 39607008;
  CHECK(error_of(doc) == "Measurements[0].Finding.CodeValue: must be a string (got a number)");

  doc = good();
  doc["Measurements"][0]["Laterality"]["CodingSchemeDesignator"] = "";
  CHECK(error_of(doc) == "Measurements[0].Laterality.CodingSchemeDesignator: must be 1-16 characters (got 0)");

  doc = good();
  doc["Measurements"][0]["FindingSite"]["CodeMeaning"] = std::string(65, 'm');
  CHECK(error_of(doc) == "Measurements[0].FindingSite.CodeMeaning: must be 1-64 characters (got 65)");
  doc["Measurements"][0]["FindingSite"]["CodeMeaning"] = "a\\b";
  CHECK(error_of(doc) == "Measurements[0].FindingSite.CodeMeaning: must not contain a backslash");
  doc["Measurements"][0]["FindingSite"]["CodeMeaning"] = "a\nb";
  CHECK(error_of(doc) == "Measurements[0].FindingSite.CodeMeaning: must not contain control characters");

  doc = good();
  doc["Measurements"][0]["measurementItems"][1]["units"]["CodingSchemeDesignator"] = "DCM";
  CHECK(error_of(doc) == "Measurements[0].measurementItems[1].units.CodingSchemeDesignator: must be \"UCUM\" (got \"DCM\")");

  doc = good();
  doc["Measurements"][0]["measurementItems"][1]["value"] = "12";
  CHECK(error_of(doc) == "Measurements[0].measurementItems[1].value: must be a number (got a string)");
  doc["Measurements"][0]["measurementItems"][1].erase("value");
  CHECK(error_of(doc) == "Measurements[0].measurementItems[1].value: missing");

  doc = good();
  doc["Measurements"][0]["measurementItems"][0].erase("quantity");
  CHECK(error_of(doc) == "Measurements[0].measurementItems[0].quantity: missing");

  doc = good();
  doc["Measurements"][0]["measurementItems"][0]["derivationModifier"] = code("", "SCT", "Mean");
  CHECK(error_of(doc) == "Measurements[0].measurementItems[0].derivationModifier.CodeValue: must be 1-16 characters (got 0)");

  doc = good();
  doc["Measurements"][0]["measurementItems"] = json::array();
  CHECK(error_of(doc) == "Measurements[0].measurementItems: must have at least one item");
  doc["Measurements"][0].erase("measurementItems");
  CHECK(error_of(doc) == "Measurements[0].measurementItems: missing");

  doc = good();
  doc["Measurements"][1]["imageReferences"] = {"1.2.3.4.1", "9.9.9"};
  CHECK(error_of(doc) == "Measurements[1].imageReferences[1]: \"9.9.9\" is not the SOP Instance UID of an input instance");
  doc["Measurements"][1]["imageReferences"] = "1.2.3.4.1";
  CHECK(error_of(doc) == "Measurements[1].imageReferences: must be an array (got a string)");

  doc = good();
  doc["summary"] = std::string(1025, 's');
  CHECK(error_of(doc) == "summary: must be 0-1024 characters (got 1025)");
  doc["summary"] = std::string(1024, 's');
  CHECK(error_of(doc) == "(accepted)");

  doc = good();
  doc["Measurements"][0] = 5;
  CHECK(error_of(doc) == "Measurements[0]: must be an object (got a number)");
}

TEST_CASE("plugin result: limits, non-finite numbers and non-JSON") {
  json doc = good();
  json groups = json::array();
  for (std::size_t i = 0; i <= kMaxGroups; ++i) groups.push_back(good()["Measurements"][1]);
  doc["Measurements"] = groups;
  CHECK(error_of(doc) == "Measurements: at most 1000 groups (got 1001)");
  groups.erase(groups.begin());
  doc["Measurements"] = groups;
  CHECK(error_of(doc) == "(accepted)");

  doc = good();
  json items = json::array();
  for (std::size_t i = 0; i <= kMaxItemsPerGroup; ++i) items.push_back(good()["Measurements"][1]["measurementItems"][0]);
  doc["Measurements"][1]["measurementItems"] = items;
  CHECK(error_of(doc) == "Measurements[1].measurementItems: at most 1000 items (got 1001)");

  std::string text = good().dump();
  const std::string needle = "-861.25";
  text.replace(text.find(needle), needle.size(), "1e999");
  CHECK(error_of_text(text) == "result.json: a number is too large to be finite");

  CHECK(error_of_text("{\"contract\": 1,") == "result.json: not valid JSON (at byte 16)");
  CHECK(error_of_text("[1]") == "result.json: must be a JSON object (got an array)");
  CHECK(error_of_text(std::string(kMaxResultBytes + 1, ' ')) ==
        "result.json: larger than 4194304 bytes (got 4194305)");
}

namespace {

// good() with a fourth group measured in a closed polygon on the second input image.
json with_region() {
  json doc = good();
  json group = doc["Measurements"][1];
  group["TrackingIdentifier"] = "left lung, largest axial section";
  group.erase("imageReferences");
  group["imageRegion"] = {{"graphicType", "POLYLINE"},
                          {"graphicData", {10, 20, 30.5, 20, 30.5, 40, 10, 20}},
                          {"referencedSOPInstanceUID", "1.2.3.4.2"}};
  doc["Measurements"].push_back(group);
  return doc;
}

json& region_of(json& doc) { return doc["Measurements"][3]["imageRegion"]; }

}  // namespace

TEST_CASE("plugin result: an image region is read and round-trips; without one nothing changes") {
  json doc = with_region();
  region_of(doc)["referencedFrameNumber"] = 1;
  const AnalysisResult r = parse_result(doc.dump(), kInputs);
  REQUIRE(r.groups.size() == 4);
  CHECK_FALSE(r.groups[0].image_region.has_value());
  REQUIRE(r.groups[3].image_region.has_value());
  const ImageRegion& region = *r.groups[3].image_region;
  CHECK(region.graphic_type == "POLYLINE");
  CHECK(region.graphic_data == std::vector<double>{10, 20, 30.5, 20, 30.5, 40, 10, 20});
  CHECK(region.referenced_sop_instance_uid == "1.2.3.4.2");
  CHECK(region.referenced_frame_number == 1);
  const std::string written = result_to_json(r);
  const AnalysisResult again = parse_result(written, kInputs);
  CHECK(same(r, again));
  CHECK(result_to_json(again) == written);
  // A result without regions writes no imageRegion key (what older readers got stays the same).
  CHECK(result_to_json(parse_result(good().dump(), kInputs)).find("imageRegion") == std::string::npos);
  // null is absent.
  region_of(doc) = nullptr;
  CHECK_FALSE(parse_result(doc.dump(), kInputs).groups[3].image_region.has_value());

  doc = with_region();
  region_of(doc) = {{"graphicType", "CIRCLE"}, {"graphicData", {50, 50, 60, 50}}, {"referencedSOPInstanceUID", "1.2.3.4.1"}};
  CHECK(error_of(doc) == "(accepted)");
  region_of(doc) = {{"graphicType", "ELLIPSE"},
                    {"graphicData", {40, 50, 60, 50, 50, 45, 50, 55}},
                    {"referencedSOPInstanceUID", "1.2.3.4.1"}};
  CHECK(error_of(doc) == "(accepted)");
  region_of(doc) = {{"graphicType", "POINT"}, {"graphicData", {0, 65535}}, {"referencedSOPInstanceUID", "1.2.3.4.1"}};
  CHECK(error_of(doc) == "(accepted)");
}

TEST_CASE("plugin result: each broken part of an image region is named") {
  const std::string at = "Measurements[3].imageRegion";
  json doc = with_region();
  region_of(doc) = "POLYLINE";
  CHECK(error_of(doc) == at + ": must be an object (got a string)");

  doc = with_region();
  region_of(doc).erase("graphicType");
  CHECK(error_of(doc) == at + ".graphicType: missing");
  region_of(doc)["graphicType"] = "POLYGON";
  CHECK(error_of(doc) == at + ".graphicType: must be \"POLYLINE\", \"CIRCLE\", \"ELLIPSE\" or \"POINT\" (got \"POLYGON\")");
  region_of(doc)["graphicType"] = std::string(100, 'P');
  CHECK(error_of(doc) ==
        at + ".graphicType: must be \"POLYLINE\", \"CIRCLE\", \"ELLIPSE\" or \"POINT\" (got a string of 100 bytes)");
  region_of(doc)["graphicType"] = "polyline";  // defined terms are upper case
  CHECK(error_of(doc).starts_with(at + ".graphicType: must be"));
  region_of(doc)["graphicType"] = "MULTIPOINT";
  CHECK(error_of(doc) == at + ".graphicType: \"MULTIPOINT\" is not a region: use POLYLINE (closed), CIRCLE, ELLIPSE or POINT");
  region_of(doc)["graphicType"] = 3;
  CHECK(error_of(doc) == at + ".graphicType: must be a string (got a number)");

  doc = with_region();
  region_of(doc).erase("graphicData");
  CHECK(error_of(doc) == at + ".graphicData: missing");
  region_of(doc)["graphicData"] = "10 20";
  CHECK(error_of(doc) == at + ".graphicData: must be an array (got a string)");
  region_of(doc)["graphicData"] = {10, 20, 30, 20, 30, 40, 10};
  CHECK(error_of(doc) == at + ".graphicData: must be (column, row) pairs: an even count of numbers (got 7)");
  region_of(doc)["graphicData"] = {10, 20, 30, "20", 30, 40, 10, 20};
  CHECK(error_of(doc) == at + ".graphicData[3]: must be a number (got a string)");
  region_of(doc)["graphicData"] = {10, 20, 30, -0.5, 30, 40, 10, 20};
  CHECK(error_of(doc) == at + ".graphicData[3]: must be an image coordinate from 0 to 65535 (got -0.5)");
  region_of(doc)["graphicData"] = {10, 20, 30, 65536, 30, 40, 10, 20};
  CHECK(error_of(doc) == at + ".graphicData[3]: must be an image coordinate from 0 to 65535 (got 65536)");

  // POLYLINE: closed, at least three corners, some area.
  region_of(doc)["graphicData"] = {10, 20, 30, 20, 30, 40, 11, 20};
  CHECK(error_of(doc) == at + ".graphicData: a POLYLINE region must be closed: its last point must repeat the first");
  region_of(doc)["graphicData"] = {10, 20, 30, 20, 10, 20};
  CHECK(error_of(doc) == at + ".graphicData: a POLYLINE region has at least 4 points, the last one repeating the first (got 3)");
  region_of(doc)["graphicData"] = {10, 20, 20, 20, 30, 20, 10, 20};
  CHECK(error_of(doc) == at + ".graphicData: the POLYLINE encloses no area");
  json many = json::array();
  for (std::size_t i = 0; i <= kMaxRegionPoints; ++i) {
    many.push_back(i % 2 ? 5 : 7);
    many.push_back(i);
  }
  region_of(doc)["graphicData"] = many;
  CHECK(error_of(doc) == at + ".graphicData: at most 10000 points (got 10001)");

  // The other shapes: their point counts and geometry.
  region_of(doc)["graphicType"] = "CIRCLE";
  region_of(doc)["graphicData"] = {50, 50, 60, 50, 70, 50};
  CHECK(error_of(doc) == at + ".graphicData: a CIRCLE has 2 points (got 3)");
  region_of(doc)["graphicData"] = {50, 50, 50, 50};
  CHECK(error_of(doc) == at + ".graphicData: a CIRCLE's point on the circle must differ from its centre");
  region_of(doc)["graphicType"] = "POINT";
  CHECK(error_of(doc) == at + ".graphicData: a POINT has 1 point (got 2)");
  region_of(doc)["graphicType"] = "ELLIPSE";
  CHECK(error_of(doc) == at + ".graphicData: an ELLIPSE has 4 points (got 2)");
  region_of(doc)["graphicData"] = {40, 50, 60, 50, 50, 45, 52, 55};
  CHECK(error_of(doc) == at + ".graphicData: an ELLIPSE's axes must be perpendicular");
  region_of(doc)["graphicData"] = {45, 50, 55, 50, 50, 40, 50, 60};
  CHECK(error_of(doc) ==
        at + ".graphicData: an ELLIPSE's first axis (points 1-2) is its major axis: it must not be shorter than the second");
  region_of(doc)["graphicData"] = {40, 50, 60, 50, 50, 50, 50, 50};
  CHECK(error_of(doc) == at + ".graphicData: an ELLIPSE's axes must have a length");

  // The image: one of the inputs, a frame number from 1.
  doc = with_region();
  region_of(doc)["referencedSOPInstanceUID"] = "9.9.9";
  CHECK(error_of(doc) == at + ".referencedSOPInstanceUID: \"9.9.9\" is not the SOP Instance UID of an input instance");
  region_of(doc)["referencedSOPInstanceUID"] = 1.2;
  CHECK(error_of(doc) == at + ".referencedSOPInstanceUID: must be a string (got a number)");
  region_of(doc).erase("referencedSOPInstanceUID");
  CHECK(error_of(doc) == at + ".referencedSOPInstanceUID: missing");

  doc = with_region();
  for (const json& bad : {json(0), json(-1), json(1.5), json("1"), json(4294967296LL)}) {
    region_of(doc)["referencedFrameNumber"] = bad;
    CHECK(error_of(doc) == at + ".referencedFrameNumber: must be a frame number from 1 (got " + bad.dump() + ")");
  }

  // A region names its image; imageReferences beside it would be a second, conflicting answer.
  doc = with_region();
  doc["Measurements"][3]["imageReferences"] = {"1.2.3.4.2"};
  CHECK(error_of(doc) == "Measurements[3].imageReferences: must be empty when the group has an imageRegion (the region names its image)");
  doc["Measurements"][3]["imageReferences"] = json::array();
  CHECK(error_of(doc) == "(accepted)");
}
