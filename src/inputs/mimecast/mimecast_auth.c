/* Mimecast API 1.0 HMAC-SHA1 signing with OpenSSL (spec §1.1). */
#include <config.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "../../core/ms_err.h"
#include "mimecast_auth.h"

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

int mc_b64_decode(const char *in, unsigned char *out, size_t cap, size_t *out_len)
{
    size_t len = strlen(in);
    size_t n = 0;
    size_t i;

    *out_len = 0;
    if (len == 0 || len % 4 != 0) {
        return MS_EINVAL;
    }
    for (i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        int k;

        for (k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) {
                return MS_EINVAL; /* data after padding */
            }
            v[k] = b64_value(in[i + k]);
            if (v[k] < 0) {
                return MS_EINVAL;
            }
        }
        if (n + 3 - (size_t)pad > cap) {
            return MS_EINVAL;
        }
        out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2) {
            out[n++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        }
        if (pad < 1) {
            out[n++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
        }
    }
    *out_len = n;
    return MS_OK;
}

int mc_hmac_sign(const unsigned char *key,
                 size_t key_len,
                 const char *date,
                 const char *req_id,
                 const char *uri,
                 const char *app_key,
                 char *out,
                 size_t out_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned char b64[64];
    char data[2048];
    int n;

    if (out_len < MC_SIGNATURE_LEN + 1) {
        return MS_EINVAL;
    }
    n = snprintf(data, sizeof(data), "%s:%s:%s:%s", date, req_id, uri, app_key);
    if (n < 0 || (size_t)n >= sizeof(data)) {
        return MS_EINVAL;
    }
    if (!HMAC(EVP_sha1(), key, (int)key_len, (const unsigned char *)data, (size_t)n, md, &md_len) ||
        md_len != 20) {
        explicit_bzero(data, sizeof(data));
        return MS_EINVAL;
    }
    explicit_bzero(data, sizeof(data)); /* it holds the application key */
    n = EVP_EncodeBlock(b64, md, (int)md_len);
    if (n != MC_SIGNATURE_LEN) {
        return MS_EINVAL;
    }
    memcpy(out, b64, (size_t)n);
    out[n] = '\0';
    return MS_OK;
}

void mc_http_date(time_t t, char *out, size_t len)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d UTC", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int mc_request_id(char *out, size_t len)
{
    unsigned char r[16];

    if (len < MC_REQ_ID_LEN || RAND_bytes(r, (int)sizeof(r)) != 1) {
        return MS_ERR;
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, len, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
    return MS_OK;
}
