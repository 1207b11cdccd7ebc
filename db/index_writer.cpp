#include "db/index_writer.hpp"

#include "base/node_metrics.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.hpp"
#include "db/index_session.hpp"

namespace pacsnode::db {
namespace {

struct Pending {
  IndexRecord record;
  std::function<void(IndexResult)> done;
};

void call(const std::function<void(IndexResult)>& done, IndexResult result) {
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    log::error("index writer: a completion callback threw: {}", e.what());
  } catch (...) {
    log::error("index writer: a completion callback threw");
  }
}

}  // namespace

struct IndexWriter::Impl {
  IndexWriterSettings settings;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Pending> queue;
  bool stopping = false;
  std::size_t announced = 0;  // records on their way to submit()
  std::vector<std::thread> threads;

  // Under `mutex`: one announced record fewer; the last one lets a gathering writer commit.
  void count_off() {
    if (--announced == 0) wake.notify_all();
  }

  // Takes the next batch: waits for a first record, then (max_wait > 0) up to max_wait for
  // the batch to fill. Empty when stopping and nothing is left.
  std::vector<Pending> take() {
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return {};
      if (settings.max_wait.count() > 0 && queue.size() < settings.max_batch && !stopping) {
        const auto deadline = std::chrono::steady_clock::now() + settings.max_wait;
        wake.wait_until(lock, deadline, [&] { return stopping || queue.size() >= settings.max_batch; });
      } else if (settings.gather_wait.count() > 0 && announced > 0 && queue.size() < settings.max_batch &&
                 !stopping) {
        // Another association's instance is being synced: let it join this transaction
        // rather than pay for one of its own right after.
        const auto deadline = std::chrono::steady_clock::now() + settings.gather_wait;
        wake.wait_until(lock, deadline,
                        [&] { return stopping || announced == 0 || queue.size() >= settings.max_batch; });
      }
      if (!queue.empty()) break;  // another writer may have taken it meanwhile
    }
    std::vector<Pending> batch;
    const std::size_t n = std::min(queue.size(), std::max<std::size_t>(settings.max_batch, 1));
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    // Another writer may take what is left while this one commits.
    if (!queue.empty()) wake.notify_one();
    return batch;
  }

  void run(std::unique_ptr<detail::IndexSession> session) {
    for (;;) {
      auto batch = take();
      if (batch.empty()) return;
      std::vector<const IndexRecord*> records;
      records.reserve(batch.size());
      for (const auto& pending : batch) records.push_back(&pending.record);
      auto& m = metrics::node_metrics();
      m.index_commit_batch_size.observe(static_cast<double>(batch.size()));
      const auto begun = std::chrono::steady_clock::now();
      auto results = session->write(records);
      m.index_commit_duration_seconds.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count());
      for (std::size_t i = 0; i < batch.size(); ++i) call(batch[i].done, std::move(results[i]));
    }
  }
};

IndexWriter::IndexWriter(IndexWriterSettings settings) : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
  std::vector<std::unique_ptr<detail::IndexSession>> sessions;
  for (unsigned i = 0; i < std::max(impl_->settings.connections, 1u); ++i) {
    sessions.push_back(
        std::make_unique<detail::IndexSession>(impl_->settings.conninfo, impl_->settings.duplicates,
                                               impl_->settings.route_arrivals));
  }
  for (auto& session : sessions) {
    impl_->threads.emplace_back([impl = impl_.get(), s = std::move(session)]() mutable { impl->run(std::move(s)); });
  }
}

IndexWriter::~IndexWriter() { stop(); }

Arrival& Arrival::operator=(Arrival&& other) noexcept {
  if (this != &other) {
    if (writer_) writer_->arrived();
    writer_ = std::exchange(other.writer_, nullptr);
  }
  return *this;
}

Arrival::~Arrival() {
  if (writer_) writer_->arrived();
}

Arrival IndexWriter::announce() {
  std::lock_guard lock(impl_->mutex);
  ++impl_->announced;
  return Arrival(this);
}

void IndexWriter::arrived() {
  std::lock_guard lock(impl_->mutex);
  impl_->count_off();
}

void IndexWriter::submit(IndexRecord record, std::function<void(IndexResult)> done, Arrival arrival) {
  {
    std::lock_guard lock(impl_->mutex);
    const bool queued = !impl_->stopping;
    if (queued) impl_->queue.push_back({std::move(record), std::move(done)});
    // Counted off with the record queued, under one lock: a gathering writer sees both.
    if (arrival.writer_ == this) {
      arrival.writer_ = nullptr;
      impl_->count_off();
    }
    if (queued) {
      impl_->wake.notify_one();
      return;
    }
  }
  call(done, {IndexOutcome::Failed, "the index writer is stopped", {}});
}

void IndexWriter::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  for (auto& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
}

}  // namespace pacsnode::db
