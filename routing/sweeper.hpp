#pragma once
// The sweeper: turns arrivals into firings and firings into jobs. Each pass claims, in
// short transactions, the series and studies with arrivals some rule has not looked at
// (FOR UPDATE SKIP LOCKED: several nodes sweep one database, each resource is handled by
// one), decides per rule whether it is due (routing/firing.hpp), evaluates the due rules on
// the index's attributes, inserts one job per action of each rule that matched, and marks
// what it looked at — all in the transaction that claimed the rows. Then the same for the
// arrival events of instance-level rules. A node that crashes mid-pass loses nothing: its
// transaction rolls back and the rows are claimable again.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "db/connection_pool.hpp"
#include "routing/firing.hpp"

namespace pacsnode::routing {

struct SweeperSettings {
  int max_attempts = 10;             // of the jobs it creates
  std::size_t resource_batch = 50;   // resources per transaction
  std::size_t event_batch = 200;     // arrival events per transaction
};

struct SweepPass {
  std::size_t resources = 0;  // series and studies looked at
  std::size_t events = 0;     // arrival events consumed
  std::size_t firings = 0;    // rules that fired
  std::size_t jobs = 0;       // jobs created
};

class Sweeper {
 public:
  Sweeper(db::ConnectionPool& pool, std::vector<RuleSpec> rules, SweeperSettings settings = {});

  // Handles everything due now, batch after batch. Throws pacsnode::Error when the
  // database fails (what was committed stays committed; the rest waits for the next pass).
  SweepPass sweep();

  const std::vector<RuleSpec>& rules() const { return rules_; }

 private:
  std::size_t sweep_resources(SweepPass& pass);
  std::size_t sweep_events(SweepPass& pass);

  // The DICOM JSON keys the rules of `level` read; nullptr: all (a rule that does not say).
  const std::vector<std::string>* keys(Level level) const;

  db::ConnectionPool& pool_;
  std::vector<RuleSpec> rules_;  // non-fallback rules before fallback rules
  SweeperSettings settings_;
  std::optional<std::vector<std::string>> keys_[3];  // by Level
};

}  // namespace pacsnode::routing
