/* fuzz-sources: config/config.c config/keys.c config/userlist.c config/validate.c config/values.c util/buf.c util/log.c util/strmap.c */
/* fuzz-pkgs: inih libpcre2-8 */
/*
 * fuzz_config.c — libFuzzer target for the configuration loader.
 *
 * The input is the text of a switchyard INI file. It is written to a
 * memfd and loaded with cfg_load() through /proc/self/fd/N, exactly as the
 * proxy loads its -c file (inih parsing, every typed setter, validation,
 * shard inheritance, regular expressions compiled with PCRE2). Contracts
 * are checked with abort(): a NULL result always comes with at least one
 * error, every error has a message, and a loaded snapshot is reference
 * counted (ref + unref twice frees it; LeakSanitizer sees the rest).
 *
 * Inputs that name a path under /dev, /proc or /sys are skipped: keys
 * such as auth_file or client_tls_cert_file are opened by the loader, and
 * reading /dev/zero or a pipe is not a parser bug.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

#define FUZZ_MAX_INPUT 65536u

static void check(int ok)
{
	if (!ok)
		abort();
}

static int names_special_path(const uint8_t *data, size_t size)
{
	static const char *const bad[] = { "/dev", "/proc", "/sys", "/run", "fd/" };
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
		if (memmem(data, size, bad[b], strlen(bad[b])))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT || names_special_path(data, size))
		return 0;
	int fd = memfd_create("fuzz-config.ini", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	struct cfg_errors errs = { 0 };
	struct cfg *c = cfg_load(path, &errs);
	if (!c) {
		check(cfg_errors_count(&errs) > 0);
	} else {
		check(cfg_errors_count(&errs) == 0);
		check(cfg_ref(c) == c);
		cfg_unref(c);
		/* Lookups on whatever was loaded. */
		for (size_t i = 0; i < c->n_clusters; i++)
			check(cfg_find_cluster(c, c->clusters[i].name) != NULL);
		for (size_t i = 0; i < c->n_users; i++)
			check(cfg_find_user(c, c->users[i].name) != NULL);
		cfg_unref(c);
	}
	for (size_t i = 0; i < errs.n; i++)
		check(errs.items[i].msg != NULL && errs.items[i].msg[0] != '\0');
	cfg_errors_free(&errs);
	close(fd);
	return 0;
}
