/*
 * buf.h — a growable byte buffer for building messages.
 *
 * Builders append to a `struct buf`; on allocation failure the buffer
 * records `oom` and ignores further writes, so callers check once at the
 * end. The buffer owns `data`; buf_free() releases it. Integers are written
 * big-endian (network order), as both wire protocols' headers use for
 * PostgreSQL; MySQL's little-endian helpers live beside its codec.
 */
#ifndef SWITCHYARD_BUF_H
#define SWITCHYARD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool oom;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Make room for `extra` more bytes; false (and oom set) on failure. */
bool buf_reserve(struct buf *b, size_t extra);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16be(struct buf *b, uint16_t v);
void buf_put_u32be(struct buf *b, uint32_t v);
/* The string and its terminating NUL. */
void buf_put_cstr(struct buf *b, const char *s);
/* Overwrite 4 bytes at `off` (already written) with v, big-endian. */
void buf_patch_u32be(struct buf *b, size_t off, uint32_t v);

static inline uint32_t get_u32be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint16_t get_u16be(const uint8_t *p)
{
	return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}

#endif
