/*
 * libFuzzer target: the vendor page parsers of the inputs, on any response body. Every body goes
 * through all three: the Mimecast page parser (for each stream's record list, and get-message-info)
 * with the record times, identities and failure classification; the SER report summary parser and
 * the licence record; the PPS quarantine parser with its dates and dedupe set. A body is accepted
 * or refused with a reason, never a crash (DESIGN invariant 6); what is accepted keeps the
 * promises of the headers (record counts, times that read back, log-safe descriptions).
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms_err.h"
#include "fuzz_common.h"
#include "inputs/mimecast/mimecast_parse.h"
#include "inputs/pps/pps_parse.h"
#include "inputs/ser/ser_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WINDOW_START_MS 1795168800000LL /* 2026-11-20T10:00:00.000Z */
#define WINDOW_END_MS   1795172400000LL /* 2026-11-20T11:00:00.000Z */
#define MAX_RECORDS     256             /* records checked per page */

static void check_text(const char *what, const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f,
                   "%s holds no control character (it goes into a log line): %s", what, s);
    }
}

static void fuzz_mimecast_page(const uint8_t *data, size_t size, const struct mc_stream_def *def)
{
    struct mc_parse_opts opts = {.max_bytes = 1 << 20, .max_records = 1000};
    struct mc_page page;
    char why[256] = "";
    char desc[256];
    char text[40];
    size_t i;
    int ret;

    ret = mc_page_parse((const char *)data, size, def ? def->list_key : NULL, &opts, &page, why,
                        sizeof(why));
    if (ret != MS_OK) {
        FUZZ_CHECK(ret == MS_EINVAL || ret == MS_ETOOBIG, "mimecast: unexpected return %d", ret);
        FUZZ_CHECK(why[0] && !page.root && !page.records, "mimecast: a refusal says why");
        return;
    }
    check_text("mimecast fail_desc", page.fail_desc);
    FUZZ_CHECK(json_object_is_type(page.root, json_type_object), "mimecast: the page is an object");
    FUZZ_CHECK(!page.records || (json_object_is_type(page.records, json_type_array) &&
                                 json_object_array_length(page.records) == page.n_records &&
                                 page.n_records <= opts.max_records),
               "mimecast: the record count matches");
    FUZZ_CHECK(mc_fail_classify(page.root, desc, sizeof(desc)) == page.fail,
               "mimecast: classification is stable");
    check_text("mimecast failure description", desc);
    for (i = 0; page.records && i < page.n_records && i < MAX_RECORDS; i++) {
        struct json_object *rec = json_object_array_get_idx(page.records, i);
        size_t k;

        for (k = 0; k < MC_STREAM_MAX; k++) {
            int64_t t;
            int64_t back;

            FUZZ_CHECK(mc_record_key(&mc_streams[k], rec) != 0, "mimecast: keys are never 0");
            /* Years 0000-9999 (UTC) read back: the request format has four digits. */
            if (mc_record_time(&mc_streams[k], rec, &t) == MS_OK && t >= -62167219200LL &&
                t <= 253402300799LL) {
                mc_time_format(t, text, sizeof(text));
                FUZZ_CHECK(mc_time_parse(text, &back) == MS_OK && back == t,
                           "mimecast: a record time reads back (%s)", text);
            }
        }
        if (!def) {
            const char *risk = mc_info_risk(rec);

            (void)mc_risk_rank(risk);
            (void)mc_info_queue_reason(rec);
        }
    }
    mc_page_free(&page);
}

static void check_sorted(struct json_object *records)
{
    size_t i;

    for (i = 1; i < json_object_array_length(records); i++) {
        struct json_object *a = json_object_array_get_idx(records, i - 1);
        struct json_object *b = json_object_array_get_idx(records, i);
        struct json_object *na;
        struct json_object *nb;
        const char *sa = "";
        const char *sb = "";

        if (json_object_object_get_ex(a, "applicationName", &na) &&
            json_object_is_type(na, json_type_string)) {
            sa = json_object_get_string(na);
        }
        if (json_object_object_get_ex(b, "applicationName", &nb) &&
            json_object_is_type(nb, json_type_string)) {
            sb = json_object_get_string(nb);
        }
        FUZZ_CHECK(strcmp(sa, sb) <= 0, "ser: records sorted by applicationName");
    }
}

static void fuzz_ser(const uint8_t *data, size_t size)
{
    struct ser_summary s;
    struct ser_summary counts;
    struct json_object *lic = NULL;
    char why[256] = "";
    int ret;
    int ret2;

    ret = ser_parse_summary((const char *)data, size, true, WINDOW_START_MS, WINDOW_END_MS, &s, why,
                            sizeof(why));
    ret2 = ser_parse_summary((const char *)data, size, false, SER_TIME_UNKNOWN, SER_TIME_UNKNOWN,
                             &counts, why, sizeof(why));
    FUZZ_CHECK(ret == ret2, "ser: records or not, the same verdict");
    if (ret != MS_OK) {
        FUZZ_CHECK(ret == MS_EINVAL && why[0], "ser: a refusal says why (%d)", ret);
        ser_summary_free(&s);
        ser_summary_free(&counts);
        return;
    }
    FUZZ_CHECK(s.users == counts.users && s.rejected == counts.rejected &&
                   s.size_total == counts.size_total && !counts.records,
               "ser: the same counts with and without records");
    FUZZ_CHECK(json_object_is_type(s.records, json_type_array) &&
                   json_object_array_length(s.records) == s.users,
               "ser: one record per accepted user");
    FUZZ_CHECK(s.rejected == 0 || s.reject_reason[0], "ser: a refused user says why");
    check_sorted(s.records);
    if (ser_license_record(&s, WINDOW_END_MS, &lic, why, sizeof(why)) == MS_OK) {
        FUZZ_CHECK(json_object_is_type(lic, json_type_object) && s.entitlement,
                   "ser: a licence record comes from an entitlement block");
        FUZZ_CHECK(json_object_to_json_string(lic) != NULL, "ser: the licence record serializes");
    }
    else {
        FUZZ_CHECK(!s.entitlement, "ser: an entitlement block makes a licence record");
    }
    json_object_put(lic);
    ser_summary_free(&s);
    ser_summary_free(&counts);
}

static void fuzz_pps(const uint8_t *data, size_t size)
{
    static const int offsets[] = {0, 60, -300, 330};
    struct json_object *seen;
    struct pps_page p;
    char why[256] = "";
    char text[32];
    size_t n;
    size_t i;
    int ret;

    ret = pps_parse_page((const char *)data, size, "Quarantine", offsets[size % 4], &p, why,
                         sizeof(why));
    if (ret != MS_OK) {
        FUZZ_CHECK(ret == MS_EINVAL && why[0], "pps: a refusal says why (%d)", ret);
        pps_page_free(&p);
        return;
    }
    n = json_object_array_length(p.records);
    FUZZ_CHECK(n + p.rejected == p.returned, "pps: accepted + refused = returned");
    FUZZ_CHECK(p.rejected == 0 || p.reject_reason[0], "pps: a refused record says why");
    (void)pps_page_full(&p, PPS_LIMIT_MAX);
    (void)pps_page_suspect(&p, 100);
    seen = json_object_new_object();
    FUZZ_CHECK(seen != NULL, "allocation");
    for (i = 0; i < n; i++) {
        struct json_object *rec = json_object_array_get_idx(p.records, i);
        const char *guid = pps_record_guid(rec);
        int64_t back;

        FUZZ_CHECK(guid[0], "pps: an accepted record has a guid");
        pps_format_date(p.dates[i], offsets[size % 4], text, sizeof(text));
        FUZZ_CHECK(pps_parse_date(text, offsets[size % 4], &back) == MS_OK && back == p.dates[i],
                   "pps: a record date reads back (%s)", text);
        FUZZ_CHECK(pps_seen_add(seen, guid, p.dates[i]) == MS_OK, "pps: seen add");
        FUZZ_CHECK(pps_seen_has(seen, guid), "pps: seen has what was added");
    }
    (void)pps_seen_prune(seen, n ? p.dates[n / 2] : 0);
    (void)pps_seen_trim(seen, 2);
    FUZZ_CHECK(json_object_object_length(seen) <= 2, "pps: trim keeps at most max");
    json_object_put(seen);
    pps_page_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t k;

    fuzz_quiet_logs();
    for (k = 0; k < MC_STREAM_MAX; k++) {
        fuzz_mimecast_page(data, size, &mc_streams[k]);
    }
    fuzz_mimecast_page(data, size, NULL); /* get-message-info: records in data[] */
    fuzz_ser(data, size);
    fuzz_pps(data, size);
    return 0;
}
