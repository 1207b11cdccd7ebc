#include "net/state_machine.hpp"

#include <array>

namespace pacsnode::net {
namespace {

using enum Action;
using enum State;

constexpr int kStates = 13;
constexpr int kEvents = 19;

struct Cell {
  bool present = false;
  Action action = AA1;
  State next = Sta1;
};

constexpr Cell C(Action a, State s) { return Cell{true, a, s}; }
constexpr Cell X{};  // no entry

// PS3.8 Table 9-10, one row per event, one column per state (Sta1 … Sta13). Where an
// action's next state depends on a condition (AE-6, AR-8), the first alternative is listed
// and next_state_for resolves it.
// clang-format off
constexpr std::array<std::array<Cell, kStates>, kEvents> kTable = {{
  //         Sta1          Sta2          Sta3          Sta4          Sta5          Sta6          Sta7           Sta8          Sta9          Sta10          Sta11         Sta12         Sta13
  /*Evt1 */ {C(AE1,Sta4),  X,            X,            X,            X,            X,            X,             X,            X,            X,             X,            X,            X},
  /*Evt2 */ {X,            X,            X,            C(AE2,Sta5),  X,            X,            X,             X,            X,            X,             X,            X,            X},
  /*Evt3 */ {X,            C(AA1,Sta13), C(AA8,Sta13), X,            C(AE3,Sta6),  C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA6,Sta13)},
  /*Evt4 */ {X,            C(AA1,Sta13), C(AA8,Sta13), X,            C(AE4,Sta1),  C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA6,Sta13)},
  /*Evt5 */ {C(AE5,Sta2),  X,            X,            X,            X,            X,            X,             X,            X,            X,             X,            X,            X},
  /*Evt6 */ {X,            C(AE6,Sta3),  C(AA8,Sta13), X,            C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA7,Sta13)},
  /*Evt7 */ {X,            X,            C(AE7,Sta6),  X,            X,            X,            X,             X,            X,            X,             X,            X,            X},
  /*Evt8 */ {X,            X,            C(AE8,Sta13), X,            X,            X,            X,             X,            X,            X,             X,            X,            X},
  /*Evt9 */ {X,            X,            X,            X,            X,            C(DT1,Sta6),  X,             C(AR7,Sta8),  X,            X,             X,            X,            X},
  /*Evt10*/ {X,            C(AA1,Sta13), C(AA8,Sta13), X,            C(AA8,Sta13), C(DT2,Sta6),  C(AR6,Sta7),   C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA6,Sta13)},
  /*Evt11*/ {X,            X,            X,            X,            X,            C(AR1,Sta7),  X,             X,            X,            X,             X,            X,            X},
  /*Evt12*/ {X,            C(AA1,Sta13), C(AA8,Sta13), X,            C(AA8,Sta13), C(AR2,Sta8),  C(AR8,Sta9),   C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA6,Sta13)},
  /*Evt13*/ {X,            C(AA1,Sta13), C(AA8,Sta13), X,            C(AA8,Sta13), C(AA8,Sta13), C(AR3,Sta1),   C(AA8,Sta13), C(AA8,Sta13), C(AR10,Sta12), C(AR3,Sta1),  C(AA8,Sta13), C(AA6,Sta13)},
  /*Evt14*/ {X,            X,            X,            X,            X,            X,            X,             C(AR4,Sta13), C(AR9,Sta11), X,             X,            C(AR4,Sta13), X},
  /*Evt15*/ {X,            X,            C(AA1,Sta13), C(AA2,Sta1),  C(AA1,Sta13), C(AA1,Sta13), C(AA1,Sta13),  C(AA1,Sta13), C(AA1,Sta13), C(AA1,Sta13),  C(AA1,Sta13), C(AA1,Sta13), X},
  /*Evt16*/ {X,            C(AA2,Sta1),  C(AA3,Sta1),  X,            C(AA3,Sta1),  C(AA3,Sta1),  C(AA3,Sta1),   C(AA3,Sta1),  C(AA3,Sta1),  C(AA3,Sta1),   C(AA3,Sta1),  C(AA3,Sta1),  C(AA2,Sta1)},
  /*Evt17*/ {X,            C(AA5,Sta1),  C(AA4,Sta1),  C(AA4,Sta1),  C(AA4,Sta1),  C(AA4,Sta1),  C(AA4,Sta1),   C(AA4,Sta1),  C(AA4,Sta1),  C(AA4,Sta1),   C(AA4,Sta1),  C(AA4,Sta1),  C(AR5,Sta1)},
  /*Evt18*/ {X,            C(AA2,Sta1),  X,            X,            X,            X,            X,             X,            X,            X,             X,            X,            C(AA2,Sta1)},
  /*Evt19*/ {X,            C(AA1,Sta13), C(AA8,Sta13), X,            C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA8,Sta13),  C(AA8,Sta13), C(AA8,Sta13), C(AA7,Sta13)},
}};
// clang-format on

}  // namespace

std::optional<Transition> transition(State state, Event event) {
  const int s = static_cast<int>(state) - 1;
  const int e = static_cast<int>(event) - 1;
  if (s < 0 || s >= kStates || e < 0 || e >= kEvents) return std::nullopt;
  const Cell& cell = kTable[e][s];
  if (!cell.present) return std::nullopt;
  return Transition{cell.action, cell.next};
}

State next_state_for(const Transition& t, bool condition) {
  switch (t.action) {
    case AE6: return condition ? Sta3 : Sta13;   // RQ acceptable?
    case AR8: return condition ? Sta9 : Sta10;   // are we the association-requestor?
    default: return t.next;
  }
}

std::string_view state_name(State s) {
  static constexpr std::string_view kNames[] = {"Sta1", "Sta2", "Sta3", "Sta4",  "Sta5",  "Sta6", "Sta7",
                                                "Sta8", "Sta9", "Sta10", "Sta11", "Sta12", "Sta13"};
  const int i = static_cast<int>(s) - 1;
  return i >= 0 && i < kStates ? kNames[i] : "Sta?";
}

std::string_view event_name(Event e) {
  static constexpr std::string_view kNames[] = {"Evt1",  "Evt2",  "Evt3",  "Evt4",  "Evt5",  "Evt6",  "Evt7",
                                                "Evt8",  "Evt9",  "Evt10", "Evt11", "Evt12", "Evt13", "Evt14",
                                                "Evt15", "Evt16", "Evt17", "Evt18", "Evt19"};
  const int i = static_cast<int>(e) - 1;
  return i >= 0 && i < kEvents ? kNames[i] : "Evt?";
}

std::string_view action_name(Action a) {
  static constexpr std::string_view kNames[] = {"AE-1", "AE-2", "AE-3", "AE-4", "AE-5", "AE-6", "AE-7",
                                                "AE-8", "DT-1", "DT-2", "AR-1", "AR-2", "AR-3", "AR-4",
                                                "AR-5", "AR-6", "AR-7", "AR-8", "AR-9", "AR-10", "AA-1",
                                                "AA-2", "AA-3", "AA-4", "AA-5", "AA-6", "AA-7", "AA-8"};
  return kNames[static_cast<int>(a)];
}

}  // namespace pacsnode::net
