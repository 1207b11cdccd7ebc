#pragma once
// The coded concepts the bundled plug-ins report (docs: routing-plugins-reports.md).
// Quantities with no standard code use the private scheme 99PACSNODE.
#include "plugins/contract.hpp"

namespace pacsnode::bundled::codes {

using plugins::Code;

inline const Code kVolume{"118565006", "SCT", "Volume"};
inline const Code kArea{"42798000", "SCT", "Area"};
inline const Code kSumOfVoxelsMethod{"126030", "DCM", "Sum of segmented voxel method for volume"};
inline const Code kAttenuation{"112031", "DCM", "Attenuation Coefficient"};
inline const Code kSignalToNoise{"113060", "DCM", "Signal to noise"};
inline const Code kMean{"373098007", "SCT", "Mean"};
inline const Code kStandardDeviation{"386136009", "SCT", "Standard Deviation"};
inline const Code kMinimum{"255605001", "SCT", "Minimum"};
inline const Code kMaximum{"56851009", "SCT", "Maximum"};

inline const Code kHounsfield{"[hnsf'U]", "UCUM", "Hounsfield unit"};
inline const Code kCubicCentimeter{"cm3", "UCUM", "cubic centimeter"};
inline const Code kSquareMillimeter{"mm2", "UCUM", "square millimeter"};
inline const Code kPercent{"%", "UCUM", "percent"};
inline const Code kNoUnits{"1", "UCUM", "no units"};

inline const Code kLung{"39607008", "SCT", "Lung"};
inline const Code kRight{"24028007", "SCT", "Right"};
inline const Code kLeft{"7771000", "SCT", "Left"};
inline const Code kBodyStructure{"123037004", "SCT", "Body structure"};

// Private (99PACSNODE).
inline const Code kIntensity{"PN-INTENSITY", "99PACSNODE", "Image intensity"};
inline const Code kUniformity{"PN-UNIFORMITY", "99PACSNODE", "Uniformity, max peripheral minus central ROI mean"};
inline const Code kLaa950{"PN-LAA950", "99PACSNODE", "Lung volume below -950 HU (LAA-950)"};
inline const Code kPercentile15{"PN-PD15", "99PACSNODE", "15th percentile lung density (PD15)"};

}  // namespace pacsnode::bundled::codes
