#include "plugins/bundled/common/result_json.hpp"

#include <cmath>
#include <fstream>
#include <stdexcept>

namespace pacsnode::bundled {

namespace {

nlohmann::json code_json(const plugins::Code& c) {
  return {{"CodeValue", c.value}, {"CodingSchemeDesignator", c.scheme}, {"CodeMeaning", c.meaning}};
}

}  // namespace

nlohmann::json to_json(const plugins::AnalysisResult& result) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : result.groups) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& m : g.items) {
      if (!std::isfinite(m.value)) throw std::logic_error("measurement '" + m.quantity.meaning + "' is not finite");
      nlohmann::json item = {{"quantity", code_json(m.quantity)}, {"value", m.value}, {"units", code_json(m.unit)}};
      if (m.derivation) item["derivationModifier"] = code_json(*m.derivation);
      if (m.method) item["method"] = code_json(*m.method);
      items.push_back(std::move(item));
    }
    nlohmann::json group = {{"TrackingIdentifier", g.tracking_identifier},
                            {"Finding", code_json(g.finding)},
                            {"imageReferences", g.image_references},
                            {"measurementItems", std::move(items)}};
    if (g.finding_site) group["FindingSite"] = code_json(*g.finding_site);
    if (g.laterality) group["Laterality"] = code_json(*g.laterality);
    if (g.image_region) {
      const plugins::ImageRegion& r = *g.image_region;
      for (double x : r.graphic_data) {
        if (!std::isfinite(x)) throw std::logic_error("image region of '" + g.tracking_identifier + "' is not finite");
      }
      nlohmann::json region = {{"graphicType", r.graphic_type},
                               {"graphicData", r.graphic_data},
                               {"referencedSOPInstanceUID", r.referenced_sop_instance_uid}};
      if (r.referenced_frame_number) region["referencedFrameNumber"] = *r.referenced_frame_number;
      group["imageRegion"] = std::move(region);
    }
    groups.push_back(std::move(group));
  }
  return {{"contract", result.contract},
          {"algorithm", {{"name", result.algorithm_name}, {"version", result.algorithm_version}}},
          {"summary", result.summary},
          {"Measurements", std::move(groups)}};
}

void write_result(const std::filesystem::path& out_dir, const plugins::AnalysisResult& result) {
  const std::string text = to_json(result).dump(1) + "\n";
  if (text.size() > plugins::kMaxResultBytes) throw std::runtime_error("result.json would exceed the contract's 4 MiB");
  std::filesystem::create_directories(out_dir);
  const auto tmp = out_dir / "result.json.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, out_dir / "result.json");
}

}  // namespace pacsnode::bundled
