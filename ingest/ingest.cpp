#include "ingest/ingest.hpp"

#include <fstream>
#include <future>
#include <vector>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/index_writer.hpp"
#include "dicom/extract.hpp"
#include "ingest/stored_record.hpp"
#include "net/command_set.hpp"
#include "storage/store.hpp"

namespace pacsnode::ingest {

std::uint16_t failure_status(const Error& error) {
  switch (error.code()) {
    case ErrorCode::OutOfResources: return net::status::OutOfResources;
    case ErrorCode::InvalidArgument: return net::status::CannotUnderstand;
    default: return net::status::ProcessingFailure;
  }
}

Ingest::Ingest(storage::Store& store, db::IndexWriter& index, bool replace_duplicates)
    : store_(store), index_(index), replace_(replace_duplicates) {}

namespace {
// Instances up to this size are announced to the index writer while they are parsed and
// synced. A larger one takes longer to sync than the writer waits for it (gather_wait, 2
// ms): announcing it would only hold up the batches of other associations.
constexpr std::uint64_t kAnnouncedUpTo = 1u << 20;
}  // namespace

Placed Ingest::place(storage::TempFile& temp, const Announced& announced, const Origin& origin) {
  try {
    db::Arrival arrival = temp.size() <= kAnnouncedUpTo ? index_.announce() : db::Arrival();
    temp.flush();
    IndexRecord record = dicom::extract_index_record(temp.path());
    if ((!announced.sop_instance_uid.empty() && record.instance.sop_instance_uid != announced.sop_instance_uid) ||
        (!announced.sop_class_uid.empty() && record.instance.sop_class_uid != announced.sop_class_uid)) {
      temp.discard();
      Placed placed;
      placed.mismatch = "data set SOP Instance/Class UID " + record.instance.sop_instance_uid + " / " +
                        record.instance.sop_class_uid + " differs from the command's";
      return placed;
    }
    if (!announced.study_instance_uid.empty() && record.study.study_instance_uid != announced.study_instance_uid) {
      temp.discard();
      Placed placed;
      placed.other_study = true;
      placed.mismatch = "the instance belongs to study " + record.study.study_instance_uid + ", not " +
                        announced.study_instance_uid;
      return placed;
    }
    const auto relative = store_.relative_path_for(record.instance.sop_instance_uid);
    if (replace_) {
      std::lock_guard lock(in_flight_mutex_);
      if (!in_flight_.insert(record.instance.sop_instance_uid).second) {
        throw Error(ErrorCode::Unavailable, "another copy of " + record.instance.sop_instance_uid +
                                                " is being stored at this moment; try again");
      }
    }
    struct Release {
      Ingest* self;
      std::string uid;
      ~Release() {
        if (self) self->release(uid);
      }
    } release_on_failure{replace_ ? this : nullptr, record.instance.sop_instance_uid};
    record.instance.calling_ae_title = origin.calling_ae;
    record.instance.called_ae_title = origin.called_ae;
    if (!origin.transfer_syntax.empty()) record.instance.transfer_syntax_uid = origin.transfer_syntax;
    record.instance.file_path = relative.string();
    record.instance.file_size = static_cast<std::int64_t>(temp.size());
    record.instance.checksum = temp.checksum();
    const auto outcome = store_.commit(temp, relative, replace_);
    Placed placed;
    if (outcome == storage::CommitOutcome::AlreadyExists) {
      // The first copy stays (keep). Whether it is safe is the index's to say, not the file
      // system's: an earlier commit may have failed after the file was placed. The writer
      // (keep) inserts the stored copy's row only if there is none.
      placed.already_existed = true;
      placed.record = stored_file_record(store_, relative);
    } else {
      placed.replaced = outcome == storage::CommitOutcome::Replaced;
      placed.record = std::move(record);
    }
    placed.arrival = std::move(arrival);
    release_on_failure.self = nullptr;  // index() releases it
    return placed;
  } catch (...) {
    temp.discard();
    throw;
  }
}

void Ingest::release(const std::string& sop_instance_uid) {
  std::lock_guard lock(in_flight_mutex_);
  in_flight_.erase(sop_instance_uid);
}

// After the index writer's answer: the staged replacement put in place (or dropped), the
// file a replaced row pointed at removed.
Indexed Ingest::settle(const db::IndexResult& result, const std::filesystem::path& staged) {
  Indexed indexed;
  if (result.outcome == db::IndexOutcome::Failed) {
    indexed.error = "index: " + result.error;
    if (!staged.empty()) store_.abandon_replacement(staged);
    return indexed;
  }
  if (!staged.empty()) {
    try {
      store_.finish_replacement(staged);
    } catch (const std::exception& e) {
      // The row describes the staged file, which stays: the next start puts it in place.
      indexed.error = std::string("replacement indexed but not put in place: ") + e.what();
      log::error("ingest: {}", indexed.error);
      return indexed;
    }
  }
  indexed.ok = true;
  if (!result.replaced_file_path.empty()) {
    try {
      store_.remove(result.replaced_file_path);
    } catch (const std::exception& e) {
      log::warn("ingest: cannot remove the replaced file {}: {}", result.replaced_file_path, e.what());
    }
  }
  indexed.indexed_late = result.outcome == db::IndexOutcome::Inserted;
  return indexed;
}

void Ingest::index(Placed placed, std::function<void(Indexed)> done) {
  std::filesystem::path staged;
  if (placed.replaced) staged = placed.record->instance.file_path;
  std::string uid = replace_ ? placed.record->instance.sop_instance_uid : std::string();
  index_.submit(std::move(*placed.record), [this, staged, uid, done = std::move(done)](db::IndexResult result) {
    Indexed indexed = settle(result, staged);
    if (!uid.empty()) release(uid);
    done(std::move(indexed));
  }, std::move(placed.arrival));
}

IndexRecord Ingest::store_part10(std::span<const std::uint8_t> part10, const std::string& sop_instance_uid,
                                 const Origin& origin) {
  if (store_.below_watermark()) {
    throw Error(ErrorCode::OutOfResources, "storage has only " + std::to_string(store_.free_bytes() >> 20) + " MB free");
  }
  storage::TempFile temp = store_.create_temp(sop_instance_uid);
  temp.write(part10);
  Placed placed = place(temp, {sop_instance_uid, {}, {}}, origin);
  if (!placed.mismatch.empty()) throw Error(ErrorCode::InvalidArgument, placed.mismatch);
  std::promise<Indexed> promise;
  auto future = promise.get_future();
  IndexRecord record = *placed.record;
  index(std::move(placed), [&promise](Indexed indexed) { promise.set_value(std::move(indexed)); });
  const Indexed indexed = future.get();
  if (!indexed.ok) throw Error(ErrorCode::Unavailable, indexed.error);
  return record;
}

IndexRecord Ingest::store_file(const std::filesystem::path& file, const Origin& origin) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::NotFound, "cannot open " + file.string());
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The UID names the temp file only; the data set's own is checked and used.
  const IndexRecord header = dicom::extract_index_record(file);
  return store_part10(bytes, header.instance.sop_instance_uid, origin);
}

}  // namespace pacsnode::ingest
