#include "dicom/levels.hpp"

#include <algorithm>
#include <array>

namespace pacsnode::dicom {
namespace {

// Group 0010 is the Patient module by default; the tags below move an attribute elsewhere.
// Each table is sorted (checked at compile time) and searched with binary_search.

// Patient level outside group 0010: Patient module (de-identification) and the Clinical
// Trial Subject module.
constexpr std::array kPatient = {
    0x00120010u,  // ClinicalTrialSponsorName
    0x00120020u,  // ClinicalTrialProtocolID
    0x00120021u,  // ClinicalTrialProtocolName
    0x00120030u,  // ClinicalTrialSiteID
    0x00120031u,  // ClinicalTrialSiteName
    0x00120040u,  // ClinicalTrialSubjectID
    0x00120042u,  // ClinicalTrialSubjectReadingID
    0x00120062u,  // PatientIdentityRemoved
    0x00120063u,  // DeidentificationMethod
    0x00120064u,  // DeidentificationMethodCodeSequence
};

// General Study, Patient Study and Clinical Trial Study modules.
constexpr std::array kStudy = {
    0x00080020u,  // StudyDate
    0x00080030u,  // StudyTime
    0x00080050u,  // AccessionNumber
    0x00080051u,  // IssuerOfAccessionNumberSequence
    0x00080090u,  // ReferringPhysicianName
    0x00080096u,  // ReferringPhysicianIdentificationSequence
    0x0008009Cu,  // ConsultingPhysicianName
    0x0008009Du,  // ConsultingPhysicianIdentificationSequence
    0x00081030u,  // StudyDescription
    0x00081032u,  // ProcedureCodeSequence
    0x00081048u,  // PhysiciansOfRecord
    0x00081049u,  // PhysiciansOfRecordIdentificationSequence
    0x00081060u,  // NameOfPhysiciansReadingStudy
    0x00081062u,  // PhysiciansReadingStudyIdentificationSequence
    0x00081080u,  // AdmittingDiagnosesDescription
    0x00081084u,  // AdmittingDiagnosesCodeSequence
    0x00081110u,  // ReferencedStudySequence
    0x00101010u,  // PatientAge            (Patient Study: the patient at this study)
    0x00101020u,  // PatientSize
    0x00101021u,  // PatientSizeCodeSequence
    0x00101022u,  // PatientBodyMassIndex
    0x00101023u,  // MeasuredAPDimension
    0x00101024u,  // MeasuredLateralDimension
    0x00101030u,  // PatientWeight
    0x00102000u,  // MedicalAlerts
    0x00102110u,  // Allergies
    0x00102180u,  // Occupation
    0x001021A0u,  // SmokingStatus
    0x001021B0u,  // AdditionalPatientHistory
    0x001021C0u,  // PregnancyStatus
    0x001021D0u,  // LastMenstrualDate
    0x00120050u,  // ClinicalTrialTimePointID
    0x00120051u,  // ClinicalTrialTimePointDescription
    0x0020000Du,  // StudyInstanceUID
    0x00200010u,  // StudyID
    0x00321033u,  // RequestingService
    0x00321034u,  // RequestingServiceCodeSequence
    0x00321066u,  // ReasonForVisit
    0x00321067u,  // ReasonForVisitCodeSequence
    0x00380010u,  // AdmissionID
    0x00380014u,  // IssuerOfAdmissionIDSequence
    0x00380060u,  // ServiceEpisodeID
    0x00380062u,  // ServiceEpisodeDescription
    0x00380064u,  // IssuerOfServiceEpisodeIDSequence
    0x00380500u,  // PatientState
    0x00401012u,  // ReasonForPerformedProcedureCodeSequence
};

// General Series, General Equipment (the equipment that produced the series), Frame of
// Reference and Clinical Trial Series modules.
constexpr std::array kSeries = {
    0x00080021u,  // SeriesDate
    0x00080031u,  // SeriesTime
    0x00080060u,  // Modality
    0x00080070u,  // Manufacturer
    0x00080080u,  // InstitutionName
    0x00080081u,  // InstitutionAddress
    0x00081010u,  // StationName
    0x0008103Eu,  // SeriesDescription
    0x0008103Fu,  // SeriesDescriptionCodeSequence
    0x00081040u,  // InstitutionalDepartmentName
    0x00081041u,  // InstitutionalDepartmentTypeCodeSequence
    0x00081050u,  // PerformingPhysicianName
    0x00081052u,  // PerformingPhysicianIdentificationSequence
    0x00081070u,  // OperatorsName
    0x00081072u,  // OperatorIdentificationSequence
    0x00081090u,  // ManufacturerModelName
    0x00081111u,  // ReferencedPerformedProcedureStepSequence
    0x00081250u,  // RelatedSeriesSequence
    0x00102210u,  // AnatomicalOrientationType (General Series, despite its group)
    0x00120060u,  // ClinicalTrialCoordinatingCenterName
    0x00120071u,  // ClinicalTrialSeriesID
    0x00120072u,  // ClinicalTrialSeriesDescription
    0x00180015u,  // BodyPartExamined
    0x00181000u,  // DeviceSerialNumber
    0x00181002u,  // DeviceUID
    0x00181020u,  // SoftwareVersions
    0x00181030u,  // ProtocolName
    0x00181050u,  // SpatialResolution
    0x00181200u,  // DateOfLastCalibration
    0x00181201u,  // TimeOfLastCalibration
    0x00185100u,  // PatientPosition
    0x0020000Eu,  // SeriesInstanceUID
    0x00200011u,  // SeriesNumber
    0x00200052u,  // FrameOfReferenceUID
    0x00200060u,  // Laterality
    0x00201040u,  // PositionReferenceIndicator
    0x00280108u,  // SmallestPixelValueInSeries
    0x00280109u,  // LargestPixelValueInSeries
    0x00400244u,  // PerformedProcedureStepStartDate
    0x00400245u,  // PerformedProcedureStepStartTime
    0x00400250u,  // PerformedProcedureStepEndDate
    0x00400251u,  // PerformedProcedureStepEndTime
    0x00400253u,  // PerformedProcedureStepID
    0x00400254u,  // PerformedProcedureStepDescription
    0x00400260u,  // PerformedProtocolCodeSequence
    0x00400275u,  // RequestAttributesSequence
    0x00400280u,  // CommentsOnThePerformedProcedureStep
};

static_assert(std::is_sorted(kPatient.begin(), kPatient.end()));
static_assert(std::is_sorted(kStudy.begin(), kStudy.end()));
static_assert(std::is_sorted(kSeries.begin(), kSeries.end()));

template <std::size_t N>
bool contains(const std::array<unsigned, N>& table, std::uint32_t tag) {
  return std::binary_search(table.begin(), table.end(), tag);
}

}  // namespace

Level level_of(std::uint32_t tag) {
  if (contains(kStudy, tag)) return Level::Study;
  if (contains(kSeries, tag)) return Level::Series;
  if (contains(kPatient, tag) || (tag >> 16) == 0x0010) return Level::Patient;
  return Level::Instance;
}

}  // namespace pacsnode::dicom
