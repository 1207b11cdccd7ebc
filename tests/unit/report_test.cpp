// The TID 1500 report builder (report/measurement_report.hpp) on real CT files: every report
// is checked by dciodvfy (dicom3tools), rendered by dsrdump, and read back with DCMTK's
// dcmdata (not dcmsr, which wrote it) item by item.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"

#include "base/error.hpp"
#include "base/process.hpp"
#include "report/coding_schemes.hpp"
#include "report/device_uid.hpp"
#include "report/ds_value.hpp"
#include "report/measurement_report.hpp"
#include "tests/support/dciodvfy.hpp"
#include "tests/support/temp_dir.hpp"

using pacsnode::Error;
using pacsnode::ErrorCode;
using pacsnode::plugins::AnalysisResult;
using pacsnode::plugins::Code;
using pacsnode::plugins::ImageRegion;
using pacsnode::plugins::MeasurementGroup;
using pacsnode::plugins::MeasurementItem;
using pacsnode::report::build_measurement_report;
using pacsnode::report::BuiltReport;
using pacsnode::report::ReportInput;
using pacsnode::report::ReportReference;

namespace {

const char* const kCtSmall = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";

std::string new_uid() {
  char buffer[100];
  return dcmGenerateUniqueIdentifier(buffer);
}

// A CT series of `count` instances made from pydicom's CT_small.dcm: new series and SOP
// Instance UIDs, consecutive instance numbers and slice positions.
struct CtSeries {
  std::vector<std::filesystem::path> files;
  std::vector<std::string> sop_instance_uids;
  std::string study_uid, series_uid;
};

CtSeries make_ct_series(const std::filesystem::path& dir, int count = 3) {
  CtSeries series;
  series.series_uid = new_uid();
  for (int i = 0; i < count; ++i) {
    DcmFileFormat file;
    REQUIRE(file.loadFile(kCtSmall).good());
    DcmDataset* ds = file.getDataset();
    const std::string sop = new_uid();
    REQUIRE(ds->putAndInsertString(DCM_SOPInstanceUID, sop.c_str()).good());
    REQUIRE(ds->putAndInsertString(DCM_SeriesInstanceUID, series.series_uid.c_str()).good());
    REQUIRE(ds->putAndInsertString(DCM_InstanceNumber, std::to_string(i + 1).c_str()).good());
    const std::string position = "-158.135803\\-179.035797\\" + std::to_string(-75.699997 + 5.0 * i);
    REQUIRE(ds->putAndInsertString(DCM_ImagePositionPatient, position.c_str()).good());
    OFString study;
    REQUIRE(ds->findAndGetOFString(DCM_StudyInstanceUID, study).good());
    series.study_uid = study.c_str();
    file.getMetaInfo()->clear();  // rebuilt from the data set on save
    const auto path = dir / ("ct" + std::to_string(i) + ".dcm");
    REQUIRE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
    series.files.push_back(path);
    series.sop_instance_uids.push_back(sop);
  }
  return series;
}

const Code kLung{"39607008", "SCT", "Lung"};
const Code kRight{"24028007", "SCT", "Right"};
const Code kLeft{"7771000", "SCT", "Left"};
const Code kRightAndLeft{"51440002", "SCT", "Right and left"};
const Code kVolume{"118565006", "SCT", "Volume"};
const Code kCm3{"cm3", "UCUM", "cubic centimeter"};
const Code kSumOfVoxels{"126030", "DCM", "Sum of segmented voxel method for volume"};
const Code kAttenuation{"112031", "DCM", "Attenuation Coefficient"};
const Code kHu{"[hnsf'U]", "UCUM", "Hounsfield unit"};
const Code kMean{"373098007", "SCT", "Mean"};
const Code kSd{"386136009", "SCT", "Standard Deviation"};
const Code kPercent{"%", "UCUM", "percent"};
const Code kLaa950{"PN-LAA950", "99PACSNODE", "Lung volume below -950 HU (LAA-950)"};
const Code kPerc15{"PN-PD15", "99PACSNODE", "15th percentile lung density (PD15)"};
const Code kSnr{"113060", "DCM", "Signal to noise"};
const Code kNoUnits{"1", "UCUM", "no units"};
const Code kUniformity{"PN-UNIFORMITY", "99PACSNODE", "Uniformity, max peripheral minus central ROI mean"};
const Code kMinimum{"255605001", "SCT", "Minimum"};
const Code kMaximum{"56851009", "SCT", "Maximum"};
const Code kTissue{"85756007", "SCT", "Tissue"};

MeasurementItem item(Code quantity, double value, Code unit, std::optional<Code> derivation = {},
                     std::optional<Code> method = {}) {
  MeasurementItem m;
  m.quantity = std::move(quantity);
  m.value = value;
  m.unit = std::move(unit);
  m.derivation = std::move(derivation);
  m.method = std::move(method);
  return m;
}

MeasurementGroup lung_group(std::string name, std::optional<Code> laterality, double volume, double mean, double laa,
                            double p15) {
  MeasurementGroup g;
  g.tracking_identifier = std::move(name);
  g.finding = kLung;
  g.finding_site = kLung;
  g.laterality = std::move(laterality);
  g.items = {item(kVolume, volume, kCm3, {}, kSumOfVoxels), item(kAttenuation, mean, kHu, kMean),
             item(kLaa950, laa, kPercent), item(kPerc15, p15, kHu)};
  return g;
}

// Like the lung-density plug-in's result.
AnalysisResult lung_density_result() {
  AnalysisResult r;
  r.algorithm_name = "lung-density";
  r.algorithm_version = "1.0.0";
  r.summary = "Both lungs 5012 cm3, LAA-950 4.1 %";
  r.groups = {lung_group("right lung", kRight, 2604.3, -861.2, 4.3, -934.5),
              lung_group("left lung", kLeft, 2407.7, -858.9, 3.9, -931.25),
              lung_group("both lungs", kRightAndLeft, 5012.0, -860.1, 4.1, -933.0)};
  return r;
}

// Like the series-stats plug-in's result: the whole series, and a central ROI on the
// middle slice (its imageReferences name that slice).
AnalysisResult series_stats_result() {
  AnalysisResult r;
  r.algorithm_name = "series-stats";
  r.algorithm_version = "0.3";
  MeasurementGroup whole;
  whole.tracking_identifier = "whole series";
  whole.finding = kTissue;
  whole.items = {item(kAttenuation, -512.25, kHu, kMean), item(kAttenuation, 400.5, kHu, kSd),
                 item(kAttenuation, -1024, kHu, kMinimum), item(kAttenuation, 3071, kHu, kMaximum)};
  MeasurementGroup roi;
  roi.tracking_identifier = "central ROI";
  roi.finding = kTissue;
  roi.items = {item(kAttenuation, 1234.567890123456789, kHu, kMean), item(kAttenuation, 12.25, kHu, kSd),
               item(kSnr, 100.78, kNoUnits), item(kUniformity, -3.0e-7, kHu)};
  r.groups = {whole, roi};
  return r;
}

ReportInput input_for(const AnalysisResult& result, const CtSeries& series) {
  ReportInput in;
  in.result = &result;
  in.analysed_files = series.files;
  for (std::size_t i = 0; i < result.groups.size(); ++i) in.tracking_uids.push_back(new_uid());
  in.sop_instance_uid = new_uid();
  in.series_instance_uid = new_uid();
  in.series_number = 9901;
  in.implementation_class_uid = "1.2.826.0.1.3680043.10.1337.1.0.1.0";
  in.implementation_version_name = "PACSNODE_010";
  return in;
}

std::filesystem::path write(const BuiltReport& report, const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(report.part10.data()), static_cast<std::streamsize>(report.part10.size()));
  REQUIRE(out.good());
  return path;
}

std::string text(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return "<absent>";
  return value.c_str();
}

std::string concept_code(DcmItem& item) {
  DcmItem* concept_item = nullptr;
  if (item.findAndGetSequenceItem(DCM_ConceptNameCodeSequence, concept_item, 0).bad()) return {};
  return text(*concept_item, DCM_CodeValue);
}

// Every content item below `item` (depth first) whose concept name has `code_value`.
void content_items(DcmItem& item, const std::string& code_value, std::vector<DcmItem*>& found) {
  DcmSequenceOfItems* content = nullptr;
  if (item.findAndGetSequence(DCM_ContentSequence, content).bad() || content == nullptr) return;
  for (unsigned long i = 0; i < content->card(); ++i) {
    DcmItem* child = content->getItem(i);
    if (concept_code(*child) == code_value) found.push_back(child);
    content_items(*child, code_value, found);
  }
}

std::vector<DcmItem*> content_items(DcmItem& item, const std::string& code_value) {
  std::vector<DcmItem*> found;
  content_items(item, code_value, found);
  return found;
}

std::string numeric_value(DcmItem& item) {
  DcmItem* measured = nullptr;
  if (item.findAndGetSequenceItem(DCM_MeasuredValueSequence, measured, 0).bad()) return "<absent>";
  return text(*measured, DCM_NumericValue);
}

std::string unit_code(DcmItem& item) {
  DcmItem* measured = nullptr;
  DcmItem* unit = nullptr;
  if (item.findAndGetSequenceItem(DCM_MeasuredValueSequence, measured, 0).bad()) return "<absent>";
  if (measured->findAndGetSequenceItem(DCM_MeasurementUnitsCodeSequence, unit, 0).bad()) return "<absent>";
  return text(*unit, DCM_CodeValue);
}

// The measurement groups (125007) by their tracking identifier (112039).
std::map<std::string, DcmItem*> groups_by_tracking_identifier(DcmDataset& ds) {
  std::map<std::string, DcmItem*> groups;
  for (DcmItem* group : content_items(ds, "125007")) {
    const auto ids = content_items(*group, "112039");
    REQUIRE(ids.size() == 1);
    groups[text(*ids[0], DCM_TextValue)] = group;
  }
  return groups;
}

void check_dciodvfy(const std::filesystem::path& file) {
  const auto result = pacsnode::test::run_dciodvfy(file);
  const std::set<std::string> warnings(result.warnings.begin(), result.warnings.end());
  for (const auto& w : warnings) MESSAGE("dciodvfy: " << w);
  INFO("dciodvfy output:\n" << result.output);
  CHECK(result.errors.empty());
}

template <typename F>
void check_invalid(F&& build, const std::string& expected) {
  try {
    build();
    FAIL("no error; expected one mentioning '" << expected << "'");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    INFO("message: " << e.what());
    CHECK(std::string(e.what()).find(expected) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("report: a lung-density report passes dciodvfy, renders in dsrdump and reads back") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path());
  const AnalysisResult result = lung_density_result();
  ReportInput in = input_for(result, ct);
  in.predecessor = ReportReference{ct.study_uid, new_uid(), UID_EnhancedSRStorage, new_uid()};

  const BuiltReport report = build_measurement_report(in);
  CHECK(report.sop_class_uid == UID_EnhancedSRStorage);
  CHECK(report.sop_instance_uid == in.sop_instance_uid);
  CHECK(report.series_instance_uid == in.series_instance_uid);
  CHECK(report.study_instance_uid == ct.study_uid);
  const auto file = write(report, dir.path() / "sr.dcm");

  check_dciodvfy(file);

  SUBCASE("dsrdump renders it") {
    pacsnode::ProcessOptions options;
    options.capture_output = true;
    const auto [code, dump] = pacsnode::run_process({"dsrdump", "-Ec", file.string()}, options);
    INFO("dsrdump:\n" << dump);
    CHECK(code == 0);
    for (const char* expected : {"right lung", "left lung", "both lungs", "2604.3", "-861.2", "-931.25",
                                 "Lung volume below -950 HU (LAA-950)", "Imaging Measurement Report"}) {
      CHECK_MESSAGE(dump.find(expected) != std::string::npos, expected);
    }
  }

  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  DcmDataset& ds = *ff.getDataset();

  SUBCASE("file meta and identity") {
    DcmMetaInfo& meta = *ff.getMetaInfo();
    CHECK(text(meta, DCM_MediaStorageSOPClassUID) == UID_EnhancedSRStorage);
    CHECK(text(meta, DCM_MediaStorageSOPInstanceUID) == in.sop_instance_uid);
    CHECK(text(meta, DCM_TransferSyntaxUID) == UID_LittleEndianExplicitTransferSyntax);
    CHECK(text(meta, DCM_ImplementationClassUID) == in.implementation_class_uid);
    CHECK(text(meta, DCM_ImplementationVersionName) == in.implementation_version_name);
    CHECK(text(ds, DCM_SOPClassUID) == UID_EnhancedSRStorage);
    CHECK(text(ds, DCM_SOPInstanceUID) == in.sop_instance_uid);
    CHECK(text(ds, DCM_SeriesInstanceUID) == in.series_instance_uid);
    CHECK(text(ds, DCM_StudyInstanceUID) == ct.study_uid);
    CHECK(text(ds, DCM_PatientID) == "1CT1");
    CHECK(text(ds, DCM_PatientName) == "CompressedSamples^CT1");
    CHECK(text(ds, DCM_Modality) == "SR");
    CHECK(text(ds, DCM_SeriesNumber) == "9901");
    CHECK(text(ds, DCM_SeriesDescription) == "pacsnode lung-density 1.0.0");
    CHECK(text(ds, DCM_Manufacturer) == "pacsnode");
    CHECK(text(ds, DCM_CompletionFlag) == "COMPLETE");
    CHECK(text(ds, DCM_VerificationFlag) == "UNVERIFIED");
    CHECK(text(ds, DCM_ContentDate).size() == 8);
    CHECK(text(ds, DCM_SpecificCharacterSet) == "ISO_IR 192");  // the source declared ISO_IR 100
    CHECK(text(ds, DCM_InstanceCreatorUID) == in.implementation_class_uid);
  }

  SUBCASE("title, procedure, device observer") {
    DcmItem* title = nullptr;
    REQUIRE(ds.findAndGetSequenceItem(DCM_ConceptNameCodeSequence, title, 0).good());
    CHECK(text(*title, DCM_CodeValue) == "126000");
    const auto procedures = content_items(ds, "121058");  // Procedure reported
    REQUIRE(procedures.size() == 1);
    DcmItem* procedure = nullptr;
    REQUIRE(procedures[0]->findAndGetSequenceItem(DCM_ConceptCodeSequence, procedure, 0).good());
    CHECK(text(*procedure, DCM_CodeValue) == "25045-6");
    CHECK(text(*procedure, DCM_CodingSchemeDesignator) == "LN");
    const auto device_uids = content_items(ds, "121012");  // Device Observer UID
    REQUIRE(device_uids.size() == 1);
    CHECK(text(*device_uids[0], DCM_UID) == pacsnode::report::device_observer_uid("lung-density"));
    const auto device_names = content_items(ds, "121013");  // Device Observer Name
    REQUIRE(device_names.size() == 1);
    CHECK(text(*device_names[0], DCM_TextValue) == "lung-density");
  }

  SUBCASE("groups: tracking identifiers and UIDs, values, units, modifiers") {
    auto groups = groups_by_tracking_identifier(ds);
    REQUIRE(groups.size() == 3);
    const std::vector<std::string> names = {"right lung", "left lung", "both lungs"};
    for (std::size_t g = 0; g < names.size(); ++g) {
      CAPTURE(names[g]);
      REQUIRE(groups.count(names[g]) == 1);
      DcmItem& group = *groups[names[g]];
      const auto uids = content_items(group, "112040");
      REQUIRE(uids.size() == 1);
      CHECK(text(*uids[0], DCM_UID) == in.tracking_uids[g]);
      const auto volumes = content_items(group, "118565006");
      REQUIRE(volumes.size() == 1);
      CHECK(std::stod(numeric_value(*volumes[0])) == doctest::Approx(result.groups[g].items[0].value));
      CHECK(unit_code(*volumes[0]) == "cm3");
      CHECK(content_items(*volumes[0], "370129005").size() == 1);  // Measurement Method
      const auto means = content_items(group, "112031");
      REQUIRE(means.size() == 1);
      CHECK(unit_code(*means[0]) == "[hnsf'U]");
      const auto derivations = content_items(*means[0], "121401");  // Derivation
      REQUIRE(derivations.size() == 1);
      DcmItem* mean = nullptr;
      REQUIRE(derivations[0]->findAndGetSequenceItem(DCM_ConceptCodeSequence, mean, 0).good());
      CHECK(text(*mean, DCM_CodeValue) == "373098007");
      const auto laa = content_items(group, "PN-LAA950");
      REQUIRE(laa.size() == 1);
      CHECK(unit_code(*laa[0]) == "%");
      const auto sites = content_items(group, "363698007");  // Finding Site
      REQUIRE(sites.size() == 1);
      CHECK(content_items(*sites[0], "272741003").size() == 1);  // Laterality
    }
    CHECK(numeric_value(*content_items(*groups["right lung"], "118565006")[0]) == "2604.3");
    CHECK(numeric_value(*content_items(*groups["left lung"], "PN-PD15")[0]) == "-931.25");
  }

  SUBCASE("image library and evidence list every analysed instance") {
    std::vector<std::string> referenced;
    DcmSequenceOfItems* evidence = nullptr;
    REQUIRE(ds.findAndGetSequence(DCM_CurrentRequestedProcedureEvidenceSequence, evidence).good());
    REQUIRE(evidence->card() == 1);
    DcmItem* series_item = nullptr;
    REQUIRE(evidence->getItem(0)->findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series_item, 0).good());
    CHECK(text(*series_item, DCM_SeriesInstanceUID) == ct.series_uid);
    DcmSequenceOfItems* sops = nullptr;
    REQUIRE(series_item->findAndGetSequence(DCM_ReferencedSOPSequence, sops).good());
    for (unsigned long i = 0; i < sops->card(); ++i) referenced.push_back(text(*sops->getItem(i), DCM_ReferencedSOPInstanceUID));
    std::sort(referenced.begin(), referenced.end());
    auto expected = ct.sop_instance_uids;
    std::sort(expected.begin(), expected.end());
    CHECK(referenced == expected);
    const auto libraries = content_items(ds, "111028");  // Image Library
    REQUIRE(libraries.size() == 1);
    DcmSequenceOfItems* images = nullptr;
    int image_entries = 0;
    std::vector<DcmItem*> stack = {libraries[0]};
    while (!stack.empty()) {
      DcmItem* at = stack.back();
      stack.pop_back();
      if (at->findAndGetSequence(DCM_ContentSequence, images).good()) {
        for (unsigned long i = 0; i < images->card(); ++i) {
          if (text(*images->getItem(i), DCM_ValueType) == "IMAGE") ++image_entries;
          stack.push_back(images->getItem(i));
        }
      }
    }
    CHECK(image_entries == 3);
  }

  SUBCASE("predecessor and private coding scheme") {
    DcmItem* predecessor = nullptr;
    REQUIRE(ds.findAndGetSequenceItem(DCM_PredecessorDocumentsSequence, predecessor, 0).good());
    CHECK(text(*predecessor, DCM_StudyInstanceUID) == in.predecessor->study_instance_uid);
    DcmItem* series_item = nullptr;
    REQUIRE(predecessor->findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series_item, 0).good());
    CHECK(text(*series_item, DCM_SeriesInstanceUID) == in.predecessor->series_instance_uid);
    DcmItem* sop = nullptr;
    REQUIRE(series_item->findAndGetSequenceItem(DCM_ReferencedSOPSequence, sop, 0).good());
    CHECK(text(*sop, DCM_ReferencedSOPClassUID) == UID_EnhancedSRStorage);
    CHECK(text(*sop, DCM_ReferencedSOPInstanceUID) == in.predecessor->sop_instance_uid);

    DcmSequenceOfItems* schemes = nullptr;
    REQUIRE(ds.findAndGetSequence(DCM_CodingSchemeIdentificationSequence, schemes).good());
    std::map<std::string, std::string> declared;
    for (unsigned long i = 0; i < schemes->card(); ++i) {
      declared[text(*schemes->getItem(i), DCM_CodingSchemeDesignator)] = text(*schemes->getItem(i), DCM_CodingSchemeName);
    }
    CHECK(declared["99PACSNODE"] == "pacsnode private codes");
    CHECK(declared.count("DCM") == 0);  // standard schemes need no declaration
    CHECK(declared.count("SCT") == 0);
  }

  SUBCASE("the summary is a qualitative evaluation") {
    const auto containers = content_items(ds, "C0034375");  // Qualitative Evaluations
    REQUIRE(containers.size() == 1);
    const auto comments = content_items(*containers[0], "121106");
    REQUIRE(comments.size() == 1);
    CHECK(text(*comments[0], DCM_TextValue) == result.summary);
  }
}

TEST_CASE("report: a series-stats report with image references passes dciodvfy") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path());
  AnalysisResult result = series_stats_result();
  result.groups[1].image_references = {ct.sop_instance_uids[0], ct.sop_instance_uids[1]};
  ReportInput in = input_for(result, ct);
  const auto file = write(build_measurement_report(in), dir.path() / "sr.dcm");
  check_dciodvfy(file);

  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  DcmDataset& ds = *ff.getDataset();
  CHECK(!ff.getDataset()->tagExists(DCM_PredecessorDocumentsSequence));
  auto groups = groups_by_tracking_identifier(ds);
  REQUIRE(groups.count("whole series") == 1);
  REQUIRE(groups.count("central ROI") == 1);
  CHECK(content_items(*groups["whole series"], "121112").empty());  // all images: the library lists them
  DcmItem& group = *groups["central ROI"];
  const auto attenuation = content_items(group, "112031");
  REQUIRE(attenuation.size() == 2);  // mean and standard deviation
  const std::string mean = numeric_value(*attenuation[0]);
  CHECK(mean.size() <= 16);
  CHECK(std::stod(mean) == doctest::Approx(1234.567890123456789).epsilon(1e-12));
  const auto snr = content_items(group, "113060");
  REQUIRE(snr.size() == 1);
  CHECK(numeric_value(*snr[0]) == "100.78");
  CHECK(unit_code(*snr[0]) == "1");
  const auto uniformity = content_items(group, "PN-UNIFORMITY");
  REQUIRE(uniformity.size() == 1);
  CHECK(std::stod(numeric_value(*uniformity[0])) == doctest::Approx(-3.0e-7).epsilon(1e-9));
  // Each measurement names the two listed images as its source (TID 320), not the third.
  for (DcmItem* measurement : {attenuation[0], attenuation[1], snr[0], uniformity[0]}) {
    const auto sources = content_items(*measurement, "121112");
    REQUIRE(sources.size() == 2);
    DcmItem* sop = nullptr;
    REQUIRE(sources[0]->findAndGetSequenceItem(DCM_ReferencedSOPSequence, sop, 0).good());
    CHECK(text(*sop, DCM_ReferencedSOPInstanceUID) == ct.sop_instance_uids[0]);
  }
  CHECK(ds.tagExists(DCM_CodingSchemeIdentificationSequence));  // 99PACSNODE for uniformity
}

TEST_CASE("report: a non-ASCII code meaning alone makes the report UTF-8") {
  pacsnode::test::TempDir dir("report");
  CtSeries ct = make_ct_series(dir.path(), 1);
  // Without the source's character set: only the plug-in's text can ask for UTF-8.
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(ct.files[0].c_str()).good());
  REQUIRE(ff.getDataset()->findAndDeleteElement(DCM_SpecificCharacterSet).good());
  ct.files[0] = dir.path() / "ct0-ascii.dcm";  // not over the file DCMTK may still read pixels from
  REQUIRE(ff.saveFile(ct.files[0].c_str(), EXS_LittleEndianExplicit).good());
  AnalysisResult result = series_stats_result();
  {
    const auto file = write(build_measurement_report(input_for(result, ct)), dir.path() / "ascii.dcm");
    DcmFileFormat back;
    REQUIRE(back.loadFile(file.c_str()).good());
    CHECK(text(*back.getDataset(), DCM_SpecificCharacterSet) == "<absent>");
  }
  result.groups[1].finding.meaning = "Gewebe (Röhrenmitte)";
  const auto file = write(build_measurement_report(input_for(result, ct)), dir.path() / "utf8.dcm");
  check_dciodvfy(file);
  DcmFileFormat back;
  REQUIRE(back.loadFile(file.c_str()).good());
  CHECK(text(*back.getDataset(), DCM_SpecificCharacterSet) == "ISO_IR 192");
}

TEST_CASE("report: non-ASCII text from the plug-in is written as UTF-8 and passes dciodvfy") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path(), 1);
  AnalysisResult result = lung_density_result();
  result.groups[0].tracking_identifier = "Lunge rechts (Unterlappen ä)";
  result.summary = "Beide Lungen 5012 cm³\nLAA-950 4,1 %";
  ReportInput in = input_for(result, ct);
  const auto file = write(build_measurement_report(in), dir.path() / "sr.dcm");
  check_dciodvfy(file);
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  CHECK(text(*ff.getDataset(), DCM_SpecificCharacterSet) == "ISO_IR 192");
  CHECK(groups_by_tracking_identifier(*ff.getDataset()).count("Lunge rechts (Unterlappen ä)") == 1);
}

TEST_CASE("report: the same input gives the same instance; reports build on several threads") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path(), 2);
  const AnalysisResult result = lung_density_result();
  const ReportInput in = input_for(result, ct);
  std::vector<BuiltReport> built(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < built.size(); ++t) {
    threads.emplace_back([&, t] {
      try {
        built[t] = build_measurement_report(in);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (std::size_t t = 0; t < built.size(); ++t) {
    CAPTURE(t);
    CHECK(errors[t].empty());
    CHECK(built[t].sop_instance_uid == in.sop_instance_uid);
    CHECK(built[t].part10.size() == built[0].part10.size());
  }
  check_dciodvfy(write(built[3], dir.path() / "sr3.dcm"));
}

TEST_CASE("report: bad input is an Invalid error naming the problem, never a crash") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path(), 2);
  AnalysisResult result = lung_density_result();
  ReportInput in = input_for(result, ct);
  REQUIRE_NOTHROW(build_measurement_report(in));

  SUBCASE("no result") {
    in.result = nullptr;
    check_invalid([&] { build_measurement_report(in); }, "no analysis result");
  }
  SUBCASE("no analysed files") {
    in.analysed_files.clear();
    check_invalid([&] { build_measurement_report(in); }, "no analysed files");
  }
  SUBCASE("a group without items") {
    result.groups[1].items.clear();
    check_invalid([&] { build_measurement_report(in); }, "Measurements[1] has no measurement items");
  }
  SUBCASE("a value of 1e300") {
    result.groups[2].items[1].value = 1e300;
    check_invalid([&] { build_measurement_report(in); }, "Measurements[2].measurementItems[1].value 1e+300");
  }
  SUBCASE("a value that is not a number") {
    result.groups[0].items[0].value = std::nan("");
    check_invalid([&] { build_measurement_report(in); }, "Measurements[0].measurementItems[0].value");
  }
  SUBCASE("no groups") {
    result.groups.clear();
    in.tracking_uids.clear();
    check_invalid([&] { build_measurement_report(in); }, "no measurement groups");
  }
  SUBCASE("tracking UIDs do not match the groups") {
    in.tracking_uids.pop_back();
    check_invalid([&] { build_measurement_report(in); }, "2 tracking UIDs for 3 measurement groups");
  }
  SUBCASE("an invalid tracking UID") {
    in.tracking_uids[1] = "1.2.abc";
    check_invalid([&] { build_measurement_report(in); }, "Measurements[1] tracking UID");
  }
  SUBCASE("an invalid report UID") {
    in.sop_instance_uid = "";
    check_invalid([&] { build_measurement_report(in); }, "SOP Instance UID of the report");
  }
  SUBCASE("a unit that is not UCUM") {
    result.groups[0].items[0].unit = Code{"ml", "99LOCAL", "millilitre"};
    check_invalid([&] { build_measurement_report(in); }, "must be UCUM");
  }
  SUBCASE("a code value longer than 16 characters") {
    result.groups[0].finding.value = "12345678901234567";
    check_invalid([&] { build_measurement_report(in); }, "Measurements[0].Finding.CodeValue has 17 characters");
  }
  SUBCASE("a code meaning that is not UTF-8") {
    result.groups[0].finding.meaning = "Lung \xff";
    check_invalid([&] { build_measurement_report(in); }, "Measurements[0].Finding.CodeMeaning is not valid UTF-8");
  }
  SUBCASE("a tracking identifier with a control character") {
    result.groups[0].tracking_identifier = "right\x01lung";
    check_invalid([&] { build_measurement_report(in); }, "control character");
  }
  SUBCASE("a summary over 1024 characters") {
    result.summary = std::string(1025, 'x');
    check_invalid([&] { build_measurement_report(in); }, "summary has 1025 characters, at most 1024");
  }
  SUBCASE("a tracking identifier over 64 characters") {
    result.groups[2].tracking_identifier = std::string(65, 'a');
    check_invalid([&] { build_measurement_report(in); }, "Measurements[2].TrackingIdentifier has 65 characters");
  }
  SUBCASE("the same tracking UID for two groups") {
    in.tracking_uids[2] = in.tracking_uids[0];
    check_invalid([&] { build_measurement_report(in); }, "is used by another group too");
  }
  SUBCASE("laterality without a finding site") {
    result.groups[0].finding_site.reset();
    check_invalid([&] { build_measurement_report(in); }, "Laterality without a FindingSite");
  }
  SUBCASE("an image reference that was not analysed") {
    result.groups[0].image_references = {"1.2.3.4.5"};
    check_invalid([&] { build_measurement_report(in); }, "1.2.3.4.5 is not one of the analysed instances");
  }
  SUBCASE("an analysed file that is not DICOM") {
    const auto junk = dir.path() / "junk.dcm";
    std::ofstream(junk) << "not a DICOM file";
    in.analysed_files.push_back(junk);
    check_invalid([&] { build_measurement_report(in); }, "cannot read analysed file");
  }
  SUBCASE("an analysed file that does not exist") {
    in.analysed_files.push_back(dir.path() / "missing.dcm");
    check_invalid([&] { build_measurement_report(in); }, "missing.dcm");
  }
  SUBCASE("the same instance twice") {
    in.analysed_files.push_back(in.analysed_files[0]);
    check_invalid([&] { build_measurement_report(in); }, "is analysed twice");
  }
  SUBCASE("files of two studies") {
    DcmFileFormat other;
    REQUIRE(other.loadFile(ct.files[0].c_str()).good());
    REQUIRE(other.getDataset()->putAndInsertString(DCM_StudyInstanceUID, new_uid().c_str()).good());
    REQUIRE(other.getDataset()->putAndInsertString(DCM_SOPInstanceUID, new_uid().c_str()).good());
    other.getMetaInfo()->clear();
    const auto path = dir.path() / "other.dcm";
    REQUIRE(other.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
    in.analysed_files.push_back(path);
    check_invalid([&] { build_measurement_report(in); }, "one report covers one study");
  }
  SUBCASE("the report in the analysed series") {
    in.series_instance_uid = ct.series_uid;
    check_invalid([&] { build_measurement_report(in); }, "goes in a new series");
  }
  SUBCASE("a predecessor with a bad UID") {
    in.predecessor = ReportReference{ct.study_uid, new_uid(), UID_EnhancedSRStorage, "x"};
    check_invalid([&] { build_measurement_report(in); }, "predecessor's SOP Instance UID");
  }
  SUBCASE("no implementation class UID") {
    in.implementation_class_uid.clear();
    check_invalid([&] { build_measurement_report(in); }, "Implementation Class UID");
  }
}

TEST_CASE("report: measurement values as Decimal Strings") {
  using pacsnode::report::to_decimal_string;
  CHECK(to_decimal_string(2604.3) == "2604.3");
  CHECK(to_decimal_string(-861.2) == "-861.2");
  CHECK(to_decimal_string(0.0) == "0");
  CHECK(to_decimal_string(-0.0) == "0");
  CHECK(to_decimal_string(1e15) == "1e+15");
  CHECK(to_decimal_string(1.0 / 3.0) == "0.33333333333333");
  CHECK(!to_decimal_string(1e300));
  CHECK(!to_decimal_string(-1.0000001e15));
  CHECK(!to_decimal_string(std::nan("")));
  CHECK(!to_decimal_string(HUGE_VAL));
  for (const double v : {-1.234567890123456e-200, 123456789.123456789, -999999999999999.0, 4.9e-324, 1e-7}) {
    CAPTURE(v);
    const auto ds = to_decimal_string(v);
    REQUIRE(ds);
    CHECK(ds->size() <= 16);
    CHECK(std::strtod(ds->c_str(), nullptr) == doctest::Approx(v).epsilon(1e-5));
  }
}

TEST_CASE("report: device observer UID is a stable name-based UUID under 2.25") {
  using namespace pacsnode::report;
  // FIPS 180 test vector.
  const auto abc = detail::sha1("abc");
  const std::array<std::uint8_t, 20> expected = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
                                                 0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
  CHECK(abc == expected);
  // RFC 4122 version 5 of "www.example.com" in the DNS namespace, as Python's uuid.uuid5 gives.
  const std::array<std::uint8_t, 16> dns = {107, 167, 184, 16, 157, 173, 17, 209, 128, 180, 0, 192, 79, 212, 48, 200};
  CHECK(detail::uuid_to_uid(detail::uuid_v5(dns, "www.example.com")) == "2.25.62257697832880430461588949038000940706");
  // Ours, computed independently with Python (uuid.uuid5 of our namespace).
  CHECK(device_observer_uid("lung-density") == "2.25.168489437403257247678147786747737099773");
  CHECK(device_observer_uid("series-stats") != device_observer_uid("lung-density"));
  CHECK(device_observer_uid("series-stats").size() <= 64);
}

TEST_CASE("report: which coding schemes are declared") {
  using namespace pacsnode::report;
  CHECK(needs_declaration("99PACSNODE"));
  CHECK(needs_declaration("L"));
  CHECK(needs_declaration("FOO"));
  CHECK(!needs_declaration("DCM"));
  CHECK(!needs_declaration("SCT"));
  CHECK(!needs_declaration("UCUM"));
  CHECK(!needs_declaration("LN"));
  CHECK(declared_scheme_name("99PACSNODE") == "pacsnode private codes");
}

TEST_CASE("report: the dciodvfy check catches a broken SR") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path(), 1);
  const AnalysisResult result = series_stats_result();
  const auto file = write(build_measurement_report(input_for(result, ct)), dir.path() / "sr.dcm");
  REQUIRE(pacsnode::test::dciodvfy_errors(file).empty());
  // The same report without its Completion Flag (Type 1 in the SR Document General Module).
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  REQUIRE(ff.getDataset()->findAndDeleteElement(DCM_CompletionFlag).good());
  const auto broken = dir.path() / "broken.dcm";
  REQUIRE(ff.saveFile(broken.c_str(), EXS_LittleEndianExplicit).good());
  const auto errors = pacsnode::test::dciodvfy_errors(broken);
  REQUIRE(!errors.empty());
  bool names_it = false;
  for (const auto& e : errors) names_it = names_it || e.find("CompletionFlag") != std::string::npos;
  CHECK_MESSAGE(names_it, errors.front());
}

TEST_CASE("report: other modalities get their own procedure code; a non-image input is refused") {
  pacsnode::test::TempDir dir("report");
  const AnalysisResult result = series_stats_result();
  CtSeries mr;
  mr.files = {"/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm"};
  ReportInput in = input_for(result, mr);
  const auto file = write(build_measurement_report(in), dir.path() / "mr-sr.dcm");
  check_dciodvfy(file);
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  const auto procedures = content_items(*ff.getDataset(), "121058");
  REQUIRE(procedures.size() == 1);
  DcmItem* procedure = nullptr;
  REQUIRE(procedures[0]->findAndGetSequenceItem(DCM_ConceptCodeSequence, procedure, 0).good());
  CHECK(text(*procedure, DCM_CodeValue) == "25056-3");  // MRI unspecified body region

  SUBCASE("an SR as the analysed instance") {
    in.analysed_files = {"/usr/lib/python3/dist-packages/pydicom/data/test_files/test-SR.dcm"};
    check_invalid([&] { build_measurement_report(in); }, "test-SR.dcm");
  }
}

TEST_CASE("report: a study-level report over two series has an image library group and evidence for each") {
  pacsnode::test::TempDir dir("report");
  std::filesystem::create_directory(dir.path() / "a");
  std::filesystem::create_directory(dir.path() / "b");
  const CtSeries a = make_ct_series(dir.path() / "a", 2);
  const CtSeries b = make_ct_series(dir.path() / "b", 2);
  CtSeries both = a;
  both.files.insert(both.files.end(), b.files.begin(), b.files.end());
  const AnalysisResult result = lung_density_result();
  const auto file = write(build_measurement_report(input_for(result, both)), dir.path() / "sr.dcm");
  check_dciodvfy(file);
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  DcmItem* evidence = nullptr;
  REQUIRE(ff.getDataset()->findAndGetSequenceItem(DCM_CurrentRequestedProcedureEvidenceSequence, evidence, 0).good());
  DcmSequenceOfItems* series = nullptr;
  REQUIRE(evidence->findAndGetSequence(DCM_ReferencedSeriesSequence, series).good());
  CHECK(series->card() == 2);
  CHECK(content_items(*ff.getDataset(), "126200").size() == 2);  // Image Library Group
}

namespace {

const Code kArea{"42798000", "SCT", "Area"};
const Code kMm2{"mm2", "UCUM", "square millimeter"};

MeasurementGroup region_group(std::string name, std::optional<Code> laterality, ImageRegion region) {
  MeasurementGroup g;
  g.tracking_identifier = std::move(name);
  g.finding = kLung;
  g.finding_site = kLung;
  g.laterality = std::move(laterality);
  g.items = {item(kArea, 1520.25, kMm2), item(kAttenuation, -850.5, kHu, kMean)};
  g.image_region = std::move(region);
  return g;
}

// The direct children of a content item, in order, by concept code ("" for none).
std::vector<std::pair<std::string, DcmItem*>> children(DcmItem& item) {
  std::vector<std::pair<std::string, DcmItem*>> out;
  DcmSequenceOfItems* content = nullptr;
  if (item.findAndGetSequence(DCM_ContentSequence, content).bad() || content == nullptr) return out;
  for (unsigned long i = 0; i < content->card(); ++i) out.emplace_back(concept_code(*content->getItem(i)), content->getItem(i));
  return out;
}

std::vector<std::string> tracking_identifiers_in_order(DcmDataset& ds) {
  std::vector<std::string> names;
  for (DcmItem* group : content_items(ds, "125007")) names.push_back(text(*content_items(*group, "112039")[0], DCM_TextValue));
  return names;
}

}  // namespace

TEST_CASE("report: groups with an image region are TID 1410 groups with an SCOORD on their image, in place") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path());
  AnalysisResult result = lung_density_result();
  const ImageRegion polygon{"POLYLINE", {10, 20, 60.5, 20, 60.5, 90, 10, 90, 10, 20}, ct.sop_instance_uids[1], {}};
  const ImageRegion circle{"CIRCLE", {64, 64, 64, 100}, ct.sop_instance_uids[2], 1};
  // Between the first and second TID 1501 group, and last.
  result.groups.insert(result.groups.begin() + 1, region_group("right lung, largest axial section", kRight, polygon));
  result.groups.push_back(region_group("left lung, largest axial section", kLeft, circle));
  ReportInput in = input_for(result, ct);
  const auto file = write(build_measurement_report(in), dir.path() / "sr.dcm");
  check_dciodvfy(file);

  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  DcmDataset& ds = *ff.getDataset();
  CHECK(tracking_identifiers_in_order(ds) ==
        std::vector<std::string>{"right lung", "right lung, largest axial section", "left lung", "both lungs",
                                 "left lung, largest axial section"});
  auto groups = groups_by_tracking_identifier(ds);
  CHECK(content_items(*groups["right lung"], "111030").empty());  // TID 1501 groups stay as they were

  DcmItem& planar = *groups["right lung, largest axial section"];
  // What a viewer reads at the group's top level (OHIF: tracking identifier and UID, an SCOORD
  // with its image, NUMs with measured values).
  std::vector<std::string> codes;
  for (const auto& [code, child] : children(planar)) codes.push_back(code);
  CHECK(codes == std::vector<std::string>{"112039", "112040", "121071", "111030", "363698007", "42798000", "112031"});
  CHECK(text(*content_items(planar, "112040")[0], DCM_UID) == in.tracking_uids[1]);
  DcmItem* template_item = nullptr;
  REQUIRE(planar.findAndGetSequenceItem(DCM_ContentTemplateSequence, template_item, 0).good());
  CHECK(text(*template_item, DCM_TemplateIdentifier) == "1410");

  DcmItem& scoord = *content_items(planar, "111030")[0];
  CHECK(text(scoord, DCM_ValueType) == "SCOORD");
  CHECK(text(scoord, DCM_RelationshipType) == "CONTAINS");
  CHECK(text(scoord, DCM_GraphicType) == "POLYLINE");
  CHECK(text(scoord, DCM_GraphicData) == "10\\20\\60.5\\20\\60.5\\90\\10\\90\\10\\20");
  const auto image = children(scoord);
  REQUIRE(image.size() == 1);
  CHECK(text(*image[0].second, DCM_ValueType) == "IMAGE");
  CHECK(text(*image[0].second, DCM_RelationshipType) == "SELECTED FROM");
  DcmItem* sop = nullptr;
  REQUIRE(image[0].second->findAndGetSequenceItem(DCM_ReferencedSOPSequence, sop, 0).good());
  CHECK(text(*sop, DCM_ReferencedSOPClassUID) == UID_CTImageStorage);
  CHECK(text(*sop, DCM_ReferencedSOPInstanceUID) == ct.sop_instance_uids[1]);
  CHECK(text(*sop, DCM_ReferencedFrameNumber) == "<absent>");

  const auto site = content_items(planar, "363698007");
  REQUIRE(site.size() == 1);
  CHECK(text(*site[0], DCM_RelationshipType) == "HAS CONCEPT MOD");
  REQUIRE(content_items(*site[0], "272741003").size() == 1);  // laterality
  const auto area = content_items(planar, "42798000");
  REQUIRE(area.size() == 1);
  CHECK(numeric_value(*area[0]) == "1520.25");
  CHECK(unit_code(*area[0]) == "mm2");
  const auto mean = content_items(planar, "112031");
  REQUIRE(mean.size() == 1);
  CHECK(numeric_value(*mean[0]) == "-850.5");
  REQUIRE(content_items(*mean[0], "121401").size() == 1);  // derivation

  DcmItem& circled = *groups["left lung, largest axial section"];
  DcmItem& circle_scoord = *content_items(circled, "111030")[0];
  CHECK(text(circle_scoord, DCM_GraphicType) == "CIRCLE");
  REQUIRE(children(circle_scoord)[0].second->findAndGetSequenceItem(DCM_ReferencedSOPSequence, sop, 0).good());
  CHECK(text(*sop, DCM_ReferencedSOPInstanceUID) == ct.sop_instance_uids[2]);
  // Frame 1 of a single-frame image is the image: no Referenced Frame Number (dciodvfy).
  CHECK(text(*sop, DCM_ReferencedFrameNumber) == "<absent>");
}

TEST_CASE("report: a result whose only groups have regions; regions that do not fit their image are refused") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path());  // CT_small: 128 x 128
  AnalysisResult result;
  result.algorithm_name = "roi-tool";
  result.groups = {region_group("nodule", {}, ImageRegion{"ELLIPSE", {40, 50, 60, 50, 50, 45, 50, 55}, ct.sop_instance_uids[0], {}}),
                   region_group("marker", {}, ImageRegion{"POINT", {128, 128}, ct.sop_instance_uids[0], {}})};
  const auto file = write(build_measurement_report(input_for(result, ct)), dir.path() / "sr.dcm");
  check_dciodvfy(file);
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  CHECK(tracking_identifiers_in_order(*ff.getDataset()) == std::vector<std::string>{"nodule", "marker"});

  result.groups[1].image_region->graphic_data = {128.5, 10};
  check_invalid([&] { build_measurement_report(input_for(result, ct)); },
                "Measurements[1].imageRegion.graphicData: point (128.5, 10) lies outside the image (128 columns, 128 rows)");
  result.groups[1].image_region->graphic_data = {10, 10};
  result.groups[1].image_region->referenced_frame_number = 2;
  check_invalid([&] { build_measurement_report(input_for(result, ct)); },
                "Measurements[1].imageRegion.referencedFrameNumber: 2, but the image has 1 frame");
  result.groups[1].image_region->referenced_frame_number.reset();
  result.groups[1].image_region->graphic_type = "MULTIPOINT";
  check_invalid([&] { build_measurement_report(input_for(result, ct)); },
                "Measurements[1].imageRegion: graphic type 'MULTIPOINT' with 1 point");
  result.groups[1].image_region->graphic_type = "POINT";
  result.groups[1].image_region->graphic_data = {10, std::nan("")};
  check_invalid([&] { build_measurement_report(input_for(result, ct)); },
                "Measurements[1].imageRegion.graphicData: a coordinate is not a number from 0 to 65535");
  result.groups[1].image_region->graphic_data = {10, 10};
  result.groups[1].image_region->referenced_sop_instance_uid = "1.2.3";
  check_invalid([&] { build_measurement_report(input_for(result, ct)); },
                "Measurements[1].imageRegion.referencedSOPInstanceUID: 1.2.3 is not one of the analysed instances");
}

TEST_CASE("report: a finding measured in a volume and on a slice shares its tracking UID; another finding may not") {
  pacsnode::test::TempDir dir("report");
  const CtSeries ct = make_ct_series(dir.path());
  AnalysisResult result = lung_density_result();
  result.groups.push_back(region_group("right lung", kRight, ImageRegion{"POLYLINE", {10, 10, 50, 10, 50, 50, 10, 10}, ct.sop_instance_uids[0], {}}));
  ReportInput in = input_for(result, ct);
  in.tracking_uids[3] = in.tracking_uids[0];
  const auto file = write(build_measurement_report(in), dir.path() / "sr.dcm");
  check_dciodvfy(file);
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(file.c_str()).good());
  std::vector<std::string> uids;
  for (DcmItem* group : content_items(*ff.getDataset(), "125007")) uids.push_back(text(*content_items(*group, "112040")[0], DCM_UID));
  CHECK(uids == std::vector<std::string>{in.tracking_uids[0], in.tracking_uids[1], in.tracking_uids[2], in.tracking_uids[0]});

  result.groups[3].laterality = kLeft;  // now another finding with the right lung's UID
  check_invalid([&] { build_measurement_report(in); }, "Measurements[3] tracking UID " + in.tracking_uids[0] +
                                                          " is used by another group too (Measurements[0], another finding)");
}

// A report with one region, on frame `frame` of the one image in `file`, checked by dciodvfy:
// the image's UIDs and what the region's Referenced SOP Sequence item says.
struct OneRegion {
  CtSeries series;
  AnalysisResult result;
  std::string sop_uid, class_uid;
  std::string referenced_sop_uid, referenced_class_uid, referenced_frame;
};

OneRegion one_region_report(const std::filesystem::path& dir, const std::string& file, int frame) {
  OneRegion out;
  out.series.files = {file};
  DcmFileFormat source;
  REQUIRE(source.loadFile(file.c_str()).good());
  out.sop_uid = text(*source.getDataset(), DCM_SOPInstanceUID);
  out.class_uid = text(*source.getDataset(), DCM_SOPClassUID);
  out.result.algorithm_name = "roi-tool";
  out.result.groups = {region_group("marker", {}, ImageRegion{"POINT", {50, 40}, out.sop_uid, frame})};
  const auto sr = write(build_measurement_report(input_for(out.result, out.series)), dir / "sr.dcm");
  check_dciodvfy(sr);
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(sr.c_str()).good());
  const auto scoords = content_items(*ff.getDataset(), "111030");
  REQUIRE(scoords.size() == 1);
  const auto image = children(*scoords[0]);
  REQUIRE(image.size() == 1);
  DcmItem* sop = nullptr;
  REQUIRE(image[0].second->findAndGetSequenceItem(DCM_ReferencedSOPSequence, sop, 0).good());
  out.referenced_sop_uid = text(*sop, DCM_ReferencedSOPInstanceUID);
  out.referenced_class_uid = text(*sop, DCM_ReferencedSOPClassUID);
  out.referenced_frame = text(*sop, DCM_ReferencedFrameNumber);
  return out;
}

constexpr const char* kTwoFramePicture = "/usr/lib/python3/dist-packages/pydicom/data/test_files/SC_rgb_rle_2frame.dcm";

TEST_CASE("report: a region on a frame of a multi-frame image names that frame") {
  pacsnode::test::TempDir dir("report");
  // pydicom's two-frame RGB picture, as the multi-frame class it is (its file says Secondary
  // Capture, a single-frame class: see the next test).
  const std::string file = (dir.path() / "two-frames.dcm").string();
  {
    DcmFileFormat picture;
    REQUIRE(picture.loadFile(kTwoFramePicture).good());
    REQUIRE(picture.getDataset()->putAndInsertString(DCM_SOPClassUID, UID_MultiframeTrueColorSecondaryCaptureImageStorage).good());
    picture.getMetaInfo()->clear();
    REQUIRE(picture.saveFile(file.c_str(), EXS_RLELossless).good());
  }
  OneRegion report = one_region_report(dir.path(), file, 2);
  CHECK(report.referenced_sop_uid == report.sop_uid);
  CHECK(report.referenced_class_uid == report.class_uid);
  CHECK(report.referenced_frame == "2");

  report.result.groups[0].image_region->referenced_frame_number = 3;
  check_invalid([&] { build_measurement_report(input_for(report.result, report.series)); },
                "Measurements[0].imageRegion.referencedFrameNumber: 3, but the image has 2 frames");
}

TEST_CASE("report: an image of a single-frame SOP class whose file says it has frames is referenced whole") {
  pacsnode::test::TempDir dir("report");
  // The same picture as its file has it: Secondary Capture, a single-frame class, with a Number
  // of Frames of 2, which must not make the report name a frame (dciodvfy refuses one).
  OneRegion report = one_region_report(dir.path(), kTwoFramePicture, 1);
  REQUIRE(report.class_uid == UID_SecondaryCaptureImageStorage);
  CHECK(report.referenced_sop_uid == report.sop_uid);
  CHECK(report.referenced_frame == "<absent>");

  // Its second frame cannot be referenced: refused, not written as the whole image.
  report.result.groups[0].image_region->referenced_frame_number = 2;
  check_invalid([&] { build_measurement_report(input_for(report.result, report.series)); },
                "Measurements[0].imageRegion.referencedFrameNumber: 2, but the image's SOP class (" +
                    std::string(UID_SecondaryCaptureImageStorage) +
                    ") is a single-frame one, whatever its 2 frames: a report can reference only the whole image");
}
