#include "db/job_states.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace pacsnode::db {
namespace {

using enum JobState;

constexpr int kStates = 6;
constexpr int kEvents = 9;

struct Cell {
  bool present = false;
  JobState next = Queued;
  JobState exhausted = Queued;
};

constexpr Cell C(JobState next) { return Cell{true, next, next}; }
constexpr Cell C(JobState next, JobState exhausted) { return Cell{true, next, exhausted}; }
constexpr Cell X{};  // no entry

// One row per event, one column per state. Done is final: nothing leaves it.
// clang-format off
constexpr std::array<std::array<Cell, kStates>, kEvents> kTable = {{
  //             Queued          Running               Done  Failed          Dead            Cancelled
  /*Claim    */ {C(Running),     X,                    X,    C(Running),     X,              X},
  /*TakeOver */ {X,              C(Running),           X,    X,              X,              X},
  /*Expire   */ {X,              C(Dead),              X,    X,              X,              X},
  /*Succeed  */ {X,              C(Done),              X,    X,              X,              X},
  /*Fail     */ {X,              C(Failed, Dead),      X,    X,              X,              X},
  /*GiveUp   */ {X,              C(Dead),              X,    X,              X,              X},
  /*Release  */ {X,              C(Queued),            X,    X,              X,              X},
  /*Retry    */ {X,              X,                    X,    C(Queued),      C(Queued),      C(Queued)},
  /*Cancel   */ {C(Cancelled),   C(Cancelled),         X,    C(Cancelled),   X,              X},
}};
// clang-format on

constexpr std::array<JobGuard, kEvents> kGuards = {
    JobGuard::Due,        JobGuard::LeaseExpired, JobGuard::LeaseExpired, JobGuard::LeaseOwner, JobGuard::LeaseOwner,
    JobGuard::LeaseOwner, JobGuard::LeaseOwner,   JobGuard::None,         JobGuard::None,
};

constexpr std::array<std::string_view, kStates> kStateNames = {"queued", "running", "done",
                                                               "failed", "dead",    "cancelled"};
constexpr std::array<std::string_view, kEvents> kEventNames = {"claim",   "take-over", "expire",
                                                               "succeed", "fail",      "give-up",
                                                               "release", "retry",     "cancel"};

}  // namespace

std::optional<JobTransition> job_transition(JobState from, JobEvent event) {
  const auto s = static_cast<std::size_t>(from);
  const auto e = static_cast<std::size_t>(event);
  if (s >= kStates || e >= kEvents) return std::nullopt;
  const Cell& cell = kTable[e][s];
  if (!cell.present) return std::nullopt;
  return JobTransition{cell.next, cell.exhausted};
}

std::vector<JobState> job_states_leaving(JobEvent event) {
  std::vector<JobState> states;
  for (int s = 0; s < kStates; ++s) {
    if (job_transition(static_cast<JobState>(s), event)) states.push_back(static_cast<JobState>(s));
  }
  return states;
}

JobGuard job_guard(JobEvent event) {
  const auto e = static_cast<std::size_t>(event);
  return e < kEvents ? kGuards[e] : JobGuard::None;
}

std::string_view job_state_name(JobState state) {
  const auto s = static_cast<std::size_t>(state);
  return s < kStates ? kStateNames[s] : "?";
}

std::optional<JobState> parse_job_state(std::string_view name) {
  for (int s = 0; s < kStates; ++s) {
    if (kStateNames[static_cast<std::size_t>(s)] == name) return static_cast<JobState>(s);
  }
  return std::nullopt;
}

std::string_view job_event_name(JobEvent event) {
  const auto e = static_cast<std::size_t>(event);
  return e < kEvents ? kEventNames[e] : "?";
}

std::string job_state_sql_list(JobEvent event) {
  std::string list;
  for (const JobState state : job_states_leaving(event)) {
    if (!list.empty()) list += ',';
    list += '\'';
    list += job_state_name(state);
    list += '\'';
  }
  return list;
}

std::chrono::milliseconds retry_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                      double unit_random) {
  const double factor = 0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0);
  const int doublings = std::clamp(attempt, 1, 62) - 1;
  // In floating point: base · 2^61 overflows any integer count of milliseconds.
  const double full = std::min(static_cast<double>(base.count()) * std::ldexp(1.0, doublings),
                               static_cast<double>(max.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(full * factor));
}

std::string job_states_leaving_text(JobEvent event) {
  std::string out;
  const auto states = job_states_leaving(event);
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i) out += i + 1 == states.size() ? " or " : ", ";
    out += job_state_name(states[i]);
  }
  return out;
}

}  // namespace pacsnode::db
