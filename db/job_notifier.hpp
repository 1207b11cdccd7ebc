#pragma once
// LISTEN pacsnode_jobs: the notification that a job became claimable (migration 0005's
// trigger), so that a node's dispatcher starts a new job at once instead of at its next
// poll. One connection, used by one thread. No libpqxx here.
#include <chrono>
#include <memory>
#include <string>

namespace pacsnode::db {

class JobNotifier {
 public:
  explicit JobNotifier(std::string conninfo);
  ~JobNotifier();
  JobNotifier(const JobNotifier&) = delete;
  JobNotifier& operator=(const JobNotifier&) = delete;

  // Waits up to `timeout` for notifications; true if at least one came. Connects (again)
  // as needed; while the database cannot be reached it waits out the timeout and returns
  // false. Never throws.
  bool wait(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pacsnode::db
