#pragma once
// The PS3.8 §9.2 state machine as the standard's own table (Table 9-10): states Sta1–Sta13,
// events Evt1–Evt19, actions AE-1…AA-8. Pure: the Association executes the actions.
#include <cstdint>
#include <optional>
#include <string_view>

namespace pacsnode::net {

enum class State : std::uint8_t {
  Sta1 = 1,  // Idle
  Sta2,      // Transport connection open (awaiting A-ASSOCIATE-RQ PDU)
  Sta3,      // Awaiting local A-ASSOCIATE response primitive
  Sta4,      // Awaiting transport connection opening to complete
  Sta5,      // Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU
  Sta6,      // Association established and ready for data transfer
  Sta7,      // Awaiting A-RELEASE-RP PDU
  Sta8,      // Awaiting local A-RELEASE response primitive
  Sta9,      // Release collision requestor side: awaiting A-RELEASE response primitive
  Sta10,     // Release collision acceptor side: awaiting A-RELEASE-RP PDU
  Sta11,     // Release collision requestor side: awaiting A-RELEASE-RP PDU
  Sta12,     // Release collision acceptor side: awaiting A-RELEASE response primitive
  Sta13,     // Awaiting transport connection close indication
};

enum class Event : std::uint8_t {
  Evt1 = 1,  // A-ASSOCIATE request (local user)
  Evt2,      // Transport connect confirmation (local transport service)
  Evt3,      // A-ASSOCIATE-AC PDU (received)
  Evt4,      // A-ASSOCIATE-RJ PDU (received)
  Evt5,      // Transport connection indication (local transport service)
  Evt6,      // A-ASSOCIATE-RQ PDU (received)
  Evt7,      // A-ASSOCIATE response primitive (accept)
  Evt8,      // A-ASSOCIATE response primitive (reject)
  Evt9,      // P-DATA request primitive
  Evt10,     // P-DATA-TF PDU (received)
  Evt11,     // A-RELEASE request primitive
  Evt12,     // A-RELEASE-RQ PDU (received)
  Evt13,     // A-RELEASE-RP PDU (received)
  Evt14,     // A-RELEASE response primitive
  Evt15,     // A-ABORT request primitive
  Evt16,     // A-ABORT PDU (received)
  Evt17,     // Transport connection closed indication
  Evt18,     // ARTIM timer expired
  Evt19,     // Unrecognized or invalid PDU received
};

enum class Action : std::uint8_t {
  AE1, AE2, AE3, AE4, AE5, AE6, AE7, AE8,
  DT1, DT2,
  AR1, AR2, AR3, AR4, AR5, AR6, AR7, AR8, AR9, AR10,
  AA1, AA2, AA3, AA4, AA5, AA6, AA7, AA8,
};

struct Transition {
  Action action;
  // The next state. For AE-6 it is Sta3 when the RQ is acceptable and Sta13 when not; for
  // AR-8 Sta9 for the requestor and Sta10 for the acceptor: the executor picks (see
  // next_state_for).
  State next;
};

// The table entry for (state, event); nullopt where the table has none (an event that
// cannot occur in that state, e.g. a local primitive the user may not issue there).
std::optional<Transition> transition(State state, Event event);

// Resolves the two conditional actions: AE-6 (acceptable RQ?) and AR-8 (are we the requestor?).
State next_state_for(const Transition& t, bool condition);

std::string_view state_name(State s);   // "Sta6"
std::string_view event_name(Event e);   // "Evt10"
std::string_view action_name(Action a); // "DT-2"

}  // namespace pacsnode::net
