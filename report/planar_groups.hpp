#pragma once
// TID 1410 (Planar ROI Measurements) groups, for the result groups that have an image
// region. DCMTK 3.6.7 has no class for this template, so its content items are added to the
// document tree DCMTK built from the TID 1500 classes, with the concepts and relationships
// DCMTK's TID 1501 and TID 1419 (in TID 1411) use. For report/*.cpp.
#include <optional>
#include <string>
#include <vector>

#include "plugins/contract.hpp"

class DSRDocumentTree;

namespace pacsnode::report::detail {

// The image a region is on, as the report references it.
struct RegionImage {
  std::string sop_class_uid, sop_instance_uid;
  bool multi_frame = false;  // only then does the reference name a frame
};

// Adds a TID 1410 group for each result group with a region (its image in `region_images`,
// same index), each in its place among the TID 1501 groups already under Imaging
// Measurements, which are the other result groups in order. Throws Error (InvalidArgument
// for what DCMTK refuses, Internal for a tree that is not as built).
void add_planar_groups(DSRDocumentTree& tree, const plugins::AnalysisResult& result,
                       const std::vector<std::string>& tracking_uids,
                       const std::vector<std::optional<RegionImage>>& region_images);

}  // namespace pacsnode::report::detail
