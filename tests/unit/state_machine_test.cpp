#include <doctest/doctest.h>

#include "net/state_machine.hpp"

using namespace pacsnode::net;

namespace {
Transition must(State s, Event e) {
  auto t = transition(s, e);
  REQUIRE_MESSAGE(t.has_value(), state_name(s) << " " << event_name(e));
  return *t;
}
}  // namespace

TEST_CASE("acceptor happy path: Sta1 -> Sta2 -> Sta3 -> Sta6 -> Sta8 -> Sta13 -> Sta1") {
  CHECK(must(State::Sta1, Event::Evt5).action == Action::AE5);
  CHECK(must(State::Sta1, Event::Evt5).next == State::Sta2);
  auto ae6 = must(State::Sta2, Event::Evt6);
  CHECK(ae6.action == Action::AE6);
  CHECK(next_state_for(ae6, true) == State::Sta3);
  CHECK(next_state_for(ae6, false) == State::Sta13);
  CHECK(must(State::Sta3, Event::Evt7).next == State::Sta6);
  CHECK(must(State::Sta3, Event::Evt8).action == Action::AE8);
  CHECK(must(State::Sta6, Event::Evt10).action == Action::DT2);
  CHECK(must(State::Sta6, Event::Evt12).action == Action::AR2);
  CHECK(must(State::Sta8, Event::Evt9).action == Action::AR7);  // we may still send P-DATA
  CHECK(must(State::Sta8, Event::Evt14).action == Action::AR4);
  CHECK(must(State::Sta13, Event::Evt17).action == Action::AR5);
  CHECK(must(State::Sta13, Event::Evt18).action == Action::AA2);
}

TEST_CASE("requestor happy path and P-DATA while awaiting release (AR-6)") {
  CHECK(must(State::Sta1, Event::Evt1).next == State::Sta4);
  CHECK(must(State::Sta4, Event::Evt2).next == State::Sta5);
  CHECK(must(State::Sta5, Event::Evt3).action == Action::AE3);
  CHECK(must(State::Sta5, Event::Evt4).action == Action::AE4);
  CHECK(must(State::Sta6, Event::Evt11).next == State::Sta7);
  CHECK(must(State::Sta7, Event::Evt10).action == Action::AR6);
  CHECK(must(State::Sta7, Event::Evt10).next == State::Sta7);
  CHECK(must(State::Sta7, Event::Evt13).action == Action::AR3);
  CHECK(must(State::Sta7, Event::Evt13).next == State::Sta1);
}

TEST_CASE("release collision ends in Sta1 for the requestor and in Sta13 then Sta1 for the acceptor") {
  // Both sides sent A-RELEASE-RQ: each is in Sta7 and receives the other's RQ.
  auto ar8 = must(State::Sta7, Event::Evt12);
  CHECK(ar8.action == Action::AR8);
  // Requestor: Sta9 -> (send RP) Sta11 -> (RP received) Sta1.
  State s = next_state_for(ar8, true);
  CHECK(s == State::Sta9);
  CHECK(must(s, Event::Evt14).action == Action::AR9);
  s = must(s, Event::Evt14).next;
  CHECK(s == State::Sta11);
  CHECK(must(s, Event::Evt13).action == Action::AR3);
  CHECK(must(s, Event::Evt13).next == State::Sta1);
  // Acceptor: Sta10 -> (RP received) Sta12 -> (send RP) Sta13 -> (close) Sta1.
  s = next_state_for(ar8, false);
  CHECK(s == State::Sta10);
  CHECK(must(s, Event::Evt13).action == Action::AR10);
  s = must(s, Event::Evt13).next;
  CHECK(s == State::Sta12);
  CHECK(must(s, Event::Evt14).action == Action::AR4);
  s = must(s, Event::Evt14).next;
  CHECK(s == State::Sta13);
  CHECK(must(s, Event::Evt17).next == State::Sta1);
}

TEST_CASE("A-ABORT received closes in every state where a connection exists") {
  for (State s : {State::Sta2, State::Sta3, State::Sta5, State::Sta6, State::Sta7, State::Sta8, State::Sta9,
                  State::Sta10, State::Sta11, State::Sta12, State::Sta13}) {
    auto t = must(s, Event::Evt16);
    CHECK(t.next == State::Sta1);
    CHECK((t.action == Action::AA2 || t.action == Action::AA3));
  }
  // A-ABORT before the RQ (Sta2) just closes: AA-2.
  CHECK(must(State::Sta2, Event::Evt16).action == Action::AA2);
}

TEST_CASE("invalid or unexpected PDUs abort (AA-1 in Sta2, AA-8 once associated, AA-7 in Sta13)") {
  CHECK(must(State::Sta2, Event::Evt19).action == Action::AA1);
  CHECK(must(State::Sta2, Event::Evt10).action == Action::AA1);  // P-DATA before the RQ
  for (State s : {State::Sta3, State::Sta5, State::Sta6, State::Sta7, State::Sta8}) {
    CHECK(must(s, Event::Evt19).action == Action::AA8);
    CHECK(must(s, Event::Evt6).action == Action::AA8);  // a second RQ
  }
  CHECK(must(State::Sta6, Event::Evt3).action == Action::AA8);
  CHECK(must(State::Sta13, Event::Evt19).action == Action::AA7);
  CHECK(must(State::Sta13, Event::Evt10).action == Action::AA6);  // ignored while closing
  CHECK(must(State::Sta13, Event::Evt6).action == Action::AA7);
}

TEST_CASE("transport closed gives A-P-ABORT in every associated state") {
  for (State s : {State::Sta3, State::Sta4, State::Sta5, State::Sta6, State::Sta7, State::Sta8, State::Sta9,
                  State::Sta10, State::Sta11, State::Sta12}) {
    CHECK(must(s, Event::Evt17).action == Action::AA4);
  }
  CHECK(must(State::Sta2, Event::Evt17).action == Action::AA5);
}

TEST_CASE("local primitives are only valid where the standard allows them") {
  CHECK_FALSE(transition(State::Sta5, Event::Evt9).has_value());   // no P-DATA before AC
  CHECK_FALSE(transition(State::Sta7, Event::Evt9).has_value());   // no P-DATA after our release RQ
  CHECK_FALSE(transition(State::Sta2, Event::Evt11).has_value());
  CHECK(transition(State::Sta6, Event::Evt15)->action == Action::AA1);
  CHECK(transition(State::Sta4, Event::Evt15)->action == Action::AA2);
}

TEST_CASE("names") {
  CHECK(state_name(State::Sta13) == "Sta13");
  CHECK(event_name(Event::Evt19) == "Evt19");
  CHECK(action_name(Action::AR10) == "AR-10");
  CHECK(action_name(Action::AA8) == "AA-8");
}
