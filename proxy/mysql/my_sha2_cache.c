/* my_sha2_cache.c — the caching_sha2 fast-path cache; see my_sha2_cache.h. */
#include "proxy/mysql/my_sha2_cache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/mysql/myauth.h"
#include "util/strmap.h"

struct entry {
	char *secret;
	char *password;
	uint8_t stage2[MYAUTH_SHA256_LEN];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct strmap users; /* user -> struct entry; zeroed: an empty map */
static bool ready;

static void entry_free(void *v)
{
	struct entry *e = v;
	if (!e)
		return;
	if (e->password) {
		OPENSSL_cleanse(e->password, strlen(e->password));
		free(e->password);
	}
	free(e->secret);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

void my_sha2_cache_put(const char *user, const char *secret, const char *password, size_t len)
{
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->secret = strdup(secret);
	e->password = strndup(password, len);
	if (!e->secret || !e->password) {
		entry_free(e);
		return;
	}
	myauth_sha2_stage2(password, len, e->stage2);
	pthread_mutex_lock(&lock);
	if (!ready) {
		strmap_init(&users);
		ready = true;
	}
	bool failed = false;
	struct entry *old = NULL;
	if (users.count < MY_SHA2_CACHE_MAX || strmap_get(&users, user))
		old = strmap_put(&users, user, e, &failed);
	else
		failed = true;
	pthread_mutex_unlock(&lock);
	entry_free(old);
	if (failed)
		entry_free(e);
}

bool my_sha2_cache_check(const char *user, const char *secret, const uint8_t *resp, size_t resp_len,
			 const uint8_t nonce[20], char **password_out)
{
	bool ok = false;
	*password_out = NULL;
	pthread_mutex_lock(&lock);
	struct entry *e = ready ? strmap_get(&users, user) : NULL;
	if (e && strcmp(e->secret, secret) == 0 && myauth_sha2_check_cached(resp, resp_len, nonce, e->stage2)) {
		ok = true;
		*password_out = strdup(e->password);
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

void my_sha2_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	if (ready)
		strmap_free(&users, entry_free);
	ready = false;
	pthread_mutex_unlock(&lock);
}
