#pragma once
// What the index stores about one instance, level by level: filled by dicom/ from a data
// set, written by db/. Plain data; text is UTF-8; dates and times are DICOM strings (DA
// "YYYYMMDD", TM "HHMMSS.FFFFFF"), empty when absent, converted (or kept in `attributes`
// when unparseable) by db/.
#include <cstdint>
#include <optional>
#include <string>

namespace pacsnode {

struct PatientRecord {
  std::string patient_id;            // (0010,0020)
  std::string issuer_of_patient_id;  // (0010,0021), "" when absent
  std::string patient_name;          // (0010,0010), UTF-8, as received (components kept)
  std::string patient_birth_date;    // (0010,0030) DA
  std::string patient_sex;           // (0010,0040)
  std::string attributes_json;       // the level's other non-bulk attributes, DICOM JSON model object ("{}" if none)
};

struct StudyRecord {
  std::string study_instance_uid;        // (0020,000D)
  std::string study_date;                // (0008,0020) DA
  std::string study_time;                // (0008,0030) TM
  std::string accession_number;          // (0008,0050)
  std::string study_id;                  // (0020,0010)
  std::string study_description;         // (0008,1030)
  std::string referring_physician_name;  // (0008,0090)
  std::string attributes_json;
};

struct SeriesRecord {
  std::string series_instance_uid;  // (0020,000E)
  std::string modality;             // (0008,0060)
  std::optional<int> series_number; // (0020,0011)
  std::string series_description;   // (0008,103E)
  std::string body_part_examined;   // (0018,0015)
  std::string series_date;          // (0008,0021) DA
  std::string series_time;          // (0008,0031) TM
  std::string attributes_json;
};

struct InstanceRecord {
  std::string sop_instance_uid;     // (0008,0018)
  std::string sop_class_uid;        // (0008,0016)
  std::optional<int> instance_number;  // (0020,0013)
  std::string content_date;         // (0008,0023) DA
  std::string content_time;         // (0008,0033) TM
  std::string attributes_json;
  // Filled by the ingest path, not from the data set:
  std::string calling_ae_title;
  std::string called_ae_title;      // the title it was sent to ([node] ae_title or an extra one); "" when not by DIMSE
  std::string transfer_syntax_uid;
  std::string file_path;            // relative to the storage root
  std::int64_t file_size = 0;
  std::string checksum;             // "<algorithm>:<hex>"
};

struct IndexRecord {
  PatientRecord patient;
  StudyRecord study;
  SeriesRecord series;
  InstanceRecord instance;
};

}  // namespace pacsnode
