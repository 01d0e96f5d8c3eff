/* pg_prepared.c — per-client prepared statement registry; see pg_prepared.h. */
#include "proxy/pg/pg_prepared.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pg/pgc.h"

int pg_parse_body_split(const uint8_t *body, size_t len, struct pg_parse_body *out)
{
	struct pgc_reader r;
	pgc_reader_init(&r, body, len);
	out->name = pgc_read_cstr(&r);
	out->query = pgc_read_cstr(&r);
	if (r.bad)
		return -1;
	out->types = body + r.off;
	out->types_len = len - r.off;
	uint16_t n = pgc_read_u16(&r);
	if (r.bad || (size_t)n * 4 != pgc_reader_left(&r))
		return -1;
	return 0;
}

static void pstmt_free(void *v)
{
	struct pg_pstmt *p = v;
	if (!p)
		return;
	free(p->parse_msg);
	free(p);
}

/* Server-side name: SHA-256 over query, NUL, parameter types. 96 bits of
 * it make a collision between two different statements negligible. */
static int derive_name(const struct pg_parse_body *pb, char out[PG_STMT_NAME_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, pb->query, strlen(pb->query) + 1) == 1 &&
		 EVP_DigestUpdate(ctx, pb->types, pb->types_len) == 1 &&
		 EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	int o = snprintf(out, PG_STMT_NAME_MAX, "sy_");
	for (int i = 0; i < 12; i++)
		o += snprintf(out + o, (size_t)(PG_STMT_NAME_MAX - o), "%02x", md[i]);
	return 0;
}

struct pg_pstmt *pg_prepared_add(struct strmap *reg, const struct pg_parse_body *pb)
{
	struct pg_pstmt *p = calloc(1, sizeof(*p));
	if (!p || derive_name(pb, p->srvname) < 0) {
		free(p);
		return NULL;
	}
	struct buf b;
	buf_init(&b);
	size_t st = pgc_begin(&b, 'P');
	buf_put_cstr(&b, p->srvname);
	buf_put_cstr(&b, pb->query);
	buf_put(&b, pb->types, pb->types_len);
	pgc_end(&b, st);
	if (b.oom) {
		buf_free(&b);
		free(p);
		return NULL;
	}
	p->parse_msg = b.data;
	p->parse_len = b.len;
	bool failed;
	struct pg_pstmt *old = strmap_put(reg, pb->name, p, &failed);
	if (failed) {
		pstmt_free(p);
		return NULL;
	}
	pstmt_free(old);
	return p;
}

const char *pg_pstmt_query(const struct pg_pstmt *ps)
{
	/* pg_prepared_add built the message: header, srvname, query, types. */
	return (const char *)ps->parse_msg + PGC_HEADER_LEN + strlen(ps->srvname) + 1;
}

void pg_prepared_remove(struct strmap *reg, const char *name)
{
	pstmt_free(strmap_del(reg, name));
}

void pg_prepared_clear(struct strmap *reg)
{
	strmap_free(reg, pstmt_free);
}
