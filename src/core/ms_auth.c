/* OAuth2 client-credentials token cache. */
#include <config.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_auth.h"
#include "ms_buf.h"
#include "ms_config.h"
#include "ms_err.h"
#include "ms_log.h"

struct ms_oauth {
    struct ms_oauth_opts opts;
    char *token;        /* owned; registered with the log scrubber */
    int64_t expires_at; /* CLOCK_MONOTONIC ms */
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ms_oauth *ms_oauth_create(const struct ms_oauth_opts *opts)
{
    struct ms_oauth *oa = calloc(1, sizeof(*oa));

    if (!oa) {
        return NULL;
    }
    oa->opts = *opts;
    if (!oa->opts.refresh_margin_ms) {
        oa->opts.refresh_margin_ms = 60000;
    }
    return oa;
}

void ms_oauth_invalidate(struct ms_oauth *oa)
{
    if (oa->token) {
        ms_log_unregister_secret(oa->token);
        ms_secret_free(oa->token);
        oa->token = NULL;
    }
    oa->expires_at = 0;
}

void ms_oauth_destroy(struct ms_oauth *oa)
{
    if (!oa) {
        return;
    }
    ms_oauth_invalidate(oa);
    free(oa);
}

int64_t ms_oauth_remaining_ms(const struct ms_oauth *oa)
{
    if (!oa->token) {
        return -1;
    }
    return oa->expires_at - mono_ms();
}

static int form_add(struct ms_buf *form, const char *key, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    int ret;

    if (!esc) {
        return MS_ENOMEM;
    }
    ret = ms_buf_printf(form, "%s%s=%s", form->len ? "&" : "", key, esc);
    explicit_bzero(esc, strlen(esc));
    curl_free(esc);
    return ret;
}

/* Reads a number that may arrive as a JSON number or a numeric string. */
static int64_t json_int_lenient(struct json_object *v)
{
    if (json_object_is_type(v, json_type_string)) {
        int64_t n = 0;

        return ms_parse_int(json_object_get_string(v), &n) == MS_OK ? n : 0;
    }
    return json_object_get_int64(v);
}

static int fetch_token(struct ms_oauth *oa, struct ms_http *http, char *why, size_t why_len)
{
    static const char *const headers[] = {
        "Content-Type: application/x-www-form-urlencoded",
        "Accept: application/json",
        NULL,
    };
    struct ms_http_request req;
    struct ms_http_response resp;
    struct json_object *root = NULL;
    struct json_object *tok;
    struct json_object *ttl;
    struct ms_buf form;
    char desc[300];
    int64_t expires_in = 3600;
    int ret;

    ms_buf_init(&form, 16 * 1024);
    ms_http_response_init(&resp);
    ret = form_add(&form, "grant_type", "client_credentials");
    if (ret == MS_OK) {
        ret = form_add(&form, "client_id", oa->opts.client_id);
    }
    if (ret == MS_OK) {
        ret = form_add(&form, "client_secret", oa->opts.client_secret);
    }
    if (ret != MS_OK) {
        snprintf(why, why_len, "cannot build the token request");
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = oa->opts.token_url;
    req.headers = headers;
    req.body = form.data;
    req.body_len = form.len;
    ret = ms_http_perform(http, &req, &resp);
    if (ret != MS_OK) {
        ms_http_describe(&resp, desc, sizeof(desc));
        snprintf(why, why_len, "token request to %s failed: %s%s", oa->opts.token_url, desc,
                 ret == MS_EAUTH || resp.status == 400 ? " (client_id/client_secret refused)" : "");
        if (resp.status == 400) {
            ret = MS_EAUTH; /* OAuth servers answer bad credentials with 400 invalid_client */
        }
        goto out;
    }
    root = json_tokener_parse(ms_buf_cstr(&resp.body));
    if (!root || !json_object_object_get_ex(root, "access_token", &tok) || /* borrowed */
        !json_object_is_type(tok, json_type_string) || json_object_get_string_len(tok) == 0) {
        snprintf(why, why_len, "token response from %s carries no access_token",
                 oa->opts.token_url);
        ret = MS_EINVAL;
        goto out;
    }
    if (json_object_object_get_ex(root, "expires_in", &ttl)) { /* borrowed */
        expires_in = json_int_lenient(ttl);
        if (expires_in <= 0) {
            expires_in = 60;
        }
    }
    ms_oauth_invalidate(oa);
    oa->token = strdup(json_object_get_string(tok));
    if (!oa->token) {
        ret = MS_ENOMEM;
        goto out;
    }
    ms_log_register_secret(oa->token);
    oa->expires_at = mono_ms() + expires_in * 1000;
    ret = MS_OK;
out:
    json_object_put(root);
    if (form.data) {
        explicit_bzero(form.data, form.len);
    }
    ms_buf_free(&form);
    if (resp.body.data) {
        explicit_bzero(resp.body.data, resp.body.len);
    }
    ms_http_response_free(&resp);
    return ret;
}

int ms_oauth_token(struct ms_oauth *oa,
                   struct ms_http *http,
                   bool force,
                   const char **token,
                   char *why,
                   size_t why_len)
{
    int64_t margin = oa->opts.refresh_margin_ms;
    int ret;

    *token = NULL;
    if (force || !oa->token || oa->expires_at - mono_ms() <= margin) {
        ret = fetch_token(oa, http, why, why_len);
        if (ret != MS_OK) {
            return ret;
        }
    }
    *token = oa->token;
    return MS_OK;
}
