#include "workloads/dirtier_slice.h"

#include "rt/console.h"
#include "rt/exit.h"
#include "rt/x86.h"
#include "workloads/dirtier_page.h"

namespace guest::dirtier {
namespace {

constexpr uint64_t kSweepStepPages = 64;        // pages verified per step
constexpr uint64_t kSweepStepScan = 64 * 1024;  // version entries looked at per step

}  // namespace

uint64_t Slice::gpa(uint64_t page) const {
  return layout_.base + (layout_.first + page) * kPageSize;
}

void Slice::verify(uint64_t page) {
  uint64_t index = layout_.first + page;
  uint64_t expected = layout_.versions[page];
  Mismatch m;
  ++verified_;
  if (verify_page(x86::phys<const uint64_t>(gpa(page)), index, expected, &m)) return;
  console::print(
      "dirtier: FAIL cpu=%d page=%lu gpa=0x%lx expected_version=%lu found_index=%lu "
      "found_version=%lu word=%lu\n",
      cpu_, index, gpa(page), expected, m.found_index, m.found_version, m.word);
  exit_guest(kExitVerifyFailed);
}

void Slice::write(uint64_t page) {
  if (layout_.versions[page] != 0) verify(page);
  uint64_t version = layout_.versions[page] + 1;
  fill_page(x86::phys<uint64_t>(gpa(page)), layout_.first + page, version);
  layout_.versions[page] = version;
  ++written_;
}

void Slice::corrupt(uint64_t page) {
  x86::phys<uint64_t>(gpa(page))[kPageWords / 2] ^= 1;
}

// Every write raises one version by one, so the versions add up to the number of
// writes. This catches a version table restored stale together with its pages, which
// the page checks alone would take for consistent.
void Slice::verify_version_sum() const {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < layout_.pages; ++i) sum += layout_.versions[i];
  if (sum == written_) return;
  console::print("dirtier: FAIL cpu=%d reason=version_sum expected=%lu found=%lu\n", cpu_, written_,
                 sum);
  exit_guest(kExitVerifyFailed);
}

bool Sweep::step(Slice& slice) {
  uint64_t verified = 0;
  for (uint64_t scanned = 0;
       scanned < kSweepStepScan && verified < kSweepStepPages && cursor_ < slice.pages();
       ++scanned, ++cursor_) {
    if (slice.version(cursor_) == 0) continue;
    slice.verify(cursor_);
    ++verified;
  }
  if (cursor_ < slice.pages()) return false;
  slice.verify_version_sum();
  active_ = false;
  return true;
}

}  // namespace guest::dirtier
