#include "db/index_session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/index_sql.hpp"
#include "db/index_values.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db::detail {
namespace {

constexpr int kMaxAttempts = 6;

// One record with its values converted once for all attempts.
struct Row {
  const IndexRecord* rec = nullptr;
  std::size_t index = 0;  // position in the batch (submission order)
  int round = 0;          // earlier records in this batch with the same SOP Instance UID
  std::optional<std::string> birth_date, study_date, study_time, series_date, series_time, content_date, content_time;
  std::string patient_attrs, study_attrs, series_attrs, instance_attrs;
};

std::string object_or_empty(const std::string& json) { return json.empty() ? "{}" : json; }

Row convert(const IndexRecord& r, std::size_t index) {
  Row row;
  row.rec = &r;
  row.index = index;
  row.patient_attrs = object_or_empty(r.patient.attributes_json);
  row.study_attrs = object_or_empty(r.study.attributes_json);
  row.series_attrs = object_or_empty(r.series.attributes_json);
  row.instance_attrs = object_or_empty(r.instance.attributes_json);
  row.birth_date = date_column(r.patient.patient_birth_date, "00100030", row.patient_attrs);
  row.study_date = date_column(r.study.study_date, "00080020", row.study_attrs);
  row.study_time = time_column(r.study.study_time, "00080030", row.study_attrs);
  row.series_date = date_column(r.series.series_date, "00080021", row.series_attrs);
  row.series_time = time_column(r.series.series_time, "00080031", row.series_attrs);
  row.content_date = date_column(r.instance.content_date, "00080023", row.instance_attrs);
  row.content_time = time_column(r.instance.content_time, "00080033", row.instance_attrs);
  return row;
}

using PatientKey = std::pair<std::string, std::string>;
using Column = std::vector<std::optional<std::string>>;
PatientKey patient_key(const Row& row) {
  return {row.rec->patient.patient_id, row.rec->patient.issuer_of_patient_id};
}

// What this session's committed transactions left in a patient, study or series row: its
// id, its parent's id and a hash of the values written. A batch whose patient, study or
// series would be written with the same values under the same parent skips that upsert
// (three statements, each locking and re-reading a row, for the common case of an instance
// of a series already indexed). The writer session is the only one writing these rows
// while the node runs; any failure forgets everything (the next batch upserts again, and
// learns again).
struct Known {
  std::int64_t id = 0;
  std::int64_t parent = 0;  // patient for a study, study for a series; 0 for a patient
  std::size_t hash = 0;
};

struct KnownRows {
  // Bounds memory (about 150 bytes an entry); when full, a level starts over.
  static constexpr std::size_t kMax = 100000;
  std::map<std::pair<std::string, std::string>, Known> patients;
  std::unordered_map<std::string, Known> studies, series;
  void clear() {
    patients.clear();
    studies.clear();
    series.clear();
  }
  template <typename Map, typename Key>
  static void put(Map& map, const Key& key, const Known& known) {
    if (map.size() >= kMax && !map.count(key)) map.clear();
    map[key] = known;
  }
  void merge(const KnownRows& learned) {
    for (const auto& [k, v] : learned.patients) put(patients, k, v);
    for (const auto& [k, v] : learned.studies) put(studies, k, v);
    for (const auto& [k, v] : learned.series) put(series, k, v);
  }
};

// The values of one level as its upsert writes them (parent id excluded).
std::size_t hash_values(std::initializer_list<const std::optional<std::string>*> values) {
  std::string joined;
  for (const auto* v : values) {
    if (v->has_value()) {
      joined += **v;
      joined += '\x1f';
    } else {
      joined += '\x1e';
    }
  }
  return std::hash<std::string>{}(joined);
}

// What one attempt produced; thrown away when the attempt is retried.
struct Attempt {
  std::vector<IndexResult> results;
  std::vector<std::string> messages;  // logged once the transaction has committed
  KnownRows learned;                  // rows written, remembered once the transaction has committed
};

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::optional<std::string> nullable_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return std::string(field.c_str());
}

std::string shown(const std::optional<std::string>& value) { return value.value_or(""); }

// The statements of one transaction. The upserts lock patient, study and series rows; the
// callers take them in a fixed order (patients by identity, studies and series by UID) so
// that concurrent writers, in this process or another, do not deadlock each other.
class BatchWriter {
 public:
  BatchWriter(pqxx::work& tx, DuplicatePolicy duplicates, Attempt& out)
      : tx_(tx), duplicates_(duplicates), out_(out) {}

  // Upserts the patients of `rows`, one row per identity → their ids.
  std::map<PatientKey, std::int64_t> patients(const std::vector<const Row*>& rows,
                                              std::vector<std::string>& messages) {
    std::map<PatientKey, const Row*> by_key;
    Column c[6];
    for (const Row* row : rows) {
      const auto& p = row->rec->patient;
      by_key[patient_key(*row)] = row;
      const std::optional<std::string> values[6] = {p.patient_id,      p.issuer_of_patient_id, p.patient_name,
                                                    row->birth_date,   p.patient_sex,          row->patient_attrs};
      for (int i = 0; i < 6; ++i) c[i].push_back(values[i]);
    }
    std::map<PatientKey, std::int64_t> ids;
    for (const auto& r : tx_.exec_prepared(kUpsertPatientsName, array_literal(c[0]), array_literal(c[1]),
                                           array_literal(c[2]), array_literal(c[3]), array_literal(c[4]),
                                           array_literal(c[5]))) {
      const PatientKey key{r[1].c_str(), r[2].c_str()};
      ids[key] = r[0].as<std::int64_t>();
      if (r[3].as<bool>()) note_patient_change(*by_key.at(key), r, messages);
    }
    if (ids.size() < by_key.size()) {  // committed by another writer after our snapshot
      Column missing[2];
      for (const auto& [key, row] : by_key) {
        if (ids.count(key)) continue;
        missing[0].push_back(key.first);
        missing[1].push_back(key.second);
      }
      for (const auto& r : tx_.exec_prepared(kPatientIdsName, array_literal(missing[0]), array_literal(missing[1]))) {
        ids.emplace(PatientKey{r[1].c_str(), r[2].c_str()}, r[0].as<std::int64_t>());
      }
    }
    if (ids.size() < by_key.size()) throw pqxx::serialization_failure("a patient row vanished during the upsert");
    return ids;
  }

  // Upserts the studies of `rows` (row, its patient's id), one row per UID → their ids.
  std::map<std::string, std::int64_t> studies(const std::vector<std::pair<const Row*, std::int64_t>>& rows,
                                              std::vector<std::string>& messages) {
    std::map<std::string, std::pair<const Row*, std::int64_t>> by_uid;
    Column c[9];
    for (const auto& [row, patient_pk] : rows) {
      const auto& s = row->rec->study;
      by_uid[s.study_instance_uid] = {row, patient_pk};
      const std::optional<std::string> values[9] = {std::to_string(patient_pk), s.study_instance_uid, row->study_date,
                                                    row->study_time, s.accession_number, s.study_id,
                                                    s.study_description, s.referring_physician_name, row->study_attrs};
      for (int i = 0; i < 9; ++i) c[i].push_back(values[i]);
    }
    auto ids = upsert_level(kUpsertStudiesName, kStudyIdsName, c, by_uid.size(), [&](const pqxx::row& r) {
      const auto& [row, patient_pk] = by_uid.at(r[1].c_str());
      if (!r[2].is_null() && r[2].as<std::int64_t>() != patient_pk) {
        messages.push_back(fmt::format("study {}: moved to patient {}/{} (patient row {} -> {})", r[1].c_str(),
                                       row->rec->patient.patient_id, row->rec->patient.issuer_of_patient_id,
                                       r[2].c_str(), patient_pk));
      }
    });
    return ids;
  }

  // Upserts the series of `rows` (row, its study's id), one row per UID → their ids.
  std::map<std::string, std::int64_t> series(const std::vector<std::pair<const Row*, std::int64_t>>& rows,
                                             std::vector<std::string>& messages) {
    std::map<std::string, std::pair<const Row*, std::int64_t>> by_uid;
    Column c[9];
    for (const auto& [row, study_pk] : rows) {
      const auto& s = row->rec->series;
      by_uid[s.series_instance_uid] = {row, study_pk};
      const auto number = s.series_number ? std::optional<std::string>(std::to_string(*s.series_number)) : std::nullopt;
      const std::optional<std::string> values[9] = {std::to_string(study_pk), s.series_instance_uid, s.modality, number,
                                                    s.series_description, s.body_part_examined, row->series_date,
                                                    row->series_time, row->series_attrs};
      for (int i = 0; i < 9; ++i) c[i].push_back(values[i]);
    }
    return upsert_level(kUpsertSeriesName, kSeriesIdsName, c, by_uid.size(), [&](const pqxx::row& r) {
      const auto& [row, study_pk] = by_uid.at(r[1].c_str());
      if (!r[2].is_null() && r[2].as<std::int64_t>() != study_pk) {
        messages.push_back(
            fmt::format("series {}: moved to study {}", r[1].c_str(), row->rec->study.study_instance_uid));
      }
    });
  }

  // Inserts the instances (distinct SOP Instance UIDs) in one statement, so the count
  // triggers run once for all of them; under Replace, deletes their old rows first.
  void instances(const std::vector<std::pair<const Row*, std::int64_t>>& items) {
    Column columns[13];
    for (const auto& [row, series_pk] : items) {
      const auto& i = row->rec->instance;
      auto number = i.instance_number ? std::optional<std::string>(std::to_string(*i.instance_number)) : std::nullopt;
      const std::optional<std::string> values[13] = {
          std::to_string(series_pk), i.sop_instance_uid, i.sop_class_uid, number, row->content_date,
          row->content_time, i.calling_ae_title, i.transfer_syntax_uid, i.file_path, std::to_string(i.file_size),
          i.checksum, row->instance_attrs, i.called_ae_title};
      for (int c = 0; c < 13; ++c) columns[c].push_back(values[c]);
    }
    std::map<std::string, std::string> old_paths;
    if (duplicates_ == DuplicatePolicy::Replace) {
      for (const auto& r : tx_.exec_prepared(kDeleteInstancesName, array_literal(columns[1]))) {
        old_paths[r[0].c_str()] = r[1].c_str();
      }
    }
    std::set<std::string> inserted;
    const auto result = tx_.exec_prepared(
        kInsertInstancesName, array_literal(columns[0]), array_literal(columns[1]), array_literal(columns[2]),
        array_literal(columns[3]), array_literal(columns[4]), array_literal(columns[5]), array_literal(columns[6]),
        array_literal(columns[7]), array_literal(columns[8]), array_literal(columns[9]), array_literal(columns[10]),
        array_literal(columns[11]), array_literal(columns[12]));
    for (const auto& r : result) inserted.insert(r[0].c_str());
    for (const auto& [row, series_pk] : items) {
      const auto& i = row->rec->instance;
      IndexResult& res = out_.results[row->index];
      res = {};
      if (!inserted.count(i.sop_instance_uid)) {
        // Keep: already indexed. Replace: another writer inserted it between our delete
        // and our insert; either way the index does not reference this record's file.
        res.outcome = IndexOutcome::DuplicateKept;
      } else if (auto old = old_paths.find(i.sop_instance_uid); old != old_paths.end()) {
        res.outcome = IndexOutcome::Replaced;
        if (old->second != i.file_path) res.replaced_file_path = old->second;
      } else {
        res.outcome = IndexOutcome::Inserted;
      }
    }
  }

 private:
  static void note_patient_change(const Row& row, const pqxx::row& r, std::vector<std::string>& messages) {
    const auto& p = row.rec->patient;
    std::string changes;
    auto note = [&](const char* what, const std::string& before, const std::string& after) {
      if (before == after) return;
      changes += fmt::format("{}{} '{}' -> '{}'", changes.empty() ? "" : ", ", what, before, after);
    };
    note("name", shown(nullable_text(r[4])), p.patient_name);
    note("birth date", shown(nullable_text(r[5])), shown(row.birth_date));
    note("sex", shown(nullable_text(r[6])), p.patient_sex);
    if (!changes.empty()) messages.push_back(fmt::format("patient {}/{}: {}", p.patient_id, p.issuer_of_patient_id, changes));
  }

  // A study or series upsert: nine column arrays, the UID second. `seen` gets each row of
  // the result (id, uid, previous parent id, NULL when new).
  template <typename Seen>
  std::map<std::string, std::int64_t> upsert_level(const char* upsert, const char* lookup, const Column (&c)[9],
                                                   std::size_t distinct, Seen&& seen) {
    std::map<std::string, std::int64_t> ids;
    for (const auto& r : tx_.exec_prepared(upsert, array_literal(c[0]), array_literal(c[1]), array_literal(c[2]),
                                           array_literal(c[3]), array_literal(c[4]), array_literal(c[5]),
                                           array_literal(c[6]), array_literal(c[7]), array_literal(c[8]))) {
      ids[r[1].c_str()] = r[0].as<std::int64_t>();
      seen(r);
    }
    if (ids.size() < distinct) {  // committed by another writer after our snapshot
      Column missing;
      for (const auto& uid : c[1]) {
        if (!ids.count(*uid)) missing.push_back(uid);
      }
      for (const auto& r : tx_.exec_prepared(lookup, array_literal(missing))) {
        ids.emplace(r[1].c_str(), r[0].as<std::int64_t>());
      }
    }
    if (ids.size() < distinct) throw pqxx::serialization_failure(std::string(upsert) + ": a row vanished");
    return ids;
  }

  pqxx::work& tx_;
  DuplicatePolicy duplicates_;
  Attempt& out_;
};

int max_round(const std::vector<Row*>& order) {
  int rounds = 0;
  for (const Row* row : order) rounds = std::max(rounds, row->round + 1);
  return rounds;
}

std::size_t patient_hash(const Row& row) {
  const auto& p = row.rec->patient;
  const std::optional<std::string> name = p.patient_name, sex = p.patient_sex, attrs = row.patient_attrs;
  return hash_values({&name, &row.birth_date, &sex, &attrs});
}

std::size_t study_hash(const Row& row) {
  const auto& s = row.rec->study;
  const std::optional<std::string> accession = s.accession_number, id = s.study_id, description = s.study_description,
                                   referring = s.referring_physician_name, attrs = row.study_attrs;
  return hash_values({&row.study_date, &row.study_time, &accession, &id, &description, &referring, &attrs});
}

std::size_t series_hash(const Row& row) {
  const auto& s = row.rec->series;
  const std::optional<std::string> modality = s.modality,
                                   number = s.series_number ? std::optional<std::string>(std::to_string(*s.series_number))
                                                            : std::nullopt,
                                   description = s.series_description, body_part = s.body_part_examined,
                                   attrs = row.series_attrs;
  return hash_values({&modality, &number, &description, &body_part, &row.series_date, &row.series_time, &attrs});
}

// The common case: each patient, study and series once (with the values of the batch's
// last record for it: last writer wins) — or not at all when `known` says its row already
// holds exactly those values —, then the instances in one statement per round.
void write_fast(BatchWriter& writer, const std::vector<Row*>& order, const KnownRows& known, Attempt& out) {
  std::map<PatientKey, const Row*> patients;
  std::map<std::string, const Row*> studies, series;
  for (const Row* row : order) {
    auto later = [&](const Row*& slot) {
      if (!slot || slot->index < row->index) slot = row;
    };
    later(patients[patient_key(*row)]);
    later(studies[row->rec->study.study_instance_uid]);
    later(series[row->rec->series.series_instance_uid]);
  }
  std::map<PatientKey, std::int64_t> patient_pk;
  std::vector<const Row*> patient_rows;
  std::map<PatientKey, std::size_t> patient_hashes;
  for (const auto& [key, row] : patients) {
    const std::size_t h = patient_hash(*row);
    if (auto k = known.patients.find(key); k != known.patients.end() && k->second.hash == h) {
      patient_pk[key] = k->second.id;
    } else {
      patient_rows.push_back(row);
      patient_hashes[key] = h;
    }
  }
  if (!patient_rows.empty()) {
    for (const auto& [key, id] : writer.patients(patient_rows, out.messages)) {
      patient_pk[key] = id;
      out.learned.patients[key] = {id, 0, patient_hashes.at(key)};
    }
  }

  auto level = [&](const std::map<std::string, const Row*>& entries, const std::unordered_map<std::string, Known>& seen,
                   auto parent_of, auto hash_of, auto upsert, std::unordered_map<std::string, Known>& learned) {
    std::map<std::string, std::int64_t> ids;
    std::vector<std::pair<const Row*, std::int64_t>> rows;
    std::map<std::string, Known> fresh;
    for (const auto& [uid, row] : entries) {
      const std::int64_t parent = parent_of(*row);
      const std::size_t h = hash_of(*row);
      if (auto k = seen.find(uid); k != seen.end() && k->second.hash == h && k->second.parent == parent) {
        ids[uid] = k->second.id;
      } else {
        rows.emplace_back(row, parent);
        fresh[uid] = {0, parent, h};
      }
    }
    if (!rows.empty()) {
      for (const auto& [uid, id] : upsert(rows)) {
        ids[uid] = id;
        Known k = fresh.at(uid);
        k.id = id;
        learned[uid] = k;
      }
    }
    return ids;
  };
  const auto study_pk = level(
      studies, known.studies, [&](const Row& row) { return patient_pk.at(patient_key(row)); }, study_hash,
      [&](const auto& rows) { return writer.studies(rows, out.messages); }, out.learned.studies);
  const auto series_pk = level(
      series, known.series, [&](const Row& row) { return study_pk.at(row.rec->study.study_instance_uid); },
      series_hash, [&](const auto& rows) { return writer.series(rows, out.messages); }, out.learned.series);
  // A SOP Instance UID twice in one batch: the later record goes in a later round, which
  // sees the earlier one as an existing row, just as if they had come in two batches.
  for (int round = 0, rounds = max_round(order); round < rounds; ++round) {
    std::vector<std::pair<const Row*, std::int64_t>> items;
    for (const Row* row : order) {
      if (row->round == round) items.emplace_back(row, series_pk.at(row->rec->series.series_instance_uid));
    }
    writer.instances(items);
  }
}

// SQLSTATE classes worth a retry of the whole batch rather than failing a record:
// connection exceptions, operator intervention, transaction rollback, too many connections.
bool retryable(const pqxx::sql_error& e, const pqxx::connection& conn) {
  const std::string& state = e.sqlstate();
  return !conn.is_open() || state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 ||
         state.rfind("40", 0) == 0 || state == "53300";
}

// After a failure in the fast path: every record in its own savepoint, so that the ones
// the database rejects fail alone.
void write_careful(pqxx::work& tx, const pqxx::connection& conn, BatchWriter& writer, const std::vector<Row*>& order,
                   Attempt& out) {
  for (int round = 0, rounds = max_round(order); round < rounds; ++round) {
    for (const Row* row : order) {
      if (row->round != round) continue;
      std::vector<std::string> messages;
      tx.exec0("SAVEPOINT index_record");
      try {
        const auto patient = writer.patients({row}, messages).at(patient_key(*row));
        const auto study = writer.studies({{row, patient}}, messages).at(row->rec->study.study_instance_uid);
        const auto series = writer.series({{row, study}}, messages).at(row->rec->series.series_instance_uid);
        writer.instances({{row, series}});
        tx.exec0("RELEASE SAVEPOINT index_record");
        out.messages.insert(out.messages.end(), messages.begin(), messages.end());
      } catch (const pqxx::sql_error& e) {
        if (retryable(e, conn)) throw;
        tx.exec0("ROLLBACK TO SAVEPOINT index_record");
        out.results[row->index] = {IndexOutcome::Failed, one_line(e.what()) + " (SQLSTATE " + e.sqlstate() + ")", {}};
      }
    }
  }
}

void prepare_index_statements(pqxx::connection& conn) {
  conn.prepare(kUpsertPatientsName, kUpsertPatients);
  conn.prepare(kPatientIdsName, kPatientIds);
  conn.prepare(kUpsertStudiesName, kUpsertStudies);
  conn.prepare(kStudyIdsName, kStudyIds);
  conn.prepare(kUpsertSeriesName, kUpsertSeries);
  conn.prepare(kSeriesIdsName, kSeriesIds);
  conn.prepare(kInsertInstancesName, kInsertInstances);
  conn.prepare(kDeleteInstancesName, kDeleteInstances);
  conn.prepare(kFindInstancesName, kFindInstances);
}

// The records whose rows the transaction leaves in place: of those written, for each SOP
// Instance UID the last round's (an earlier round's row was replaced within the batch).
std::vector<const Row*> final_rows(const std::vector<Row>& rows, const Attempt& out) {
  std::map<std::string, const Row*> last;
  for (const auto& row : rows) {
    const auto outcome = out.results[row.index].outcome;
    if (outcome != IndexOutcome::Inserted && outcome != IndexOutcome::Replaced) continue;
    const Row*& slot = last[row.rec->instance.sop_instance_uid];
    if (!slot || slot->round < row.round) slot = &row;
  }
  std::vector<const Row*> result;
  for (const auto& [uid, row] : last) result.push_back(row);
  return result;
}

void back_off(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  const auto base = std::chrono::milliseconds(50) * (1 << std::min(attempt, 5));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(base * jitter(random)));
}

}  // namespace

struct IndexSession::Impl {
  std::string conninfo;
  DuplicatePolicy duplicates;
  bool route_arrivals = true;
  std::unique_ptr<pqxx::connection> conn;
  KnownRows known;

  void connect() {
    conn = std::make_unique<pqxx::connection>(conninfo);
    conn->set_variable("DateStyle", "ISO");
    if (!route_arrivals) conn->set_variable("pacsnode.routing", "'off'");
    prepare_index_statements(*conn);
  }

  enum class Doubt { Committed, NotCommitted, Unknown };
  Doubt resolve_in_doubt(const std::vector<Row>& rows, const Attempt& out);
  void finish(Attempt& out, const std::vector<Row>& rows);
};

IndexSession::IndexSession(std::string conninfo, DuplicatePolicy duplicates, bool route_arrivals)
    : impl_(std::make_unique<Impl>()) {
  impl_->conninfo = std::move(conninfo);
  impl_->duplicates = duplicates;
  impl_->route_arrivals = route_arrivals;
  translate_errors("index writer connect", [&] { impl_->connect(); });
}

IndexSession::~IndexSession() = default;

// The connection broke during COMMIT: look at what the database holds rather than guess.
// Every row this attempt wrote is there (same file, same checksum) → committed; none is → not.
IndexSession::Impl::Doubt IndexSession::Impl::resolve_in_doubt(const std::vector<Row>& rows, const Attempt& out) {
  const auto written = final_rows(rows, out);
  std::vector<std::optional<std::string>> uids;
  for (const Row* row : written) uids.push_back(row->rec->instance.sop_instance_uid);
  if (uids.empty()) return Doubt::Committed;  // nothing this batch wrote is at stake
  try {
    connect();
    pqxx::read_transaction tx(*conn);
    std::set<std::string> found;
    for (const auto& r : tx.exec_prepared(kFindInstancesName, array_literal(uids))) {
      found.insert(fmt::format("{}\n{}\n{}", r[0].c_str(), r[1].c_str(), r[2].c_str()));
    }
    std::size_t present = 0;
    for (const Row* row : written) {
      const auto& i = row->rec->instance;
      present += found.count(fmt::format("{}\n{}\n{}", i.sop_instance_uid, i.file_path, i.checksum));
    }
    if (present == uids.size()) return Doubt::Committed;
    if (present == 0) return Doubt::NotCommitted;
  } catch (const std::exception& e) {
    log::error("index writer: cannot check an interrupted commit: {}", e.what());
    conn.reset();
  }
  return Doubt::Unknown;
}

// After commit: the caller may delete a replaced file only if nothing committed in this
// batch points at that path (two records of one batch may share it).
void IndexSession::Impl::finish(Attempt& out, const std::vector<Row>& rows) {
  std::set<std::string> referenced;
  for (const Row* row : final_rows(rows, out)) referenced.insert(row->rec->instance.file_path);
  for (auto& result : out.results) {
    if (referenced.count(result.replaced_file_path)) result.replaced_file_path.clear();
  }
  for (const auto& message : out.messages) log::info("{}", message);
}

std::vector<IndexResult> IndexSession::write(const std::vector<const IndexRecord*>& records) {
  auto& d = *impl_;
  std::vector<Row> rows;
  rows.reserve(records.size());
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < records.size(); ++i) {
    rows.push_back(convert(*records[i], i));
    rows.back().round = seen[records[i]->instance.sop_instance_uid]++;
  }
  std::vector<Row*> order;
  for (auto& row : rows) order.push_back(&row);
  std::sort(order.begin(), order.end(), [](const Row* a, const Row* b) {
    return std::tie(a->rec->study.study_instance_uid, a->rec->series.series_instance_uid, a->index) <
           std::tie(b->rec->study.study_instance_uid, b->rec->series.series_instance_uid, b->index);
  });

  auto fail_all = [&](const std::string& error) {
    log::error("index writer: {} record(s) not indexed: {}", records.size(), error);
    return std::vector<IndexResult>(records.size(), IndexResult{IndexOutcome::Failed, error, {}});
  };
  bool careful = false;
  std::string last_error;
  for (int attempt = 0; attempt < kMaxAttempts;) {
    Attempt out;
    bool lost_connection = false;
    out.results.assign(records.size(), IndexResult{IndexOutcome::Failed, "not written", {}});
    try {
      if (!d.conn) d.connect();
      pqxx::work tx(*d.conn);
      BatchWriter writer(tx, d.duplicates, out);
      if (careful) {
        write_careful(tx, *d.conn, writer, order, out);
      } else {
        write_fast(writer, order, d.known, out);
      }
      tx.commit();
      d.known.merge(out.learned);
      d.finish(out, rows);
      return out.results;
    } catch (const pqxx::in_doubt_error& e) {
      d.known.clear();
      d.conn.reset();
      last_error = one_line(e.what());
      const auto doubt = d.resolve_in_doubt(rows, out);
      if (doubt == Impl::Doubt::Committed) {
        d.finish(out, rows);
        return out.results;
      }
      if (doubt == Impl::Doubt::Unknown) return fail_all("commit outcome unknown: " + last_error);
    } catch (const pqxx::broken_connection& e) {
      d.known.clear();
      d.conn.reset();
      lost_connection = true;
      last_error = one_line(e.what());
    } catch (const pqxx::transaction_rollback& e) {
      d.known.clear();
      last_error = one_line(e.what());
    } catch (const pqxx::sql_error& e) {
      // E.g. a series row that someone deleted while this session remembered it: the
      // record-by-record retry upserts every level again.
      d.known.clear();
      last_error = one_line(e.what());
      if (!d.conn || !retryable(e, *d.conn)) {
        if (careful) return fail_all(last_error);
        // Some record is bad: redo the batch one savepoint per record. Not an attempt.
        log::debug("index writer: batch of {} failed ({}); retrying record by record", records.size(), last_error);
        careful = true;
        continue;
      }
      if (!d.conn->is_open()) d.conn.reset();
    } catch (const std::exception& e) {
      d.known.clear();
      d.conn.reset();
      return fail_all(one_line(e.what()));
    }
    if (++attempt == kMaxAttempts) break;
    log::warn("index writer: batch of {} failed (attempt {} of {}), retrying: {}", records.size(), attempt,
              kMaxAttempts, last_error);
    // A connection the server closed while idle (restart, idle timeout) is usually back at
    // once; everything else waits, with jitter so that competing writers drift apart.
    if (!(lost_connection && attempt == 1)) back_off(attempt);
  }
  return fail_all(fmt::format("database unavailable after {} attempts: {}", kMaxAttempts, last_error));
}

}  // namespace pacsnode::db::detail
