/*
 * myle.h — little-endian integer helpers for the MySQL protocol.
 *
 * MySQL writes every integer little-endian (util/buf.h's helpers are
 * big-endian, for PostgreSQL). Readers take a pointer the caller has
 * already bounds-checked; writers append to a struct buf and inherit its
 * oom rule (a failed append is recorded once in b->oom).
 */
#ifndef SWITCHYARD_MYLE_H
#define SWITCHYARD_MYLE_H

#include <stdint.h>

#include "util/buf.h"

static inline uint16_t myle_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

static inline uint32_t myle_get_u24(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static inline uint32_t myle_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t myle_get_u64(const uint8_t *p)
{
	return (uint64_t)myle_get_u32(p) | ((uint64_t)myle_get_u32(p + 4) << 32);
}

static inline void myle_set_u24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

static inline void myle_set_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void myle_put_u16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	buf_put(b, x, 2);
}

static inline void myle_put_u24(struct buf *b, uint32_t v)
{
	uint8_t x[3];
	myle_set_u24(x, v);
	buf_put(b, x, 3);
}

static inline void myle_put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4];
	myle_set_u32(x, v);
	buf_put(b, x, 4);
}

static inline void myle_put_u64(struct buf *b, uint64_t v)
{
	myle_put_u32(b, (uint32_t)v);
	myle_put_u32(b, (uint32_t)(v >> 32));
}

#endif
