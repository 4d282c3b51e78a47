/* Retry classification, backoff with jitter and Retry-After. */
#include <config.h>

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_retry.h"

#define RETRY_AFTER_CAP_MS (3600LL * 1000)

int ms_retry_classify(int curl_code, long status)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_LOGIN_DENIED:
    case CURLE_TOO_MANY_REDIRECTS:
        return MS_EPERM;
    default:
        /* Timeouts, refused connections, resets, DNS, partial bodies: the peer may be back. */
        return MS_ERETRY;
    }
    if (status >= 200 && status < 300) {
        return MS_OK;
    }
    if (status == 401 || status == 403) {
        return MS_EAUTH;
    }
    if (status == 408 || status == 425 || status == 429) {
        return MS_ERETRY;
    }
    if (status >= 500 && status != 501) {
        return MS_ERETRY;
    }
    if (status == 0) {
        return MS_ERETRY; /* transfer "completed" without a status line */
    }
    return MS_EPERM;
}

uint64_t ms_rand_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t ms_rand_seed(void)
{
    struct timespec ts;
    uint64_t local = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
           (uint64_t)(uintptr_t)&local;
}

int64_t ms_backoff_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng)
{
    int64_t d = base_ms;
    unsigned i;

    for (i = 0; i < attempt && d < cap_ms; i++) {
        d *= 2;
    }
    if (d > cap_ms) {
        d = cap_ms;
    }
    if (d < 2) {
        return d;
    }
    return d / 2 + (int64_t)(ms_rand_next(rng) % (uint64_t)(d / 2 + 1));
}

int ms_retry_after_parse(const char *value, time_t now, int64_t *delay_ms)
{
    const char *p = value;
    time_t when;
    long long secs;
    char *end;

    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (isdigit((unsigned char)*p)) {
        errno = 0;
        secs = strtoll(p, &end, 10);
        while (isspace((unsigned char)*end)) {
            end++;
        }
        if (errno || *end != '\0') {
            return MS_EINVAL;
        }
        *delay_ms = secs > RETRY_AFTER_CAP_MS / 1000 ? RETRY_AFTER_CAP_MS : secs * 1000;
        return MS_OK;
    }
    when = curl_getdate(p, NULL);
    if (when < 0) {
        return MS_EINVAL;
    }
    if (when <= now) {
        *delay_ms = 0;
    }
    else if (when - now > RETRY_AFTER_CAP_MS / 1000) {
        *delay_ms = RETRY_AFTER_CAP_MS;
    }
    else {
        *delay_ms = (int64_t)(when - now) * 1000;
    }
    return MS_OK;
}
