#include "plugins/bundled/common/volume.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdlib>
#include <memory>
#include <optional>

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>

#include "plugins/bundled/common/invocation.hpp"

namespace pacsnode::bundled {

namespace {

struct Slice {
  std::string sop_instance_uid;
  long instance_number = 0;
  std::array<double, 3> position{0, 0, 0};
  double along_normal = 0;
  std::vector<float> values;
};

struct Header {
  unsigned rows = 0, cols = 0;
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
  double row_spacing = 1, col_spacing = 1, thickness = 0;
  bool has_geometry = false;
  std::string modality;
};

// The decoders of DCMTK's free edition, registered once for the process.
void register_decoders() {
  static const bool done = [] {
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    return true;
  }();
  (void)done;
}

std::string get_string(DcmDataset& ds, const DcmTagKey& tag) {
  OFString v;
  if (ds.findAndGetOFString(tag, v).good()) return v.c_str();
  return {};
}

// DCMTK zeroes the output of a failed look-up: keep the default for an absent attribute.
Uint16 get_u16(DcmDataset& ds, const DcmTagKey& tag, Uint16 fallback) {
  Uint16 v = 0;
  return ds.findAndGetUint16(tag, v).good() ? v : fallback;
}

bool get_doubles(DcmDataset& ds, const DcmTagKey& tag, double* out, unsigned count) {
  for (unsigned i = 0; i < count; ++i) {
    Float64 v = 0;
    if (ds.findAndGetFloat64(tag, v, i).bad()) return false;
    out[i] = v;
  }
  return true;
}

std::array<double, 3> cross(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

// Reads one file into a slice; fills `header` from the first image and checks later ones
// against it. Nothing for a file without pixel data (a report or key object in the series).
std::optional<Slice> read_slice(const TaskFile& file, Header& header, bool first) {
  const std::string name = file.path.filename().string();
  DcmFileFormat ff;
  if (OFCondition c = ff.loadFile(file.path.c_str()); c.bad())
    throw InputError(name + ": cannot read as DICOM: " + c.text());
  DcmDataset& ds = *ff.getDataset();
  if (!ds.tagExists(DCM_PixelData)) return std::nullopt;
  const Uint16 rows = get_u16(ds, DCM_Rows, 0), cols = get_u16(ds, DCM_Columns, 0);
  const Uint16 samples = get_u16(ds, DCM_SamplesPerPixel, 1), bits_allocated = get_u16(ds, DCM_BitsAllocated, 0);
  Uint16 bits_stored = get_u16(ds, DCM_BitsStored, bits_allocated);
  const Uint16 representation = get_u16(ds, DCM_PixelRepresentation, 0);
  if (rows == 0 || cols == 0) throw InputError(name + ": Rows or Columns missing or zero");
  if (samples != 1) throw NotApplicable(name + ": colour images (Samples per Pixel " + std::to_string(samples) + ") are not analysed");
  long frames = 1;
  if (OFString f; ds.findAndGetOFString(DCM_NumberOfFrames, f).good() && !f.empty()) frames = std::atol(f.c_str());
  if (frames > 1) throw NotApplicable(name + ": multi-frame images are not analysed");
  if (bits_allocated != 8 && bits_allocated != 16) throw NotApplicable(name + ": Bits Allocated " + std::to_string(bits_allocated) + " is not supported");
  if (bits_stored == 0 || bits_stored > bits_allocated) bits_stored = bits_allocated;

  // Absent Rescale Slope/Intercept (MR, secondary capture) mean identity.
  double slope = 1, intercept = 0;
  if (Float64 f = 0; ds.findAndGetFloat64(DCM_RescaleSlope, f).good()) slope = f;
  if (Float64 f = 0; ds.findAndGetFloat64(DCM_RescaleIntercept, f).good()) intercept = f;
  if (!std::isfinite(slope) || slope == 0 || !std::isfinite(intercept)) throw InputError(name + ": bad Rescale Slope/Intercept");

  Header h;
  h.rows = rows;
  h.cols = cols;
  h.modality = get_string(ds, DCM_Modality);
  double spacing[2] = {1, 1};
  if (get_doubles(ds, DCM_PixelSpacing, spacing, 2)) {
    if (!(spacing[0] > 0) || !(spacing[1] > 0)) throw InputError(name + ": Pixel Spacing must be positive");
    h.row_spacing = spacing[0];
    h.col_spacing = spacing[1];
  }
  if (Float64 f = 0; ds.findAndGetFloat64(DCM_SliceThickness, f).good()) h.thickness = f;
  Slice s;
  s.sop_instance_uid = get_string(ds, DCM_SOPInstanceUID);
  if (OFString n; ds.findAndGetOFString(DCM_InstanceNumber, n).good()) s.instance_number = std::atol(n.c_str());
  double ipp[3];
  h.has_geometry = get_doubles(ds, DCM_ImageOrientationPatient, h.orientation.data(), 6) &&
                   get_doubles(ds, DCM_ImagePositionPatient, ipp, 3);
  if (h.has_geometry) s.position = {ipp[0], ipp[1], ipp[2]};

  if (first) {
    header = h;
  } else {
    if (h.rows != header.rows || h.cols != header.cols)
      throw InputError(name + ": " + std::to_string(h.cols) + "x" + std::to_string(h.rows) + " pixels, the first slice has " +
                       std::to_string(header.cols) + "x" + std::to_string(header.rows));
    if (h.has_geometry != header.has_geometry) throw InputError(name + ": some slices have Image Position/Orientation Patient, some do not");
    for (int i = 0; i < 6; ++i)
      if (std::abs(h.orientation[i] - header.orientation[i]) > 1e-3) throw InputError(name + ": Image Orientation Patient differs from the first slice's");
    if (std::abs(h.row_spacing - header.row_spacing) > 1e-3 || std::abs(h.col_spacing - header.col_spacing) > 1e-3)
      throw InputError(name + ": Pixel Spacing differs from the first slice's");
  }

  register_decoders();
  const E_TransferSyntax original = ds.getOriginalXfer();
  if (DcmXfer(original).isEncapsulated() && !DcmCodecList::canChangeCoding(original, EXS_LittleEndianExplicit))
    throw NotApplicable(name + ": no decoder for its transfer syntax (" + DcmXfer(original).getXferName() + ")");
  if (OFCondition c = ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr); c.bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit))
    throw InputError(name + ": cannot decompress the pixel data: " + std::string(c.text()));
  const std::size_t n = std::size_t(rows) * cols;
  s.values.resize(n);
  const Uint32 mask = bits_stored >= 32 ? 0xFFFFFFFFu : ((1u << bits_stored) - 1u);
  const Uint32 sign_bit = 1u << (bits_stored - 1);
  auto convert = [&](Uint32 raw) {
    raw &= mask;
    const double v = (representation == 1 && (raw & sign_bit)) ? double(raw) - double(mask) - 1.0 : double(raw);
    return static_cast<float>(v * slope + intercept);
  };
  unsigned long count = 0;
  if (bits_allocated == 16) {
    const Uint16* p = nullptr;
    if (ds.findAndGetUint16Array(DCM_PixelData, p, &count).bad() || p == nullptr || count < n)
      throw InputError(name + ": pixel data shorter than Rows x Columns");
    for (std::size_t i = 0; i < n; ++i) s.values[i] = convert(p[i]);
  } else {
    const Uint8* p = nullptr;
    if (ds.findAndGetUint8Array(DCM_PixelData, p, &count).bad() || p == nullptr || count < n)
      throw InputError(name + ": pixel data shorter than Rows x Columns");
    for (std::size_t i = 0; i < n; ++i) s.values[i] = convert(p[i]);
  }
  return s;
}

}  // namespace

std::array<double, 3> Volume::position(double i, double j, double k) const {
  std::array<double, 3> p;
  for (int a = 0; a < 3; ++a) p[a] = origin[a] + i * dx * row_dir[a] + j * dy * col_dir[a] + k * dz * normal[a];
  return p;
}

Volume load_volume(const Task& task, const LoadOptions& options) {
  // A study-level task may hold several series: analyse the one with the most files.
  std::map<std::string, std::vector<const TaskFile*>> by_series;
  for (const auto& f : task.files) by_series[f.series_instance_uid].push_back(&f);
  auto largest = std::max_element(by_series.begin(), by_series.end(),
                                  [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
  Header header;
  std::vector<Slice> slices;
  for (const TaskFile* f : largest->second)
    if (auto slice = read_slice(*f, header, slices.empty())) slices.push_back(std::move(*slice));
  if (slices.empty()) throw NotApplicable("no file of the series has pixel data");
  if (options.require_geometry && !header.has_geometry)
    throw NotApplicable("the images have no Image Position/Orientation Patient: no volume to measure");

  Volume v;
  v.nx = header.cols;
  v.ny = header.rows;
  v.nz = slices.size();
  v.dx = header.col_spacing;
  v.dy = header.row_spacing;
  v.modality = header.modality;
  v.series_instance_uid = largest->first;
  v.has_geometry = header.has_geometry;
  if (header.has_geometry) {
    v.row_dir = {header.orientation[0], header.orientation[1], header.orientation[2]};
    v.col_dir = {header.orientation[3], header.orientation[4], header.orientation[5]};
    v.normal = cross(v.row_dir, v.col_dir);
    for (auto& s : slices) s.along_normal = s.position[0] * v.normal[0] + s.position[1] * v.normal[1] + s.position[2] * v.normal[2];
    std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) { return a.along_normal < b.along_normal; });
    std::vector<double> gaps;
    for (std::size_t k = 1; k < slices.size(); ++k) {
      gaps.push_back(slices[k].along_normal - slices[k - 1].along_normal);
      if (gaps.back() < 1e-3)
        throw InputError("instances " + slices[k - 1].sop_instance_uid + " and " + slices[k].sop_instance_uid +
                         " share one position: a duplicate or a second stack in the series");
    }
    if (!gaps.empty()) {
      std::vector<double> sorted = gaps;
      std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
      v.dz = sorted[sorted.size() / 2];
      for (double g : gaps)
        if (std::abs(g - v.dz) > 0.1 * v.dz)
          throw InputError("irregular slice spacing (" + std::to_string(g) + " mm against " + std::to_string(v.dz) + " mm): gaps or overlaps are not measured");
    } else {
      v.dz = header.thickness > 0 ? header.thickness : 1.0;
    }
    v.origin = slices.front().position;
  } else {
    std::stable_sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) { return a.instance_number < b.instance_number; });
    v.dz = header.thickness > 0 ? header.thickness : 1.0;
  }
  v.values.reserve(v.nx * v.ny * v.nz);
  for (auto& s : slices) {
    v.values.insert(v.values.end(), s.values.begin(), s.values.end());
    v.sop_instance_uids.push_back(s.sop_instance_uid);
    std::vector<float>().swap(s.values);
  }
  return v;
}

}  // namespace pacsnode::bundled
