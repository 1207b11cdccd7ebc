#include "db/stability.hpp"

#include <cctype>
#include <optional>

#include "db/array_literal.hpp"
#include "db/job_sql.hpp"
#include "db/pooled_connection.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db {
namespace {

using detail::translate_errors;

#define PN_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"
// TM text from a time column without trailing zero fractions: 10:15:00 → "101500",
// 10:15:00.25 → "101500.25".
#define PN_TM(column) "coalesce(rtrim(rtrim(to_char(" column ", 'HH24MISS.US'), '0'), '.'), '')"
#define PN_DA(column) "coalesce(to_char(" column ", 'YYYYMMDD'), '')"

constexpr const char* kPatientStudyColumns =
    "p.patient_id, p.issuer_of_patient_id, p.patient_name, " PN_DA("p.patient_birth_date") ", p.patient_sex,"
    " p.attributes::text, st.study_instance_uid, " PN_DA("st.study_date") ", " PN_TM("st.study_time") ","
    " st.accession_number, st.study_id, st.study_description, st.referring_physician_name, st.attributes::text,"
    " array_to_string(st.modalities_in_study, '\\'), array_to_string(st.sop_classes_in_study, '\\'),"
    " st.number_of_series, st.number_of_instances";
constexpr const char* kSeriesColumns =
    "se.series_instance_uid, se.modality, se.series_number, se.series_description, se.body_part_examined,"
    " " PN_DA("se.series_date") ", " PN_TM("se.series_time") ", se.number_of_instances, se.attributes::text";
constexpr const char* kInstanceColumns =
    "i.sop_instance_uid, i.sop_class_uid, i.instance_number, " PN_DA("i.content_date") ", " PN_TM("i.content_time")
    ", i.attributes::text, i.transfer_syntax_uid, i.calling_ae_title, i.called_ae_title";
constexpr int kSeriesOffset = 18;
constexpr int kInstanceOffset = kSeriesOffset + 9;

std::string text(const pqxx::field& f) { return f.is_null() ? std::string() : std::string(f.c_str()); }
std::optional<int> integer(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int>();
}

std::vector<std::string> split(const std::string& joined) {
  std::vector<std::string> out;
  if (joined.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const auto end = joined.find('\\', start);
    out.push_back(joined.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

IndexedAttributes attributes_from(const pqxx::row& r, bool series, bool instance) {
  IndexedAttributes a;
  auto& p = a.record.patient;
  p = {text(r[0]), text(r[1]), text(r[2]), text(r[3]), text(r[4]), text(r[5])};
  auto& st = a.record.study;
  st = {text(r[6]), text(r[7]), text(r[8]), text(r[9]), text(r[10]), text(r[11]), text(r[12]), text(r[13])};
  a.modalities_in_study = split(text(r[14]));
  a.sop_classes_in_study = split(text(r[15]));
  a.number_of_study_related_series = r[16].as<int>();
  a.number_of_study_related_instances = r[17].as<int>();
  if (series && !r[kSeriesOffset].is_null()) {
    constexpr int o = kSeriesOffset;
    a.has_series = true;
    a.record.series = {text(r[o]),     text(r[o + 1]), integer(r[o + 2]), text(r[o + 3]), text(r[o + 4]),
                       text(r[o + 5]), text(r[o + 6]), text(r[o + 8])};
    a.number_of_series_related_instances = r[o + 7].as<int>();
  }
  if (instance && !r[kInstanceOffset].is_null()) {
    constexpr int o = kInstanceOffset;
    a.has_instance = true;
    auto& i = a.record.instance;
    i.sop_instance_uid = text(r[o]);
    i.sop_class_uid = text(r[o + 1]);
    i.instance_number = integer(r[o + 2]);
    i.content_date = text(r[o + 3]);
    i.content_time = text(r[o + 4]);
    i.attributes_json = text(r[o + 5]);
    i.transfer_syntax_uid = text(r[o + 6]);
    i.calling_ae_title = text(r[o + 7]);
    i.called_ae_title = text(r[o + 8]);
  }
  // Every query ends with the resource's AE titles, '\'-joined (an AE title holds no '\').
  a.calling_ae_titles = split(text(r[r.size() - 2]));
  a.called_ae_titles = split(text(r[r.size() - 1]));
  return a;
}

// The distinct non-empty values of an instance column over `where`, '\'-joined, sorted.
#define PN_AE_TITLES(column, from_where)                                                              \
  "(SELECT array_to_string(array_agg(DISTINCT x." column " ORDER BY x." column "), '\\') " from_where \
  " AND x." column " <> '')"
#define PN_SERIES_AE(column) PN_AE_TITLES(column, "FROM instance x WHERE x.series_pk = se.id")
#define PN_STUDY_AE(column) \
  PN_AE_TITLES(column, "FROM instance x JOIN series y ON y.id = x.series_pk WHERE y.study_pk = st.id")

// `sql` with each level's DICOM JSON cut down, by PostgreSQL, to the keys in the text array
// `param`: the rules read a handful of a level's attributes, and sending and parsing all of
// them (a vendor's private data, say) was most of what routing cost per instance.
std::string only_keys(std::string sql, const char* param) {
  for (const char* alias : {"p", "st", "se", "i"}) {
    const std::string column = std::string(alias) + ".attributes";
    const std::string from = column + "::text";
    const std::string to = "(SELECT jsonb_object_agg(k, " + column + " -> k) FROM unnest(" + param + "::text[]) k WHERE " +
                           column + " ? k)::text";
    for (std::size_t at = 0; (at = sql.find(from, at)) != std::string::npos;) {
      if (at > 0 && (std::isalnum(static_cast<unsigned char>(sql[at - 1])) || sql[at - 1] == '_')) {
        at += from.size();  // another alias that ends like this one
        continue;
      }
      sql.replace(at, from.size(), to);
      at += to.size();
    }
  }
  return sql;
}

// The routing statements, prepared once per connection (pqxx registers them with the
// server on first use): planning the attribute joins each time cost more than running them.
constexpr const char* kClaimResources = "pn_routing_claim_resources";
constexpr const char* kRuleProgress = "pn_routing_rule_progress";
constexpr const char* kRuleEvaluated = "pn_routing_rule_evaluated";
constexpr const char* kRecheckAt = "pn_routing_recheck_at";
constexpr const char* kResourceEvaluated = "pn_routing_resource_evaluated";
constexpr const char* kClaimEvents = "pn_routing_claim_events";
constexpr const char* kConsumeEvents = "pn_routing_consume_events";
constexpr const char* kInstanceBatch = "pn_routing_instance_batch";
constexpr const char* kInstanceBatchKeys = "pn_routing_instance_batch_keys";
constexpr const char* kInstanceOne = "pn_routing_instance";
constexpr const char* kInstanceOneKeys = "pn_routing_instance_keys";
constexpr const char* kSeriesOne = "pn_routing_series";
constexpr const char* kSeriesOneKeys = "pn_routing_series_keys";
constexpr const char* kStudyOne = "pn_routing_study";
constexpr const char* kStudyOneKeys = "pn_routing_study_keys";

const std::string& instance_select() {
  static const std::string sql = std::string("SELECT ") + kPatientStudyColumns + ", " + kSeriesColumns + ", " +
                                 kInstanceColumns + ", i.calling_ae_title, i.called_ae_title" +
                                 " FROM instance i JOIN series se ON se.id = i.series_pk"
                                 " JOIN study st ON st.id = se.study_pk JOIN patient p ON p.id = st.patient_pk";
  return sql;
}

void prepare_routing_statements(pqxx::connection& conn) {
  conn.prepare(kClaimResources,
               "SELECT level, uid, study_uid, version, " PN_MICROS("first_arrival") ", " PN_MICROS("last_arrival")
               ", " PN_MICROS("pending_since") " FROM routing_resource"
               " WHERE pending AND (recheck_at IS NULL OR recheck_at <= now())"
               " ORDER BY recheck_at NULLS FIRST LIMIT $1 FOR UPDATE SKIP LOCKED");
  conn.prepare(kRuleProgress, "SELECT rule, evaluated_version, firings, " PN_MICROS("pending_since")
                              " FROM routing_rule_state WHERE level = $1 AND uid = $2");
  conn.prepare(kRuleEvaluated,
               "INSERT INTO routing_rule_state (level, uid, rule, evaluated_version, firings, last_fired_at)"
               " VALUES ($1, $2, $3, $4, CASE WHEN $5::boolean THEN 1 ELSE 0 END, CASE WHEN $5::boolean THEN now() END)"
               " ON CONFLICT (level, uid, rule) DO UPDATE SET evaluated_version = EXCLUDED.evaluated_version,"
               " firings = routing_rule_state.firings + EXCLUDED.firings,"
               " last_fired_at = coalesce(EXCLUDED.last_fired_at, routing_rule_state.last_fired_at), pending_since = NULL");
  conn.prepare(kRecheckAt, "UPDATE routing_resource SET recheck_at = to_timestamp($3::float8 / 1000000)"
                           " WHERE level = $1 AND uid = $2");
  conn.prepare(kResourceEvaluated, "UPDATE routing_resource SET evaluated_version = $3, recheck_at = NULL"
                                   " WHERE level = $1 AND uid = $2");
  conn.prepare(kClaimEvents, "SELECT id, sop_instance_uid, series_uid, study_uid FROM routing_instance_event"
                             " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED");
  conn.prepare(kConsumeEvents, "DELETE FROM routing_instance_event WHERE id = ANY($1::bigint[])");

  const std::string batch = instance_select() + " WHERE i.sop_instance_uid = ANY($1::text[])";
  const std::string instance = instance_select() + " WHERE i.sop_instance_uid = $1";
  const std::string series =
      std::string("SELECT ") + kPatientStudyColumns + ", " + kSeriesColumns + ", " + kInstanceColumns +
      ", " PN_SERIES_AE("calling_ae_title") ", " PN_SERIES_AE("called_ae_title") +
      " FROM series se JOIN study st ON st.id = se.study_pk JOIN patient p ON p.id = st.patient_pk"
      " LEFT JOIN LATERAL (SELECT * FROM instance WHERE series_pk = se.id"
      " ORDER BY instance_number NULLS LAST, id LIMIT 1) i ON true WHERE se.series_instance_uid = $1";
  const std::string study = std::string("SELECT ") + kPatientStudyColumns +
                            ", " PN_STUDY_AE("calling_ae_title") ", " PN_STUDY_AE("called_ae_title") +
                            " FROM study st JOIN patient p ON p.id = st.patient_pk"
                            " WHERE st.study_instance_uid = $1";
  conn.prepare(kInstanceBatch, batch);
  conn.prepare(kInstanceBatchKeys, only_keys(batch, "$2"));
  conn.prepare(kInstanceOne, instance);
  conn.prepare(kInstanceOneKeys, only_keys(instance, "$2"));
  conn.prepare(kSeriesOne, series);
  conn.prepare(kSeriesOneKeys, only_keys(series, "$2"));
  conn.prepare(kStudyOne, study);
  conn.prepare(kStudyOneKeys, only_keys(study, "$2"));
}

}  // namespace

struct RoutingTransaction::Impl {
  ConnectionPool::Lease lease;
  std::optional<pqxx::work> tx;
  std::optional<DbMicros> now;
  explicit Impl(ConnectionPool& pool) : lease(pool.acquire()) {}

  template <typename Fn>
  auto run(const char* what, Fn&& fn) -> decltype(fn(*tx)) {
    try {
      return translate_errors(what, [&] { return fn(*tx); });
    } catch (...) {
      if (!(*lease).connection.is_open()) lease.mark_broken();
      throw;
    }
  }
};

RoutingTransaction::RoutingTransaction(ConnectionPool& pool) : impl_(std::make_unique<Impl>(pool)) {
  try {
    translate_errors("routing transaction", [&] {
      // Same definitions each time: pqxx keeps the first and registers it once per connection.
      prepare_routing_statements((*impl_->lease).connection);
      impl_->tx.emplace((*impl_->lease).connection);
    });
  } catch (...) {
    impl_->lease.mark_broken();
    throw;
  }
}

RoutingTransaction::~RoutingTransaction() {
  if (!impl_->tx) return;
  try {
    impl_->tx->abort();
  } catch (...) {
    impl_->lease.mark_broken();
  }
}

DbMicros RoutingTransaction::now() {
  if (!impl_->now) {
    impl_->now = impl_->run("routing clock", [](pqxx::work& tx) {
      return tx.exec1("SELECT " PN_MICROS("now()"))[0].as<DbMicros>();
    });
  }
  return *impl_->now;
}

std::vector<PendingResource> RoutingTransaction::claim_resources(std::size_t limit) {
  return impl_->run("claim resources", [&](pqxx::work& tx) {
    std::vector<PendingResource> out;
    for (const auto& r : tx.exec_prepared(kClaimResources, static_cast<std::int64_t>(limit))) {
      out.push_back({r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].as<std::int64_t>(), r[4].as<DbMicros>(),
                     r[5].as<DbMicros>(), r[6].as<DbMicros>()});
    }
    return out;
  });
}

std::map<std::string, RuleProgress> RoutingTransaction::rule_progress(const PendingResource& resource) {
  return impl_->run("rule progress", [&](pqxx::work& tx) {
    std::map<std::string, RuleProgress> out;
    for (const auto& r : tx.exec_prepared(kRuleProgress, resource.level, resource.uid)) {
      RuleProgress progress{r[1].as<std::int64_t>(), r[2].as<int>(), std::nullopt};
      if (!r[3].is_null()) progress.pending_since = r[3].as<DbMicros>();
      out.emplace(r[0].c_str(), progress);
    }
    return out;
  });
}

std::map<std::string, IndexedAttributes> RoutingTransaction::instance_attributes(
    const std::vector<std::string>& sop_instance_uids, const std::vector<std::string>* keys) {
  std::map<std::string, IndexedAttributes> out;
  if (sop_instance_uids.empty()) return out;
  impl_->run("routing attributes", [&](pqxx::work& tx) {
    const auto rows = keys ? tx.exec_prepared(kInstanceBatchKeys, detail::array_literal(sop_instance_uids),
                                              detail::array_literal(*keys))
                           : tx.exec_prepared(kInstanceBatch, detail::array_literal(sop_instance_uids));
    for (const auto& row : rows) {
      auto a = attributes_from(row, true, true);
      std::string uid = a.record.instance.sop_instance_uid;
      out.emplace(std::move(uid), std::move(a));
    }
    return 0;
  });
  return out;
}

std::optional<IndexedAttributes> RoutingTransaction::attributes(const std::string& level, const std::string& uid,
                                                                const std::vector<std::string>* keys) {
  const bool is_instance = level == "instance", is_series = level == "series";
  const char* statement = is_instance ? (keys ? kInstanceOneKeys : kInstanceOne)
                          : is_series ? (keys ? kSeriesOneKeys : kSeriesOne)
                                      : (keys ? kStudyOneKeys : kStudyOne);
  return impl_->run("routing attributes", [&](pqxx::work& tx) -> std::optional<IndexedAttributes> {
    const auto rows = keys ? tx.exec_prepared(statement, uid, detail::array_literal(*keys))
                           : tx.exec_prepared(statement, uid);
    if (rows.empty()) return std::nullopt;
    return attributes_from(rows[0], is_instance || is_series, is_instance || is_series);
  });
}

std::vector<RoutingTransaction::SeriesMembers> RoutingTransaction::study_members(const std::string& study_uid) {
  return impl_->run("study members", [&](pqxx::work& tx) {
    std::vector<SeriesMembers> out;
    for (const auto& r : tx.exec_params(
             "SELECT se.series_instance_uid, i.sop_instance_uid FROM study st JOIN series se ON se.study_pk = st.id"
             " LEFT JOIN instance i ON i.series_pk = se.id WHERE st.study_instance_uid = $1"
             " ORDER BY se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.id",
             study_uid)) {
      if (out.empty() || out.back().series_uid != r[0].c_str()) out.push_back({r[0].c_str(), {}});
      if (!r[1].is_null()) out.back().sop_instance_uids.push_back(r[1].c_str());
    }
    return out;
  });
}

bool RoutingTransaction::enqueue(const JobSpec& spec) {
  return impl_->run("enqueue job", [&](pqxx::work& tx) { return detail::insert_job(tx, spec); });
}

void RoutingTransaction::rule_evaluated(const PendingResource& resource, const std::string& rule, bool fired) {
  impl_->run("rule evaluated", [&](pqxx::work& tx) {
    tx.exec_prepared0(kRuleEvaluated, resource.level, resource.uid, rule, resource.version, fired);
    return 0;
  });
}

void RoutingTransaction::resource_evaluated(const PendingResource& resource, std::optional<DbMicros> recheck_at) {
  impl_->run("resource evaluated", [&](pqxx::work& tx) {
    if (recheck_at) {
      tx.exec_prepared0(kRecheckAt, resource.level, resource.uid, *recheck_at);
    } else {
      tx.exec_prepared0(kResourceEvaluated, resource.level, resource.uid, resource.version);
    }
    return 0;
  });
}

std::vector<ArrivalEvent> RoutingTransaction::claim_events(std::size_t limit) {
  return impl_->run("claim arrival events", [&](pqxx::work& tx) {
    std::vector<ArrivalEvent> out;
    for (const auto& r : tx.exec_prepared(kClaimEvents, static_cast<std::int64_t>(limit))) {
      out.push_back({r[0].as<std::int64_t>(), r[1].c_str(), r[2].c_str(), r[3].c_str()});
    }
    return out;
  });
}

void RoutingTransaction::consume_events(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return;
  std::string list = "{";
  for (const std::int64_t id : ids) {
    if (list.size() > 1) list += ',';
    list += std::to_string(id);
  }
  list += '}';
  impl_->run("consume arrival events", [&](pqxx::work& tx) {
    tx.exec_prepared0(kConsumeEvents, list);
    return 0;
  });
}

void RoutingTransaction::commit() {
  impl_->run("routing commit", [](pqxx::work& tx) {
    tx.commit();
    return 0;
  });
  impl_->tx.reset();
}

}  // namespace pacsnode::db
