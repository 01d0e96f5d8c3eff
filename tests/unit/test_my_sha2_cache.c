/* test_my_sha2_cache.c — the caching_sha2 fast-path cache (my_sha2_cache.h):
 * a hit gives the password back; another secret (a reload changed it), a
 * wrong answer or an unknown user miss; a new entry replaces the old. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/mysql/my_sha2_cache.h"
#include "proxy/mysql/myauth.h"

static void answer(const char *pw, const uint8_t nonce[20], uint8_t out[32])
{
	assert_int_equal(myauth_sha2_scramble(pw, strlen(pw), nonce, out), 32);
}

static void test_hit_miss_replace(void **state)
{
	(void)state;
	uint8_t nonce[20], resp[32];
	assert_int_equal(myauth_nonce(nonce), 0);
	char *pw = NULL;
	answer("s3cret", nonce, resp);
	assert_false(my_sha2_cache_check("app", "0xHASH1", resp, 32, nonce, &pw));
	assert_null(pw);

	my_sha2_cache_put("app", "0xHASH1", "s3cret", 6);
	assert_true(my_sha2_cache_check("app", "0xHASH1", resp, 32, nonce, &pw));
	assert_string_equal(pw, "s3cret");
	free(pw);
	pw = NULL;
	/* the secret changed (reload): not this entry */
	assert_false(my_sha2_cache_check("app", "0xHASH2", resp, 32, nonce, &pw));
	/* another user, a wrong answer, a short answer */
	assert_false(my_sha2_cache_check("bob", "0xHASH1", resp, 32, nonce, &pw));
	uint8_t bad[32];
	answer("wrong", nonce, bad);
	assert_false(my_sha2_cache_check("app", "0xHASH1", bad, 32, nonce, &pw));
	assert_false(my_sha2_cache_check("app", "0xHASH1", resp, 31, nonce, &pw));
	/* another nonce: the same password answers differently */
	uint8_t nonce2[20], resp2[32];
	assert_int_equal(myauth_nonce(nonce2), 0);
	answer("s3cret", nonce2, resp2);
	assert_true(my_sha2_cache_check("app", "0xHASH1", resp2, 32, nonce2, &pw));
	free(pw);
	pw = NULL;

	/* a new full authentication after the change replaces the entry */
	my_sha2_cache_put("app", "0xHASH2", "n3w", 3);
	answer("n3w", nonce, resp);
	assert_true(my_sha2_cache_check("app", "0xHASH2", resp, 32, nonce, &pw));
	assert_string_equal(pw, "n3w");
	free(pw);
	pw = NULL;
	assert_false(my_sha2_cache_check("app", "0xHASH1", resp, 32, nonce, &pw));

	my_sha2_cache_clear();
	assert_false(my_sha2_cache_check("app", "0xHASH2", resp, 32, nonce, &pw));
	/* usable again after a clear */
	my_sha2_cache_put("app", "0xHASH2", "n3w", 3);
	assert_true(my_sha2_cache_check("app", "0xHASH2", resp, 32, nonce, &pw));
	free(pw);
	my_sha2_cache_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_miss_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
