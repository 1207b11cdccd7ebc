#include "plugins/result.hpp"

#include <cmath>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace pacsnode::plugins {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(ErrorCode::InvalidArgument, path + ": " + problem);
}

std::string_view type_name(const json& value) {
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

// Characters, not bytes: the text was checked to be UTF-8 by the JSON parser.
std::size_t character_count(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

// Absent and null are the same: "not given".
const json* member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

const json& require(const json& object, const std::string& path, const char* key) {
  const json* value = member(object, key);
  if (value == nullptr) fail(path.empty() ? key : path + "." + key, "missing");
  return *value;
}

void require_object(const json& value, const std::string& path) {
  if (!value.is_object()) fail(path, fmt::format("must be an object (got {})", type_name(value)));
}

// A string of `min`-`max` characters; `dicom_text`: none of what SH/LO forbid (control
// characters, the value separator '\').
std::string text(const json& value, const std::string& path, std::size_t min, std::size_t max, bool dicom_text) {
  if (!value.is_string()) fail(path, fmt::format("must be a string (got {})", type_name(value)));
  const auto& s = value.get_ref<const std::string&>();
  const std::size_t n = character_count(s);
  if (n < min || n > max) {
    fail(path, min == max ? fmt::format("must be {} characters (got {})", min, n)
                          : fmt::format("must be {}-{} characters (got {})", min, max, n));
  }
  if (dicom_text) {
    for (const char c : s) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) fail(path, "must not contain control characters");
      if (c == '\\') fail(path, "must not contain a backslash");
    }
  }
  return s;
}

Code code(const json& value, const std::string& path) {
  require_object(value, path);
  Code result;
  result.value = text(require(value, path, "CodeValue"), path + ".CodeValue", 1, 16, true);
  result.scheme = text(require(value, path, "CodingSchemeDesignator"), path + ".CodingSchemeDesignator", 1, 16, true);
  result.meaning = text(require(value, path, "CodeMeaning"), path + ".CodeMeaning", 1, 64, true);
  return result;
}

std::optional<Code> optional_code(const json& object, const std::string& path, const char* key) {
  const json* value = member(object, key);
  if (value == nullptr) return std::nullopt;
  return code(*value, path + "." + key);
}

MeasurementItem item(const json& value, const std::string& path) {
  require_object(value, path);
  MeasurementItem result;
  result.quantity = code(require(value, path, "quantity"), path + ".quantity");
  const json& number = require(value, path, "value");
  if (!number.is_number()) fail(path + ".value", fmt::format("must be a number (got {})", type_name(number)));
  result.value = number.get<double>();
  if (!std::isfinite(result.value)) fail(path + ".value", "must be a finite number");
  result.unit = code(require(value, path, "units"), path + ".units");
  if (result.unit.scheme != "UCUM") {
    fail(path + ".units.CodingSchemeDesignator", fmt::format("must be \"UCUM\" (got \"{}\")", result.unit.scheme));
  }
  result.derivation = optional_code(value, path, "derivationModifier");
  result.method = optional_code(value, path, "method");
  return result;
}

// A string for an error message: quoted, or only its length when it is too long to show.
std::string shown(const std::string& s) {
  return s.size() <= 64 ? json(s).dump() : fmt::format("a string of {} bytes", s.size());
}

// A region is an area or a point on one input image (README, "What the plug-in gives back").
ImageRegion image_region(const json& value, const std::string& path, const std::unordered_set<std::string_view>& inputs) {
  require_object(value, path);
  ImageRegion result;
  const std::string type_path = path + ".graphicType";
  const json& type = require(value, path, "graphicType");
  if (!type.is_string()) fail(type_path, fmt::format("must be a string (got {})", type_name(type)));
  result.graphic_type = type.get<std::string>();
  std::size_t points_needed = 0;  // 0: at least 4 (a closed polyline)
  if (result.graphic_type == "POINT") {
    points_needed = 1;
  } else if (result.graphic_type == "CIRCLE") {
    points_needed = 2;
  } else if (result.graphic_type == "ELLIPSE") {
    points_needed = 4;
  } else if (result.graphic_type == "MULTIPOINT") {
    // TID 1410's Image Region is one region; scattered points are no region (highdicom and
    // dcmjs refuse it too).
    fail(type_path, "\"MULTIPOINT\" is not a region: use POLYLINE (closed), CIRCLE, ELLIPSE or POINT");
  } else if (result.graphic_type != "POLYLINE") {
    fail(type_path, fmt::format("must be \"POLYLINE\", \"CIRCLE\", \"ELLIPSE\" or \"POINT\" (got {})",
                                shown(result.graphic_type)));
  }

  const std::string data_path = path + ".graphicData";
  const json& data = require(value, path, "graphicData");
  if (!data.is_array()) fail(data_path, fmt::format("must be an array (got {})", type_name(data)));
  if (data.size() % 2 != 0) fail(data_path, fmt::format("must be (column, row) pairs: an even count of numbers (got {})", data.size()));
  const std::size_t points = data.size() / 2;
  if (points > kMaxRegionPoints) fail(data_path, fmt::format("at most {} points (got {})", kMaxRegionPoints, points));
  if (points_needed != 0 && points != points_needed) {
    fail(data_path, fmt::format("{} {} has {} point{} (got {})", result.graphic_type == "ELLIPSE" ? "an" : "a",
                                result.graphic_type, points_needed,
                                points_needed == 1 ? "" : "s", points));
  }
  result.graphic_data.reserve(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    const json& number = data[i];
    const std::string at = fmt::format("{}[{}]", data_path, i);
    if (!number.is_number()) fail(at, fmt::format("must be a number (got {})", type_name(number)));
    const double v = number.get<double>();
    if (!std::isfinite(v) || v < 0 || v > kMaxImageCoordinate) {
      fail(at, fmt::format("must be an image coordinate from 0 to {} (got {})", kMaxImageCoordinate, number.dump()));
    }
    result.graphic_data.push_back(v);
  }
  const auto& d = result.graphic_data;
  auto same = [&](std::size_t a, std::size_t b) { return d[2 * a] == d[2 * b] && d[2 * a + 1] == d[2 * b + 1]; };
  if (result.graphic_type == "POLYLINE") {
    if (points < 4) fail(data_path, fmt::format("a POLYLINE region has at least 4 points, the last one repeating the first (got {})", points));
    if (!same(0, points - 1)) fail(data_path, "a POLYLINE region must be closed: its last point must repeat the first");
    double twice_area = 0;  // shoelace
    for (std::size_t i = 0; i + 1 < points; ++i) twice_area += d[2 * i] * d[2 * i + 3] - d[2 * i + 2] * d[2 * i + 1];
    if (std::abs(twice_area) < 1e-9) fail(data_path, "the POLYLINE encloses no area");
  } else if (result.graphic_type == "CIRCLE") {
    if (same(0, 1)) fail(data_path, "a CIRCLE's point on the circle must differ from its centre");
  } else if (result.graphic_type == "ELLIPSE") {
    const double ax = d[2] - d[0], ay = d[3] - d[1], bx = d[6] - d[4], by = d[7] - d[5];
    const double a = std::hypot(ax, ay), b = std::hypot(bx, by);
    if (a == 0 || b == 0) fail(data_path, "an ELLIPSE's axes must have a length");
    if (b > a) fail(data_path, "an ELLIPSE's first axis (points 1-2) is its major axis: it must not be shorter than the second");
    if (std::abs(ax * bx + ay * by) > 1e-3 * a * b) fail(data_path, "an ELLIPSE's axes must be perpendicular");
  }

  const std::string uid_path = path + ".referencedSOPInstanceUID";
  const json& uid = require(value, path, "referencedSOPInstanceUID");
  if (!uid.is_string()) fail(uid_path, fmt::format("must be a string (got {})", type_name(uid)));
  result.referenced_sop_instance_uid = uid.get<std::string>();
  if (!inputs.contains(result.referenced_sop_instance_uid)) {
    fail(uid_path, fmt::format("{} is not the SOP Instance UID of an input instance", shown(result.referenced_sop_instance_uid)));
  }
  if (const json* frame = member(value, "referencedFrameNumber")) {
    const std::string frame_path = path + ".referencedFrameNumber";
    if (!frame->is_number_integer() || frame->get<std::int64_t>() < 1 || frame->get<std::int64_t>() > 2147483647) {
      fail(frame_path, fmt::format("must be a frame number from 1 (got {})", frame->dump()));
    }
    result.referenced_frame_number = static_cast<int>(frame->get<std::int64_t>());
  }
  return result;
}

MeasurementGroup group(const json& value, const std::string& path, const std::unordered_set<std::string_view>& inputs) {
  require_object(value, path);
  MeasurementGroup result;
  result.tracking_identifier = text(require(value, path, "TrackingIdentifier"), path + ".TrackingIdentifier", 1, 64, true);
  result.finding = code(require(value, path, "Finding"), path + ".Finding");
  result.finding_site = optional_code(value, path, "FindingSite");
  result.laterality = optional_code(value, path, "Laterality");
  if (const json* refs = member(value, "imageReferences")) {
    const std::string refs_path = path + ".imageReferences";
    if (!refs->is_array()) fail(refs_path, fmt::format("must be an array (got {})", type_name(*refs)));
    for (std::size_t i = 0; i < refs->size(); ++i) {
      const std::string ref_path = fmt::format("{}[{}]", refs_path, i);
      const json& ref = (*refs)[i];
      if (!ref.is_string()) fail(ref_path, fmt::format("must be a string (got {})", type_name(ref)));
      const auto& uid = ref.get_ref<const std::string&>();
      if (!inputs.contains(uid)) fail(ref_path, fmt::format("\"{}\" is not the SOP Instance UID of an input instance", uid));
      result.image_references.push_back(uid);
    }
  }
  if (const json* region = member(value, "imageRegion")) {
    result.image_region = image_region(*region, path + ".imageRegion", inputs);
    if (!result.image_references.empty()) {
      fail(path + ".imageReferences", "must be empty when the group has an imageRegion (the region names its image)");
    }
  }
  const std::string items_path = path + ".measurementItems";
  const json& items = require(value, path, "measurementItems");
  if (!items.is_array()) fail(items_path, fmt::format("must be an array (got {})", type_name(items)));
  if (items.empty()) fail(items_path, "must have at least one item");
  if (items.size() > kMaxItemsPerGroup) {
    fail(items_path, fmt::format("at most {} items (got {})", kMaxItemsPerGroup, items.size()));
  }
  result.items.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) result.items.push_back(item(items[i], fmt::format("{}[{}]", items_path, i)));
  return result;
}

nlohmann::ordered_json code_json(const Code& c) {
  return {{"CodeValue", c.value}, {"CodingSchemeDesignator", c.scheme}, {"CodeMeaning", c.meaning}};
}

}  // namespace

AnalysisResult parse_result(std::string_view json_text, const std::vector<std::string>& input_sop_uids) {
  if (json_text.size() > kMaxResultBytes) {
    fail("result.json", fmt::format("larger than {} bytes (got {})", kMaxResultBytes, json_text.size()));
  }
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end());
  } catch (const json::parse_error& e) {
    // e.what() quotes what was read last; the byte offset is enough and quotes nothing.
    fail("result.json", fmt::format("not valid JSON (at byte {})", e.byte));
  } catch (const json::out_of_range&) {
    // 1e999: the parser refuses numbers a double cannot hold, before any field is known.
    fail("result.json", "a number is too large to be finite");
  } catch (const json::exception&) {
    fail("result.json", "not valid JSON");
  }
  if (!doc.is_object()) fail("result.json", fmt::format("must be a JSON object (got {})", type_name(doc)));

  AnalysisResult result;
  const json& contract = require(doc, "", "contract");
  if (!contract.is_number_integer() || contract.get<std::int64_t>() != kContractVersion) {
    fail("contract", fmt::format("must be {} (got {})", kContractVersion, contract.dump()));
  }
  result.contract = kContractVersion;

  const json& algorithm = require(doc, "", "algorithm");
  require_object(algorithm, "algorithm");
  result.algorithm_name = text(require(algorithm, "algorithm", "name"), "algorithm.name", 1, 64, true);
  if (const json* version = member(algorithm, "version")) {
    result.algorithm_version = text(*version, "algorithm.version", 0, 64, true);
  }
  if (const json* summary = member(doc, "summary")) result.summary = text(*summary, "summary", 0, 1024, false);

  const json& groups = require(doc, "", "Measurements");
  if (!groups.is_array()) fail("Measurements", fmt::format("must be an array (got {})", type_name(groups)));
  if (groups.size() > kMaxGroups) fail("Measurements", fmt::format("at most {} groups (got {})", kMaxGroups, groups.size()));
  const std::unordered_set<std::string_view> inputs(input_sop_uids.begin(), input_sop_uids.end());
  result.groups.reserve(groups.size());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    result.groups.push_back(group(groups[i], fmt::format("Measurements[{}]", i), inputs));
  }
  return result;
}

std::string result_to_json(const AnalysisResult& result) {
  nlohmann::ordered_json groups = nlohmann::ordered_json::array();
  for (const MeasurementGroup& g : result.groups) {
    nlohmann::ordered_json group_json;
    group_json["TrackingIdentifier"] = g.tracking_identifier;
    group_json["Finding"] = code_json(g.finding);
    if (g.finding_site) group_json["FindingSite"] = code_json(*g.finding_site);
    if (g.laterality) group_json["Laterality"] = code_json(*g.laterality);
    group_json["imageReferences"] = g.image_references;
    if (g.image_region) {
      const ImageRegion& r = *g.image_region;
      nlohmann::ordered_json region;
      region["graphicType"] = r.graphic_type;
      region["graphicData"] = r.graphic_data;
      region["referencedSOPInstanceUID"] = r.referenced_sop_instance_uid;
      if (r.referenced_frame_number) region["referencedFrameNumber"] = *r.referenced_frame_number;
      group_json["imageRegion"] = std::move(region);
    }
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const MeasurementItem& i : g.items) {
      nlohmann::ordered_json item_json;
      item_json["quantity"] = code_json(i.quantity);
      item_json["value"] = i.value;
      item_json["units"] = code_json(i.unit);
      if (i.derivation) item_json["derivationModifier"] = code_json(*i.derivation);
      if (i.method) item_json["method"] = code_json(*i.method);
      items.push_back(std::move(item_json));
    }
    group_json["measurementItems"] = std::move(items);
    groups.push_back(std::move(group_json));
  }
  nlohmann::ordered_json doc;
  doc["contract"] = result.contract;
  doc["algorithm"] = {{"name", result.algorithm_name}, {"version", result.algorithm_version}};
  doc["summary"] = result.summary;
  doc["Measurements"] = std::move(groups);
  // Invalid UTF-8 in a caller's string becomes U+FFFD rather than an exception.
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace pacsnode::plugins
