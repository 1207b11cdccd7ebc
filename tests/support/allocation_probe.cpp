#include "tests/support/allocation_probe.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> g_probing{false};
std::atomic<std::size_t> g_largest{0};

}  // namespace

// Replaces the global nothrow array form for the whole test binary (DCMTK's shared
// libraries included); the default operator delete[] frees with free(), as here.
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  if (g_probing.load(std::memory_order_relaxed)) {
    std::size_t seen = g_largest.load(std::memory_order_relaxed);
    while (size > seen && !g_largest.compare_exchange_weak(seen, size)) {
    }
  }
  return std::malloc(size == 0 ? 1 : size);
}

namespace pacsnode::test {

AllocationProbe::AllocationProbe() {
  g_largest = 0;
  g_probing = true;
}

AllocationProbe::~AllocationProbe() { g_probing = false; }

std::size_t AllocationProbe::largest() const { return g_largest.load(); }

}  // namespace pacsnode::test
