#include "routing/forward.hpp"

#include "base/log.hpp"
#include "dicom/part10.hpp"
#include "net/blocking.hpp"
#include "scu/store.hpp"

namespace pacsnode::routing {
namespace {

// What an attempt has to send: the unacknowledged instances whose files read, and those
// that do not.
struct Selection {
  std::vector<scu::Outgoing> items;
  std::vector<std::pair<std::string, std::string>> unreadable;  // SOP Instance UID, why
  std::size_t acknowledged = 0;  // by earlier attempts
  std::string error;             // the index could not be read
};

class Forwarder {
 public:
  explicit Forwarder(ForwardSettings settings) : settings_(std::move(settings)) {}

  asio::awaitable<JobVerdict> run(JobRun& run) {
    const db::JobRow& job = run.job();
    const auto peer = settings_.peers.find(job.spec.target);
    if (peer == settings_.peers.end()) {
      co_return JobVerdict::give_up("peer '" + job.spec.target + "' is not configured ([[peers]] name)");
    }
    const scu::RemoteNode& remote = peer->second;
    Selection selection = co_await net::run_blocking(run.blocking(), [this, &run]() { return select(run); });
    if (!selection.error.empty()) co_return JobVerdict::retry(selection.error);
    for (const auto& [uid, why] : selection.unreadable) {
      co_await record(run, uid, "failed", std::nullopt, why);
    }
    const std::size_t total = selection.items.size() + selection.unreadable.size();
    if (total == 0) {
      if (selection.acknowledged > 0) co_return JobVerdict::done();
      co_return JobVerdict::give_up("the " + job.spec.level + " has no instances in the index");
    }

    std::size_t sent = 0, warnings = 0, failed = selection.unreadable.size(), unreachable = 0;
    std::string first_error = selection.unreadable.empty() ? std::string() : selection.unreadable.front().second;
    const scu::SendProgress progress = [&](const scu::Outgoing& item,
                                           const scu::SendOutcome& outcome) -> asio::awaitable<bool> {
      const char* what = "failed";
      switch (outcome.result) {
        case scu::SendResult::Success:
          ++sent;
          what = "sent";
          break;
        case scu::SendResult::Warning:
          ++warnings;
          what = "warning";
          break;
        case scu::SendResult::Failed:
          ++failed;
          if (outcome.no_association) ++unreachable;
          if (first_error.empty()) first_error = outcome.why;
          break;
      }
      std::optional<int> status;
      if (outcome.status != 0) status = outcome.status;
      co_await record(run, item.header.sop_instance_uid, what, status, outcome.why);
      co_return !run.stopped();
    };
    const std::size_t items = selection.items.size();
    const auto end = co_await scu::send_to(remote, std::move(selection.items), settings_.association, std::nullopt,
                                           progress, &run.blocking());
    const std::size_t acknowledged = sent + warnings;
    log::info("job {}: {} of {} instance(s) acknowledged by {} ({} with warnings), {} failed{}", job.id, acknowledged,
              total, remote.ae_title, warnings, failed, end.all_released ? "" : "; " + end.why);
    if (run.stopped()) co_return JobVerdict::retry("stopped");
    if (failed > 0) {
      co_return JobVerdict::retry(
          fmt::format("{} of {} instance(s) not stored by {}: {}", total - acknowledged, total, remote.ae_title,
                      first_error),
          unreachable == items && selection.unreadable.empty());
    }
    if (acknowledged < total) {
      co_return JobVerdict::retry(fmt::format("{} of {} instance(s) not sent", total - acknowledged, total));
    }
    if (!end.all_released) {
      // Every instance has its C-STORE-RSP, but the association did not end in a release:
      // a failure; the retry finds nothing left to send and succeeds if the peer is fine.
      co_return JobVerdict::retry("every instance acknowledged, but the " + end.why);
    }
    co_return JobVerdict::done();
  }

 private:
  Selection select(JobRun& run) {
    Selection selection;
    try {
      const auto files = run.queue().instances_to_send(run.job());
      selection.acknowledged = run.queue().acknowledged_count(run.job().id);
      for (const auto& file : files) {
        const auto path = settings_.storage_root / file.file_path;
        try {
          auto header = dicom::read_part10_header(path);
          if (header.sop_instance_uid != file.sop_instance_uid) {
            throw std::runtime_error("file " + path.string() + " holds another instance");
          }
          selection.items.push_back(scu::Outgoing{path, std::move(header)});
        } catch (const std::exception& e) {
          selection.unreadable.emplace_back(file.sop_instance_uid, e.what());
        }
      }
    } catch (const std::exception& e) {
      selection.error = std::string("cannot read the index: ") + e.what();
    }
    return selection;
  }

  // Records one instance's outcome; a database failure is logged (the instance is then
  // sent again by the next attempt, which a peer takes as a duplicate).
  static asio::awaitable<void> record(JobRun& run, const std::string& uid, const char* outcome,
                                      std::optional<int> status, const std::string& error) {
    co_await net::run_blocking(run.blocking(), [&run, &uid, outcome, &status, &error]() {
      try {
        run.queue().record_instance(run.job().id, uid, outcome, status, error, run.job().attempts);
      } catch (const std::exception& e) {
        log::warn("job {}: cannot record the outcome for {}: {}", run.job().id, uid, e.what());
      }
      return 0;
    });
  }

  ForwardSettings settings_;
};

}  // namespace

JobHandler forward_handler(ForwardSettings settings) {
  auto forwarder = std::make_shared<Forwarder>(std::move(settings));
  return [forwarder](JobRun& run) { return forwarder->run(run); };
}

}  // namespace pacsnode::routing
