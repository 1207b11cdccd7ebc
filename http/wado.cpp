// WADO-RS (PS3.18 §10.4): instances, metadata, frames and bulk data of what the index lists,
// read from the stored files. The instances of a request are found by the retrieve SQL the
// C-MOVE/C-GET SCP uses (db/retrieve_query), conversions go through dicom/ (the same
// decoders and policy as retrieve and forward), and every body is streamed: a file goes
// out in pieces as it is read, so a 2 GB instance is never held in memory.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/connection_pool.hpp"
#include "db/find_cursor.hpp"
#include "db/retrieve_query.hpp"
#include "dicom/file_meta.hpp"
#include "dicom/instance_reader.hpp"
#include "dicom/json_values.hpp"
#include "dicom/transcode.hpp"
#include "dicom/uid.hpp"
#include "http/handlers.hpp"
#include "http/locate.hpp"
#include "http/media_type.hpp"
#include "http/multipart.hpp"
#include "ingest/ingest.hpp"
#include "net/blocking.hpp"
#include "storage/store.hpp"

namespace pacsnode::http {
namespace {

const std::string kExplicitLittle = "1.2.840.10008.1.2.1";
constexpr std::size_t kChunk = 256 * 1024;

}  // namespace

asio::awaitable<std::vector<Located>> locate(Context& context, const WadoTarget& target) {
  const std::vector<std::pair<std::uint32_t, const std::string*>> named = {
      {0x0020000D, &target.study}, {0x0020000E, &target.series}, {0x00080018, &target.instance}};
  db::FindRequest find;
  find.model = db::InformationModel::StudyRoot;
  find.level = target.instance.empty() ? (target.series.empty() ? db::QueryLevel::Study : db::QueryLevel::Series)
                                       : db::QueryLevel::Image;
  for (const auto& [tag, uid] : named) {
    if (uid->empty()) continue;
    if (!dicom::is_valid_uid(*uid)) throw HttpError{400, "\"" + *uid + "\" is not a valid UID"};
    find.keys.push_back(db::FindKey{tag, "UI", *uid});
  }
  const db::SqlQuery sql = db::build_retrieve_sql(find);
  std::vector<std::vector<std::string>> rows;
  std::optional<std::string> failure;
  db::ConnectionPool& connections = context.connections;
  co_await net::run_blocking(context.workers, [&connections, &sql, &rows, &failure]() {
    try {
      db::FindCursor cursor(connections, sql);
      for (;;) {
        auto batch = cursor.fetch(1000);
        const bool last = batch.size() < 1000;
        for (auto& row : batch) rows.push_back(std::move(row));
        if (last) break;
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  if (failure) throw HttpError{503, "database: " + *failure};
  if (rows.empty()) {
    throw HttpError{404, target.instance.empty() ? (target.series.empty() ? "no study " + target.study
                                                                          : "no series " + target.series + " in study " + target.study)
                                                 : "no instance " + target.instance + " in series " + target.series};
  }
  const auto& root = context.ingest.store().root();
  std::vector<Located> out;
  out.reserve(rows.size());
  for (auto& row : rows) {
    // row: sop_instance_uid, sop_class_uid, transfer_syntax_uid, file_path
    out.push_back(Located{std::move(row.at(0)), std::move(row.at(1)), std::move(row.at(2)),
                          storage::resolve_under(root, row.at(3))});
  }
  co_return out;
}

namespace {

std::string instance_path(const std::string& study, const std::string& series, const std::string& instance) {
  return "/dicom-web/studies/" + study + "/series/" + series + "/instances/" + instance;
}

// Reads a file in pieces on the worker pool.
struct FileStream {
  std::ifstream in;
  std::vector<char> buffer = std::vector<char>(kChunk);
};

// ---- retrieve (instances as Part-10 files) ----

// The transfer syntax asked for: "*" (as stored), a UID, or Explicit VR Little Endian when
// the accepted media range names none (PS3.18 §8.7.3.5.2: the default of application/dicom).
std::string requested_syntax(const Negotiated& negotiated, bool& defaulted) {
  const auto ts = negotiated.accepted.param("transfer-syntax");
  defaulted = !ts || ts->empty();
  return defaulted ? kExplicitLittle : *ts;
}

}  // namespace

// A growable byte buffer that, unlike std::string and std::vector, does not zero what it
// grows by: a file is read straight into its tail (zero-filling each MiB first cost a quarter
// of a retrieve's CPU).
class Piece {
 public:
  const char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  void append(const char* bytes, std::size_t n) {
    std::memcpy(tail(n), bytes, n);
    size_ += n;
  }
  void append(std::string_view text) { append(text.data(), text.size()); }
  // Room for `n` more bytes at the end; commit(k) keeps the first k of them.
  char* tail(std::size_t n) {
    if (size_ + n > capacity_) {
      const std::size_t capacity = std::max(size_ + n, capacity_ * 2);
      std::unique_ptr<char[]> grown(new char[capacity]);
      if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = capacity;
    }
    return data_.get() + size_;
  }
  void commit(std::size_t k) { size_ += k; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

// The multipart body of a retrieve, produced a piece at a time by run() on a worker.
struct RetrieveFill {
  const std::vector<Located>& instances;
  const std::vector<std::string>& syntaxes;
  const std::string& boundary;
  const Context& settings;
  Piece out;                    // the next piece
  std::size_t next = 0;         // the next instance to begin
  std::ifstream file;           // the instance being copied as stored, when open
  std::optional<std::string> failure;
  std::uint64_t bytes = 0;      // instance bytes sent

  static constexpr std::size_t kPiece = 1 << 20;

  void run() {
    out.clear();
    try {
      while (out.size() < kPiece) {
        if (file.is_open()) {
          file.read(out.tail(kPiece), static_cast<std::streamsize>(kPiece));
          const auto n = static_cast<std::size_t>(file.gcount());
          out.commit(n);
          bytes += n;
          if (file.bad()) throw Error(ErrorCode::Internal, "cannot read " + instances[next - 1].file.string());
          if (n < kPiece) file.close();
          continue;
        }
        if (next == instances.size()) {
          out.append(close_delimiter(boundary));
          return;
        }
        const Located& located = instances[next];
        const std::string& syntax = syntaxes[next];
        out.append(part_header(boundary, "application/dicom; transfer-syntax=" + syntax, {}, next == 0));
        ++next;
        if (syntax == located.transfer_syntax) {
          file.clear();
          file.open(located.file, std::ios::binary);
          if (!file) throw Error(ErrorCode::Internal, "cannot open " + located.file.string());
          continue;
        }
        dicom::FileMeta meta;
        meta.media_storage_sop_class_uid = located.sop_class_uid;
        meta.media_storage_sop_instance_uid = located.sop_instance_uid;
        meta.transfer_syntax_uid = syntax;
        meta.implementation_class_uid = settings.implementation_class_uid;
        meta.implementation_version_name = settings.implementation_version_name;
        const auto encoded = dicom::encode_file_meta(meta);
        const auto data_set = dicom::transcode_data_set(located.file, syntax);
        out.append(reinterpret_cast<const char*>(encoded.data()), encoded.size());
        out.append(reinterpret_cast<const char*>(data_set.data()), data_set.size());
        bytes += encoded.size() + data_set.size();
      }
    } catch (const std::exception& e) {
      failure = next > 0 ? "instance " + instances[next - 1].sop_instance_uid + ": " + e.what() : std::string(e.what());
    }
  }
};

asio::awaitable<void> handle_wado_retrieve(Context& context, Exchange& exchange, const WadoTarget& target) {
  const auto negotiated =
      negotiate(exchange.header("Accept").value_or("*/*"), {"multipart/related; type=\"application/dicom\""});
  if (!negotiated) {
    throw HttpError{406, "instances are sent as multipart/related; type=\"application/dicom\" only"};
  }
  bool defaulted = false;
  const std::string wanted = requested_syntax(*negotiated, defaulted);
  if (wanted != "*" && !dicom::is_valid_uid(wanted)) throw HttpError{400, "transfer-syntax \"" + wanted + "\" is not a UID"};
  const auto instances = co_await locate(context, target);

  // What each instance is sent as, decided before anything is sent.
  std::vector<std::string> syntaxes;
  for (const auto& located : instances) {
    if (wanted == "*" || wanted == located.transfer_syntax) {
      syntaxes.push_back(located.transfer_syntax);
    } else if (dicom::choose_transfer_syntax(located.transfer_syntax, {wanted})) {
      syntaxes.push_back(wanted);
    } else if (defaulted) {
      // No transfer-syntax asked for and this one cannot be decoded: as stored, and said so
      // in the part's header, rather than nothing.
      log::warn("http {}: WADO {}: instance {} stored in {} cannot be converted to {}; sent as stored",
                exchange.remote_address(), exchange.path(), located.sop_instance_uid, located.transfer_syntax, wanted);
      syntaxes.push_back(located.transfer_syntax);
    } else {
      throw HttpError{406, "instance " + located.sop_instance_uid + " is stored in " + located.transfer_syntax +
                               " and cannot be sent in " + wanted};
    }
  }

  const std::string boundary = make_boundary();
  const std::string content_type = "multipart/related; type=\"application/dicom\"; boundary=" + boundary;

  // Every instance as stored (`*`, or the default and stored in Explicit VR LE): the body's
  // length is known from the files' sizes, and the kernel copies the files to the socket
  // (sendfile) between part headers.
  bool as_stored = true;
  for (std::size_t i = 0; i < instances.size(); ++i) as_stored = as_stored && syntaxes[i] == instances[i].transfer_syntax;
  if (as_stored) {
    std::vector<BodySegment> segments;
    std::optional<std::string> missing;
    co_await net::run_blocking(context.workers, [&instances, &segments, &missing, &boundary]() {
      segments.reserve(instances.size() * 2 + 1);
      for (std::size_t i = 0; i < instances.size(); ++i) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(instances[i].file, ec);
        if (ec) {
          missing = "instance " + instances[i].sop_instance_uid + ": " + instances[i].file.string() + ": " + ec.message();
          return;
        }
        segments.push_back({part_header(boundary, "application/dicom; transfer-syntax=" + instances[i].transfer_syntax, {},
                                        i == 0),
                            {}, 0});
        segments.push_back({{}, instances[i].file, size});
      }
      segments.push_back({close_delimiter(boundary), {}, 0});
    });
    if (missing) throw HttpError{500, *missing};
    std::uint64_t length = 0, bytes = 0;
    for (const auto& segment : segments) {
      length += segment.file.empty() ? segment.bytes.size() : segment.length;
      if (!segment.file.empty()) bytes += segment.length;
    }
    co_await exchange.begin(200, content_type, length);
    co_await exchange.send_segments(segments, context.workers);
    co_await exchange.end();
    log::info("http {}: WADO {}: {} instance(s), {} bytes", exchange.remote_address(), exchange.path(),
              instances.size(), bytes);
    co_return;
  }

  co_await exchange.begin(200, content_type, std::nullopt);
  // The body is assembled on a worker thread about 1 MiB at a time — part headers, files
  // read as stored, converted instances — and written once per piece: one thread hop and
  // one write per MiB rather than several per instance (a series of small instances
  // otherwise spends more time handing bytes over than sending them).
  RetrieveFill fill{instances, syntaxes, boundary, context, {}, 0, {}, {}, 0};
  for (;;) {
    co_await net::run_blocking(context.workers, [&fill]() { fill.run(); });
    if (!fill.out.empty()) co_await exchange.write(std::span<const char>(fill.out.data(), fill.out.size()));
    // The status went out with the header: a file that cannot be read or an instance that
    // cannot be converted cuts the response (the client sees an incomplete body), never a
    // silently shorter study.
    if (fill.failure) throw Error(ErrorCode::Internal, *fill.failure);
    if (fill.next == instances.size() && !fill.file.is_open()) break;
  }
  const std::uint64_t bytes = fill.bytes;
  co_await exchange.write(close_delimiter(boundary));
  co_await exchange.end();
  log::info("http {}: WADO {}: {} instance(s), {} bytes", exchange.remote_address(), exchange.path(), instances.size(),
            bytes);
}

asio::awaitable<void> handle_wado_metadata(Context& context, Exchange& exchange, const WadoTarget& target) {
  const auto negotiated = negotiate(exchange.header("Accept").value_or("*/*"), {"application/dicom+json", "application/json"});
  if (!negotiated) throw HttpError{406, "metadata is sent as application/dicom+json only"};
  const auto instances = co_await locate(context, target);
  co_await exchange.begin(200, negotiated->offer.essence(), std::nullopt);
  constexpr std::size_t kBatch = 32;
  std::string out;
  for (std::size_t start = 0; start < instances.size(); start += kBatch) {
    const std::size_t end = std::min(instances.size(), start + kBatch);
    out.clear();
    std::optional<std::string> failure;
    const std::string& study = target.study;
    co_await net::run_blocking(context.workers, [&instances, &out, &failure, &study, start, end]() {
      for (std::size_t i = start; i < end; ++i) {
        try {
          dicom::InstanceReader reader(instances[i].file);
          // The series UID of a study-level request comes from the file itself.
          const auto series = reader.series_instance_uid();
          out += i == 0 ? "[" : ",";
          out += reader.metadata_json(instance_path(study, series, instances[i].sop_instance_uid) + "/bulk");
        } catch (const std::exception& e) {
          failure = "instance " + instances[i].sop_instance_uid + ": " + e.what();
          return;
        }
      }
    });
    if (failure) throw Error(ErrorCode::Internal, *failure);
    co_await exchange.write(out);
  }
  co_await exchange.write(std::string_view("]"));
  co_await exchange.end();
  log::debug("http {}: WADO metadata {}: {} instance(s)", exchange.remote_address(), exchange.path(), instances.size());
}

namespace {

// The image media type of an encapsulated transfer syntax (PS3.18 Table 8.7.3-2); "" when
// it has none.
std::string image_media_type(const std::string& ts) {
  if (ts == "1.2.840.10008.1.2.4.50" || ts == "1.2.840.10008.1.2.4.51" || ts == "1.2.840.10008.1.2.4.57" ||
      ts == "1.2.840.10008.1.2.4.70") {
    return "image/jpeg";
  }
  if (ts == "1.2.840.10008.1.2.4.80" || ts == "1.2.840.10008.1.2.4.81") return "image/jls";
  if (ts == "1.2.840.10008.1.2.4.90" || ts == "1.2.840.10008.1.2.4.91") return "image/jp2";
  if (ts == "1.2.840.10008.1.2.4.92" || ts == "1.2.840.10008.1.2.4.93") return "image/jpx";
  if (ts == "1.2.840.10008.1.2.5") return "image/dicom-rle";
  return "";
}

std::vector<std::uint32_t> parse_frame_list(const std::string& text) {
  std::vector<std::uint32_t> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string item = text.substr(start, comma - start);
    if (item.empty() || item.size() > 9 || !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw HttpError{400, "frame list \"" + text + "\": frame numbers are positive integers separated by commas"};
    }
    const auto n = static_cast<std::uint32_t>(std::stoul(item));
    if (n == 0) throw HttpError{400, "frame list \"" + text + "\": frames are numbered from 1"};
    out.push_back(n);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

asio::awaitable<void> handle_wado_frames(Context& context, Exchange& exchange, const WadoTarget& target,
                                         const std::string& frame_list) {
  const auto numbers = parse_frame_list(frame_list);
  const auto instances = co_await locate(context, target);
  const Located& located = instances.front();
  const std::string image_type = image_media_type(located.transfer_syntax);
  std::vector<std::string> offers = {"multipart/related; type=\"application/octet-stream\""};
  if (!image_type.empty()) offers.push_back("multipart/related; type=\"" + image_type + "\"");
  if (numbers.size() == 1) offers.push_back("application/octet-stream");
  std::vector<std::string_view> views(offers.begin(), offers.end());
  const auto negotiated = negotiate(exchange.header("Accept").value_or("*/*"), std::span<const std::string_view>(views));
  if (!negotiated) {
    throw HttpError{406, "frames of this instance are sent as " + [&] {
                      std::string all;
                      for (const auto& o : offers) all += (all.empty() ? "" : " or ") + o;
                      return all;
                    }()};
  }
  const bool octet = negotiated->offer.essence() == "application/octet-stream" ||
                     negotiated->offer.param("type").value_or("") == "application/octet-stream";
  const auto asked = negotiated->accepted.param("transfer-syntax");
  bool decode = true;
  if (octet) {
    // "*": as stored (the part's header says the syntax); none or Explicit VR LE: native.
    if (asked && *asked == "*") {
      decode = false;
    } else if (asked && !asked->empty() && *asked != kExplicitLittle && *asked != located.transfer_syntax) {
      throw HttpError{406, "frames of instance " + located.sop_instance_uid + " are stored in " + located.transfer_syntax +
                               " and can be sent in that syntax or as " + kExplicitLittle + ", not " + *asked};
    } else if (asked && *asked == located.transfer_syntax) {
      decode = false;
    }
  } else {
    if (asked && !asked->empty() && *asked != "*" && *asked != located.transfer_syntax) {
      throw HttpError{406, "frames of instance " + located.sop_instance_uid + " are stored in " + located.transfer_syntax +
                               ", not " + *asked};
    }
    decode = false;
  }

  dicom::FrameSet frames;
  std::optional<Error> failure;
  co_await net::run_blocking(context.workers, [&located, &numbers, decode, &frames, &failure]() {
    try {
      dicom::InstanceReader reader(located.file);
      frames = reader.frames(numbers, decode);
    } catch (const Error& e) {
      failure = e;
    } catch (const std::exception& e) {
      failure = Error(ErrorCode::Internal, e.what());
    }
  });
  if (failure) throw *failure;
  const std::string part_type = (octet ? std::string("application/octet-stream") : image_type) +
                                "; transfer-syntax=" + frames.transfer_syntax;
  if (negotiated->offer.essence() == "application/octet-stream") {
    const auto& frame = frames.frames.front();
    co_await exchange.begin(200, part_type, frame.size());
    co_await exchange.write(std::span<const char>(reinterpret_cast<const char*>(frame.data()), frame.size()));
    co_await exchange.end();
    co_return;
  }
  const std::string boundary = make_boundary();
  const std::string content_type =
      "multipart/related; type=\"" + (octet ? std::string("application/octet-stream") : image_type) + "\"; boundary=" + boundary;
  co_await exchange.begin(200, content_type, std::nullopt);
  for (std::size_t i = 0; i < frames.frames.size(); ++i) {
    const auto& frame = frames.frames[i];
    co_await exchange.write(part_header(boundary, part_type, {}, i == 0));
    co_await exchange.write(std::span<const char>(reinterpret_cast<const char*>(frame.data()), frame.size()));
  }
  co_await exchange.write(close_delimiter(boundary));
  co_await exchange.end();
}

asio::awaitable<void> handle_wado_bulk(Context& context, Exchange& exchange, const WadoTarget& target,
                                       const std::string& tag_text) {
  const auto tag = dicom::parse_json_tag(tag_text);
  if (!tag) throw HttpError{400, "\"" + tag_text + "\" is not a tag (8 hex digits)"};
  const auto negotiated = negotiate(exchange.header("Accept").value_or("*/*"),
                                    {"multipart/related; type=\"application/octet-stream\"", "application/octet-stream"});
  if (!negotiated) throw HttpError{406, "bulk data is sent as application/octet-stream, multipart or single part"};
  const auto instances = co_await locate(context, target);
  const Located& located = instances.front();

  std::unique_ptr<dicom::InstanceReader> reader;
  std::optional<std::uint64_t> length;
  std::optional<Error> failure;
  const std::uint32_t wanted = *tag;
  co_await net::run_blocking(context.workers, [&located, &reader, &length, &failure, wanted]() {
    try {
      reader = std::make_unique<dicom::InstanceReader>(located.file);
      length = reader->bulk_length(wanted);
    } catch (const Error& e) {
      failure = e;
    }
  });
  if (failure) throw *failure;
  if (!length) {
    throw HttpError{404, "instance " + located.sop_instance_uid + " has no bulk data " + tag_text +
                             (*tag == 0x7FE00010 ? " (its pixel data is encapsulated: ask for its frames)" : "")};
  }
  const bool single = negotiated->offer.essence() == "application/octet-stream";
  const std::string boundary = single ? std::string() : make_boundary();
  if (single) {
    co_await exchange.begin(200, "application/octet-stream", *length);
  } else {
    co_await exchange.begin(200, "multipart/related; type=\"application/octet-stream\"; boundary=" + boundary, std::nullopt);
    co_await exchange.write(part_header(boundary, "application/octet-stream", {}, true));
  }
  std::vector<std::uint8_t> buffer(kChunk);
  for (std::uint64_t offset = 0; offset < *length;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, *length - offset));
    co_await net::run_blocking(context.workers, [&reader, &buffer, &failure, wanted, offset, n]() {
      try {
        reader->read_bulk(wanted, offset, std::span<std::uint8_t>(buffer.data(), n));
      } catch (const Error& e) {
        failure = e;
      }
    });
    if (failure) throw *failure;
    co_await exchange.write(std::span<const char>(reinterpret_cast<const char*>(buffer.data()), n));
    offset += n;
  }
  if (!single) co_await exchange.write(close_delimiter(boundary));
  co_await exchange.end();
  co_await net::run_blocking(context.workers, [&reader]() { reader.reset(); });
}

}  // namespace pacsnode::http
