// STOW-RS (PS3.18 §10.5): a multipart/related body of Part-10 files, each stored through the
// one ingest path (the same checks, watermark, duplicates policy, index and routing as
// C-STORE). The body is streamed part by part into temp files of the store (memory stays
// bounded however large it is); nothing is committed before the whole body has arrived, so
// a body cut off mid-stream stores nothing. The answer lists every instance's outcome.
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/log.hpp"
#include "base/node_metrics.hpp"
#include "dicom/file_meta.hpp"
#include "dicom/uid.hpp"
#include "http/handlers.hpp"
#include "http/media_type.hpp"
#include "http/multipart.hpp"
#include "ingest/index_async.hpp"
#include "net/blocking.hpp"
#include "net/command_set.hpp"
#include "storage/store.hpp"

namespace pacsnode::http {
namespace {

// Failure Reasons are the C-STORE statuses (PS3.18 Table 10.5.3-2, PS3.4 Annex B:
// net::status) and, not in the standard's table: dcm4chee's code for an instance of another study than the
// request's path names, which clients of dcm4chee already know.
constexpr std::uint16_t kOtherStudy = 0xC409;

constexpr std::size_t kMaxFileMetaBytes = 64 * 1024;

// One part of the body as it arrives: its start is held until the File Meta is complete
// (its SOP Instance UID names the temp file), the rest goes straight to the temp file.
struct Part {
  std::size_t number = 0;  // 1-based, for the log
  std::vector<std::uint8_t> head;
  std::optional<storage::TempFile> temp;
  dicom::FileMeta meta;
  std::uint16_t failure = 0;
  std::string why;
  // Once stored:
  std::string series_instance_uid, study_instance_uid;
  bool duplicate = false;
  std::uint64_t bytes = 0;

  void fail(std::uint16_t reason, std::string text) {
    if (failure != 0) return;
    failure = reason;
    why = std::move(text);
    head.clear();
    head.shrink_to_fit();
    if (temp) temp->discard();
    temp.reset();
  }
};

class Receiver {
 public:
  explicit Receiver(storage::Store& store) : store_(store) {}

  MultipartParser::Callbacks callbacks() {
    return {[this](const PartHeaders& headers) { begin(headers); },
            [this](std::span<const char> data) { this->data(data); }, [this]() { end(); }};
  }
  std::vector<std::unique_ptr<Part>>& parts() { return parts_; }

 private:
  void begin(const PartHeaders& headers) {
    parts_.push_back(std::make_unique<Part>());
    Part& part = *parts_.back();
    part.number = parts_.size();
    if (const auto type = headers.content_type()) {
      std::string essence;
      try {
        essence = parse_media_type(*type).essence();
      } catch (const Error&) {
        essence = std::string(*type);
      }
      if (essence != "application/dicom") {
        part.fail(net::status::CannotUnderstand, "its Content-Type is " + std::string(*type) + ", not application/dicom");
      }
    }
  }

  void data(std::span<const char> chunk) {
    Part& part = *parts_.back();
    if (part.failure != 0) return;
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size());
    try {
      if (part.temp) {
        part.temp->write(bytes);
        return;
      }
      part.head.insert(part.head.end(), bytes.begin(), bytes.end());
      open_temp(part, false);
    } catch (const Error& e) {
      part.fail(ingest::failure_status(e), e.what());
    }
  }

  void end() {
    Part& part = *parts_.back();
    if (part.failure != 0) return;
    try {
      if (!part.temp) open_temp(part, true);
      if (part.temp) part.temp->flush_and_free();
    } catch (const Error& e) {
      part.fail(ingest::failure_status(e), e.what());
    }
  }

  // Once the head holds the whole File Meta: checks its UIDs and moves the head into a temp
  // file named for the instance.
  void open_temp(Part& part, bool complete) {
    const auto decoded = dicom::decode_file_meta(part.head, complete);
    if (!decoded) {
      if (part.head.size() > kMaxFileMetaBytes) {
        throw Error(ErrorCode::InvalidArgument, "its File Meta Information is larger than 64 KiB");
      }
      return;
    }
    part.meta = decoded->meta;
    if (!dicom::is_valid_uid(part.meta.media_storage_sop_instance_uid)) {
      throw Error(ErrorCode::InvalidArgument, "its File Meta has no valid Media Storage SOP Instance UID ('" +
                                                  part.meta.media_storage_sop_instance_uid.substr(0, 80) + "')");
    }
    if (!dicom::is_valid_uid(part.meta.media_storage_sop_class_uid)) {
      throw Error(ErrorCode::InvalidArgument, "its File Meta has no valid Media Storage SOP Class UID ('" +
                                                  part.meta.media_storage_sop_class_uid.substr(0, 80) + "')");
    }
    if (!dicom::is_valid_uid(part.meta.transfer_syntax_uid)) {
      throw Error(ErrorCode::InvalidArgument, "its File Meta has no valid Transfer Syntax UID");
    }
    if (store_.below_watermark()) {
      throw Error(ErrorCode::OutOfResources,
                  "storage has only " + std::to_string(store_.free_bytes() >> 20) + " MB free");
    }
    part.temp = store_.create_temp(part.meta.media_storage_sop_instance_uid);
    part.temp->write(part.head);
    part.head.clear();
    part.head.shrink_to_fit();
  }

  storage::Store& store_;
  std::vector<std::unique_ptr<Part>> parts_;
};

// What a part's placing returned.
struct Placing {
  std::uint16_t failure = 0;
  std::string why;
  std::optional<ingest::Placed> placed;
};

nlohmann::json element(std::string_view vr, nlohmann::json value) {
  nlohmann::json e{{"vr", vr}};
  if (!value.is_null()) e["Value"] = nlohmann::json::array({std::move(value)});
  return e;
}

}  // namespace

asio::awaitable<void> handle_stow(Context& context, Exchange& exchange, const std::string& study) {
  if (!study.empty() && !dicom::is_valid_uid(study)) {
    throw HttpError{400, "\"" + study.substr(0, 80) + "\" is not a valid Study Instance UID"};
  }
  const auto negotiated =
      negotiate(exchange.header("Accept").value_or("*/*"), {"application/dicom+json", "application/json"});
  if (!negotiated) throw HttpError{406, "the STOW-RS response is sent as application/dicom+json only"};
  const std::string response_type = negotiated->offer.essence();

  const std::string content_type = exchange.header("Content-Type").value_or("");
  MediaType type;
  try {
    type = parse_media_type(content_type);
  } catch (const Error& e) {
    throw HttpError{415, "Content-Type \"" + content_type + "\": " + e.what()};
  }
  if (type.essence() != "multipart/related") {
    throw HttpError{415, "STOW-RS takes multipart/related; type=\"application/dicom\", not \"" + type.essence() + "\""};
  }
  if (const auto part_type = type.param("type"); part_type && *part_type != "application/dicom") {
    throw HttpError{415, "STOW-RS here takes Part-10 files (type=\"application/dicom\"); type=\"" + *part_type +
                             "\" (metadata and bulk data) is not supported"};
  }
  std::string boundary;
  try {
    boundary = multipart_boundary(content_type);
  } catch (const Error& e) {
    throw HttpError{400, std::string("Content-Type: ") + e.what()};
  }

  // The body, into temp files.
  Receiver receiver(context.ingest.store());
  MultipartParser parser(boundary, receiver.callbacks());
  std::string malformed;
  {
    std::vector<char> buffer(256 * 1024);
    for (;;) {
      const std::size_t n = co_await exchange.read_body(std::span<char>(buffer.data(), buffer.size()));
      if (n == 0) break;
      try {
        parser.feed(std::span<const char>(buffer.data(), n));
      } catch (const Error& e) {
        malformed = e.what();
      }
      if (!malformed.empty()) break;
    }
  }
  if (malformed.empty()) {
    const MultipartEnd end = parser.finish();
    if (!end.closed) malformed = "the body ended before its close delimiter \"--" + boundary + "--\"";
  }
  auto& parts = receiver.parts();
  if (!malformed.empty()) {
    log::warn("http {}: STOW-RS refused, nothing stored: {}", exchange.remote_address(), malformed);
    throw HttpError{400, "malformed multipart body, nothing was stored: " + malformed};
  }
  if (parts.empty()) throw HttpError{400, "the body holds no part: nothing to store"};

  // Every complete part, through the ingest path: placed (parsed, checked, synced, renamed),
  // then indexed; the answer goes out once every index commit is done.
  const ingest::Origin origin{"", context.ae_title, ""};
  std::vector<ingest::Placed> placed;
  std::vector<Part*> placed_parts;
  for (auto& owned : parts) {
    Part& part = *owned;
    if (part.failure != 0) continue;
    const ingest::Announced announced{part.meta.media_storage_sop_instance_uid, part.meta.media_storage_sop_class_uid,
                                      study};
    Placing placing = co_await net::run_blocking(context.workers, [&]() -> Placing {
      Placing p;
      try {
        ingest::Placed placed = context.ingest.place(*part.temp, announced, origin);
        if (!placed.mismatch.empty()) {
          p.failure = placed.other_study ? kOtherStudy : net::status::DataSetDoesNotMatchSopClass;
          p.why = placed.mismatch;
          return p;
        }
        p.placed = std::move(placed);
      } catch (const Error& e) {
        p.failure = ingest::failure_status(e);
        p.why = e.what();
      } catch (const std::exception& e) {
        p.failure = net::status::ProcessingFailure;
        p.why = e.what();
      }
      return p;
    });
    part.temp.reset();
    if (placing.failure != 0) {
      part.fail(placing.failure, placing.why);
      continue;
    }
    const IndexRecord& record = *placing.placed->record;
    part.study_instance_uid = record.study.study_instance_uid;
    part.series_instance_uid = record.series.series_instance_uid;
    part.duplicate = placing.placed->already_existed;
    part.bytes = static_cast<std::uint64_t>(record.instance.file_size);
    // The parts are indexed together after the last one is placed: until then, no batch
    // of another association should wait for them.
    placing.placed->arrival = {};
    placed.push_back(std::move(*placing.placed));
    placed_parts.push_back(&part);
  }
  // All of them to the index writer at once: committed together, not one transaction each.
  const auto indexed = co_await ingest::index_all_async(context.ingest, std::move(placed));
  for (std::size_t i = 0; i < indexed.size(); ++i) {
    if (!indexed[i].ok) placed_parts[i]->fail(net::status::ProcessingFailure, indexed[i].error);
  }

  // The answer (PS3.18 §10.5.3): Referenced SOP Sequence, Failed SOP Sequence.
  // Paths, not absolute URLs: behind a proxy our idea of the host name is wrong (README).
  const std::string base;
  nlohmann::json referenced = nlohmann::json::array();
  nlohmann::json failed = nlohmann::json::array();
  std::size_t stored = 0, duplicates = 0;
  auto& m = metrics::node_metrics();
  std::string single_study = study;
  bool one_study = true;
  for (const auto& owned : parts) {
    const Part& part = *owned;
    const auto& cls = part.meta.media_storage_sop_class_uid;
    const auto& inst = part.meta.media_storage_sop_instance_uid;
    nlohmann::json item;
    item["00081150"] = element("UI", cls.empty() ? nlohmann::json() : nlohmann::json(cls));
    item["00081155"] = element("UI", inst.empty() ? nlohmann::json() : nlohmann::json(inst));
    if (part.failure != 0) {
      item["00081197"] = element("US", part.failure);
      failed.push_back(std::move(item));
      m.instances_failed_total.with({"dicomweb"}).inc();
      log::warn("http {}: STOW-RS part {} ({}) failed with {:#06x}: {}", exchange.remote_address(), part.number,
                inst.empty() ? "no SOP Instance UID" : inst.substr(0, 80), part.failure, part.why);
      continue;
    }
    ++stored;
    m.instances_received_total.with({"dicomweb"}).inc();
    m.bytes_received_total.with({"dicomweb"}).inc(part.bytes);
    if (part.duplicate) ++duplicates;
    if (single_study.empty()) single_study = part.study_instance_uid;
    one_study = one_study && part.study_instance_uid == single_study;
    item["00081190"] = element("UR", base + "/dicom-web/studies/" + part.study_instance_uid + "/series/" +
                                         part.series_instance_uid + "/instances/" + inst);
    referenced.push_back(std::move(item));
  }
  nlohmann::json answer = nlohmann::json::object();
  if (!single_study.empty() && (one_study || !study.empty())) {
    answer["00081190"] = element("UR", base + "/dicom-web/studies/" + single_study);
  }
  if (!failed.empty()) answer["00081198"] = nlohmann::json{{"vr", "SQ"}, {"Value", std::move(failed)}};
  if (!referenced.empty()) answer["00081199"] = nlohmann::json{{"vr", "SQ"}, {"Value", std::move(referenced)}};
  // 200: all stored; 202: some; 409: none (PS3.18 §10.5.3.1).
  const unsigned status = stored == parts.size() ? 200 : stored > 0 ? 202 : 409;
  log::info("http {}: STOW-RS {} of {} instance(s) stored{}{}", exchange.remote_address(), stored, parts.size(),
            duplicates ? fmt::format(" ({} already there)", duplicates) : std::string(),
            exchange.user().empty() ? std::string() : " by " + exchange.user());
  co_await exchange.reply(status, response_type, answer.dump());
}

}  // namespace pacsnode::http
