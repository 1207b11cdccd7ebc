#pragma once
// The largest single allocation made through `new (std::nothrow) T[n]` — how DCMTK allocates
// element values — while a probe is alive, so that a test can show a parser sized nothing
// from an unchecked length field. The replaced operator forwards to malloc, as the default
// does; only one probe at a time, and not across threads.
#include <cstddef>

namespace pacsnode::test {

class AllocationProbe {
 public:
  AllocationProbe();
  ~AllocationProbe();
  AllocationProbe(const AllocationProbe&) = delete;
  AllocationProbe& operator=(const AllocationProbe&) = delete;

  std::size_t largest() const;
};

}  // namespace pacsnode::test
