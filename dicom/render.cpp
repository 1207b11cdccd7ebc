#include "dicom/render.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmimage/dipipng.h>
#include <dcmtk/dcmimage/diregist.h>  // colour images
#include <dcmtk/dcmjpeg/dipijpeg.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "base/error.hpp"
#include "dicom/pixel_frames.hpp"
#include "dicom/text_decoding.hpp"

namespace pacsnode::dicom {
namespace {

const std::string kExplicitLittle = "1.2.840.10008.1.2.1";
const std::string kImplicitLittle = "1.2.840.10008.1.2";

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& why) {
  throw Error(ErrorCode::InvalidArgument, fmt::format("{}: {}", file.filename().string(), why));
}

// Bytes a C stream writes, in memory (POSIX open_memstream).
class MemoryStream {
 public:
  MemoryStream() : stream_(open_memstream(&data_, &size_)) {
    if (stream_ == nullptr) throw Error(ErrorCode::OutOfResources, "open_memstream failed");
  }
  ~MemoryStream() {
    if (stream_ != nullptr) std::fclose(stream_);
    std::free(data_);
  }
  MemoryStream(const MemoryStream&) = delete;
  MemoryStream& operator=(const MemoryStream&) = delete;
  FILE* get() { return stream_; }
  std::vector<std::uint8_t> take() {
    std::fclose(stream_);
    stream_ = nullptr;
    return std::vector<std::uint8_t>(reinterpret_cast<std::uint8_t*>(data_), reinterpret_cast<std::uint8_t*>(data_) + size_);
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  FILE* stream_;
};

}  // namespace

std::vector<std::uint8_t> render_frame(const std::filesystem::path& file, const RenderOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) throw Error(ErrorCode::NotFound, file.string() + ": no such file");
  detail::configure_dcmtk();
  // Native pixels in memory: the file as it is when it is uncompressed little endian,
  // decoded otherwise. Values past 4 KiB stay in the file until DicomImage reads its frame.
  std::unique_ptr<DcmFileFormat> format = std::make_unique<DcmFileFormat>();
  OFCondition loaded = format->loadFile(OFFilename(file.c_str()), EXS_Unknown, EGL_noChange, 4096, ERM_fileOnly);
  if (loaded.bad()) fail(file, std::string("not a readable DICOM Part-10 file: ") + loaded.text());
  OFString stored;
  format->getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, stored);
  if (stored != kExplicitLittle.c_str() && stored != kImplicitLittle.c_str()) {
    format = detail::load_transcoded(file, kExplicitLittle);
  }
  DcmDataset& data_set = *format->getDataset();
  if (!data_set.tagExists(DCM_PixelData)) throw Error(ErrorCode::NotFound, "the instance has no pixel data");
  Sint32 frames = 1;
  data_set.findAndGetSint32(DCM_NumberOfFrames, frames);
  if (frames < 1) frames = 1;
  if (options.frame < 1 || options.frame > static_cast<std::uint32_t>(frames)) {
    throw Error(ErrorCode::NotFound, fmt::format("frame {} does not exist: the instance has {} frame(s)", options.frame, frames));
  }

  DicomImage image(&data_set, data_set.getCurrentXfer(), CIF_UsePartialAccessToPixelData, options.frame - 1, 1);
  if (image.getStatus() != EIS_Normal) fail(file, std::string("cannot display: ") + DicomImage::getString(image.getStatus()));
  if (image.isMonochrome()) {
    if (options.window_center && options.window_width) {
      image.setWindow(*options.window_center, *options.window_width);
    } else if (image.getWindowCount() > 0) {
      image.setWindow(0);
    } else {
      image.setMinMaxWindow();
    }
    if (options.sigmoid) image.setVoiLutFunction(EFV_Sigmoid);
  }
  std::unique_ptr<DicomImage> scaled;
  DicomImage* shown = &image;
  const double width = static_cast<double>(image.getWidth()), height = static_cast<double>(image.getHeight());
  double factor = 1;
  if (options.max_width != 0) factor = std::min(factor, options.max_width / width);
  if (options.max_height != 0) factor = std::min(factor, options.max_height / height);
  if (factor < 1) {
    const auto w = std::max(1UL, static_cast<unsigned long>(width * factor));
    const auto h = std::max(1UL, static_cast<unsigned long>(height * factor));
    scaled.reset(image.createScaledImage(w, h, 1, 0));
    if (!scaled) fail(file, "cannot scale the image");
    shown = scaled.get();
  }
  MemoryStream out;
  int written = 0;
  if (options.format == RenderOptions::Format::Png) {
    DiPNGPlugin png;
    png.setMetainfoType(E_pngNoMetainfo);
    written = shown->writePluginFormat(&png, out.get(), 0);
  } else {
    DiJPEGPlugin jpeg;
    jpeg.setQuality(static_cast<unsigned int>(std::clamp(options.quality, 1, 100)));
    written = shown->writePluginFormat(&jpeg, out.get(), 0);
  }
  if (!written) fail(file, "the image could not be encoded");
  return out.take();
}

}  // namespace pacsnode::dicom
