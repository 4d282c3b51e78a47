/* libcurl easy-handle wrapper with bounded responses. */
#include <config.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ms_err.h"
#include "ms_http.h"
#include "ms_retry.h"

#define HTTP_HEADERS_MAX (64 * 1024)

struct ms_http {
    CURL *curl;
    struct ms_http_opts opts;
    char errbuf[CURL_ERROR_SIZE];
    bool too_big;
};

int ms_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? MS_OK : MS_ERR;
}

void ms_http_global_cleanup(void)
{
    curl_global_cleanup();
}

struct ms_http *ms_http_create(const struct ms_http_opts *opts)
{
    struct ms_http *h = calloc(1, sizeof(*h));

    if (!h) {
        return NULL;
    }
    h->opts = *opts;
    if (!h->opts.connect_timeout_ms) {
        h->opts.connect_timeout_ms = 10000;
    }
    if (!h->opts.timeout_ms) {
        h->opts.timeout_ms = 60000;
    }
    if (!h->opts.max_response) {
        h->opts.max_response = MS_CAP_API_PAGE;
    }
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    return h;
}

void ms_http_destroy(struct ms_http *h)
{
    if (!h) {
        return;
    }
    curl_easy_cleanup(h->curl);
    free(h);
}

void ms_http_response_init(struct ms_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    ms_buf_init(&resp->body, MS_CAP_API_PAGE);
    ms_buf_init(&resp->headers, HTTP_HEADERS_MAX);
}

void ms_http_response_free(struct ms_http_response *resp)
{
    ms_buf_free(&resp->body);
    ms_buf_free(&resp->headers);
}

struct sink {
    struct ms_http *h;
    struct ms_buf *buf;
};

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct sink *s = user;
    size_t n = size * nmemb;

    if (ms_buf_append(s->buf, ptr, n) != MS_OK) {
        s->h->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static int
progress_cb(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const struct ms_http *h = user;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return *h->opts.stop ? 1 : 0;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct ms_buf *buf = user;
    size_t n = size * nmemb;

    /* A new status line (redirect, 100-continue) starts a new header block. */
    if (n > 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        ms_buf_reset(buf);
    }
    if (ms_buf_append(buf, ptr, n) != MS_OK) {
        return 0;
    }
    return n;
}

int ms_http_perform(struct ms_http *h,
                    const struct ms_http_request *req,
                    struct ms_http_response *resp)
{
    struct curl_slist *hdrs = NULL;
    struct curl_slist *tmp;
    struct sink body_sink;
    struct timespec t0;
    struct timespec t1;
    CURL *c = h->curl;
    CURLcode cc;
    size_t i;
    int ret;

    resp->status = 0;
    resp->curl_code = 0;
    resp->error[0] = '\0';
    resp->body.max = h->opts.max_response;
    ms_buf_reset(&resp->body);
    ms_buf_reset(&resp->headers);
    h->too_big = false;
    h->errbuf[0] = '\0';

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    body_sink.h = h;
    body_sink.buf = &resp->body;
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body_sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp->headers);
    if (h->opts.stop) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
    }
    if (h->opts.ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, h->opts.ca_file);
    }
    if (h->opts.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (h->opts.client_cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, h->opts.client_cert);
    }
    if (h->opts.client_key) {
        curl_easy_setopt(c, CURLOPT_SSLKEY, h->opts.client_key);
    }
    if (req->basic_user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, req->basic_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
    }
    if (strcmp(req->method, "GET") != 0) {
        if (strcmp(req->method, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
        }
        else {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    /* Large bodies would otherwise wait for "100 Continue" that some proxies never send. */
    tmp = curl_slist_append(hdrs, "Expect:");
    if (!tmp) {
        ret = MS_ENOMEM;
        goto out;
    }
    hdrs = tmp;
    for (i = 0; req->headers && req->headers[i]; i++) {
        tmp = curl_slist_append(hdrs, req->headers[i]);
        if (!tmp) {
            ret = MS_ENOMEM;
            goto out;
        }
        hdrs = tmp;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    cc = curl_easy_perform(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    resp->elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->curl_code = (int)cc;
    if (cc != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "%s",
                 h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
    }
    if (h->too_big) {
        ms_buf_free(&resp->body);
        snprintf(resp->error, sizeof(resp->error), "response larger than %zu bytes",
                 h->opts.max_response);
        ret = MS_ETOOBIG;
        goto out;
    }
    ret = ms_retry_classify((int)cc, resp->status);
out:
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    /* The list holds copies of Authorization headers: wipe them before freeing. */
    for (tmp = hdrs; tmp; tmp = tmp->next) {
        explicit_bzero(tmp->data, strlen(tmp->data));
    }
    curl_slist_free_all(hdrs);
    return ret;
}

int ms_http_header(const struct ms_http_response *resp, const char *name, char *out, size_t len)
{
    const char *p = ms_buf_cstr(&resp->headers);
    size_t nlen = strlen(name);
    int ret = MS_EOF;

    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t line_len = eol ? (size_t)(eol - p) : strlen(p);

        if (line_len > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            const char *end = p + line_len;
            size_t vlen;

            while (v < end && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (end > v && (end[-1] == '\r' || end[-1] == ' ')) {
                end--;
            }
            vlen = (size_t)(end - v);
            if (vlen >= len) {
                vlen = len - 1;
            }
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            ret = MS_OK;
        }
        if (!eol) {
            break;
        }
        p = eol + 1;
    }
    return ret;
}

void ms_http_describe(const struct ms_http_response *resp, char *out, size_t len)
{
    if (resp->curl_code == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(out, len, "aborted: msfwd is stopping");
    }
    else if (resp->curl_code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(out, len, "timeout after %lld ms: %s", (long long)resp->elapsed_ms, resp->error);
    }
    else if (resp->error[0]) {
        snprintf(out, len, "%s", resp->error);
    }
    else {
        snprintf(out, len, "HTTP %ld", resp->status);
    }
}

int64_t ms_http_retry_delay_ms(const struct ms_http_response *resp,
                               unsigned attempt,
                               int64_t base_ms,
                               int64_t cap_ms,
                               uint64_t *rng)
{
    int64_t delay = ms_backoff_ms(attempt, base_ms, cap_ms, rng);
    int64_t after;
    char value[128];

    if (ms_http_header(resp, "Retry-After", value, sizeof(value)) == MS_OK &&
        ms_retry_after_parse(value, time(NULL), &after) == MS_OK && after > delay) {
        delay = after;
    }
    return delay;
}
