#include "report/planar_groups.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/codes/sct.h>
#include <dcmtk/dcmsr/dsrdoctr.h>

#include <optional>
#include <string>

#include "base/error.hpp"
#include "report/ds_value.hpp"
#include "report/dsr_helpers.hpp"
#include "report/input_check.hpp"

namespace pacsnode::report::detail {
namespace {

// (TID 1410) A group measured in a region of one image. DCMTK 3.6.7 has no class for this
// template, so its content items are added to the finished document tree, with the same
// concepts and relationships DCMTK's TID 1501 and TID 1419 (in TID 1411) use.
class PlanarGroupWriter {
 public:
  explicit PlanarGroupWriter(DSRDocumentTree& tree) : tree_(tree) {}

  // Adds the group after node `previous` (0: as the first child of `container`).
  std::size_t write(std::size_t container, std::size_t previous, const plugins::MeasurementGroup& group,
                    const std::string& tracking_uid, const RegionImage& image, const std::string& where) {
    where_ = where;
    std::size_t id = 0;
    if (previous == 0) {
      if (tree_.gotoNode(container) == 0) internal("Imaging Measurements container lost");
      id = tree_.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_belowCurrentBeforeFirstChild);
    } else {
      if (tree_.gotoNode(previous) == 0) internal("preceding measurement group lost");
      id = tree_.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_afterCurrent);
    }
    if (id == 0) internal("DCMTK refuses a measurement group here");
    check(tree_.getCurrentContentItem().setConceptName(CODE_DCM_MeasurementGroup), where + ": measurement group");
    check(tree_.getCurrentContentItem().setTemplateIdentification("1410", "DCMR"), where + ": template identification");

    child(id, DSRTypes::RT_contains, DSRTypes::VT_Text, CODE_DCM_TrackingIdentifier, "tracking identifier");
    check(item().setStringValue(group.tracking_identifier), where + ": tracking identifier");
    child(id, DSRTypes::RT_contains, DSRTypes::VT_UIDRef, CODE_DCM_TrackingUniqueIdentifier, "tracking unique identifier");
    check(item().setStringValue(tracking_uid), where + ": tracking unique identifier");
    child(id, DSRTypes::RT_contains, DSRTypes::VT_Code, CODE_DCM_Finding, "finding");
    check(item().setCodeValue(coded(group.finding, where + ".Finding")), where + ": finding");

    const plugins::ImageRegion& region = *group.image_region;
    const std::size_t scoord = child(id, DSRTypes::RT_contains, DSRTypes::VT_SCoord, CODE_DCM_ImageRegion, "image region");
    DSRSpatialCoordinatesValue coordinates(graphic_type(region.graphic_type));
    for (std::size_t i = 0; i + 1 < region.graphic_data.size(); i += 2) {
      coordinates.getGraphicDataList().addItem(static_cast<Float32>(region.graphic_data[i]),
                                               static_cast<Float32>(region.graphic_data[i + 1]));
    }
    check(item().setSpatialCoordinates(coordinates), where + ".imageRegion");
    DSRImageReferenceValue reference(image.sop_class_uid, image.sop_instance_uid);
    // A single-frame image has no frame to name (frame 1 of it is the image).
    if (region.referenced_frame_number && image.multi_frame) reference.getFrameList().addItem(*region.referenced_frame_number);
    child(scoord, DSRTypes::RT_selectedFrom, DSRTypes::VT_Image, std::nullopt, "image of the region");
    check(item().setImageReference(reference), where + ".imageRegion.referencedSOPInstanceUID");

    if (group.finding_site) {
      const std::size_t site = child(id, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_SCT_FindingSite, "finding site");
      check(item().setCodeValue(coded(*group.finding_site, where + ".FindingSite")), where + ": finding site");
      if (group.laterality) {
        child(site, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_SCT_Laterality, "laterality");
        check(item().setCodeValue(coded(*group.laterality, where + ".Laterality")), where + ": laterality");
      }
    }
    for (std::size_t i = 0; i < group.items.size(); ++i) {
      const plugins::MeasurementItem& m = group.items[i];
      const std::string at = where + ".measurementItems[" + std::to_string(i) + "]";
      const DSRCodedEntryValue quantity = coded(m.quantity, at + ".quantity");
      const std::size_t num = child(id, DSRTypes::RT_contains, DSRTypes::VT_Num, quantity, "measurement");
      const DSRNumericMeasurementValue value(OFString(to_decimal_string(m.value)->c_str()), coded(m.unit, at + ".units"));
      check(item().setNumericValue(value), at + ": value");
      if (m.method) {
        child(num, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_SCT_MeasurementMethod, "measurement method");
        check(item().setCodeValue(coded(*m.method, at + ".method")), at + ": method");
      }
      if (m.derivation) {
        child(num, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_DCM_Derivation, "derivation");
        check(item().setCodeValue(coded(*m.derivation, at + ".derivationModifier")), at + ": derivation");
      }
    }
    return id;
  }

 private:
  [[noreturn]] void internal(const std::string& what) const {
    throw Error(ErrorCode::Internal, "measurement report: " + where_ + ": " + what);
  }

  static DSRTypes::E_GraphicType graphic_type(const std::string& name) {
    if (name == "POINT") return DSRTypes::GT_Point;
    if (name == "CIRCLE") return DSRTypes::GT_Circle;
    if (name == "ELLIPSE") return DSRTypes::GT_Ellipse;
    return DSRTypes::GT_Polyline;  // parse_result admits nothing else
  }

  DSRContentItem& item() { return tree_.getCurrentContentItem(); }

  // A new last child of `parent`, the cursor on it; the IMAGE a region is selected from has
  // no concept name.
  std::size_t child(std::size_t parent, DSRTypes::E_RelationshipType relationship, DSRTypes::E_ValueType type,
                    const std::optional<DSRCodedEntryValue>& name, const char* what) {
    if (tree_.gotoNode(parent) == 0) internal(std::string("parent of the ") + what + " lost");
    const std::size_t id = tree_.addContentItem(relationship, type, DSRTypes::AM_belowCurrent);
    if (id == 0) invalid(where_ + ": DCMTK refuses the " + what + " in a measurement group");
    if (name) check(item().setConceptName(*name), where_ + ": " + what);
    return id;
  }

  DSRDocumentTree& tree_;
  std::string where_;
};

}  // namespace

void add_planar_groups(DSRDocumentTree& tree, const plugins::AnalysisResult& result,
                       const std::vector<std::string>& tracking_uids,
                       const std::vector<std::optional<RegionImage>>& region_images) {
  if (tree.gotoNamedNode(CODE_DCM_ImagingMeasurements) == 0) {
    throw Error(ErrorCode::Internal, "measurement report: no Imaging Measurements container in the tree");
  }
  const std::size_t container = tree.getNodeID();
  std::vector<std::size_t> individual;  // the TID 1501 groups DCMTK wrote, in order
  if (tree.goDown() != 0) {
    do {
      if (tree.getCurrentContentItem().getConceptName() == CODE_DCM_MeasurementGroup) individual.push_back(tree.getNodeID());
    } while (tree.gotoNext() != 0);
  }
  PlanarGroupWriter writer(tree);
  std::size_t previous = 0, next_individual = 0;
  for (std::size_t g = 0; g < result.groups.size(); ++g) {
    if (!result.groups[g].image_region) {
      if (next_individual == individual.size()) {
        throw Error(ErrorCode::Internal, "measurement report: fewer TID 1501 groups in the tree than in the result");
      }
      previous = individual[next_individual++];
      continue;
    }
    if (g >= region_images.size() || !region_images[g]) {
      throw Error(ErrorCode::Internal, "measurement report: no image for the region of Measurements[" + std::to_string(g) + "]");
    }
    previous = writer.write(container, previous, result.groups[g], tracking_uids[g], *region_images[g],
                            "Measurements[" + std::to_string(g) + "]");
  }
}

}  // namespace pacsnode::report::detail
