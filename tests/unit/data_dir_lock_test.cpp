#include <doctest/doctest.h>

#include <fstream>
#include <unistd.h>

#include "app/data_dir_lock.hpp"
#include "tests/support/temp_dir.hpp"

using pacsnode::app::DataDirLock;

TEST_CASE("data dir lock: a second lock on the same directory fails and names the holder") {
  pacsnode::test::TempDir dir;
  const auto data_dir = dir.path() / "data";  // created by try_acquire

  auto first = DataDirLock::try_acquire(data_dir);
  REQUIRE(first.has_value());
  std::ifstream file(data_dir / "pacsnode.lock");
  pid_t written = 0;
  file >> written;
  CHECK(written == ::getpid());

  pid_t holder = -1;
  auto second = DataDirLock::try_acquire(data_dir, &holder);
  CHECK_FALSE(second.has_value());
  CHECK(holder == ::getpid());

  // Moving keeps the lock; destroying the last owner releases it.
  DataDirLock moved = std::move(*first);
  first.reset();
  CHECK_FALSE(DataDirLock::try_acquire(data_dir).has_value());
  { DataDirLock released = std::move(moved); }
  CHECK(DataDirLock::try_acquire(data_dir).has_value());
}
