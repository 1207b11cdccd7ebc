#include "routing/analyze.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "base/error.hpp"
#include "base/log.hpp"
#include "base/node_metrics.hpp"
#include "db/connection_pool.hpp"
#include "db/findings.hpp"
#include "db/job_queue.hpp"
#include "dicom/extract.hpp"
#include "ingest/ingest.hpp"
#include "net/blocking.hpp"
#include "report/device_uid.hpp"
#include "report/measurement_report.hpp"
#include "storage/store.hpp"

namespace pacsnode::routing {
namespace {

// The namespace of the UIDs analyses make (reports, their series, tracking UIDs): random,
// fixed forever.
constexpr std::array<std::uint8_t, 16> kAnalysisNamespace = {0x3f, 0x8a, 0x51, 0xc2, 0x7d, 0x04, 0x4b, 0x9e,
                                                             0xb1, 0x26, 0x5e, 0xa0, 0x13, 0xcf, 0x68, 0x94};

// A UID that is a function of `key` (a name-based UUID under 2.25), so that an attempt
// repeated after a crash makes the same instance again.
std::string uid_for(std::string_view key) { return report::name_based_uid(kAnalysisNamespace, key); }

std::string code_key(const plugins::Code& code) { return code.scheme + ":" + code.value; }
std::string code_key(const std::optional<plugins::Code>& code) { return code ? code_key(*code) : std::string(); }

// An object the node made (or accepted from a plug-in), to be forwarded to the report peers.
struct Made {
  std::string study_uid, series_uid, sop_instance_uid;
};

class Analyzer {
 public:
  explicit Analyzer(AnalyzeSettings settings)
      : settings_(std::move(settings)), pool_(std::make_shared<db::ConnectionPool>(settings_.conninfo, 2)) {}

  JobVerdict attempt(JobRun& run) {
    const db::JobRow& job = run.job();
    const auto plugin = settings_.plugins.find(job.spec.target);
    if (plugin == settings_.plugins.end()) {
      return JobVerdict::give_up("plug-in '" + job.spec.target + "' is not configured ([[plugins]] name)");
    }
    const auto input = db::analysis_input(*pool_, job.spec.level, job.spec.resource_uid());
    if (!input || input->instances.empty()) {
      return JobVerdict::give_up("the " + job.spec.level + " " + job.spec.resource_uid() + " has no instances in the index");
    }

    plugins::RunRequest request;
    request.plugin = plugin->second;
    request.job_id = job.id;
    request.attempt = job.attempts;
    request.rule = job.spec.rule;
    request.firing = job.spec.firing;
    request.level = job.spec.level;
    request.patient = input->patient;
    request.study = input->study;
    request.series = input->series;
    request.work_root = settings_.work_root;
    std::set<std::string> input_uids;
    std::vector<std::filesystem::path> analysed;
    for (const auto& i : input->instances) {
      const auto path = storage::resolve_under(settings_.storage_root, i.file_path);
      request.files.push_back({path, i.sop_instance_uid, i.sop_class_uid, i.series_instance_uid, i.instance_number});
      analysed.push_back(path);
      input_uids.insert(i.sop_instance_uid);
    }

    plugins::RunOutcome outcome = plugins::run_plugin(request, &run.stop_flag());
    try {
      run.queue().record_output(job.id, outcome.output_tail);
    } catch (const std::exception& e) {
      log::warn("job {}: cannot record the plug-in's output: {}", job.id, e.what());
    }
    const std::string where = fmt::format(" (job folder {})", outcome.job_dir.string());
    metrics::node_metrics()
        .plugin_runs_total
        .with({outcome.kind == plugins::RunOutcome::Kind::Done                ? "done"
               : outcome.kind == plugins::RunOutcome::Kind::NotApplicable     ? "not_applicable"
               : outcome.kind == plugins::RunOutcome::Kind::TemporaryFailure ? "temporary_failure"
                                                                              : "failed"})
        .inc();
    switch (outcome.kind) {
      case plugins::RunOutcome::Kind::NotApplicable:
        plugins::remove_job_dir(outcome.job_dir);
        return JobVerdict::done("not applicable" + (outcome.message.empty() ? std::string() : ": " + outcome.message));
      case plugins::RunOutcome::Kind::TemporaryFailure:
        plugins::remove_job_dir(outcome.job_dir);
        return JobVerdict::retry("temporary failure: " + outcome.message, true);
      case plugins::RunOutcome::Kind::Failed:
        return JobVerdict::retry(outcome.message + where);
      case plugins::RunOutcome::Kind::Done:
        break;
    }

    try {
      std::vector<Made> made;
      // The plug-in's own objects: every one checked before any is stored.
      std::vector<IndexRecord> objects;
      for (const auto& file : outcome.dicom_outputs) {
        IndexRecord r;
        try {
          r = dicom::extract_index_record(file);
        } catch (const std::exception& e) {
          return JobVerdict::retry(fmt::format("out/{}: not a readable DICOM file: {}", file.filename().string(), e.what()) + where);
        }
        if (r.patient.patient_id != input->patient_id || r.study.study_instance_uid != input->study_instance_uid) {
          return JobVerdict::retry(fmt::format("out/{}: belongs to patient '{}' study {}, not to the input's", file.filename().string(),
                                               r.patient.patient_id, r.study.study_instance_uid) + where);
        }
        if (input_uids.count(r.instance.sop_instance_uid) != 0) {
          return JobVerdict::retry(fmt::format("out/{}: reuses the SOP Instance UID of an input instance", file.filename().string()) +
                                   where);
        }
        objects.push_back(std::move(r));
      }
      const bool has_groups = outcome.result && !outcome.result->groups.empty();
      if (!has_groups && objects.empty()) {
        return JobVerdict::retry("result.json has no Measurements and the plug-in wrote no DICOM object" + where);
      }
      const ingest::Origin origin{settings_.ae_title, settings_.ae_title, {}};
      for (std::size_t i = 0; i < objects.size(); ++i) {
        settings_.ingest->store_file(outcome.dicom_outputs[i], origin);
        made.push_back({objects[i].study.study_instance_uid, objects[i].series.series_instance_uid,
                        objects[i].instance.sop_instance_uid});
      }

      std::string note;
      if (has_groups) {
        const plugins::AnalysisResult& result = *outcome.result;
        const std::string& plugin_name = job.spec.target;
        const std::string input_key = fmt::format("{}\n{}\n{}\n{}\n{}", plugin_name, result.algorithm_version,
                                                  job.spec.level, job.spec.resource_uid(), input->fingerprint);
        if (auto existing = db::find_report(*pool_, plugin_name, result.algorithm_version, job.spec.level,
                                            job.spec.resource_uid(), input->fingerprint)) {
          note = "unchanged input: already reported in SR " + existing->sr_sop_instance_uid;
          made.push_back({existing->study_instance_uid, existing->sr_series_instance_uid, existing->sr_sop_instance_uid});
        } else {
          const auto previous = db::latest_report(*pool_, plugin_name, job.spec.level, job.spec.resource_uid());
          std::vector<std::string> tracking_uids;
          for (const auto& g : result.groups) {
            db::TrackingKey key{input->patient_id, input->issuer_of_patient_id, plugin_name, code_key(g.finding),
                                code_key(g.finding_site), code_key(g.laterality), g.tracking_identifier};
            const std::string candidate = uid_for(fmt::format("tracking\n{}\n{}\n{}\n{}\n{}\n{}\n{}", key.patient_id,
                                                              key.issuer_of_patient_id, key.plugin, key.finding,
                                                              key.finding_site, key.laterality, key.tracking_identifier));
            tracking_uids.push_back(db::tracking_uid(*pool_, key, candidate));
          }
          report::ReportInput in;
          in.result = &result;
          in.analysed_files = analysed;
          in.tracking_uids = tracking_uids;
          in.sop_instance_uid = uid_for("report\n" + input_key);
          in.series_instance_uid = uid_for("report series\n" + input_key);
          if (previous) {
            in.predecessor = report::ReportReference{previous->study_instance_uid, previous->sr_series_instance_uid,
                                                     previous->sr_sop_class_uid, previous->sr_sop_instance_uid};
          }
          in.implementation_class_uid = settings_.implementation_class_uid;
          in.implementation_version_name = settings_.implementation_version_name;
          const report::BuiltReport built = report::build_measurement_report(in);
          settings_.ingest->store_part10(built.part10, built.sop_instance_uid, origin);

          db::NewReport row;
          row.plugin = plugin_name;
          row.plugin_version = result.algorithm_version;
          row.level = job.spec.level;
          row.resource_uid = job.spec.resource_uid();
          row.input_fingerprint = input->fingerprint;
          row.input_instances = static_cast<int>(input->instances.size());
          row.job_id = job.id;
          row.patient_id = input->patient_id;
          row.issuer_of_patient_id = input->issuer_of_patient_id;
          row.study_instance_uid = built.study_instance_uid;
          row.study_date = input->study_date;
          row.sr_sop_class_uid = built.sop_class_uid;
          row.sr_sop_instance_uid = built.sop_instance_uid;
          row.sr_series_instance_uid = built.series_instance_uid;
          if (previous) row.replaces_sop_instance_uid = previous->sr_sop_instance_uid;
          row.summary = result.summary;
          std::vector<db::NewFinding> findings;
          for (std::size_t g = 0; g < result.groups.size(); ++g) {
            const auto& group = result.groups[g];
            for (const auto& item : group.items) {
              findings.push_back({tracking_uids[g], group.tracking_identifier, group.finding.meaning,
                                  group.laterality ? group.laterality->meaning : std::string(),
                                  code_key(item.quantity), item.quantity.meaning,
                                  item.derivation ? item.derivation->meaning : std::string(), item.value,
                                  item.unit.value, item.unit.meaning});
            }
          }
          db::record_report(*pool_, row, findings);
          note = "reported in SR " + built.sop_instance_uid +
                 (previous ? " (replaces " + previous->sr_sop_instance_uid + ")" : std::string());
          made.push_back({built.study_instance_uid, built.series_instance_uid, built.sop_instance_uid});
        }
      }

      for (const auto& m : made) {
        for (const auto& peer : settings_.report_peers) {
          db::JobSpec spec;
          spec.kind = "forward";
          spec.target = peer;
          spec.level = "instance";
          spec.study_uid = m.study_uid;
          spec.series_uid = m.series_uid;
          spec.sop_instance_uid = m.sop_instance_uid;
          spec.rule = job.spec.rule;
          spec.content_version = 0;
          spec.priority = job.spec.priority;
          spec.max_attempts = settings_.forward_max_attempts;
          if (run.queue().enqueue(spec)) log::info("job {}: {} queued for {}", job.id, m.sop_instance_uid, peer);
        }
      }
      plugins::remove_job_dir(outcome.job_dir);
      return JobVerdict::done(note);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::InvalidArgument) {
        // The result cannot make a report: running the same plug-in on the same input again
        // would not help.
        return JobVerdict::give_up(std::string("cannot write the report: ") + e.what() + where);
      }
      return JobVerdict::retry(e.what() + where);
    } catch (const std::exception& e) {
      return JobVerdict::retry(e.what() + where);
    }
  }

 private:
  AnalyzeSettings settings_;
  std::shared_ptr<db::ConnectionPool> pool_;
};

}  // namespace

JobHandler analyze_handler(AnalyzeSettings settings) {
  auto analyzer = std::make_shared<Analyzer>(std::move(settings));
  return [analyzer](JobRun& run) -> asio::awaitable<JobVerdict> {
    co_return co_await net::run_blocking(run.blocking(), [&analyzer, &run]() {
      try {
        return analyzer->attempt(run);
      } catch (const std::exception& e) {
        return JobVerdict::retry(e.what());
      }
    });
  };
}

}  // namespace pacsnode::routing
