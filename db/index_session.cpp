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

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/index_sql.hpp"
#include "db/index_values.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db::detail {
namespace {

constexpr int kMaxAttempts = 6;
constexpr int kMaxUpsertTries = 3;

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
PatientKey patient_key(const Row& row) {
  return {row.rec->patient.patient_id, row.rec->patient.issuer_of_patient_id};
}

// What one attempt produced; thrown away when the attempt is retried.
struct Attempt {
  std::vector<IndexResult> results;
  std::vector<std::string> messages;  // logged once the transaction has committed
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

  std::int64_t patient(const Row& row, std::vector<std::string>& messages) {
    const auto& p = row.rec->patient;
    for (int i = 0; i < kMaxUpsertTries; ++i) {
      auto result = tx_.exec_prepared(kUpsertPatientName, p.patient_id, p.issuer_of_patient_id, p.patient_name,
                                      row.birth_date, p.patient_sex, row.patient_attrs);
      if (result.empty()) continue;  // inserted concurrently after our snapshot: ask again
      const auto& r = result[0];
      if (r[1].as<bool>()) {
        std::string changes;
        auto note = [&](const char* what, const std::string& before, const std::string& after) {
          if (before == after) return;
          changes += fmt::format("{}{} '{}' -> '{}'", changes.empty() ? "" : ", ", what, before, after);
        };
        note("name", shown(nullable_text(r[2])), p.patient_name);
        note("birth date", shown(nullable_text(r[3])), shown(row.birth_date));
        note("sex", shown(nullable_text(r[4])), p.patient_sex);
        if (!changes.empty()) {
          messages.push_back(fmt::format("patient {}/{}: {}", p.patient_id, p.issuer_of_patient_id, changes));
        }
      }
      return r[0].as<std::int64_t>();
    }
    throw pqxx::serialization_failure("patient upsert found no row " + std::to_string(kMaxUpsertTries) + " times");
  }

  std::int64_t study(const Row& row, std::int64_t patient_pk, std::vector<std::string>& messages) {
    const auto& s = row.rec->study;
    for (int i = 0; i < kMaxUpsertTries; ++i) {
      auto result = tx_.exec_prepared(kUpsertStudyName, patient_pk, s.study_instance_uid, row.study_date,
                                      row.study_time, s.accession_number, s.study_id, s.study_description,
                                      s.referring_physician_name, row.study_attrs);
      if (result.empty()) continue;
      const auto& r = result[0];
      if (!r[1].is_null() && r[1].as<std::int64_t>() != patient_pk) {
        messages.push_back(fmt::format("study {}: moved to patient {}/{} (patient row {} -> {})",
                                       s.study_instance_uid, row.rec->patient.patient_id,
                                       row.rec->patient.issuer_of_patient_id, r[1].c_str(), patient_pk));
      }
      return r[0].as<std::int64_t>();
    }
    throw pqxx::serialization_failure("study upsert found no row " + std::to_string(kMaxUpsertTries) + " times");
  }

  std::int64_t series(const Row& row, std::int64_t study_pk, std::vector<std::string>& messages) {
    const auto& s = row.rec->series;
    for (int i = 0; i < kMaxUpsertTries; ++i) {
      auto result = tx_.exec_prepared(kUpsertSeriesName, study_pk, s.series_instance_uid, s.modality,
                                      s.series_number, s.series_description, s.body_part_examined, row.series_date,
                                      row.series_time, row.series_attrs);
      if (result.empty()) continue;
      const auto& r = result[0];
      if (!r[1].is_null() && r[1].as<std::int64_t>() != study_pk) {
        messages.push_back(fmt::format("series {}: moved to study {}", s.series_instance_uid,
                                       row.rec->study.study_instance_uid));
      }
      return r[0].as<std::int64_t>();
    }
    throw pqxx::serialization_failure("series upsert found no row " + std::to_string(kMaxUpsertTries) + " times");
  }

  // Inserts the instances (distinct SOP Instance UIDs) in one statement, so the count
  // triggers run once for all of them; under Replace, deletes their old rows first.
  void instances(const std::vector<std::pair<const Row*, std::int64_t>>& items) {
    std::vector<std::optional<std::string>> columns[12];
    for (const auto& [row, series_pk] : items) {
      const auto& i = row->rec->instance;
      auto number = i.instance_number ? std::optional<std::string>(std::to_string(*i.instance_number)) : std::nullopt;
      const std::optional<std::string> values[12] = {
          std::to_string(series_pk), i.sop_instance_uid, i.sop_class_uid, number, row->content_date,
          row->content_time, i.calling_ae_title, i.transfer_syntax_uid, i.file_path, std::to_string(i.file_size),
          i.checksum, row->instance_attrs};
      for (int c = 0; c < 12; ++c) columns[c].push_back(values[c]);
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
        array_literal(columns[11]));
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
  pqxx::work& tx_;
  DuplicatePolicy duplicates_;
  Attempt& out_;
};

int max_round(const std::vector<Row*>& order) {
  int rounds = 0;
  for (const Row* row : order) rounds = std::max(rounds, row->round + 1);
  return rounds;
}

// The common case: each patient, study and series once (with the values of the batch's
// last record for it: last writer wins), then the instances in one statement per round.
void write_fast(BatchWriter& writer, const std::vector<Row*>& order, Attempt& out) {
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
  std::map<std::string, std::int64_t> study_pk, series_pk;
  for (const auto& [key, row] : patients) patient_pk[key] = writer.patient(*row, out.messages);
  for (const auto& [uid, row] : studies) study_pk[uid] = writer.study(*row, patient_pk.at(patient_key(*row)), out.messages);
  for (const auto& [uid, row] : series) {
    series_pk[uid] = writer.series(*row, study_pk.at(row->rec->study.study_instance_uid), out.messages);
  }
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
        const auto patient = writer.patient(*row, messages);
        const auto study = writer.study(*row, patient, messages);
        const auto series = writer.series(*row, study, messages);
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
  conn.prepare(kUpsertPatientName, kUpsertPatient);
  conn.prepare(kUpsertStudyName, kUpsertStudy);
  conn.prepare(kUpsertSeriesName, kUpsertSeries);
  conn.prepare(kInsertInstancesName, kInsertInstances);
  conn.prepare(kDeleteInstancesName, kDeleteInstances);
  conn.prepare(kFindInstancesName, kFindInstances);
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
  std::unique_ptr<pqxx::connection> conn;

  void connect() {
    conn = std::make_unique<pqxx::connection>(conninfo);
    conn->set_variable("DateStyle", "ISO");
    prepare_index_statements(*conn);
  }

  enum class Doubt { Committed, NotCommitted, Unknown };
  Doubt resolve_in_doubt(const std::vector<Row>& rows, const Attempt& out);
  void finish(Attempt& out, const std::vector<Row>& rows);
};

IndexSession::IndexSession(std::string conninfo, DuplicatePolicy duplicates) : impl_(std::make_unique<Impl>()) {
  impl_->conninfo = std::move(conninfo);
  impl_->duplicates = duplicates;
  translate_errors("index writer connect", [&] { impl_->connect(); });
}

IndexSession::~IndexSession() = default;

// The connection broke during COMMIT: look at what the database holds rather than guess.
// Every row this attempt wrote is there (same file, same checksum) → committed; none is → not.
IndexSession::Impl::Doubt IndexSession::Impl::resolve_in_doubt(const std::vector<Row>& rows, const Attempt& out) {
  std::vector<std::optional<std::string>> uids;
  for (const auto& row : rows) {
    const auto outcome = out.results[row.index].outcome;
    if (outcome == IndexOutcome::Inserted || outcome == IndexOutcome::Replaced) uids.push_back(row.rec->instance.sop_instance_uid);
  }
  if (uids.empty()) return Doubt::Committed;  // nothing this batch wrote is at stake
  try {
    connect();
    pqxx::read_transaction tx(*conn);
    std::set<std::string> found;
    for (const auto& r : tx.exec_prepared(kFindInstancesName, array_literal(uids))) {
      found.insert(fmt::format("{}\n{}\n{}", r[0].c_str(), r[1].c_str(), r[2].c_str()));
    }
    std::size_t present = 0;
    for (const auto& row : rows) {
      const auto outcome = out.results[row.index].outcome;
      if (outcome != IndexOutcome::Inserted && outcome != IndexOutcome::Replaced) continue;
      const auto& i = row.rec->instance;
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
  for (const auto& row : rows) {
    const auto outcome = out.results[row.index].outcome;
    if (outcome == IndexOutcome::Inserted || outcome == IndexOutcome::Replaced) referenced.insert(row.rec->instance.file_path);
  }
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
    out.results.assign(records.size(), IndexResult{IndexOutcome::Failed, "not written", {}});
    try {
      if (!d.conn) d.connect();
      pqxx::work tx(*d.conn);
      BatchWriter writer(tx, d.duplicates, out);
      if (careful) {
        write_careful(tx, *d.conn, writer, order, out);
      } else {
        write_fast(writer, order, out);
      }
      tx.commit();
      d.finish(out, rows);
      return out.results;
    } catch (const pqxx::in_doubt_error& e) {
      d.conn.reset();
      last_error = one_line(e.what());
      const auto doubt = d.resolve_in_doubt(rows, out);
      if (doubt == Impl::Doubt::Committed) {
        d.finish(out, rows);
        return out.results;
      }
      if (doubt == Impl::Doubt::Unknown) return fail_all("commit outcome unknown: " + last_error);
    } catch (const pqxx::broken_connection& e) {
      d.conn.reset();
      last_error = one_line(e.what());
    } catch (const pqxx::transaction_rollback& e) {
      last_error = one_line(e.what());
    } catch (const pqxx::sql_error& e) {
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
      d.conn.reset();
      return fail_all(one_line(e.what()));
    }
    ++attempt;
    log::warn("index writer: batch of {} failed (attempt {} of {}), retrying: {}", records.size(), attempt,
              kMaxAttempts, last_error);
    if (attempt < kMaxAttempts) back_off(attempt);
  }
  return fail_all(fmt::format("database unavailable after {} attempts: {}", kMaxAttempts, last_error));
}

}  // namespace pacsnode::db::detail
