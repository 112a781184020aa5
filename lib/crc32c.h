/*
 * crc32c.h: CRC-32C (Castagnoli), the checksum of every stored object envelope.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise; both give
 * the same values (crc32c("123456789") == 0xe3069283).
 */
#ifndef VV_CRC32C_H
#define VV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0, feed consecutive pieces. */
uint32_t vv_crc32c(uint32_t crc, const void *data, size_t n);

#endif
