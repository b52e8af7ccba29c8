#include "rt/lapic.h"

#include "rt/x86.h"

namespace guest::lapic {
namespace {

constexpr uint64_t kBase = 0xfee00000;
constexpr uint32_t kId = 0x20;
constexpr uint32_t kIcrLow = 0x300;
constexpr uint32_t kIcrHigh = 0x310;
constexpr uint32_t kIcrPending = 0x00001000;  // delivery status

volatile uint32_t& reg(uint32_t offset) {
  return *x86::phys<volatile uint32_t>(kBase + offset);
}

}  // namespace

uint32_t read(uint32_t offset) {
  return reg(offset);
}

void write(uint32_t offset, uint32_t value) {
  reg(offset) = value;
}

uint32_t id() {
  return reg(kId) >> 24;
}

void send_ipi(uint32_t apic_id, uint32_t command) {
  while ((reg(kIcrLow) & kIcrPending) != 0) x86::pause();
  reg(kIcrHigh) = apic_id << 24;
  reg(kIcrLow) = command;
}

}  // namespace guest::lapic
