/* test_kvpack.c — the packed string-pair list (util/kvpack.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/kvpack.h"

static void test_empty(void **state)
{
	(void)state;
	assert_null(kvpack_get(NULL, "a", false));
	assert_int_equal(kvpack_count(NULL), 0);
	size_t pos = 0;
	const char *k, *v;
	assert_false(kvpack_next(NULL, &pos, &k, &v));
	kvpack_free(NULL);
}

static void test_set_get_replace(void **state)
{
	(void)state;
	struct kvpack *l = NULL;
	assert_int_equal(kvpack_set(&l, "TimeZone", "UTC", true, 8), 0);
	assert_int_equal(kvpack_set(&l, "application_name", "app", true, 8), 0);
	assert_int_equal(kvpack_set(&l, "empty", "", true, 8), 0);
	assert_int_equal(kvpack_count(l), 3);
	assert_string_equal(kvpack_get(l, "timezone", true), "UTC");
	assert_null(kvpack_get(l, "timezone", false));
	assert_string_equal(kvpack_get(l, "empty", true), "");
	/* Replacing keeps the order and the count; the new spelling wins. */
	assert_int_equal(kvpack_set(&l, "TIMEZONE", "Europe/Paris", true, 8), 0);
	assert_int_equal(kvpack_count(l), 3);
	size_t pos = 0;
	const char *k, *v;
	assert_true(kvpack_next(l, &pos, &k, &v));
	assert_string_equal(k, "TIMEZONE");
	assert_string_equal(v, "Europe/Paris");
	assert_true(kvpack_next(l, &pos, &k, &v));
	assert_string_equal(k, "application_name");
	assert_string_equal(v, "app");
	assert_true(kvpack_next(l, &pos, &k, &v));
	assert_string_equal(k, "empty");
	assert_false(kvpack_next(l, &pos, &k, &v));
	/* Case-sensitive lists keep both spellings apart. */
	struct kvpack *m = NULL;
	assert_int_equal(kvpack_set(&m, "a", "1", false, 8), 0);
	assert_int_equal(kvpack_set(&m, "A", "2", false, 8), 0);
	assert_int_equal(kvpack_count(m), 2);
	assert_string_equal(kvpack_get(m, "a", false), "1");
	assert_string_equal(kvpack_get(m, "A", false), "2");
	kvpack_free(m);
	kvpack_free(l);
}

static void test_limit(void **state)
{
	(void)state;
	struct kvpack *l = NULL;
	assert_int_equal(kvpack_set(&l, "a", "1", false, 2), 0);
	assert_int_equal(kvpack_set(&l, "b", "2", false, 2), 0);
	assert_int_equal(kvpack_set(&l, "c", "3", false, 2), -1);
	assert_int_equal(kvpack_count(l), 2);
	assert_null(kvpack_get(l, "c", false));
	/* Replacing is allowed at the limit. */
	assert_int_equal(kvpack_set(&l, "b", "two", false, 2), 0);
	assert_string_equal(kvpack_get(l, "b", false), "two");
	kvpack_free(l);
}

static void test_long_values(void **state)
{
	(void)state;
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct kvpack *l = NULL;
	for (int i = 0; i < 20; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(kvpack_set(&l, key, i % 2 ? big : key, false, 32), 0);
	}
	assert_int_equal(kvpack_count(l), 20);
	assert_string_equal(kvpack_get(l, "k7", false), big);
	assert_string_equal(kvpack_get(l, "k8", false), "k8");
	kvpack_free(l);
}

static void test_share(void **state)
{
	(void)state;
	struct kvpack_cache cache = { 0 };
	struct kvpack *a = NULL, *b = NULL, *c = NULL;
	assert_int_equal(kvpack_set(&a, "TimeZone", "UTC", true, 8), 0);
	assert_int_equal(kvpack_set(&a, "DateStyle", "ISO, MDY", true, 8), 0);
	assert_int_equal(kvpack_set(&b, "TimeZone", "UTC", true, 8), 0);
	assert_int_equal(kvpack_set(&b, "DateStyle", "ISO, MDY", true, 8), 0);
	assert_int_equal(kvpack_set(&c, "TimeZone", "Europe/Paris", true, 8), 0);
	kvpack_share(&cache, &a); /* cached */
	kvpack_share(&cache, &b); /* equal: now a's block */
	kvpack_share(&cache, &c); /* different: cached too */
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	assert_int_equal(cache.shared, 1);
	assert_int_equal(cache.added, 2);
	/* Copy on write: b's change leaves a alone. */
	assert_int_equal(kvpack_set(&b, "TimeZone", "Asia/Tokyo", true, 8), 0);
	assert_ptr_not_equal(a, b);
	assert_string_equal(kvpack_get(a, "timezone", true), "UTC");
	assert_string_equal(kvpack_get(b, "timezone", true), "Asia/Tokyo");
	/* Sharing an already shared block changes nothing. */
	kvpack_share(&cache, &a);
	assert_int_equal(cache.shared, 1);
	/* Trim drops only what the cache alone holds. */
	kvpack_free(c);
	kvpack_cache_trim(&cache);
	int held = 0;
	for (size_t i = 0; i < KVPACK_CACHE_SLOTS; i++)
		held += cache.slot[i] != NULL;
	assert_int_equal(held, 1); /* a's block */
	assert_string_equal(kvpack_get(a, "datestyle", true), "ISO, MDY");
	/* Another holder (a server) keeps a block alive past its lists. */
	struct kvpack *kept = kvpack_ref(a);
	assert_ptr_equal(kept, a);
	assert_null(kvpack_ref(NULL));
	kvpack_free(a);
	kvpack_free(b);
	kvpack_cache_clear(&cache);
	assert_string_equal(kvpack_get(kept, "timezone", true), "UTC");
	kvpack_free(kept); /* the last reference */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_set_get_replace),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_share),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
