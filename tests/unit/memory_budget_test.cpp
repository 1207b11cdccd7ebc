// Memory a peer can make the node hold: data sets buffered in memory are charged to the
// association's budget and to the node's; the A-ABORT on the way out never blocks.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "net/association.hpp"

using namespace pacsnode::net;

TEST_CASE("MemoryBudget: takes what fits, refuses what does not, gives back") {
  MemoryBudget budget(100);
  CHECK(budget.try_take(60));
  CHECK_FALSE(budget.try_take(41));
  CHECK(budget.used() == 60);
  CHECK(budget.try_take(40));
  CHECK_FALSE(budget.try_take(1));
  budget.give_back(100);
  CHECK(budget.used() == 0);
  CHECK_FALSE(budget.try_take(101));
  CHECK_FALSE(budget.try_take(static_cast<std::size_t>(-1)));  // no overflow on huge requests
}

TEST_CASE("MemorySink charges both budgets while it lives and refuses past either") {
  auto own = std::make_shared<MemoryBudget>(1000);
  MemoryBudget shared(1500);
  const std::vector<std::uint8_t> chunk(400, 0x55);
  {
    MemorySink a(MemorySink::kDefaultCap, own, &shared);
    a.write(chunk);
    a.write(chunk);
    CHECK(own->used() == 800);
    CHECK(shared.used() == 800);
    CHECK_THROWS_AS(a.write(chunk), std::length_error);  // the association's 1000 bytes
    CHECK(own->used() == 800);                           // nothing charged for the refused write
    CHECK(shared.used() == 800);

    auto other = std::make_shared<MemoryBudget>(1000);  // a second association
    MemorySink b(MemorySink::kDefaultCap, other, &shared);
    b.write(chunk);
    CHECK_THROWS_AS(b.write(chunk), std::length_error);  // the node's 1500 bytes
    CHECK(other->used() == 400);
    CHECK(shared.used() == 1200);
  }
  CHECK(own->used() == 0);
  CHECK(shared.used() == 0);
}

TEST_CASE("MemorySink refuses a data set over its cap") {
  MemorySink sink(10);
  CHECK_THROWS_AS(sink.write(std::vector<std::uint8_t>(11, 0)), std::length_error);
}

TEST_CASE("send_without_blocking returns at once when the peer stopped reading") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  // Fill the send buffer (non-blocking writes until it is full), as a peer that stopped
  // reading leaves it.
  const int flags = ::fcntl(fds[0], F_GETFL);
  ::fcntl(fds[0], F_SETFL, flags | O_NONBLOCK);
  const std::vector<std::uint8_t> block(65536, 0);
  while (::send(fds[0], block.data(), block.size(), MSG_DONTWAIT) > 0) {
  }
  ::fcntl(fds[0], F_SETFL, flags);  // blocking again: a plain write would now hang
  const std::vector<std::uint8_t> abort_pdu(10, 0x07);
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(send_without_blocking(fds[0], abort_pdu));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // With room, it writes.
  std::vector<std::uint8_t> sink(1 << 20);
  while (::recv(fds[1], sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
  }
  CHECK(send_without_blocking(fds[0], abort_pdu));
  ::close(fds[0]);
  ::close(fds[1]);
}
