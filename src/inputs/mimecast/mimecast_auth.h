/*
 * Mimecast API 1.0 request signing (spec §1.1): HMAC-SHA1 over
 * "x-mc-date:x-mc-req-id:uri:appKey" keyed with the base64-decoded secret key, sent as
 * "Authorization: MC accessKey:base64(signature)". API 2.0 uses the core OAuth cache (ms_auth.h).
 */
#ifndef MC_AUTH_H
#define MC_AUTH_H

#include <stddef.h>
#include <time.h>

#define MC_SIGNATURE_LEN 28 /* base64 of a 20-byte SHA-1 digest, with padding */
#define MC_DATE_LEN      40
#define MC_REQ_ID_LEN    37 /* 36 characters of a GUID + NUL */

/*
 * Strict standard base64 (padding required, no whitespace) into out (cap bytes).
 * Returns MS_OK with *out_len, or MS_EINVAL (not base64, or longer than cap).
 */
int mc_b64_decode(const char *in, unsigned char *out, size_t cap, size_t *out_len);

/*
 * Writes the signature (base64 with '=' padding, MC_SIGNATURE_LEN characters) into out
 * (at least MC_SIGNATURE_LEN + 1 bytes). key is the decoded secret key. Pure.
 * Returns MS_OK, or MS_EINVAL when out is too small or OpenSSL fails.
 */
int mc_hmac_sign(const unsigned char *key,
                 size_t key_len,
                 const char *date,
                 const char *req_id,
                 const char *uri,
                 const char *app_key,
                 char *out,
                 size_t out_len);

/* Formats t as x-mc-date: "Tue, 24 Nov 2015 12:50:11 UTC" (C-locale names, UTC). Pure. */
void mc_http_date(time_t t, char *out, size_t len);

/* A fresh random GUID for x-mc-req-id ("8578FCFC-A305-4D9A-99CB-F4D5ECEFE297"). MS_OK/MS_ERR. */
int mc_request_id(char *out, size_t len);

#endif
