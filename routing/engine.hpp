#pragma once
// Routing on one node: the sweeper (arrivals → firings → jobs), the dispatcher (jobs →
// handlers) and the listener that wakes the dispatcher when a job becomes claimable, each
// on its own thread, over one connection pool. Every node of a cluster runs one; all of
// their state is in the database.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "routing/dispatcher.hpp"
#include "routing/firing.hpp"
#include "routing/sweeper.hpp"

namespace pacsnode::routing {

struct EngineSettings {
  std::string conninfo;
  DispatcherSettings dispatcher;  // an empty owner is filled in: "<host>/<pid>/<random>"
  SweeperSettings sweeper;
  std::chrono::milliseconds sweep_interval{1000};
};

class Engine {
 public:
  Engine(EngineSettings settings, std::vector<RuleSpec> rules, std::map<std::string, JobHandler> handlers);
  ~Engine();  // stop(0)
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  // Stops sweeping and claiming; running jobs get `grace` (then they are queued again).
  void stop(std::chrono::milliseconds grace);
  const std::string& owner() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "<host>/<pid>/<8 hex digits>": unique per process, readable in `pacsnode jobs list`.
std::string make_lease_owner();

}  // namespace pacsnode::routing
