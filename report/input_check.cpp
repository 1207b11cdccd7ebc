#include "report/input_check.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "base/error.hpp"
#include "dicom/uid.hpp"
#include "report/ds_value.hpp"

namespace pacsnode::report::detail {

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::InvalidArgument, "measurement report: " + message);
}

namespace {

using plugins::Code;

// --- checks of the plug-in's text (the host checked shape; these check what DICOM needs) ---

// Number of code points when `text` is valid UTF-8 (no overlongs, no surrogates), else
// nullopt.
std::optional<std::size_t> utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size(); ++count) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) {
      code = lead;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1;
      code = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2;
      code = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3;
      code = lead & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + extra >= text.size() && extra > 0) return std::nullopt;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return std::nullopt;
      code = (code << 6) | (next & 0x3F);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF))) {
      return std::nullopt;
    }
    i += extra + 1;
  }
  return count;
}

// Free text for a TEXT item or a code meaning: valid UTF-8, 1..max characters, no control
// characters (line breaks allowed where `multiline`).
void check_text(std::string_view text, std::size_t max, const std::string& where, bool multiline = false) {
  const auto length = utf8_length(text);
  if (!length) invalid(where + " is not valid UTF-8");
  if (*length == 0) invalid(where + " is empty");
  if (*length > max) invalid(where + " has " + std::to_string(*length) + " characters, at most " + std::to_string(max) + " allowed");
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool allowed_break = multiline && (c == '\n' || c == '\r' || c == '\t');
    if ((u < 0x20 || u == 0x7F) && !allowed_break) invalid(where + " holds a control character");
  }
}

// CodeValue and CodingSchemeDesignator are SH: 1-16 characters, no backslash.
void check_short(std::string_view text, const std::string& where) {
  check_text(text, 16, where);
  if (text.find('\\') != std::string_view::npos) invalid(where + " holds a backslash");
}

void check_code(const Code& code, const std::string& where) {
  check_short(code.value, where + ".CodeValue");
  check_short(code.scheme, where + ".CodingSchemeDesignator");
  if (!is_ascii(code.scheme)) invalid(where + ".CodingSchemeDesignator must be ASCII");
  check_text(code.meaning, 64, where + ".CodeMeaning");
}


}  // namespace

bool is_ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool input_is_ascii(const ReportInput& input) {
  const plugins::AnalysisResult& r = *input.result;
  auto code_ascii = [](const std::optional<Code>& c) {
    return !c || (is_ascii(c->value) && is_ascii(c->scheme) && is_ascii(c->meaning));
  };
  bool ascii = is_ascii(r.algorithm_name) && is_ascii(r.algorithm_version) && is_ascii(r.summary) &&
               is_ascii(input.manufacturer);
  for (const auto& g : r.groups) {
    ascii = ascii && is_ascii(g.tracking_identifier) && code_ascii(g.finding) && code_ascii(g.finding_site) &&
            code_ascii(g.laterality);
    for (const auto& i : g.items) {
      ascii = ascii && code_ascii(i.quantity) && code_ascii(i.unit) && code_ascii(i.derivation) && code_ascii(i.method);
    }
  }
  return ascii;
}

void check_uid(const std::string& uid, const std::string& what) {
  if (!dicom::is_valid_uid(uid)) invalid(what + " is not a valid UID: '" + uid + "'");
}


void check_report_input(const ReportInput& input) {
  if (input.result == nullptr) invalid("no analysis result");
  const plugins::AnalysisResult& result = *input.result;
  if (result.contract != plugins::kContractVersion) {
    invalid("result of contract version " + std::to_string(result.contract) + ", expected " +
            std::to_string(plugins::kContractVersion));
  }
  check_text(result.algorithm_name, 64, "algorithm name");
  if (!result.algorithm_version.empty()) check_text(result.algorithm_version, 64, "algorithm version");
  if (!result.summary.empty()) check_text(result.summary, kMaxSummaryCharacters, "summary", true);
  if (input.analysed_files.empty()) invalid("no analysed files: a report must reference the images it measured");
  if (result.groups.empty()) invalid("the result has no measurement groups: nothing to report");
  if (result.groups.size() > plugins::kMaxGroups) {
    invalid(std::to_string(result.groups.size()) + " measurement groups, at most " + std::to_string(plugins::kMaxGroups));
  }
  if (input.tracking_uids.size() != result.groups.size()) {
    invalid(std::to_string(input.tracking_uids.size()) + " tracking UIDs for " + std::to_string(result.groups.size()) +
            " measurement groups");
  }
  check_uid(input.sop_instance_uid, "SOP Instance UID of the report");
  check_uid(input.series_instance_uid, "Series Instance UID of the report");
  if (input.series_number < 0) invalid("Series Number " + std::to_string(input.series_number) + " is negative");
  if (!input.manufacturer.empty()) check_text(input.manufacturer, 64, "manufacturer");
  check_uid(input.implementation_class_uid, "Implementation Class UID");
  if (input.predecessor) {
    const ReportReference& p = *input.predecessor;
    check_uid(p.study_instance_uid, "predecessor's Study Instance UID");
    check_uid(p.series_instance_uid, "predecessor's Series Instance UID");
    check_uid(p.sop_class_uid, "predecessor's SOP Class UID");
    check_uid(p.sop_instance_uid, "predecessor's SOP Instance UID");
    if (p.sop_instance_uid == input.sop_instance_uid) invalid("the report cannot be its own predecessor");
  }
  // A tracking UID names one finding: groups may share one only when they are the same
  // finding (tracking identifier, finding, site, laterality), e.g. measured in a volume and
  // on one slice; a viewer then shows them together.
  std::map<std::string, std::size_t> tracking_uids;
  for (std::size_t g = 0; g < result.groups.size(); ++g) {
    const plugins::MeasurementGroup& group = result.groups[g];
    const std::string where = "Measurements[" + std::to_string(g) + "]";
    check_text(group.tracking_identifier, 64, where + ".TrackingIdentifier");
    check_uid(input.tracking_uids[g], where + " tracking UID");
    const auto [first, fresh] = tracking_uids.emplace(input.tracking_uids[g], g);
    if (!fresh) {
      const plugins::MeasurementGroup& other = result.groups[first->second];
      if (other.tracking_identifier != group.tracking_identifier || other.finding != group.finding ||
          other.finding_site != group.finding_site || other.laterality != group.laterality) {
        invalid(where + " tracking UID " + input.tracking_uids[g] + " is used by another group too (Measurements[" +
                std::to_string(first->second) + "], another finding)");
      }
    }
    check_code(group.finding, where + ".Finding");
    if (group.finding_site) check_code(*group.finding_site, where + ".FindingSite");
    if (group.laterality) {
      if (!group.finding_site) invalid(where + ".Laterality without a FindingSite (laterality qualifies the site)");
      check_code(*group.laterality, where + ".Laterality");
    }
    if (group.image_region) {
      // parse_result checks the shape in full; this is what the SCOORD needs to be written.
      const plugins::ImageRegion& region = *group.image_region;
      const std::size_t points = region.graphic_data.size() / 2;
      const std::string& type = region.graphic_type;
      const bool count_ok = region.graphic_data.size() % 2 == 0 && points <= plugins::kMaxRegionPoints &&
                            ((type == "POINT" && points == 1) || (type == "CIRCLE" && points == 2) ||
                             (type == "ELLIPSE" && points == 4) || (type == "POLYLINE" && points >= 4));
      if (!count_ok) {
        invalid(where + ".imageRegion: graphic type '" + type + "' with " + std::to_string(points) +
                (points == 1 ? " point" : " points"));
      }
      for (const double v : region.graphic_data) {
        if (!std::isfinite(v) || v < 0 || v > plugins::kMaxImageCoordinate) {
          invalid(where + ".imageRegion.graphicData: a coordinate is not a number from 0 to 65535");
        }
      }
      if (!group.image_references.empty()) invalid(where + ": imageReferences beside an imageRegion");
    }
    if (group.items.empty()) invalid(where + " has no measurement items");
    if (group.items.size() > plugins::kMaxItemsPerGroup) {
      invalid(where + " has " + std::to_string(group.items.size()) + " items, at most " +
              std::to_string(plugins::kMaxItemsPerGroup));
    }
    for (std::size_t i = 0; i < group.items.size(); ++i) {
      const plugins::MeasurementItem& item = group.items[i];
      const std::string at = where + ".measurementItems[" + std::to_string(i) + "]";
      check_code(item.quantity, at + ".quantity");
      check_code(item.unit, at + ".units");
      if (item.unit.scheme != "UCUM") invalid(at + ".units: scheme '" + item.unit.scheme + "', must be UCUM");
      if (item.derivation) check_code(*item.derivation, at + ".derivationModifier");
      if (item.method) check_code(*item.method, at + ".method");
      if (!to_decimal_string(item.value)) {
        char shown[40];
        std::snprintf(shown, sizeof shown, "%g", item.value);
        invalid(at + ".value " + shown + " is not a finite number of magnitude at most 1e15");
      }
    }
  }
}


}  // namespace pacsnode::report::detail
