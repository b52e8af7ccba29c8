// Line-oriented console on COM1, shared by all CPUs. One call prints whole lines under
// a lock, so output from different CPUs never interleaves within a line. Lines end in
// a bare '\n'.
#pragma once

#include <stdarg.h>
#include <stdint.h>

namespace guest::console {

void init();

void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void vprint(const char* fmt, va_list args);

// Prints only when no other CPU is printing; returns false (printing nothing) otherwise.
// For output that can wait, so that a CPU keeps working instead of spinning: every
// console byte is a VM exit (tens of microseconds), so one line holds the lock long.
bool try_print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace guest::console
