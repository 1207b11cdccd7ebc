#include "ingest/stored_record.hpp"

#include "base/error.hpp"
#include "dicom/extract.hpp"
#include "dicom/part10.hpp"
#include "storage/store.hpp"

namespace pacsnode::ingest {

IndexRecord stored_file_record(const storage::Store& store, const std::filesystem::path& relative) {
  const auto file = store.absolute(relative);
  IndexRecord record = dicom::extract_index_record(file);
  if (store.relative_path_for(record.instance.sop_instance_uid) != relative) {
    throw Error(ErrorCode::InvalidArgument, "file name does not match its SOP Instance UID");
  }
  const auto header = dicom::read_part10_header(file);
  record.instance.calling_ae_title = header.source_ae_title;
  record.instance.called_ae_title = header.receiving_ae_title;
  auto [size, checksum] = store.size_and_checksum(relative);
  record.instance.file_path = relative.string();
  record.instance.file_size = static_cast<std::int64_t>(size);
  record.instance.checksum = std::move(checksum);
  return record;
}

}  // namespace pacsnode::ingest
