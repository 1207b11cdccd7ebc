#include "scp/store_service.hpp"

#include "base/error.hpp"
#include "base/log.hpp"
#include "base/node_metrics.hpp"
#include "ingest/index_async.hpp"
#include "dicom/file_meta.hpp"
#include "dicom/uid.hpp"
#include "net/blocking.hpp"
#include "scp/services.hpp"
#include "storage/store.hpp"

namespace pacsnode::scp {
namespace {

// Where a C-STORE data set goes: a temp file, or nowhere when the instance is refused
// before it arrives (invalid UID, disk below the watermark) — the data is read and dropped
// so that the association stays usable, and the refusal status is answered at the end.
class StoreSink final : public net::DataSink {
 public:
  StoreSink(std::uint16_t refusal, std::string why) : refusal_(refusal), why_(std::move(why)) {}
  explicit StoreSink(storage::TempFile temp) : temp_(std::move(temp)) {}

  void write(std::span<const std::uint8_t> fragment) override {
    if (!temp_) return;
    try {
      temp_->write(fragment);
    } catch (const Error& e) {
      // The association keeps only the message; the cause decides the status.
      write_status_ = ingest::failure_status(e);
      throw;
    }
  }
  // A queued instance holds a file descriptor, not a 1 MiB buffer: a peer that pipelines
  // C-STOREs without waiting for answers cannot make us hold their data in memory.
  void complete() override {
    if (!temp_) return;
    try {
      temp_->flush_and_free();
    } catch (const Error& e) {
      write_status_ = ingest::failure_status(e);
      throw;
    }
  }
  void abandon() noexcept override {
    if (temp_) temp_->discard();
  }

  std::uint16_t refusal() const { return refusal_; }
  const std::string& why() const { return why_; }
  // The status for a write that failed (disk full → 0xA700, an I/O error → 0x0110).
  std::uint16_t write_status() const { return write_status_; }
  storage::TempFile& temp() { return *temp_; }

 private:
  std::uint16_t refusal_ = 0;
  std::uint16_t write_status_ = net::status::ProcessingFailure;
  std::string why_;
  std::optional<storage::TempFile> temp_;
};

struct Finished {
  std::uint16_t status = net::status::Success;
  std::string error;  // for the log and ErrorComment
  std::optional<ingest::Placed> placed;  // to index
};

std::string short_text(std::string text) {
  if (text.size() > 64) text.resize(64);  // ErrorComment is LO
  return text;
}

}  // namespace

StoreService::StoreService(ingest::Ingest& ingest, asio::thread_pool& workers, StoreSettings settings)
    : ingest_(ingest), store_(ingest.store()), workers_(workers), settings_(std::move(settings)) {}

net::SinkFactory StoreService::sink_factory() {
  return [this](const net::Association& association, std::uint8_t pc_id,
                const net::CommandSet& command) -> std::unique_ptr<net::DataSink> {
    if (command.command_field() != net::CommandField::CStoreRq) return nullptr;
    const auto* context = association.context(pc_id);
    const std::string instance_uid = command.str(net::tag::AffectedSopInstanceUid).value_or("");
    const std::string class_uid = command.str(net::tag::AffectedSopClassUid).value_or("");
    if (!dicom::is_valid_uid(instance_uid) || !dicom::is_valid_uid(class_uid)) {
      return std::make_unique<StoreSink>(net::status::CannotUnderstand,
                                         "invalid Affected SOP Instance/Class UID '" + instance_uid.substr(0, 80) + "'");
    }
    if (store_.below_watermark()) {
      return std::make_unique<StoreSink>(net::status::OutOfResources,
                                         fmt::format("storage has only {} MB free", store_.free_bytes() >> 20));
    }
    try {
      storage::TempFile temp = store_.create_temp(instance_uid);
      dicom::FileMeta meta;
      meta.media_storage_sop_class_uid = class_uid;
      meta.media_storage_sop_instance_uid = instance_uid;
      meta.transfer_syntax_uid = context ? context->transfer_syntax : std::string();
      meta.implementation_class_uid = settings_.implementation_class_uid;
      meta.implementation_version_name = settings_.implementation_version_name;
      meta.source_ae_title = association.peer_ae();
      meta.receiving_ae_title = association.called_ae();
      temp.write(dicom::encode_file_meta(meta));
      return std::make_unique<StoreSink>(std::move(temp));
    } catch (const Error& e) {
      return std::make_unique<StoreSink>(ingest::failure_status(e), e.what());
    }
  };
}

asio::awaitable<void> StoreService::handle(net::Association& association, net::Message& request) {
  const std::string instance_uid = request.command.str(net::tag::AffectedSopInstanceUid).value_or("");
  const std::string class_uid = request.command.str(net::tag::AffectedSopClassUid).value_or("");
  auto* sink = dynamic_cast<StoreSink*>(request.sink.get());
  Finished finished;
  std::uint64_t stored_bytes = 0;
  bool duplicate = false, replaced = false;
  if (!request.command.has_data_set() || !sink) {
    finished = {net::status::CannotUnderstand, "C-STORE-RQ without a data set", {}};
  } else if (sink->refusal() != 0) {
    finished = {sink->refusal(), sink->why(), {}};
  } else if (!request.sink_error.empty()) {
    sink->temp().discard();
    finished = {sink->write_status(), request.sink_error, {}};
  } else {
    const auto* context = association.context(request.pc_id);
    const ingest::Origin origin{association.peer_ae(), association.called_ae(),
                                context ? context->transfer_syntax : std::string()};
    storage::TempFile& temp = sink->temp();
    finished = co_await net::run_blocking(workers_, [&]() -> Finished {
      try {
        ingest::Placed placed = ingest_.place(temp, {instance_uid, class_uid, {}}, origin);
        if (!placed.mismatch.empty()) return {net::status::DataSetDoesNotMatchSopClass, placed.mismatch, {}};
        return {net::status::Success, {}, std::move(placed)};
      } catch (const Error& e) {
        return {ingest::failure_status(e), e.what(), {}};
      } catch (const std::exception& e) {
        return {net::status::ProcessingFailure, e.what(), {}};
      }
    });
    if (finished.placed) {
      stored_bytes = static_cast<std::uint64_t>(finished.placed->record->instance.file_size);
      duplicate = finished.placed->already_existed;
      replaced = finished.placed->replaced;
      const ingest::Indexed result = co_await ingest::index_async(ingest_, std::move(*finished.placed));
      if (!result.ok) {
        // The file is in place but not indexed: it is picked up by the next start's
        // reconciliation, but the modality must not be told it is safe now.
        finished.status = net::status::ProcessingFailure;
        finished.error = result.error;
      } else if (duplicate && result.indexed_late) {
        log::info("{} {} was stored without an index row: indexed now", association.tag(), instance_uid);
      }
    }
  }

  net::CommandSet response = make_response(request.command, finished.status);
  // Looked up once (a family's lookup takes its lock and builds the label list).
  static metrics::Counter& received = metrics::node_metrics().instances_received_total.with({"dimse"});
  static metrics::Counter& received_bytes = metrics::node_metrics().bytes_received_total.with({"dimse"});
  static metrics::Counter& failed = metrics::node_metrics().instances_failed_total.with({"dimse"});
  if (finished.status == net::status::Success) {
    received.inc();
    received_bytes.inc(stored_bytes);
  } else {
    failed.inc();
  }
  if (finished.status == net::status::Success) {
    log::debug("{} stored {}{}", association.tag(), instance_uid,
               duplicate  ? " (duplicate, kept the first copy)"
               : replaced ? " (replaced the previous copy)"
                          : "");
  } else {
    log::warn("{} C-STORE {} refused with {:#06x}: {}", association.tag(), instance_uid.substr(0, 80), finished.status,
              finished.error);
    response.set_lo(net::tag::ErrorComment, short_text(finished.error));
  }
  co_await association.send(request.pc_id, response);
}

}  // namespace pacsnode::scp
