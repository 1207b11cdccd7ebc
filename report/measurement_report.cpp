#include "report/measurement_report.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcstack.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcwcache.h>
#include <dcmtk/dcmsr/cmr/init.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "dicom/file_meta.hpp"
#include "report/coding_schemes.hpp"
#include "report/device_uid.hpp"
#include "report/ds_value.hpp"
#include "report/dsr_helpers.hpp"
#include "report/input_check.hpp"
#include "report/planar_groups.hpp"

namespace pacsnode::report {
namespace {

using plugins::Code;
using detail::check_uid;
using detail::check;
using detail::coded;
using detail::invalid;

constexpr const char* kExplicitVrLittleEndian = "1.2.840.10008.1.2.1";
// Image references listed per measurement (TID 320) multiply: items × images. Beyond this
// many the report would be tens of megabytes of references; refused with a message.
constexpr std::size_t kMaxImageReferenceItems = 100000;

void check_internal(const OFCondition& status, const std::string& what) {
  if (status.bad()) throw Error(ErrorCode::Internal, "measurement report: " + what + ": " + status.text());
}

// DCMTK's context groups are built lazily on first use, which is not thread-safe; build
// them all once before any report (dcmtk/dcmsr/cmr/init.h).
void initialize_dcmtk_once() {
  static std::once_flag once;
  std::call_once(once, [] { CMR_ContentMappingResource::initializeAllContextGroups(); });
}

// --- the analysed instances ---

struct Source {
  std::filesystem::path path;
  std::unique_ptr<DcmFileFormat> file;
  std::string sop_class_uid, sop_instance_uid, study_instance_uid, series_instance_uid, modality;
  Uint16 rows = 0, columns = 0;
  long frames = 1;  // Number of Frames; 1 when absent
  bool multi_frame = false;  // a Number of Frames and a multi-frame SOP class: only then may a reference name a frame
  bool had_character_set = false;
  DcmDataset& data_set() const { return *file->getDataset(); }
};

std::string string_of(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return {};
  return std::string(value.c_str(), value.length());
}

// Image SOP classes whose IOD has no Multi-frame Module: a reference to one of their images
// names no frame (dciodvfy refuses a Referenced Frame Number there), whatever the file's
// Number of Frames says — some modalities write 1 into CT and MR images.
bool single_frame_class(const std::string& uid) {
  static const std::set<std::string> classes = {
      UID_ComputedRadiographyImageStorage,
      UID_DigitalXRayImageStorageForPresentation,
      UID_DigitalXRayImageStorageForProcessing,
      UID_DigitalMammographyXRayImageStorageForPresentation,
      UID_DigitalMammographyXRayImageStorageForProcessing,
      UID_DigitalIntraOralXRayImageStorageForPresentation,
      UID_DigitalIntraOralXRayImageStorageForProcessing,
      UID_CTImageStorage,
      UID_MRImageStorage,
      UID_UltrasoundImageStorage,
      UID_SecondaryCaptureImageStorage,
      UID_PositronEmissionTomographyImageStorage,
  };
  return classes.count(uid) != 0;
}

Source load_source(const std::filesystem::path& path) {
  Source source;
  source.path = path;
  source.file = std::make_unique<DcmFileFormat>();
  // The header is all a report needs (image library descriptors, references): values longer
  // than 4 KiB (the pixels) are left in the file, not read.
  const OFCondition status = source.file->loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096);
  if (status.bad()) invalid("cannot read analysed file " + path.string() + ": " + status.text());
  DcmDataset& ds = source.data_set();
  source.sop_class_uid = string_of(ds, DCM_SOPClassUID);
  source.sop_instance_uid = string_of(ds, DCM_SOPInstanceUID);
  source.study_instance_uid = string_of(ds, DCM_StudyInstanceUID);
  source.series_instance_uid = string_of(ds, DCM_SeriesInstanceUID);
  source.modality = string_of(ds, DCM_Modality);
  ds.findAndGetUint16(DCM_Rows, source.rows);
  ds.findAndGetUint16(DCM_Columns, source.columns);
  Sint32 frames = 0;
  if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good()) {
    source.multi_frame = !single_frame_class(source.sop_class_uid);
    source.frames = std::max<Sint32>(frames, 1);
  }
  const std::string name = "analysed file " + path.string();
  check_uid(source.sop_class_uid, name + ": SOP Class UID");
  check_uid(source.sop_instance_uid, name + ": SOP Instance UID");
  check_uid(source.study_instance_uid, name + ": Study Instance UID");
  check_uid(source.series_instance_uid, name + ": Series Instance UID");
  // The image library and the measurements reference it in IMAGE content items, which DCMTK
  // would write (with a warning) for any SOP class, making the SR invalid.
  if (!dcmIsImageStorageSOPClassUID(source.sop_class_uid.c_str())) {
    invalid(name + " is not an image (SOP Class " + source.sop_class_uid + "): a measurement report references images");
  }
  // The report is written in UTF-8 whenever its source declares any character set: its
  // patient and study text are copied, and the plug-in's text is UTF-8 already.
  const std::string charset = string_of(ds, DCM_SpecificCharacterSet);
  if (!charset.empty()) {
    source.had_character_set = true;
    if (charset != "ISO_IR 192") {
      const OFCondition converted = ds.convertToUTF8();
      if (converted.bad()) invalid(name + ": cannot convert its text from '" + charset + "' to UTF-8: " + converted.text());
    }
  }
  return source;
}

// (CID 100) The procedure reported, from the modality of the analysed images.
CID100_QuantitativeDiagnosticImagingProcedures procedure_for(const std::string& modality) {
  using P = CID100_QuantitativeDiagnosticImagingProcedures;
  if (modality == "CT") return P(P::CTUnspecifiedBodyRegion);
  if (modality == "MR") return P(P::MRIUnspecifiedBodyRegion);
  if (modality == "NM") return P(P::NMUnspecifiedBodyRegion);
  if (modality == "PT") return P(P::PETUnspecifiedBodyRegion);
  return P(P::ImagingProcedure);
}

// Every Coding Scheme Designator (0008,0102) anywhere in the data set.
std::set<std::string> schemes_in(DcmItem& data_set) {
  std::set<std::string> schemes;
  DcmStack stack;
  while (data_set.search(DCM_CodingSchemeDesignator, stack, ESM_afterStackTop, OFTrue).good()) {
    OFString value;
    if (static_cast<DcmElement*>(stack.top())->getOFString(value, 0).good() && !value.empty()) {
      schemes.insert(value.c_str());
    }
  }
  return schemes;
}

std::vector<std::uint8_t> encode(DcmDataset& data_set) {
  const E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  const Uint32 length = data_set.calcElementLength(xfer, EET_ExplicitLength);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(length) + 1024);
  DcmOutputBufferStream stream(out.data(), out.size());
  DcmWriteCache cache;
  data_set.transferInit();
  const OFCondition status = data_set.write(stream, xfer, EET_ExplicitLength, &cache);
  data_set.transferEnd();
  check_internal(status, "encoding the data set");
  void* buffer = nullptr;
  offile_off_t written = 0;
  stream.flushBuffer(buffer, written);
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// Series Description (LO, 64 characters): cut at a character boundary.
std::string series_description(const plugins::AnalysisResult& result) {
  std::string text = "pacsnode " + result.algorithm_name;
  if (!result.algorithm_version.empty()) text += " " + result.algorithm_version;
  std::size_t characters = 0, at = 0;
  for (; at < text.size(); ++at) {
    if ((static_cast<unsigned char>(text[at]) & 0xC0) != 0x80 && ++characters > 64) break;
  }
  return text.substr(0, at);
}

void fill_group(CMR_TID1501_in_TID1500& tid1501, const plugins::MeasurementGroup& group, const std::string& tracking_uid,
                const std::vector<const Source*>& references, const std::string& where) {
  check(tid1501.setTrackingIdentifier(group.tracking_identifier), where + ": tracking identifier");
  check(tid1501.setTrackingUniqueIdentifier(tracking_uid), where + ": tracking unique identifier");
  check(tid1501.setFinding(coded(group.finding, where + ".Finding")), where + ": finding");
  if (group.finding_site) {
    const DSRCodedEntryValue site = coded(*group.finding_site, where + ".FindingSite");
    const CID244e_Laterality laterality =
        group.laterality ? CID244e_Laterality(coded(*group.laterality, where + ".Laterality")) : CID244e_Laterality();
    check(tid1501.addFindingSite(site, laterality), where + ": finding site");
  }
  for (std::size_t i = 0; i < group.items.size(); ++i) {
    const plugins::MeasurementItem& item = group.items[i];
    const std::string at = where + ".measurementItems[" + std::to_string(i) + "]";
    const CID7181_AbstractMultiDimensionalImageModelComponentUnits unit(coded(item.unit, at + ".units"));
    CMR_TID1501_in_TID1500::MeasurementValue value;
    check(value.setValue(OFString(to_decimal_string(item.value)->c_str()), unit), at + ": value");
    check(tid1501.addMeasurement(CID7469_GenericIntensityAndSizeMeasurements(coded(item.quantity, at + ".quantity")), value),
          at + ": measurement");
    CMR_TID300_in_TID1501_in_TID1500& measurement = tid1501.getMeasurement();
    if (item.method) {
      check(measurement.setMeasurementMethod(CID6147_ResponseCriteria(coded(*item.method, at + ".method"))), at + ": method");
    }
    if (item.derivation) {
      check(measurement.setDerivation(
                CID7464_GeneralRegionOfInterestMeasurementModifiers(coded(*item.derivation, at + ".derivationModifier"))),
            at + ": derivation");
    }
    for (const Source* source : references) {
      check(measurement.addImage(CODE_DCM_SourceOfMeasurement,
                                 DSRImageReferenceValue(source->sop_class_uid, source->sop_instance_uid)),
            at + ": image reference " + source->sop_instance_uid);
    }
    if (!measurement.isValid()) invalid(at + ": DCMTK finds the measurement (TID 300) invalid");
  }
  if (!tid1501.isValid()) invalid(where + ": DCMTK finds the measurement group (TID 1501) invalid");
}

}  // namespace

BuiltReport build_measurement_report(const ReportInput& input) {
  detail::check_report_input(input);
  initialize_dcmtk_once();
  const plugins::AnalysisResult& result = *input.result;

  // The analysed instances: one study, each instance once.
  std::vector<Source> sources;
  sources.reserve(input.analysed_files.size());
  std::map<std::string, const Source*> by_sop_instance;
  for (const auto& path : input.analysed_files) {
    sources.push_back(load_source(path));
    const Source& source = sources.back();
    if (source.study_instance_uid != sources.front().study_instance_uid) {
      invalid("analysed file " + path.string() + " is of study " + source.study_instance_uid + ", the others of " +
              sources.front().study_instance_uid + ": one report covers one study");
    }
    if (source.sop_instance_uid == input.sop_instance_uid) invalid("the report's SOP Instance UID is that of an analysed instance");
    if (!by_sop_instance.emplace(source.sop_instance_uid, nullptr).second) {
      invalid("instance " + source.sop_instance_uid + " is analysed twice (" + path.string() + ")");
    }
  }
  for (const Source& source : sources) by_sop_instance[source.sop_instance_uid] = &source;
  if (input.series_instance_uid == sources.front().series_instance_uid) {
    invalid("the report's Series Instance UID is that of the analysed series: the report goes in a new series");
  }

  // Each group's own image references (empty: all the analysed images, which the image
  // library lists).
  std::vector<std::vector<const Source*>> references(result.groups.size());
  std::size_t reference_items = 0;
  for (std::size_t g = 0; g < result.groups.size(); ++g) {
    std::set<std::string> seen;
    for (const std::string& uid : result.groups[g].image_references) {
      const auto found = by_sop_instance.find(uid);
      if (found == by_sop_instance.end()) {
        invalid("Measurements[" + std::to_string(g) + "].imageReferences: " + uid + " is not one of the analysed instances");
      }
      if (seen.insert(uid).second) references[g].push_back(found->second);
    }
    reference_items += references[g].size() * result.groups[g].items.size();
  }
  // Each region's image: analysed, with the frame it names, and the region inside it.
  std::vector<std::optional<detail::RegionImage>> region_images(result.groups.size());
  for (std::size_t g = 0; g < result.groups.size(); ++g) {
    if (!result.groups[g].image_region) continue;
    const plugins::ImageRegion& region = *result.groups[g].image_region;
    const std::string where = "Measurements[" + std::to_string(g) + "].imageRegion";
    const auto found = by_sop_instance.find(region.referenced_sop_instance_uid);
    if (found == by_sop_instance.end()) {
      invalid(where + ".referencedSOPInstanceUID: " + region.referenced_sop_instance_uid + " is not one of the analysed instances");
    }
    const Source& image = *found->second;
    if (region.referenced_frame_number && *region.referenced_frame_number > image.frames) {
      invalid(where + ".referencedFrameNumber: " + std::to_string(*region.referenced_frame_number) + ", but the image has " +
              std::to_string(image.frames) + " frame" + (image.frames == 1 ? "" : "s"));
    }
    if (region.referenced_frame_number && *region.referenced_frame_number > 1 && !image.multi_frame) {
      invalid(where + ".referencedFrameNumber: " + std::to_string(*region.referenced_frame_number) +
              ", but the image's SOP class (" + image.sop_class_uid + ") is a single-frame one, whatever its " +
              std::to_string(image.frames) + " frames: a report can reference only the whole image");
    }
    for (std::size_t i = 0; i + 1 < region.graphic_data.size(); i += 2) {
      const double column = region.graphic_data[i], row = region.graphic_data[i + 1];
      if (column > image.columns || row > image.rows) {
        char shown[64];
        std::snprintf(shown, sizeof shown, "(%g, %g)", column, row);
        invalid(where + ".graphicData: point " + shown + " lies outside the image (" + std::to_string(image.columns) +
                " columns, " + std::to_string(image.rows) + " rows)");
      }
    }
    region_images[g] = detail::RegionImage{image.sop_class_uid, image.sop_instance_uid, image.multi_frame};
  }
  if (reference_items > kMaxImageReferenceItems) {
    invalid(std::to_string(reference_items) + " image references (items × listed images), at most " +
            std::to_string(kMaxImageReferenceItems) + ": list fewer images or leave imageReferences empty (all)");
  }

  // TID 1500: title, language, observer, procedure.
  TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
  check(report.setLanguage(CID5000_Languages::English), "language");
  check(report.getObservationContext().addDeviceObserver(device_observer_uid(result.algorithm_name), result.algorithm_name,
                                                         input.manufacturer, result.algorithm_version),
        "device observer");
  check(report.addProcedureReported(procedure_for(sources.front().modality)), "procedure reported");

  // TID 1600 image library: one group per analysed series, an entry per instance.
  TID1600_ImageLibrary& library = report.getImageLibrary();
  check(library.createNewImageLibrary(), "image library");
  std::vector<std::string> series_order;
  for (const Source& source : sources) {
    if (std::find(series_order.begin(), series_order.end(), source.series_instance_uid) == series_order.end()) {
      series_order.push_back(source.series_instance_uid);
    }
  }
  for (const std::string& series : series_order) {
    check(library.addImageGroup(), "image library group");
    for (const Source& source : sources) {
      if (source.series_instance_uid != series) continue;
      const OFCondition status = library.addImageEntry(source.data_set(), TID1600_ImageLibrary::withAllDescriptors);
      if (status != CMR_EC_NoImageLibraryEntryDescriptorsToBeAdded) {
        check(status, "image library entry for " + source.path.string());
      }
    }
  }
  check(library.moveCommonImageDescriptorsToImageGroups(), "image library: common descriptors");
  if (!library.isValid()) invalid("DCMTK finds the image library (TID 1600) invalid");

  // TID 1501 measurement groups, one per finding measured without a region (those with one
  // are added to the finished tree below).
  bool first_individual = true;
  for (std::size_t g = 0; g < result.groups.size(); ++g) {
    if (result.groups[g].image_region) continue;
    if (!first_individual) check(report.addIndividualMeasurements(), "new measurement group");
    first_individual = false;
    fill_group(report.getIndividualMeasurements(), result.groups[g], input.tracking_uids[g], references[g],
               "Measurements[" + std::to_string(g) + "]");
  }
  // The summary: a qualitative evaluation in text form (TID 1500 row 14) on the whole report.
  if (!result.summary.empty()) {
    check(report.addQualitativeEvaluation(CODE_DCM_Comment, OFString(result.summary.c_str())), "summary");
  }
  if (!report.getObservationContext().isValid()) invalid("DCMTK finds the observation context (TID 1001) invalid");
  if (!report.isValid()) invalid("DCMTK finds the measurement report (TID 1500) invalid");

  // The document: Enhanced SR in the analysed study, a new series.
  DSRDocument doc;
  check(doc.setTreeFromRootTemplate(report, OFTrue /*expandTree*/), "SR document tree");
  detail::add_planar_groups(doc.getTree(), result, input.tracking_uids, region_images);
  bool utf8 = false;
  for (const Source& source : sources) utf8 = utf8 || source.had_character_set;
  utf8 = utf8 || !detail::input_is_ascii(input);
  if (utf8) check(doc.setSpecificCharacterSet("ISO_IR 192"), "Specific Character Set");
  check(doc.readStudyData(sources.front().data_set()), "patient and study of " + sources.front().path.string());
  doc.createNewSeries();  // its UIDs are replaced by the caller's below
  check(doc.setSeriesDescription(series_description(result)), "Series Description");
  check(doc.setSeriesNumber(std::to_string(input.series_number)), "Series Number");
  check(doc.setInstanceNumber("1"), "Instance Number");
  if (!input.manufacturer.empty()) check(doc.setManufacturer(input.manufacturer), "Manufacturer");
  if (!input.implementation_version_name.empty()) {
    check(doc.setSoftwareVersions(input.implementation_version_name), "Software Versions");
  }
  OFString now;
  check(doc.setContentDate(DSRTypes::currentDate(now)), "Content Date");
  check(doc.setContentTime(DSRTypes::currentTime(now)), "Content Time");
  for (const Source& source : sources) {
    check(doc.getCurrentRequestedProcedureEvidence().addItem(source.study_instance_uid, source.series_instance_uid,
                                                             source.sop_class_uid, source.sop_instance_uid),
          "evidence for " + source.sop_instance_uid);
  }
  if (input.predecessor) {
    const ReportReference& p = *input.predecessor;
    check(doc.getPredecessorDocuments().addItem(p.study_instance_uid, p.series_instance_uid, p.sop_class_uid,
                                                p.sop_instance_uid),
          "predecessor document");
  }
  check(doc.completeDocument(), "completion flag");
  if (!doc.isValid()) invalid("DCMTK finds the SR document invalid");

  // Written once to learn which coding schemes it uses, then again with the ones that must
  // be declared in the Coding Scheme Identification Sequence.
  DcmDataset data_set;
  check(doc.write(data_set), "writing the SR document");
  bool declared = false;
  for (const std::string& scheme : schemes_in(data_set)) {
    if (!needs_declaration(scheme)) continue;
    check(doc.getCodingSchemeIdentification().addItem(scheme, "", declared_scheme_name(scheme)),
          "declaring coding scheme " + scheme);
    declared = true;
  }
  if (declared) {
    data_set.clear();
    check(doc.write(data_set), "writing the SR document");
  }
  // The caller's UIDs, so that a retried attempt writes the same instance again; the
  // creator is this node, not DCMTK.
  check_internal(data_set.putAndInsertString(DCM_SOPInstanceUID, input.sop_instance_uid.c_str()), "SOP Instance UID");
  check_internal(data_set.putAndInsertString(DCM_SeriesInstanceUID, input.series_instance_uid.c_str()), "Series Instance UID");
  check_internal(data_set.putAndInsertString(DCM_InstanceCreatorUID, input.implementation_class_uid.c_str()),
                 "Instance Creator UID");

  BuiltReport built;
  built.sop_class_uid = UID_EnhancedSRStorage;
  built.sop_instance_uid = input.sop_instance_uid;
  built.series_instance_uid = input.series_instance_uid;
  built.study_instance_uid = sources.front().study_instance_uid;
  const std::string sop_class = string_of(data_set, DCM_SOPClassUID);
  if (sop_class != built.sop_class_uid) {
    throw Error(ErrorCode::Internal, "measurement report: DCMTK wrote SOP Class " + sop_class + ", not Enhanced SR");
  }

  dicom::FileMeta meta;
  meta.media_storage_sop_class_uid = built.sop_class_uid;
  meta.media_storage_sop_instance_uid = built.sop_instance_uid;
  meta.transfer_syntax_uid = kExplicitVrLittleEndian;
  meta.implementation_class_uid = input.implementation_class_uid;
  meta.implementation_version_name = input.implementation_version_name;
  built.part10 = dicom::encode_file_meta(meta);
  const std::vector<std::uint8_t> body = encode(data_set);
  built.part10.insert(built.part10.end(), body.begin(), body.end());
  return built;
}

}  // namespace pacsnode::report
