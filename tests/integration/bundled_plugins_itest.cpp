// The bundled plug-ins (plugins/bundled) against phantoms with known truth: each test
// generates a series with tests/tools/gen_chest_phantom.py into a job folder laid out as
// the contract lays it (task.json, in/, out/), runs the plug-in as a process and compares
// out/result.json with the truth the generator computed from its own voxels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pacsnode::run_process;
using pacsnode::test::TempDir;

namespace {

const std::string kGenerator = std::string(PACSNODE_SOURCE_DIR) + "/tests/tools/gen_chest_phantom.py";

// Set field by field: a designated initializer that leaves fields out warns (-Wextra).
pacsnode::ProcessOptions captured(std::vector<std::pair<std::string, std::string>> env = {}, fs::path cwd = {}) {
  pacsnode::ProcessOptions o;
  o.capture_output = true;
  o.env = std::move(env);
  if (!cwd.empty()) o.cwd = std::move(cwd);
  return o;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return json::parse(in);
}

// One job folder: in/ holds the generated series, task.json lists it as the host would.
struct Job {
  TempDir dir{"bundled"};
  json truth;
  fs::path task() const { return dir.path() / "task.json"; }
  fs::path out() const { return dir.path() / "out"; }
};

void generate(Job& job, const std::string& kind, const std::vector<std::string>& options, const std::string& modality = "CT") {
  std::vector<std::string> argv = {"/usr/bin/python3", kGenerator, kind, (job.dir.path() / "in").string(),
                                   "--truth", (job.dir.path() / "truth.json").string(), "--modality", modality};
  argv.insert(argv.end(), options.begin(), options.end());
  auto [code, out] = run_process(argv, captured());
  REQUIRE_MESSAGE(code == 0, out);
  job.truth = read_json(job.dir.path() / "truth.json");
  fs::create_directories(job.out());

  json files = json::array();
  for (const auto& entry : fs::directory_iterator(job.dir.path() / "in")) {
    const std::string name = entry.path().filename().string();  // <SeriesInstanceUID>#<SOPInstanceUID>.dcm
    const auto hash = name.find('#');
    REQUIRE(hash != std::string::npos);
    files.push_back({{"path", "in/" + name},
                     {"SOPInstanceUID", name.substr(hash + 1, name.size() - hash - 5)},
                     {"SOPClassUID", modality == "CT" ? "1.2.840.10008.5.1.4.1.1.2" : "1.2.840.10008.5.1.4.1.1.4"},
                     {"SeriesInstanceUID", name.substr(0, hash)},
                     {"InstanceNumber", ""}});
  }
  const json task = {
      {"contract", 1},
      {"job", {{"id", 1}, {"attempt", 1}}},
      {"plugin", {{"name", kind == "chest" ? "lung-density" : "series-stats"}, {"command", json::array()}}},
      {"rule", {{"name", "test"}, {"firing", 1}, {"amendment", false}}},
      {"level", "series"},
      {"patient", {{"PatientID", "PHANTOM1"}, {"IssuerOfPatientID", ""}}},
      {"study", {{"StudyInstanceUID", job.truth["study_uid"]}}},
      {"series", {{"SeriesInstanceUID", job.truth["series_uid"]}, {"Modality", modality}}},
      {"files", files}};
  std::ofstream(job.task()) << task.dump(1);
}

// Runs a plug-in on the job: by --task/--out, or (by_env) through the contract's
// environment variables with the job folder as working directory, as the host starts it.
std::pair<int, std::string> run_plugin(const std::string& binary, const Job& job, bool by_env = false) {
  if (by_env) {
    return run_process({binary},
                       captured({{"PACSNODE_TASK", job.task().string()}, {"PACSNODE_OUT_DIR", job.out().string()}}, job.dir.path()),
                       std::chrono::minutes(2));
  }
  return run_process({binary, "--task", job.task().string(), "--out", job.out().string()}, captured(),
                     std::chrono::minutes(2));
}

// The value of the item whose quantity (and derivation, if given) match.
double item(const json& group, const std::string& code, const std::string& derivation = "") {
  for (const auto& m : group.at("measurementItems")) {
    if (m.at("quantity").at("CodeValue") != code) continue;
    if (!derivation.empty() && (!m.contains("derivationModifier") || m["derivationModifier"]["CodeValue"] != derivation)) continue;
    return m.at("value").get<double>();
  }
  FAIL("no item " << code << " " << derivation << " in group " << group.at("TrackingIdentifier"));
  return 0;
}

const json& group(const json& result, const std::string& tracking) {
  for (const auto& g : result.at("Measurements"))
    if (g.at("TrackingIdentifier") == tracking) return g;
  FAIL("no group '" << tracking << "'");
  static const json none;
  return none;
}

// The contract's rules for result.json (README, "What the plug-in gives back").
void check_contract_shape(const json& result) {
  CHECK(result.at("contract") == 1);
  CHECK(result.at("algorithm").at("version") == "1.0.0");
  CHECK(result.at("summary").get<std::string>().size() <= 1024);
  // size() - 1 < N: between 1 and N characters (an empty string wraps around).
  auto check_code = [](const json& code) {
    CHECK_MESSAGE(code.at("CodeValue").get<std::string>().size() - 1 < 16, code.dump());
    CHECK_MESSAGE(code.at("CodingSchemeDesignator").get<std::string>().size() - 1 < 16, code.dump());
    CHECK_MESSAGE(code.at("CodeMeaning").get<std::string>().size() - 1 < 64, code.dump());
  };
  REQUIRE_FALSE(result.at("Measurements").empty());
  for (const auto& g : result.at("Measurements")) {
    CHECK(g.at("TrackingIdentifier").get<std::string>().size() - 1 < 64);
    check_code(g.at("Finding"));
    for (const char* key : {"FindingSite", "Laterality"})
      if (g.contains(key)) check_code(g[key]);
    REQUIRE_FALSE(g.at("measurementItems").empty());
    for (const auto& m : g.at("measurementItems")) {
      check_code(m.at("quantity"));
      check_code(m.at("units"));
      CHECK(m.at("units").at("CodingSchemeDesignator") == "UCUM");
      CHECK(m.at("value").is_number());
      for (const char* key : {"derivationModifier", "method"})
        if (m.contains(key)) check_code(m[key]);
    }
  }
}

// Targets (README, "Bundled plug-ins").
constexpr double kVolumeRel = 0.02;    // lung volume within 2 %
constexpr double kLaaPoints = 0.5;     // LAA-950 within 0.5 percentage points
constexpr double kMeanHu = 5.0;        // mean lung density within 5 HU
// 15th percentile: within 3 HU, or within the truth's 14.5th-15.5th percentile range (the
// same rank give or take 0.5 % of the voxels) where the histogram is sparse there, as when
// LAA-950 is near 15 % and PD15 falls between emphysema and parenchyma.
constexpr double kP15Hu = 3.0;

// Targets for the planar region on each lung's largest axial section.
constexpr double kSectionShare = 0.97;  // its slice holds at least this share of the lung's largest true section
constexpr double kAreaRel = 0.03;       // area within 3 % of the true section's on that slice
constexpr double kOutlineRel = 0.005;   // the outline encloses the measured pixels (no holes in the phantom)

double shoelace(const json& data) {
  double twice = 0;
  for (std::size_t i = 0; i + 3 < data.size(); i += 2) {
    twice += data[i].get<double>() * data[i + 3].get<double>() - data[i + 2].get<double>() * data[i + 1].get<double>();
  }
  return std::abs(twice) / 2;
}

// The second group of each finding ("right lung", "left lung", "both lungs"): the lung's
// largest axial section as a closed POLYLINE on the slice where the truth's section is
// (about) largest, inside the image, with that section's area.
void check_sections(const Job& job, const json& result) {
  const json task = read_json(job.task());
  const json& slice_uids = job.truth.at("slice_sop_uids");
  const struct {
    const char* side;
    const char* tracking;
    const char* laterality;
  } sections[] = {{"right", "right lung", "24028007"}, {"left", "left lung", "7771000"}, {"both", "both lungs", nullptr}};
  for (const auto& [side, tracking, laterality] : sections) {
    const json* found = nullptr;
    for (const auto& m : result.at("Measurements"))
      if (m.at("TrackingIdentifier") == tracking && m.contains("imageRegion")) found = &m;
    REQUIRE_MESSAGE(found != nullptr, "no group '" << tracking << "' with an imageRegion");
    const json& g = *found;
    const json& t = job.truth.at(side);
    CHECK(g.at("Finding").at("CodeValue") == "39607008");
    CHECK(g.at("FindingSite").at("CodeValue") == "39607008");
    if (laterality) CHECK(g.at("Laterality").at("CodeValue") == laterality);
    else CHECK_FALSE(g.contains("Laterality"));
    CHECK(g.at("measurementItems").size() == 1);
    const json& region = g.at("imageRegion");
    CHECK(region.at("graphicType") == "POLYLINE");
    const json& data = region.at("graphicData");
    REQUIRE(data.size() >= 8);
    CHECK(data[0] == data[data.size() - 2]);
    CHECK(data[1] == data[data.size() - 1]);
    std::size_t k = slice_uids.size();
    for (std::size_t i = 0; i < slice_uids.size(); ++i)
      if (slice_uids[i] == region.at("referencedSOPInstanceUID")) k = i;
    REQUIRE_MESSAGE(k < slice_uids.size(), "the region's image is not one of the series' slices");
    const json& pixels = t.at("section_pixels");
    double largest = 0;
    for (const auto& p : pixels) largest = std::max(largest, p.get<double>());
    const double true_pixels = pixels[k].get<double>();
    CHECK_MESSAGE(true_pixels >= kSectionShare * largest, side << ": slice " << k << " has " << true_pixels << " of "
                                                                  << largest << " pixels of the largest true section");
    // Pixel spacing from the slice itself (rows, columns), not from the plug-in.
    fs::path file;
    for (const auto& f : task.at("files"))
      if (f.at("SOPInstanceUID") == region.at("referencedSOPInstanceUID")) file = job.dir.path() / f.at("path").get<std::string>();
    auto [code, spacing] = run_process({"/usr/bin/python3", "-c",
                                        "import sys, pydicom; d = pydicom.dcmread(sys.argv[1], stop_before_pixels=True); "
                                        "print(float(d.PixelSpacing[0]), float(d.PixelSpacing[1]), d.Rows, d.Columns)",
                                        file.string()},
                                       captured());
    REQUIRE_MESSAGE(code == 0, spacing);
    double dy = 0, dx = 0, image_rows = 0, image_cols = 0;
    REQUIRE(std::sscanf(spacing.c_str(), "%lf %lf %lf %lf", &dy, &dx, &image_rows, &image_cols) == 4);
    for (std::size_t i = 0; i < data.size(); ++i) {
      CHECK(data[i].get<double>() >= 0);
      CHECK(data[i].get<double>() <= (i % 2 == 0 ? image_cols : image_rows));
    }
    const double true_area = true_pixels * dx * dy;
    const double area = item(g, "42798000");
    const double outline_area = shoelace(data) * dx * dy;
    MESSAGE(std::string(tracking) << " section: slice " << k << ", area " << area << " mm2 (truth " << true_area << "), outline "
                 << outline_area << " mm2, " << data.size() / 2 << " points");
    CHECK(std::abs(area - true_area) <= kAreaRel * true_area);
    CHECK(std::abs(outline_area - area) <= kOutlineRel * area);
  }
}

void check_lungs(const std::string& phantom, const std::vector<std::string>& options, bool by_env = false) {
  Job job;
  generate(job, "chest", options);
  auto [code, out] = run_plugin(PACSNODE_LUNG_DENSITY, job, by_env);
  REQUIRE_MESSAGE(code == 0, out);
  const json result = read_json(job.out() / "result.json");
  check_contract_shape(result);
  CHECK(result.at("algorithm").at("name") == "lung-density");
  REQUIRE(result.at("Measurements").size() == 6);
  const struct {
    const char* tracking;
    const char* truth;
    const char* laterality;
  } lungs[] = {{"right lung", "right", "24028007"}, {"left lung", "left", "7771000"}, {"both lungs", "both", nullptr}};
  for (const auto& lung : lungs) {
    const json& g = group(result, lung.tracking);
    const json& t = job.truth.at(lung.truth);
    CHECK(g.at("Finding").at("CodeValue") == "39607008");
    CHECK(g.at("FindingSite").at("CodeValue") == "39607008");
    if (lung.laterality) CHECK(g.at("Laterality").at("CodeValue") == lung.laterality);
    else CHECK_FALSE(g.contains("Laterality"));
    const double volume = item(g, "118565006"), mean = item(g, "112031", "373098007");
    const double laa = item(g, "PN-LAA950"), p15 = item(g, "PN-PD15");
    const double volume_err = (volume - t.at("volume_cm3").get<double>()) / t.at("volume_cm3").get<double>();
    const double mean_err = mean - t.at("mean_hu").get<double>();
    const double laa_err = laa - t.at("laa950_percent").get<double>();
    const double p15_err = p15 - t.at("p15_hu").get<double>();
    // The measured-error table of the README comes from these lines.
    MESSAGE(phantom << " | " << std::string(lung.tracking) << " | volume " << t.at("volume_cm3").get<double>() << " cm3, error "
                    << 100 * volume_err << " % | mean error " << mean_err << " HU | LAA-950 truth "
                    << t.at("laa950_percent").get<double>() << " %, error " << laa_err << " pp | PD15 error " << p15_err << " HU (truth " << t.at("p15_hu")
                    << ", 14.5-15.5 % window " << t.at("p14_5_hu") << " to " << t.at("p15_5_hu") << ")");
    CHECK(std::abs(volume_err) <= kVolumeRel);
    CHECK(std::abs(mean_err) <= kMeanHu);
    CHECK(std::abs(laa_err) <= kLaaPoints);
    const bool p15_in_rank_window = p15 >= t.at("p14_5_hu").get<double>() && p15 <= t.at("p15_5_hu").get<double>();
    CHECK_MESSAGE((std::abs(p15_err) <= kP15Hu || p15_in_rank_window),
                  "PD15 " << p15 << ", truth " << t.at("p15_hu") << " [" << t.at("p14_5_hu") << ", " << t.at("p15_5_hu") << "]");
    CHECK_FALSE(g.contains("imageRegion"));  // the volume groups (the first of each finding) stay as they were
  }
  check_sections(job, result);
}

}  // namespace

TEST_SUITE("bundled plug-ins") {

TEST_CASE("lung-density, phantom A: 256x256x100, 1.5 mm pixels, 2.5 mm slices, 10 % emphysema in the right lung, bronchi") {
  check_lungs("A", {"--rows", "256", "--cols", "256", "--slices", "100", "--pixel-spacing", "1.5", "1.5",
                    "--slice-spacing", "2.5", "--sigma", "20", "--seed", "11", "--emphysema-fraction", "0.10",
                    "--emphysema-lung", "right"},
              /*by_env=*/true);
}

TEST_CASE("lung-density, phantom B: small lungs, 0.6 mm pixels, 1.25 mm slices, int16, 25 % emphysema in the left lung") {
  check_lungs("B", {"--rows", "320", "--cols", "320", "--slices", "72", "--pixel-spacing", "0.6", "0.6",
                    "--slice-spacing", "1.25", "--sigma", "15", "--seed", "12", "--signed", "--lung-scale", "0.9",
                    "--emphysema-fraction", "0.25", "--emphysema-lung", "left"});
}

TEST_CASE("lung-density, phantom C: anisotropic 1.9 x 1.4 mm pixels, 5 mm slices, slope 0.5, blind trachea, small left lung") {
  check_lungs("C", {"--rows", "200", "--cols", "256", "--slices", "50", "--pixel-spacing", "1.9", "1.4",
                    "--slice-spacing", "5", "--sigma", "30", "--seed", "13", "--slope", "0.5", "--left-scale", "0.7",
                    "--no-bronchi", "--emphysema-fraction", "0.05", "--emphysema-lung", "left"});
}

TEST_CASE("lung-density, phantom D: lungs joined by a bridge (one component, split at the midline), 0.8 mm pixels") {
  check_lungs("D", {"--rows", "288", "--cols", "288", "--slices", "80", "--pixel-spacing", "0.8", "0.8",
                    "--slice-spacing", "2.5", "--sigma", "25", "--seed", "14", "--bridge",
                    "--emphysema-fraction", "0.02", "--emphysema-lung", "right"});
}

TEST_CASE("lung-density, phantom E: large lungs cut by the bottom of the scan, bronchi short enough to join both lungs in one slice") {
  // The airway tracking stops where a bronchus meets a lung; here both meet theirs in the
  // slice below the carina, so what is left of the bronchi joins the lungs and the midline
  // cut separates them.
  check_lungs("E", {"--rows", "192", "--cols", "224", "--slices", "60", "--pixel-spacing", "1.8", "1.6",
                    "--slice-spacing", "3", "--sigma", "20", "--seed", "15", "--lung-scale", "1.3",
                    "--emphysema-fraction", "0.15", "--emphysema-lung", "left"});
}

TEST_CASE("lung-density: a non-CT series and a CT without lungs are not applicable (exit 3); bad input fails") {
  SUBCASE("MR") {
    Job job;
    generate(job, "water", {"--slices", "4", "--rows", "64", "--cols", "64"}, "MR");
    auto [code, out] = run_plugin(PACSNODE_LUNG_DENSITY, job);
    CHECK_MESSAGE(code == 3, out);
    CHECK_FALSE(fs::exists(job.out() / "result.json"));
  }
  SUBCASE("water cylinder") {
    Job job;
    generate(job, "water", {"--slices", "6", "--rows", "96", "--cols", "96"});
    auto [code, out] = run_plugin(PACSNODE_LUNG_DENSITY, job);
    CHECK_MESSAGE(code == 3, out);
    CHECK(out.find("no lungs found") != std::string::npos);
  }
  SUBCASE("a file listed in task.json is not DICOM") {
    Job job;
    generate(job, "water", {"--slices", "4", "--rows", "64", "--cols", "64"});
    json task = read_json(job.task());
    std::ofstream(job.dir.path() / "in" / "garbage.dcm") << "not a DICOM file";
    task["files"].push_back({{"path", "in/garbage.dcm"}, {"SOPInstanceUID", "1.2.3"}, {"SeriesInstanceUID", job.truth["series_uid"]}});
    std::ofstream(job.task()) << task.dump();
    for (const char* binary : {PACSNODE_LUNG_DENSITY, PACSNODE_SERIES_STATS}) {
      auto [code, out] = run_plugin(binary, job);
      CHECK_MESSAGE(code != 0, out);
      CHECK_MESSAGE(code != 3, out);
      CHECK(out.find("garbage.dcm") != std::string::npos);
    }
  }
  SUBCASE("two slices at one position") {
    Job job;
    generate(job, "water", {"--slices", "4", "--rows", "64", "--cols", "64"});
    json task = read_json(job.task());
    json copy = task["files"][0];
    fs::copy_file(job.dir.path() / copy["path"].get<std::string>(), job.dir.path() / "in" / "copy.dcm");
    copy["path"] = "in/copy.dcm";
    task["files"].push_back(copy);
    std::ofstream(job.task()) << task.dump();
    for (const char* binary : {PACSNODE_LUNG_DENSITY, PACSNODE_SERIES_STATS}) {
      auto [code, out] = run_plugin(binary, job);
      CHECK_MESSAGE(code == 1, out);
      CHECK(out.find("share one position") != std::string::npos);
    }
  }
  SUBCASE("no task") {
    auto [code, out] = run_process({PACSNODE_LUNG_DENSITY}, captured({{"PACSNODE_TASK", ""}}));
    CHECK(code == 1);
    CHECK(out.find("no task") != std::string::npos);
  }
}

TEST_CASE("series-stats on a water cylinder: mean, noise, SNR and uniformity against the built-in gradient") {
  constexpr double kSigma = 10.0;
  for (const double gradient : {0.0, 0.1}) {
    CAPTURE(gradient);
    Job job;
    generate(job, "water", {"--rows", "256", "--cols", "256", "--slices", "5", "--pixel-spacing", "0.9", "0.9",
                            "--sigma", std::to_string(kSigma), "--seed", "21", "--gradient", std::to_string(gradient)});
    auto [code, out] = run_plugin(PACSNODE_SERIES_STATS, job, /*by_env=*/gradient > 0);
    REQUIRE_MESSAGE(code == 0, out);
    const json result = read_json(job.out() / "result.json");
    check_contract_shape(result);
    CHECK(result.at("algorithm").at("name") == "series-stats");
    const json& centre = group(result, "central ROI");
    const double mean = item(centre, "112031", "373098007"), sd = item(centre, "112031", "386136009");
    const double snr = item(centre, "113060"), uniformity = item(centre, "PN-UNIFORMITY");
    // Truth by construction: water is 0 HU; a gradient g along x makes the 3 and 9 o'clock
    // ROIs, 0.75 R from the centre (R: the cylinder's radius), differ from it by g * 0.75 R.
    const double expected_uniformity = gradient * 0.75 * job.truth.at("radius_mm").get<double>();
    MESSAGE("water, gradient " << gradient << " HU/mm | mean " << mean << " HU | SD " << sd << " HU (sigma " << kSigma
                               << ") | uniformity " << uniformity << " HU, expected " << expected_uniformity);
    CHECK(std::abs(mean) <= 2.0);
    CHECK(std::abs(sd - kSigma) <= 0.1 * kSigma);
    CHECK(snr == doctest::Approx(mean / sd).epsilon(1e-9));
    CHECK(std::abs(uniformity - expected_uniformity) <= 1.5);
    CHECK(centre.at("imageReferences").size() == 1);
    // Whole-series statistics against the generator's own.
    const json& whole = group(result, "whole series");
    CHECK(item(whole, "112031", "373098007") == doctest::Approx(job.truth.at("mean_hu").get<double>()).epsilon(1e-6));
    CHECK(item(whole, "112031", "255605001") == job.truth.at("min_hu").get<double>());
    CHECK(item(whole, "112031", "56851009") == job.truth.at("max_hu").get<double>());
  }
}

TEST_CASE("series-stats on an MR series reports intensities without a unit") {
  Job job;
  generate(job, "water", {"--rows", "64", "--cols", "64", "--slices", "3"}, "MR");
  auto [code, out] = run_plugin(PACSNODE_SERIES_STATS, job);
  REQUIRE_MESSAGE(code == 0, out);
  const json result = read_json(job.out() / "result.json");
  check_contract_shape(result);
  const json& centre = group(result, "central ROI");
  for (const auto& m : centre.at("measurementItems")) CHECK(m.at("units").at("CodeValue") == "1");
  CHECK(centre.at("measurementItems")[0].at("quantity").at("CodingSchemeDesignator") == "99PACSNODE");
}

TEST_CASE("series-stats reads RLE and JPEG-LS like the uncompressed image; no JPEG 2000 decoder is not applicable") {
  // pydicom's MR_small in three transfer syntaxes (lossless): the statistics must agree.
  const fs::path files = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  auto stats = [&](const std::string& file) -> std::pair<int, json> {
    Job job;
    const json task = {{"contract", 1}, {"level", "series"},
                       {"files", {{{"path", (files / file).string()}, {"SOPInstanceUID", "1"}, {"SeriesInstanceUID", "S"}}}}};
    std::ofstream(job.task()) << task.dump();
    auto [code, out] = run_plugin(PACSNODE_SERIES_STATS, job);
    INFO(out);
    if (code != 0) return {code, json()};
    return {code, read_json(job.out() / "result.json")};
  };
  const auto [code, plain] = stats("MR_small.dcm");
  REQUIRE(code == 0);
  for (const char* compressed : {"MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm"}) {
    CAPTURE(compressed);
    const auto [c, result] = stats(compressed);
    REQUIRE(c == 0);
    CHECK(result.at("Measurements") == plain.at("Measurements"));
  }
  CHECK(stats("JPEG2000.dcm").first == 3);
}

}  // TEST_SUITE
