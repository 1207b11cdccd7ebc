#include "dicom/jpeg2000.hpp"

#include <openjpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "base/error.hpp"

namespace pacsnode::dicom {
namespace {

[[noreturn]] void fail(const std::string& why) { throw Error(ErrorCode::InvalidArgument, "JPEG 2000: " + why); }

// OpenJPEG reads through callbacks; this one serves a span.
struct Reader {
  std::span<const std::uint8_t> data;
  std::size_t at = 0;
};

OPJ_SIZE_T read_cb(void* buffer, OPJ_SIZE_T n, void* user) {
  auto* r = static_cast<Reader*>(user);
  if (r->at >= r->data.size()) return static_cast<OPJ_SIZE_T>(-1);
  const std::size_t take = std::min<std::size_t>(n, r->data.size() - r->at);
  std::memcpy(buffer, r->data.data() + r->at, take);
  r->at += take;
  return take;
}

OPJ_OFF_T skip_cb(OPJ_OFF_T n, void* user) {
  auto* r = static_cast<Reader*>(user);
  const auto target = std::clamp<OPJ_OFF_T>(static_cast<OPJ_OFF_T>(r->at) + n, 0, static_cast<OPJ_OFF_T>(r->data.size()));
  const auto moved = target - static_cast<OPJ_OFF_T>(r->at);
  r->at = static_cast<std::size_t>(target);
  return moved;
}

OPJ_BOOL seek_cb(OPJ_OFF_T n, void* user) {
  auto* r = static_cast<Reader*>(user);
  if (n < 0 || static_cast<std::size_t>(n) > r->data.size()) return OPJ_FALSE;
  r->at = static_cast<std::size_t>(n);
  return OPJ_TRUE;
}

void quiet(const char*, void*) {}

bool is_jp2(std::span<const std::uint8_t> d) {
  static const std::uint8_t kSignature[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20};
  return d.size() >= sizeof kSignature && std::equal(std::begin(kSignature), std::end(kSignature), d.begin());
}

}  // namespace

void decode_jpeg2000_frame(std::span<const std::uint8_t> codestream, const FrameLayout& layout,
                           std::vector<std::uint8_t>& out) {
  if (layout.bits_allocated != 8 && layout.bits_allocated != 16) {
    fail("BitsAllocated " + std::to_string(layout.bits_allocated) + " is not supported");
  }
  if (codestream.size() < 4) fail("empty frame");
  std::unique_ptr<opj_codec_t, decltype(&opj_destroy_codec)> codec(
      opj_create_decompress(is_jp2(codestream) ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K), &opj_destroy_codec);
  opj_set_error_handler(codec.get(), quiet, nullptr);
  opj_set_warning_handler(codec.get(), quiet, nullptr);
  opj_set_info_handler(codec.get(), quiet, nullptr);
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  if (!opj_setup_decoder(codec.get(), &parameters)) fail("decoder setup failed");

  Reader reader{codestream, 0};
  std::unique_ptr<opj_stream_t, decltype(&opj_stream_destroy)> stream(opj_stream_create(64 * 1024, OPJ_TRUE),
                                                                      &opj_stream_destroy);
  opj_stream_set_user_data(stream.get(), &reader, nullptr);
  opj_stream_set_user_data_length(stream.get(), codestream.size());
  opj_stream_set_read_function(stream.get(), read_cb);
  opj_stream_set_skip_function(stream.get(), skip_cb);
  opj_stream_set_seek_function(stream.get(), seek_cb);

  opj_image_t* raw = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &raw)) fail("unreadable main header");
  std::unique_ptr<opj_image_t, decltype(&opj_image_destroy)> image(raw, &opj_image_destroy);
  if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get())) {
    fail("the codestream does not decode");
  }

  const std::uint32_t samples = layout.samples_per_pixel;
  if (image->numcomps < samples) {
    fail(std::to_string(image->numcomps) + " component(s), the data set says " + std::to_string(samples));
  }
  for (std::uint32_t c = 0; c < samples; ++c) {
    const auto& comp = image->comps[c];
    if (comp.w != layout.columns || comp.h != layout.rows || comp.dx != 1 || comp.dy != 1 || comp.data == nullptr) {
      fail("component size " + std::to_string(comp.w) + "×" + std::to_string(comp.h) + " does not match " +
           std::to_string(layout.columns) + "×" + std::to_string(layout.rows));
    }
    if (comp.prec > layout.bits_allocated) {
      fail(std::to_string(comp.prec) + "-bit samples do not fit BitsAllocated " + std::to_string(layout.bits_allocated));
    }
  }
  const std::size_t pixels = static_cast<std::size_t>(layout.rows) * layout.columns;
  const std::size_t bytes_per_sample = layout.bits_allocated / 8u;
  const std::size_t start = out.size();
  out.resize(start + pixels * samples * bytes_per_sample);
  std::uint8_t* p = out.data() + start;
  for (std::size_t i = 0; i < pixels; ++i) {
    for (std::uint32_t c = 0; c < samples; ++c) {
      const std::int32_t v = image->comps[c].data[i];
      if (bytes_per_sample == 1) {
        *p++ = static_cast<std::uint8_t>(v);
      } else {
        const auto u = static_cast<std::uint16_t>(v);
        *p++ = static_cast<std::uint8_t>(u & 0xFF);
        *p++ = static_cast<std::uint8_t>(u >> 8);
      }
    }
  }
}

bool jpeg2000_is_irreversible(std::span<const std::uint8_t> d) {
  // A JP2 file wraps the codestream in boxes: find its SOC marker first.
  std::size_t at = 0;
  while (at + 1 < d.size() && !(d[at] == 0xFF && d[at + 1] == 0x4F)) ++at;
  at += 2;  // SOC
  // Marker segments of the main header: FFxx, then a 16-bit length that includes itself.
  while (at + 4 <= d.size() && d[at] == 0xFF) {
    const std::uint8_t marker = d[at + 1];
    const std::size_t length = (static_cast<std::size_t>(d[at + 2]) << 8) | d[at + 3];
    if (marker == 0x52) {  // COD: Scod, SGcod (4 bytes), then SPcod: levels, cbw, cbh, style, transform
      const std::size_t transform = at + 4 + 1 + 4 + 4;
      return transform < d.size() && d[transform] == 0;
    }
    if (marker == 0x90 || length < 2) break;  // SOT: the main header is over
    at += 2 + length;
  }
  return false;
}

}  // namespace pacsnode::dicom
