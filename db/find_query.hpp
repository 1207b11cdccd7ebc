#pragma once
// C-FIND identifier → SQL against the index (PS3.4 C.2.2.2, docs/dicom-conformance.md §4).
// Pure: builds text and parameters, talks to no database. This header does not include
// libpqxx.
//
// Matching, per key (values are trimmed of DICOM padding first):
//  * empty value, or only `*`: universal (no condition).
//  * single value: `=`, case-sensitive; PN case-insensitive (see below).
//  * `*` / `?` wildcards: LIKE ... ESCAPE '\' after escaping `\ % _`; `?` is one character
//    (PostgreSQL's `_` counts characters in a UTF-8 database, not bytes).
//  * PN: compared upper-case against the generated `*_norm` column (upper($n) in SQL), with
//    trailing `^`, `=` and spaces stripped on both sides. A query without `=` is matched
//    against the alphabetic group only ("YAMADA^TARO" matches
//    "Yamada^Taro=山田^太郎"); a query with `=` against the whole name, so `*=*` matches
//    only names that have a second group — it is not universal.
//  * DA: YYYYMMDD, or ranges A-B, -B, A- (inclusive). An absent stored date (NULL) matches
//    no range and no single value. Wildcards are refused.
//  * TM: HH[MM[SS[.F{1,6}]]], single or range, compared as time. A value of reduced precision
//    stands for its whole interval: `1200` alone matches 12:00:00–12:00:59.999999, and as an
//    upper bound `-1200` includes 12:00:30. A range that crosses midnight (`2200-0600`) and
//    wildcards are refused. Date and time keys are matched independently (no combined
//    date-time matching is negotiated).
//  * DT (keys in the attributes jsonb): single value or range A-B, -B, A-, compared as
//    instants with UTC offsets honoured (dicom_dt(), migration 0003; no offset = UTC); a
//    single value matches stored values whose first instant lies within its interval.
//    The range's `-` is told from an offset's sign by what parses; wildcards are refused.
//  * UI: single value or List of UID `a\b\c` (`= ANY($n::text[])`); `*`/`?` are refused.
//  * ModalitiesInStudy: `CT` matches a study whose modalities include CT; `CT\MR` is OR
//    (any listed modality present), not AND. SOPClassesInStudy likewise.
//  * IS columns (SeriesNumber, InstanceNumber, the counts): compared as integers (`7`
//    matches `007`); a non-integer value is refused.
//  * NumberOfPatientRelated{Studies,Series,Instances} (0020,1200/1202/1204, PS3.4 C.3.1):
//    keys of the patient, so answered and matched where the patient's keys are (PATIENT
//    level in Patient Root, STUDY level in Study Root), as IS. Computed in SQL from the
//    study rows' kept counts, by a LATERAL subquery joined only when one of them is
//    requested; otherwise their columns are ''.
//  * Other keys (no typed column): matched against the level's `attributes` jsonb, first
//    value (`attributes->'GGGGEEEE'->'Value'->>0`; PN its Alphabetic group), single value
//    and wildcards only; group 0010 keys go to the patient row, others to the query level's.
//  * Sequences (PS3.4 C.2.2.2.6): a sequence key whose item holds keys with values matches
//    a row whose stored sequence (the level's jsonb, as for other keys without a column) has
//    at least one item in which every such key matches, each by the rules above for a key
//    without a column (single value, wildcards, PN, DA); an empty item or a zero-length
//    sequence is universal. One level deep: sequences inside the item are not matched.
//  * Specific Character Set, Query/Retrieve Level and Retrieve AE Title are never matched.
//    Keys of levels below the query level are ignored; keys above it other than the unique
//    key (and IssuerOfPatientID, which qualifies PatientID) are ignored (hierarchical
//    query; relational queries are not supported).
//  * Unique keys above the query level: when present and not empty, a single value (a
//    wildcard or a list is refused); when absent or empty, they constrain nothing, so an
//    IMAGE query with only StudyInstanceUID answers every instance of the study (what
//    viewers send, QIDO's /studies/{s}/instances; Orthanc and dcm4chee answer it too).
//
// Indexes: the PN condition is written on exactly the expression migration 0002 indexes
// (btree for `=` and prefix LIKE, trigram for the rest), and the STUDY and PATIENT levels'
// ORDER BY are the orders of the study_newest_first and patient_name_order indexes
// (migration 0004), so a query matching many rows streams from an index without a sort. tests/integration/find_plan_pgtest.cpp
// holds both to it: change the SQL's shape and that test says which index was lost.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::db {

enum class QueryLevel { Patient, Study, Series, Image };
enum class InformationModel { PatientRoot, StudyRoot };

struct FindKey {
  std::uint32_t tag;   // (gggg,eeee) as 0xggggeeee
  std::string vr;      // "PN", "DA", ...
  std::string value;   // raw DICOM string value as received, UTF-8
  std::vector<FindKey> item = {};  // SQ: the keys of the query's item
};

struct FindRequest {
  InformationModel model;
  QueryLevel level;
  std::vector<FindKey> keys;
};

struct SqlQuery {
  std::string sql;
  std::vector<std::string> params;  // $1..$n, all text, never NULL
};

// The SELECT for `request`, at most `limit` rows (0: no limit) after skipping `offset`,
// ordered: patients by name, studies newest first, series by SeriesNumber, instances by
// InstanceNumber (each with the row id last, so that pages do not overlap).
// Throws pacsnode::Error(InvalidArgument) for requests PS3.4 refuses: Study Root with
// PATIENT level, a wildcard or multi-valued unique key above the query level (an absent or
// empty one is accepted and constrains nothing), wildcards in UI, DA or TM keys, malformed
// dates and times, a TM range crossing midnight, a non-integer IS value, multiple values
// outside UI keys and ModalitiesInStudy.
SqlQuery build_find_sql(const FindRequest& request, std::size_t limit, std::size_t offset = 0);

// The row shape of build_find_sql's result: every row holds the columns of each level from
// the patient down to the query level, in this order, whatever the information model
// (so a Study Root STUDY row carries PatientName and PatientID). Every column is text and
// never NULL ('' when absent): dates YYYYMMDD, times HHMMSS[.ffffff] without trailing
// zeros in the fraction, integers in decimal, arrays joined with `\`, `*_attributes` the
// level's jsonb in the DICOM JSON model.
//   patient:  patient_id, issuer_of_patient_id, patient_name, patient_birth_date,
//             patient_sex, number_of_patient_related_studies,
//             number_of_patient_related_series, number_of_patient_related_instances
//             ('' unless requested where the patient's keys are matched),
//             patient_attributes
//   study:    study_instance_uid, study_date, study_time, accession_number, study_id,
//             study_description, referring_physician_name, modalities_in_study,
//             sop_classes_in_study, number_of_study_related_series,
//             number_of_study_related_instances, study_attributes
//   series:   series_instance_uid, modality, series_number, series_description,
//             body_part_examined, series_date, series_time,
//             number_of_series_related_instances, series_attributes
//   instance: sop_instance_uid, sop_class_uid, instance_number, content_date, content_time,
//             instance_attributes
std::vector<std::string_view> find_row_columns(QueryLevel level);

// Runs a built query in a read-only transaction on a connection of its own and returns the
// rows as text (NULL as ""). Throws pacsnode::Error: Unavailable when the server cannot be
// reached, Internal otherwise.
std::vector<std::vector<std::string>> run_find(const std::string& conninfo, const SqlQuery& query);

}  // namespace pacsnode::db
