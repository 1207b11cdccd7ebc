#include "db/index_reader.hpp"

#include <algorithm>
#include <optional>
#include <pqxx/pqxx>

#include "db/index_values.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db {
namespace {

using detail::translate_errors;

constexpr std::size_t kChunk = 5000;

// format() with %L quotes each value as a literal and writes NULL for NULL, so a line is
// unambiguous whatever the values hold.
constexpr const char* kSnapshot = R"sql(
SELECT format(
  'patient_id=%L issuer_of_patient_id=%L patient_name=%L patient_birth_date=%L patient_sex=%L patient_attributes=%L '
  'study_instance_uid=%L study_date=%L study_time=%L accession_number=%L study_id=%L study_description=%L '
  'referring_physician_name=%L modalities_in_study=%L sop_classes_in_study=%L number_of_series=%L '
  'study_number_of_instances=%L study_attributes=%L '
  'series_instance_uid=%L modality=%L series_number=%L series_description=%L body_part_examined=%L '
  'series_date=%L series_time=%L series_number_of_instances=%L series_attributes=%L '
  'sop_instance_uid=%L sop_class_uid=%L instance_number=%L content_date=%L content_time=%L calling_ae_title=%L '
  'called_ae_title=%L transfer_syntax_uid=%L file_path=%L file_size=%L checksum=%L instance_attributes=%L',
  p.patient_id, p.issuer_of_patient_id, p.patient_name, p.patient_birth_date, p.patient_sex, p.attributes,
  st.study_instance_uid, st.study_date, st.study_time, st.accession_number, st.study_id, st.study_description,
  st.referring_physician_name, st.modalities_in_study, st.sop_classes_in_study, st.number_of_series,
  st.number_of_instances, st.attributes,
  se.series_instance_uid, se.modality, se.series_number, se.series_description, se.body_part_examined,
  se.series_date, se.series_time, se.number_of_instances, se.attributes,
  i.sop_instance_uid, i.sop_class_uid, i.instance_number, i.content_date, i.content_time, i.calling_ae_title,
  i.called_ae_title, i.transfer_syntax_uid, i.file_path, i.file_size, i.checksum, i.attributes)
FROM instance i
JOIN series se ON se.id = i.series_pk
JOIN study st ON st.id = se.study_pk
JOIN patient p ON p.id = st.patient_pk
)sql";

}  // namespace

bool instance_exists(const std::string& conninfo, const std::string& sop_instance_uid) {
  return translate_errors("instance lookup", [&] {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    return !tx.exec_params("SELECT 1 FROM instance WHERE sop_instance_uid = $1", sop_instance_uid).empty();
  });
}

std::int64_t count_instances(const std::string& conninfo) {
  return translate_errors("instance count", [&] {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    return tx.exec1("SELECT count(*) FROM instance")[0].as<std::int64_t>();
  });
}

struct FilePathCursor::State {
  pqxx::connection conn;
  pqxx::read_transaction tx;
  std::vector<std::string> chunk;
  std::size_t next = 0;
  bool exhausted = false;
  explicit State(const std::string& conninfo) : conn(conninfo), tx(conn) {}
};

FilePathCursor::FilePathCursor(const std::string& conninfo) {
  translate_errors("file path listing", [&] {
    state_ = std::make_unique<State>(conninfo);
    state_->tx.exec0("DECLARE file_paths NO SCROLL CURSOR FOR SELECT file_path FROM instance ORDER BY file_path");
  });
}

FilePathCursor::~FilePathCursor() = default;

const std::string* FilePathCursor::peek() {
  State& s = *state_;
  if (s.next == s.chunk.size()) {
    if (s.exhausted) return nullptr;
    translate_errors("file path listing", [&] {
      const auto rows = s.tx.exec("FETCH " + std::to_string(kChunk) + " FROM file_paths");
      s.chunk.clear();
      s.next = 0;
      for (const auto& row : rows) s.chunk.push_back(row[0].as<std::string>());
      s.exhausted = rows.size() < kChunk;
    });
    if (s.chunk.empty()) return nullptr;
  }
  return &s.chunk[s.next];
}

void FilePathCursor::pop() { ++state_->next; }

std::vector<std::string> all_file_paths(const std::string& conninfo) {
  std::vector<std::string> paths;
  FilePathCursor cursor(conninfo);
  for (const std::string* path; (path = cursor.peek()); cursor.pop()) paths.push_back(*path);
  return paths;
}

std::optional<std::string> checksum_of_file(const std::string& conninfo, const std::string& file_path) {
  return translate_errors("checksum lookup", [&]() -> std::optional<std::string> {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    const auto rows = tx.exec_params("SELECT checksum FROM instance WHERE file_path = $1", file_path);
    if (rows.empty() || rows[0][0].is_null()) return std::nullopt;
    return rows[0][0].as<std::string>();
  });
}

std::int64_t delete_instances_by_file_paths(const std::string& conninfo, const std::vector<std::string>& file_paths) {
  return translate_errors("instance deletion", [&] {
    pqxx::connection conn(conninfo);
    pqxx::work tx(conn);
    std::int64_t deleted = 0;
    for (std::size_t start = 0; start < file_paths.size(); start += kChunk) {
      const auto end = std::min(file_paths.size(), start + kChunk);
      std::vector<std::optional<std::string>> chunk(file_paths.begin() + static_cast<std::ptrdiff_t>(start),
                                                    file_paths.begin() + static_cast<std::ptrdiff_t>(end));
      deleted += tx.exec_params0("DELETE FROM instance WHERE file_path = ANY($1::text[])",
                                 detail::array_literal(chunk))
                     .affected_rows();
    }
    tx.commit();
    return deleted;
  });
}

void clear_index(const std::string& conninfo) {
  translate_errors("index clear", [&] {
    pqxx::connection conn(conninfo);
    pqxx::work tx(conn);
    tx.exec0("TRUNCATE patient CASCADE");
    tx.commit();
  });
}

std::vector<std::string> index_snapshot(const std::string& conninfo) {
  return translate_errors("index snapshot", [&] {
    pqxx::connection conn(conninfo);
    conn.set_variable("DateStyle", "ISO");
    pqxx::read_transaction tx(conn);
    std::vector<std::string> lines;
    for (const auto& row : tx.exec(kSnapshot)) lines.push_back(row[0].as<std::string>());
    std::sort(lines.begin(), lines.end());
    return lines;
  });
}

}  // namespace pacsnode::db
