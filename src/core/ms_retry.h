/*
 * Retry policy in one place: which outcomes are worth retrying, and how long to wait.
 */
#ifndef MS_RETRY_H
#define MS_RETRY_H

#include <stdint.h>
#include <time.h>

/*
 * Classifies one HTTP exchange. curl_code is the CURLcode of the transfer (0 = transfer
 * completed), status the HTTP status (0 if none).
 * Returns MS_OK (2xx), MS_ERETRY (transport errors and timeouts, 408, 425, 429, 5xx except 501),
 * MS_EAUTH (401, 403), or MS_EPERM (TLS verification and URL errors, 3xx, other 4xx, 501).
 */
int ms_retry_classify(int curl_code, long status);

/*
 * Exponential backoff with jitter: a random delay in [d/2, d] where d = min(cap, base * 2^attempt).
 * attempt counts from 0. rng is a caller-owned xorshift state (any non-zero seed).
 */
int64_t ms_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng);

/*
 * Parses a Retry-After header value: delta-seconds or an HTTP-date (relative to now).
 * Returns MS_OK with *delay_ms (>= 0, capped at one hour) or MS_EINVAL.
 */
int ms_retry_after_parse(const char *value, time_t now, int64_t *delay_ms);

/* Next value of a xorshift64* generator; seeds 0 are replaced by a constant. */
uint64_t ms_rand_next(uint64_t *state);

/* Seed from the clock, pid and the state's address (distinct per thread). */
uint64_t ms_rand_seed(void);

#endif
