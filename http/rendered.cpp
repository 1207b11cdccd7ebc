// WADO-RS rendered and thumbnail resources (PS3.18 §9.5, §10.4.1.1.3/4): a frame as JPEG or
// PNG through dicom/render, with the window and viewport the query asks for.
#include <charconv>
#include <cmath>

#include "base/error.hpp"
#include "base/log.hpp"
#include "dicom/render.hpp"
#include "http/handlers.hpp"
#include "http/locate.hpp"
#include "http/media_type.hpp"
#include "net/blocking.hpp"

namespace pacsnode::http {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(separator, start);
    out.push_back(text.substr(start, at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

double number(const std::string& parameter, const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    throw HttpError{400, "query parameter \"" + parameter + "\": \"" + text + "\" is not a number"};
  }
  return value;
}

std::uint32_t dimension(const std::string& parameter, const std::string& text) {
  const double v = number(parameter, text);
  if (v < 1 || v > 65535 || v != static_cast<std::uint32_t>(v)) {
    throw HttpError{400, "query parameter \"" + parameter + "\": \"" + text + "\" is not a size in pixels (1 to 65535)"};
  }
  return static_cast<std::uint32_t>(v);
}

}  // namespace

asio::awaitable<void> handle_wado_rendered(Context& context, Exchange& exchange, const WadoTarget& target,
                                           std::uint32_t frame, bool thumbnail) {
  const auto negotiated = negotiate(exchange.header("Accept").value_or("*/*"), {"image/jpeg", "image/png"});
  if (!negotiated) throw HttpError{406, "rendered images are sent as image/jpeg or image/png"};
  dicom::RenderOptions options;
  options.format = negotiated->index == 1 ? dicom::RenderOptions::Format::Png : dicom::RenderOptions::Format::Jpeg;
  options.frame = frame;
  if (thumbnail) options.max_width = options.max_height = 128;
  for (const auto& [name, value] : exchange.query()) {
    if (name == "window") {
      const auto p = split(value, ',');
      if (p.size() != 3 || (p[2] != "linear" && p[2] != "sigmoid")) {
        throw HttpError{400, "query parameter \"window\": center,width,linear|sigmoid"};
      }
      options.window_center = number(name, p[0]);
      options.window_width = number(name, p[1]);
      if (*options.window_width < 1) throw HttpError{400, "query parameter \"window\": the width must be at least 1"};
      options.sigmoid = p[2] == "sigmoid";
    } else if (name == "viewport") {
      const auto p = split(value, ',');
      if (p.size() != 2 && p.size() != 6) throw HttpError{400, "query parameter \"viewport\": vw,vh"};
      options.max_width = dimension(name, p[0]);
      options.max_height = dimension(name, p[1]);
    } else if (name == "quality") {
      const double q = number(name, value);
      if (q < 1 || q > 100) throw HttpError{400, "query parameter \"quality\": 1 to 100"};
      options.quality = static_cast<int>(q);
    } else if (name == "annotation" || name == "iccprofile" || name == "charset") {
      // Accepted and not applied: no annotations are burnt in, no ICC profile conversion.
    } else {
      throw HttpError{400, "query parameter \"" + name + "\" is not one of window, viewport, quality"};
    }
  }
  const auto instances = co_await locate(context, target);
  // A series' or study's thumbnail: its middle instance.
  const Located& located = instances.size() == 1 || !target.instance.empty() ? instances.front() : instances[instances.size() / 2];
  std::vector<std::uint8_t> picture;
  std::optional<Error> failure;
  co_await net::run_blocking(context.workers, [&located, &options, &picture, &failure]() {
    try {
      picture = dicom::render_frame(located.file, options);
    } catch (const Error& e) {
      failure = e;
    } catch (const std::exception& e) {
      failure = Error(ErrorCode::Internal, e.what());
    }
  });
  if (failure) throw *failure;
  co_await exchange.begin(200, negotiated->offer.essence(), picture.size());
  co_await exchange.write(std::span<const char>(reinterpret_cast<const char*>(picture.data()), picture.size()));
  co_await exchange.end();
  log::debug("http {}: {} of {}: {} bytes", exchange.remote_address(), thumbnail ? "thumbnail" : "rendered",
             located.sop_instance_uid, picture.size());
}

}  // namespace pacsnode::http
