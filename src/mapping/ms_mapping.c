/*
 * Mapping stage, first cut: the generic envelope for every source type, and the stable event id.
 * The data-driven field mappings (mappings/<source type>.json) plug in here.
 */
#include <config.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/ms_err.h"
#include "ms_mapping.h"

struct ms_mapping_set {
    char *dir;
};

int ms_mapping_set_load(const char *dir, struct ms_mapping_set **out, struct ms_cfg_errors *errs)
{
    struct ms_mapping_set *set;
    struct stat st;

    *out = NULL;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ms_cfg_errors_add(errs, "%s: mappings directory is not readable: %s", dir,
                          errno ? strerror(errno) : "not a directory");
        return MS_EIO;
    }
    set = calloc(1, sizeof(*set));
    if (!set) {
        return MS_ENOMEM;
    }
    set->dir = strdup(dir);
    if (!set->dir) {
        free(set);
        return MS_ENOMEM;
    }
    *out = set;
    return MS_OK;
}

void ms_mapping_set_destroy(struct ms_mapping_set *set)
{
    if (!set) {
        return;
    }
    free(set->dir);
    free(set);
}

void ms_time_now_iso(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char sec[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

void ms_event_id(const char *source_type,
                 const char *vendor_id,
                 struct json_object *raw,
                 char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const char *bytes;
    size_t len;
    EVP_MD_CTX *ctx;
    unsigned int i;

    if (vendor_id) {
        bytes = vendor_id;
        len = strlen(vendor_id);
    }
    else {
        bytes = json_object_to_json_string_length(raw, JSON_C_TO_STRING_PLAIN, &len);
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, source_type, strlen(source_type) + 1) != 1 ||
        EVP_DigestUpdate(ctx, bytes, len) != 1 || EVP_DigestFinal_ex(ctx, md, &md_len) != 1) {
        md_len = 0;
    }
    EVP_MD_CTX_free(ctx);
    for (i = 0; i < md_len && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * i] = '\0';
}

int ms_mapping_apply(struct ms_mapping_set *set,
                     const char *source_type,
                     struct json_object *raw,
                     struct json_object **event_out,
                     const char **drop_reason)
{
    struct json_object *ev;
    char id[65];
    char now[32];

    (void)set;
    *event_out = NULL;
    *drop_reason = NULL;
    if (!raw || !json_object_is_type(raw, json_type_object)) {
        *drop_reason = "record is not a JSON object";
        return MS_EINVAL;
    }
    ev = json_object_new_object();
    if (!ev) {
        *drop_reason = "out of memory";
        return MS_ENOMEM;
    }
    ms_event_id(source_type, NULL, raw, id);
    ms_time_now_iso(now, sizeof(now));
    json_object_object_add(ev, "id", json_object_new_string(id));
    json_object_object_add(ev, "time", json_object_new_string(now));
    json_object_object_add(ev, "source_type", json_object_new_string(source_type));
    json_object_object_add(ev, "raw", json_object_get(raw));
    *event_out = ev;
    return MS_OK;
}
