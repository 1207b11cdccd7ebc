// The `pacsnode` subcommands other than `serve`: each returns the process exit code.
#include "app/commands.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "app/data_dir_lock.hpp"
#include "app/database_runtime.hpp"
#include "app/table.hpp"
#include "db/findings.hpp"
#include "app/settings.hpp"
#include "app/version.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "db/database.hpp"
#include "db/index_writer.hpp"
#include "db/patient_history.hpp"
#include "dicom/find_identifier.hpp"
#include "scp/reconcile.hpp"
#include "scu/echo.hpp"
#include "scu/find.hpp"
#include "scu/move.hpp"
#include "scu/store.hpp"
#include "storage/store.hpp"

namespace pacsnode::app {
namespace {

// What the command-line SCUs use: our AE title, one timeout for connecting, ARTIM and
// answers (at least `min_idle_s` for answers, which may take a while for large data sets).
net::AssociationSettings requestor_settings(const std::string& our_aet, int timeout_s, int min_idle_s = 0) {
  net::AssociationSettings settings;
  settings.ae_title = our_aet;
  settings.artim_timeout = std::chrono::seconds(timeout_s);
  settings.connect_timeout = std::chrono::seconds(timeout_s);
  settings.idle_timeout = std::chrono::seconds(std::max(timeout_s, min_idle_s));
  settings.implementation_class_uid = kImplementationClassUid;
  settings.implementation_version_name = kImplementationVersionName;
  return settings;
}

}  // namespace

int run_echo(const std::string& target, const std::string& our_aet, int timeout_s) {
  auto remote = scu::parse_remote(target);
  if (!remote) {
    std::cerr << "pacsnode echo: '" << target << "' is not AET@HOST:PORT\n";
    return kExitConfig;
  }
  const net::AssociationSettings settings = requestor_settings(our_aet, timeout_s);
  const auto outcome = scu::echo_blocking(*remote, settings);
  if (!outcome.ok) {
    std::cerr << "pacsnode echo: " << remote->ae_title << "@" << remote->host << ":" << remote->port << ": "
              << outcome.message << "\n";
    return kExitFailure;
  }
  std::cout << remote->ae_title << "@" << remote->host << ":" << remote->port << ": " << outcome.message << " in "
            << outcome.elapsed.count() << " ms\n";
  return 0;
}

int run_store(const std::string& target, const std::vector<std::string>& paths, const std::string& our_aet,
              int timeout_s) {
  auto remote = scu::parse_remote(target);
  if (!remote) {
    std::cerr << "pacsnode store: '" << target << "' is not AET@HOST:PORT\n";
    return kExitConfig;
  }
  std::vector<std::string> errors;
  std::vector<std::filesystem::path> inputs(paths.begin(), paths.end());
  auto files = scu::collect_files(inputs, errors);
  const net::AssociationSettings settings = requestor_settings(our_aet, timeout_s, 60);
  scu::StoreSummary summary;
  try {
    summary = scu::store_files_blocking(*remote, std::move(files), settings);
  } catch (const std::exception& e) {
    std::cerr << "pacsnode store: " << e.what() << "\n";
    return kExitFailure;
  }
  for (const auto& e : errors) summary.failures.push_back(e);
  summary.failed += errors.size();
  for (const auto& f : summary.failures) std::cerr << "failed: " << f << "\n";
  std::cout << "sent " << summary.sent << ", warnings " << summary.warnings << ", failed " << summary.failed << "\n";
  return summary.failed == 0 ? 0 : kExitFailure;
}

// `db reindex`: rebuild the index from the files (the node must not be running).
int run_reindex(const Config& config) {
  pid_t holder = 0;
  auto lock = DataDirLock::try_acquire(config.data_dir, &holder);
  if (!lock) {
    std::cerr << "pacsnode db reindex: the node is running (pid " << holder << ") on " << config.data_dir.string()
              << "; stop it first\n";
    return kExitFailure;
  }
  try {
    DatabaseRuntime runtime(config);
    db::Database database({runtime.conninfo()});
    database.migrate();
    storage::Store store(storage_settings(config));
    auto index_settings = index_writer_settings(config, runtime.conninfo());
    index_settings.route_arrivals = false;  // routed when they first arrived
    db::IndexWriter index(index_settings);
    const auto report = scp::reconcile(store, index, runtime.conninfo(), true);
    index.stop();
    std::cout << "reindexed " << report.files_indexed << " of " << report.files_total << " file(s); "
              << report.files_unreadable << " unreadable\n";
    return report.files_unreadable == 0 ? 0 : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "pacsnode db reindex: " << e.what() << "\n";
    return kExitFailure;
  }
}

// `db migrate|status`: joins the running node's database, or (embedded, node not running)
// starts the cluster for the duration of the command while holding the data-dir lock.
int run_db(const Config& config, bool migrate) {
  std::optional<DataDirLock> lock;
  if (config.database_url.empty()) lock = DataDirLock::try_acquire(config.data_dir);
  try {
    DatabaseRuntime runtime(config);
    db::Database database({runtime.conninfo()});
    if (migrate) {
      const int applied = database.migrate();
      std::cout << applied << " migration(s) applied\n";
    }
    const auto status = database.migration_status();
    for (const auto& m : status) {
      std::printf("%04d  %-32s %s\n", m.version, m.name.c_str(),
                  m.applied ? ("applied " + m.applied_at).c_str() : "pending");
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pacsnode db: " << e.what() << "\n";
    return kExitFailure;
  }
}

// `history`: the studies of one patient (PatientID + IssuerOfPatientID) from the index.
int run_history(const Config& config, const std::string& patient_id, const std::optional<std::string>& issuer,
                bool json, const FindingsQuery& findings) {
  std::optional<DataDirLock> lock;
  if (config.database_url.empty()) lock = DataDirLock::try_acquire(config.data_dir);
  try {
    DatabaseRuntime runtime(config);
    const auto issuers = db::patient_issuers(runtime.conninfo(), patient_id);
    auto quoted = [](const std::string& s) { return "\"" + s + "\""; };
    auto issuer_list = [&] {
      std::string list;
      for (const auto& i : issuers) list += (list.empty() ? "" : ", ") + quoted(i);
      return list;
    };
    if (issuers.empty()) {
      std::cerr << "pacsnode history: no patient with PatientID " << quoted(patient_id) << " in the index\n";
      return kExitFailure;
    }
    if (!issuer && issuers.size() > 1) {
      std::cerr << "pacsnode history: PatientID " << quoted(patient_id) << " exists under several issuers ("
                << issuer_list() << "); choose one with --issuer\n";
      return kExitFailure;
    }
    const std::string chosen = issuer.value_or("");
    if (std::find(issuers.begin(), issuers.end(), chosen) == issuers.end()) {
      std::cerr << "pacsnode history: no patient with PatientID " << quoted(patient_id) << " and issuer "
                << quoted(chosen) << "; the index has it under issuer(s) " << issuer_list() << " (use --issuer)\n";
      return kExitFailure;
    }
    if (findings.over_time()) {
      // One finding's values over time.
      std::string values_json;
      const auto n = print_findings(runtime.conninfo(), patient_id, chosen, findings, json, &values_json);
      const std::string what = !findings.name.empty() ? quoted(findings.name) : "tracking UID " + findings.tracking_uid;
      if (json) {
        std::cout << "{\"PatientID\":" << json_string(patient_id) << ",\"IssuerOfPatientID\":" << json_string(chosen)
                  << ",\"values\":" << values_json << "}\n";
      } else {
        std::cout << n << " value(s) of " << what << " for PatientID " << quoted(patient_id) << ", issuer "
                  << quoted(chosen) << "\n";
      }
      if (n == 0) {
        std::cerr << "pacsnode history: no finding " << what << " for this patient\n";
        return kExitFailure;
      }
      return 0;
    }
    const auto studies = db::patient_history(runtime.conninfo(), patient_id, chosen);
    if (json) {
      std::string out = "{\"PatientID\":" + json_string(patient_id) + ",\"IssuerOfPatientID\":" + json_string(chosen) +
                        ",\"studies\":[";
      for (std::size_t i = 0; i < studies.size(); ++i) {
        const auto& s = studies[i];
        if (i) out += ",";
        out += "\n{\"StudyDate\":" + json_string(s.study_date) + ",\"StudyTime\":" + json_string(s.study_time) +
               ",\"AccessionNumber\":" + json_string(s.accession_number) +
               ",\"ModalitiesInStudy\":" + json_string(s.modalities_in_study) +
               ",\"StudyDescription\":" + json_string(s.study_description) +
               ",\"NumberOfStudyRelatedSeries\":" + std::to_string(s.number_of_series) +
               ",\"NumberOfStudyRelatedInstances\":" + std::to_string(s.number_of_instances) +
               ",\"StudyInstanceUID\":" + json_string(s.study_instance_uid) + "}";
      }
      std::string values_json;
      print_findings(runtime.conninfo(), patient_id, chosen, findings, true, &values_json);
      out += studies.empty() ? "]" : "\n]";
      out += ",\"findings\":" + values_json + "}";
      std::cout << out << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : studies) {
      rows.push_back({s.study_date, s.study_time, s.accession_number, s.modalities_in_study, s.study_description,
                      std::to_string(s.number_of_series), std::to_string(s.number_of_instances),
                      s.study_instance_uid});
    }
    print_table({"DATE", "TIME", "ACCESSION", "MODALITIES", "DESCRIPTION", "SERIES", "IMAGES", "STUDY UID"}, rows);
    std::cout << studies.size() << " stud" << (studies.size() == 1 ? "y" : "ies") << " for PatientID "
              << quoted(patient_id) << ", issuer " << quoted(chosen) << "\n";
    if (!db::patient_findings(runtime.conninfo(), patient_id, chosen, {}).empty()) {
      std::cout << "\nFindings (analysis plug-ins), oldest study first:\n";
      print_findings(runtime.conninfo(), patient_id, chosen, findings, false, nullptr);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pacsnode history: " << e.what() << "\n";
    return kExitFailure;
  }
}

// "Keyword=Value" / "Keyword" (a return key, empty value) → identifier keys; nullopt after
// printing why when a keyword is unknown. QueryRetrieveLevel is skipped: --level sets it.
std::optional<std::vector<dicom::IdentifierKey>> identifier_keys(const std::vector<std::string>& keys,
                                                                 const char* command) {
  std::vector<dicom::IdentifierKey> out;
  for (const auto& text : keys) {
    const auto eq = text.find('=');
    const std::string keyword = text.substr(0, eq);
    auto key = dicom::key_for_keyword(keyword);
    if (!key) {
      std::cerr << "pacsnode " << command << ": '" << keyword << "' is not a DICOM keyword\n";
      return std::nullopt;
    }
    if (key->tag == 0x00080052) continue;
    if (eq != std::string::npos) key->value = text.substr(eq + 1);
    out.push_back(std::move(*key));
  }
  return out;
}

// `find`: C-FIND SCU. `keys` are "Keyword=Value" or "Keyword" (a return key, empty value).
int run_find(const std::string& target, const std::string& level, const std::string& root,
             const std::vector<std::string>& keys, const std::string& our_aet, int timeout_s, bool json) {
  auto remote = scu::parse_remote(target);
  if (!remote) {
    std::cerr << "pacsnode find: '" << target << "' is not AET@HOST:PORT\n";
    return kExitConfig;
  }
  scu::FindQuery query;
  query.level = level;
  query.patient_root = root.empty() ? level == "PATIENT" : root == "patient";
  if (level == "PATIENT" && !query.patient_root) {
    std::cerr << "pacsnode find: the Study Root model has no PATIENT level (use --root patient)\n";
    return kExitConfig;
  }
  auto parsed = identifier_keys(keys, "find");
  if (!parsed) return kExitConfig;
  query.keys = std::move(*parsed);
  const net::AssociationSettings settings = requestor_settings(our_aet, timeout_s);
  const auto requested = query.keys;
  const auto outcome = scu::find_blocking(*remote, std::move(query), settings);

  auto value_of = [](const std::map<std::uint32_t, std::string>& match, std::uint32_t tag) {
    const auto it = match.find(tag);
    return it == match.end() ? std::string() : it->second;
  };
  if (json) {
    std::string out = "[";
    for (std::size_t i = 0; i < outcome.matches.size(); ++i) {
      out += i ? ",\n{" : "\n{";
      for (std::size_t k = 0; k < requested.size(); ++k) {
        if (k) out += ",";
        out += json_string(dicom::keyword_of(requested[k].tag)) + ":" +
               json_string(value_of(outcome.matches[i], requested[k].tag));
      }
      out += "}";
    }
    out += outcome.matches.empty() ? "]" : "\n]";
    std::cout << out << "\n";
  } else {
    std::vector<std::string> header;
    for (const auto& key : requested) header.push_back(dicom::keyword_of(key.tag));
    std::vector<std::vector<std::string>> rows;
    for (const auto& match : outcome.matches) {
      std::vector<std::string> row;
      for (const auto& key : requested) row.push_back(value_of(match, key.tag));
      rows.push_back(std::move(row));
    }
    // A refused query prints no empty table, only the reason.
    if (!header.empty() && (outcome.ok || !rows.empty())) print_table(header, rows);
  }
  const std::string where = remote->ae_title + "@" + remote->host + ":" + std::to_string(remote->port);
  std::cout.flush();
  if (!outcome.ok) {
    std::cerr << "pacsnode find: " << where << ": " << outcome.message << " (" << outcome.matches.size()
              << " match(es) received)\n";
    return kExitFailure;
  }
  (json ? std::cerr : std::cout) << outcome.matches.size() << " match" << (outcome.matches.size() == 1 ? "" : "es")
                                 << " from " << where << " in " << outcome.elapsed.count() << " ms\n";
  return 0;
}

// `move`: C-MOVE SCU.
int run_move(const std::string& target, const std::string& destination, const std::string& level,
             const std::string& root, const std::vector<std::string>& keys, const std::string& our_aet,
             int timeout_s) {
  auto remote = scu::parse_remote(target);
  if (!remote) {
    std::cerr << "pacsnode move: '" << target << "' is not AET@HOST:PORT\n";
    return kExitConfig;
  }
  scu::MoveRequest request;
  request.level = level;
  request.destination = destination;
  request.patient_root = root.empty() ? level == "PATIENT" : root == "patient";
  if (level == "PATIENT" && !request.patient_root) {
    std::cerr << "pacsnode move: the Study Root model has no PATIENT level (use --root patient)\n";
    return kExitConfig;
  }
  auto parsed = identifier_keys(keys, "move");
  if (!parsed) return kExitConfig;
  request.keys = std::move(*parsed);
  const net::AssociationSettings settings = requestor_settings(our_aet, timeout_s);
  const auto outcome = scu::move_blocking(*remote, std::move(request), settings, [](const scu::MoveCounts& c) {
    std::cerr << "pending: " << c.completed << " completed, " << c.failed << " failed, " << c.warning
              << " warning(s), " << c.remaining << " remaining\n";
  });
  const std::string where = remote->ae_title + "@" + remote->host + ":" + std::to_string(remote->port);
  const auto& c = outcome.counts;
  const std::string counts = c.completed < 0 ? std::string()
                                             : fmt::format(" ({} completed, {} failed, {} warning(s))", c.completed,
                                                           std::max(c.failed, 0), std::max(c.warning, 0));
  for (const auto& uid : outcome.failed_uids) std::cout << "failed: " << uid << "\n";
  if (!outcome.ok) {
    std::cerr << "pacsnode move: " << where << ": " << outcome.message << counts << "\n";
    return kExitFailure;
  }
  std::cout << "moved to " << destination << " by " << where << counts << " in " << outcome.elapsed.count()
            << " ms\n";
  return 0;
}

}  // namespace pacsnode::app
