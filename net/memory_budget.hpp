#pragma once
// A byte budget shared by every association of a process: data sets buffered in memory
// (identifiers, and any data set no sink factory sent to disk) are charged to it, so that
// the memory all peers together can make the node hold is bounded, whatever each sends.
#include <atomic>
#include <cstddef>

namespace pacsnode::net {

class MemoryBudget {
 public:
  explicit MemoryBudget(std::size_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes `n` bytes if they fit under the limit; false (nothing taken) otherwise.
  bool try_take(std::size_t n) {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ || used > limit_ - n) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void give_back(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// The process-wide budget associations use unless their settings name another:
// 256 MiB for the data sets of all associations together.
inline constexpr std::size_t kDefaultIncomingBudget = 256u * 1024u * 1024u;
// One association's data sets buffered in memory, all its queued messages together.
inline constexpr std::size_t kAssociationIncomingBudget = 32u * 1024u * 1024u;
MemoryBudget& default_incoming_budget();

}  // namespace pacsnode::net
