/*
 * libcurl wrapper shared by inputs and outputs: timeouts, TLS options, a hard cap on the
 * response size, captured response headers, and the retry classification of every exchange.
 * One struct ms_http per plugin instance (it keeps its connection alive between requests).
 * @thread one thread at a time per struct ms_http
 */
#ifndef MS_HTTP_H
#define MS_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"

struct ms_http_opts {
    int64_t connect_timeout_ms; /* 0 = 10 s */
    int64_t timeout_ms;         /* whole transfer; 0 = 60 s */
    const char *ca_file;        /* borrowed; NULL = system trust store */
    bool insecure;              /* true = do not verify the peer (verify_tls = false) */
    const char *client_cert;    /* borrowed; PEM, optional */
    const char *client_key;     /* borrowed; PEM, optional */
    size_t max_response;        /* body cap; 0 = MS_CAP_API_PAGE */
    /* borrowed; when set and non-zero, a transfer in progress is aborted (MS_ERETRY): inputs pass
     * ins->rt->stop so that SIGTERM does not wait for a slow vendor. Outputs leave it NULL: an
     * aborted delivery would have an unknown outcome. */
    const volatile sig_atomic_t *stop;
};

struct ms_http_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const void *body;           /* may be NULL */
    size_t body_len;
    const char *basic_user; /* basic auth, or NULL */
    const char *basic_password;
};

/* Owns body and headers; reuse across requests with ms_http_response_free() at the end. */
struct ms_http_response {
    long status;
    int curl_code;
    char error[256]; /* curl's message when curl_code != 0 */
    struct ms_buf body;
    struct ms_buf headers; /* raw header lines of the last response */
    int64_t elapsed_ms;
};

/* Returns a handle (caller destroys) or NULL (out of memory). Copies nothing: opts strings must
 * outlive the handle. */
struct ms_http *ms_http_create(const struct ms_http_opts *opts);
void ms_http_destroy(struct ms_http *h);

void ms_http_response_init(struct ms_http_response *resp);
void ms_http_response_free(struct ms_http_response *resp);

/*
 * Performs one request and classifies it (ms_retry_classify): MS_OK, MS_ERETRY, MS_EAUTH,
 * MS_EPERM, or MS_ETOOBIG when the body passed the cap (resp->body is then empty).
 * Logs nothing: the caller knows which vendor and stream it was and logs once.
 */
int ms_http_perform(struct ms_http *h,
                    const struct ms_http_request *req,
                    struct ms_http_response *resp);

/*
 * Copies the value of response header name (case-insensitive, last occurrence) into out.
 * Returns MS_OK or MS_EOF when absent.
 */
int ms_http_header(const struct ms_http_response *resp, const char *name, char *out, size_t len);

/* One-line description of the outcome for logs: "HTTP 503", "timeout: <curl message>". */
void ms_http_describe(const struct ms_http_response *resp, char *out, size_t len);

/*
 * How long to wait before attempt number attempt+1: the larger of the jittered backoff and the
 * response's Retry-After. rng as for ms_backoff_ms.
 */
int64_t ms_http_retry_delay_ms(const struct ms_http_response *resp,
                               unsigned attempt,
                               int64_t base_ms,
                               int64_t cap_ms,
                               uint64_t *rng);

/* Process-wide libcurl setup and teardown (main calls these once). */
int ms_http_global_init(void);
void ms_http_global_cleanup(void);

#endif
