/*
 * OAuth2 client-credentials token cache (Mimecast API 2.0, Proofpoint SER, ...): one token per
 * credential, fetched on first use, refreshed before it expires and once more after a 401.
 * Tokens are registered with the log scrubber while they live.
 * @thread one thread at a time per struct ms_oauth (the owning input's)
 */
#ifndef MS_AUTH_H
#define MS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_http.h"

struct ms_oauth_opts {
    const char *token_url;     /* borrowed; full URL of the token endpoint */
    const char *client_id;     /* borrowed */
    const char *client_secret; /* borrowed */
    int64_t refresh_margin_ms; /* refresh this long before expiry; 0 = 60 s */
};

struct ms_oauth;

/* Returns a cache (caller destroys) or NULL (out of memory). Strings in opts must outlive it. */
struct ms_oauth *ms_oauth_create(const struct ms_oauth_opts *opts);
void ms_oauth_destroy(struct ms_oauth *oa);

/*
 * Sets *token to a valid access token (borrowed; valid until the next call), requesting a new one
 * when none is cached, the cached one expires within the margin, or force is true (the API just
 * answered 401). Returns MS_OK; MS_EAUTH (the token endpoint refused the credentials);
 * MS_ERETRY (transport error, 429, 5xx); MS_EINVAL (the answer carried no usable token).
 * On failure why describes the cause for the caller's one log line (never the secret).
 */
int ms_oauth_token(struct ms_oauth *oa,
                   struct ms_http *http,
                   bool force,
                   const char **token,
                   char *why,
                   size_t why_len);

/* Milliseconds until the cached token expires (negative when none or expired). */
int64_t ms_oauth_remaining_ms(const struct ms_oauth *oa);

/* Test hook and 401 handling: forget the cached token. */
void ms_oauth_invalidate(struct ms_oauth *oa);

#endif
