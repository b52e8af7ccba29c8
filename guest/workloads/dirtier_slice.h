// One CPU's share of the dirtier's working set, and the checks that guard it.
#pragma once

#include <stdint.h>

namespace guest::dirtier {

struct SliceLayout {
  uint64_t base;       // guest-physical address of page 0 of the whole working set
  uint64_t first;      // index of this slice's first page in the working set
  uint64_t pages;      // pages in this slice
  uint64_t* versions;  // this slice's versions: 0 = never written
};

class Slice {
 public:
  Slice(int cpu, const SliceLayout& layout) : cpu_(cpu), layout_(layout) {}

  uint64_t pages() const { return layout_.pages; }
  uint64_t version(uint64_t page) const { return layout_.versions[page]; }
  uint64_t written() const { return written_; }
  uint64_t verified() const { return verified_; }

  // Exits the guest with a FAIL line unless the page holds exactly its last version.
  void verify(uint64_t page);
  // Verifies the page (once written) and writes its next version.
  void write(uint64_t page);
  // Flips one bit of the page behind the checker's back (self-test of the checker).
  void corrupt(uint64_t page);
  // Exits with a FAIL line unless the versions add up to the number of writes.
  void verify_version_sum() const;

 private:
  uint64_t gpa(uint64_t page) const;

  int cpu_;
  SliceLayout layout_;
  uint64_t written_ = 0;
  uint64_t verified_ = 0;
};

// A full verification pass over a slice, done a few pages at a time so that the caller
// can keep writing and printing heartbeats in between.
class Sweep {
 public:
  void begin() {
    active_ = true;
    cursor_ = 0;
  }
  bool active() const { return active_; }

  // Verifies the next few written pages; returns true when this step ended the pass.
  bool step(Slice& slice);

 private:
  bool active_ = false;
  uint64_t cursor_ = 0;
};

}  // namespace guest::dirtier
