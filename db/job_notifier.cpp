#include "db/job_notifier.hpp"

#include <pqxx/pqxx>

#include <thread>

#include "base/log.hpp"

namespace pacsnode::db {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& connection, bool& flag)
      : pqxx::notification_receiver(connection, "pacsnode_jobs"), flag_(flag) {}
  void operator()(const std::string&, int) override { flag_ = true; }

 private:
  bool& flag_;
};

}  // namespace

struct JobNotifier::Impl {
  std::string conninfo;
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<Receiver> receiver;
  bool notified = false;
  bool reported = false;  // a failure to connect is logged once until it works again
};

JobNotifier::JobNotifier(std::string conninfo) : impl_(std::make_unique<Impl>()) {
  impl_->conninfo = std::move(conninfo);
}

JobNotifier::~JobNotifier() {
  impl_->receiver.reset();  // before its connection
}

bool JobNotifier::wait(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  try {
    if (!d.connection || !d.connection->is_open()) {
      d.receiver.reset();
      d.connection = std::make_unique<pqxx::connection>(d.conninfo);
      d.receiver = std::make_unique<Receiver>(*d.connection, d.notified);
      d.reported = false;
    }
    d.notified = false;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    d.connection->await_notification(static_cast<long>(us / 1000000), static_cast<long>(us % 1000000));
    return d.notified;
  } catch (const std::exception& e) {
    if (!d.reported) log::warn("jobs: cannot listen for new jobs (polling instead): {}", e.what());
    d.reported = true;
    d.receiver.reset();
    d.connection.reset();
    std::this_thread::sleep_for(timeout);
    return false;
  }
}

}  // namespace pacsnode::db
