// Polled 16550 UART on COM1 (no interrupts).
#pragma once

#include <stddef.h>

namespace guest::serial {

// 115200 baud, 8N1, FIFOs on, all UART interrupts off.
void init();

// Blocks until every byte is in the transmitter. Not locked: see console.h.
void write(const char* text, size_t length);

}  // namespace guest::serial
