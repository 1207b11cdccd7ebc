#pragma once
// Routing's view of the database (tables of migration 0005): the series and studies whose
// arrivals some rule has not yet looked at, the instances the instance-level rules have not
// yet seen, and the index attributes rules are evaluated on. One RoutingTransaction is one
// sweep step: it claims rows with FOR UPDATE SKIP LOCKED, so that of several pacsnode
// processes sweeping one database each resource is handled by one of them, and everything
// it does — the jobs of a firing and the marks that the firing happened — commits together
// or not at all. No libpqxx here.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/index_record.hpp"
#include "db/connection_pool.hpp"
#include "db/job_queue.hpp"

namespace pacsnode::db {

// Microseconds since the Unix epoch on the database's clock (which every node shares).
using DbMicros = std::int64_t;

// A series or study with arrivals that not every rule of its level has looked at.
struct PendingResource {
  std::string level;  // "series" or "study"
  std::string uid;
  std::string study_uid;
  std::int64_t version = 0;  // instances arrived so far
  DbMicros first_arrival = 0;
  DbMicros last_arrival = 0;
  DbMicros pending_since = 0;  // first arrival since it was last fully evaluated
};

// One rule's progress on one resource.
struct RuleProgress {
  std::int64_t evaluated_version = 0;  // the version the rule last looked at
  int firings = 0;                     // how often it matched (and made jobs)
  std::optional<DbMicros> pending_since;  // first arrival since it last looked
};

// An indexed instance the instance-level rules have not seen.
struct ArrivalEvent {
  std::int64_t id = 0;  // increasing; the jobs' content version at instance level
  std::string sop_instance_uid, series_uid, study_uid;
};

// A resource's attributes as the index holds them: key columns as IndexRecord fields (text
// in DICOM form: DA "YYYYMMDD", TM "HHMMSS[.F]"), the other attributes as each level's DICOM
// JSON. A study has no series or instance part; a series carries its first instance (lowest
// InstanceNumber) as the instance part; an instance has all four.
struct IndexedAttributes {
  IndexRecord record;
  bool has_series = false;
  bool has_instance = false;
  std::vector<std::string> modalities_in_study, sop_classes_in_study;
  int number_of_study_related_series = 0;
  int number_of_study_related_instances = 0;
  int number_of_series_related_instances = 0;  // when has_series
  // The distinct non-empty calling and called AE titles of the resource's instances (an
  // instance: its own), sorted.
  std::vector<std::string> calling_ae_titles, called_ae_titles;
};

class RoutingTransaction {
 public:
  // Begins a transaction on a pooled connection. Throws pacsnode::Error(Unavailable).
  explicit RoutingTransaction(ConnectionPool& pool);
  ~RoutingTransaction();  // rolls back unless committed
  RoutingTransaction(const RoutingTransaction&) = delete;
  RoutingTransaction& operator=(const RoutingTransaction&) = delete;

  // The transaction's now(): what "due" is measured against.
  DbMicros now();
  // Locks up to `limit` resources that have pending arrivals and whose recheck time has come
  // (or that arrived since the last look), skipping those another transaction holds.
  std::vector<PendingResource> claim_resources(std::size_t limit);
  // The rules' progress on `resource`, by rule name (rules that never looked are absent).
  std::map<std::string, RuleProgress> rule_progress(const PendingResource& resource);
  // The attributes of the resource at `level` ("instance", "series", "study"); nullopt when
  // it is no longer indexed. With `keys` (DICOM JSON keys, "GGGGEEEE" in upper case), each
  // level's stored DICOM JSON holds only those of its attributes (PostgreSQL extracts
  // them); the key columns and derived attributes are always there. nullptr: all of them.
  std::optional<IndexedAttributes> attributes(const std::string& level, const std::string& uid,
                                              const std::vector<std::string>* keys = nullptr);
  // attributes("instance", uid, keys) of several instances in one query, by SOP Instance
  // UID; those no longer indexed are missing.
  std::map<std::string, IndexedAttributes> instance_attributes(const std::vector<std::string>& sop_instance_uids,
                                                               const std::vector<std::string>* keys = nullptr);
  // The series of a study and the instances of each, as the index holds them: series by
  // SeriesNumber, instances by InstanceNumber (then arrival). Empty when the study is not
  // indexed (or has no series).
  struct SeriesMembers {
    std::string series_uid;
    std::vector<std::string> sop_instance_uids;
  };
  std::vector<SeriesMembers> study_members(const std::string& study_uid);
  // Inserts a job unless its idempotency key exists (db/job_queue.hpp); whether it did.
  bool enqueue(const JobSpec& spec);
  // `rule` has looked at the resource's current version, and fired (made jobs) or not.
  void rule_evaluated(const PendingResource& resource, const std::string& rule, bool fired);
  // Every rule has looked at the current version (nullopt), or the earliest time one of
  // them will be due.
  void resource_evaluated(const PendingResource& resource, std::optional<DbMicros> recheck_at);
  // Locks up to `limit` arrival events, oldest first, skipping those another holds.
  std::vector<ArrivalEvent> claim_events(std::size_t limit);
  void consume_events(const std::vector<std::int64_t>& ids);
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pacsnode::db
