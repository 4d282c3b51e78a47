/* Retry classification, backoff with jitter, Retry-After. */
#include <config.h>

#include "unit.h"

#include <curl/curl.h>

#include "core/ms_err.h"
#include "core/ms_retry.h"

static void test_classify_http_status(void **state)
{
    static const struct {
        long status;
        int want;
    } rows[] = {
        {200, MS_OK},     {201, MS_OK},     {204, MS_OK},     {301, MS_EPERM},  {400, MS_EPERM},
        {401, MS_EAUTH},  {403, MS_EAUTH},  {404, MS_EPERM},  {408, MS_ERETRY}, {413, MS_EPERM},
        {418, MS_EPERM},  {425, MS_ERETRY}, {429, MS_ERETRY}, {500, MS_ERETRY}, {501, MS_EPERM},
        {502, MS_ERETRY}, {503, MS_ERETRY}, {504, MS_ERETRY}, {0, MS_ERETRY},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (ms_retry_classify(CURLE_OK, rows[i].status) != rows[i].want) {
            fail_msg("status %ld: got %d, want %d", rows[i].status,
                     ms_retry_classify(CURLE_OK, rows[i].status), rows[i].want);
        }
    }
}

static void test_classify_transport(void **state)
{
    (void)state;
    assert_int_equal(ms_retry_classify(CURLE_OPERATION_TIMEDOUT, 0), MS_ERETRY);
    assert_int_equal(ms_retry_classify(CURLE_COULDNT_CONNECT, 0), MS_ERETRY);
    assert_int_equal(ms_retry_classify(CURLE_COULDNT_RESOLVE_HOST, 0), MS_ERETRY);
    assert_int_equal(ms_retry_classify(CURLE_RECV_ERROR, 0), MS_ERETRY);
    assert_int_equal(ms_retry_classify(CURLE_GOT_NOTHING, 0), MS_ERETRY);
    assert_int_equal(ms_retry_classify(CURLE_PARTIAL_FILE, 200), MS_ERETRY);
    assert_int_equal(ms_retry_classify(CURLE_PEER_FAILED_VERIFICATION, 0), MS_EPERM);
    assert_int_equal(ms_retry_classify(CURLE_URL_MALFORMAT, 0), MS_EPERM);
    assert_int_equal(ms_retry_classify(CURLE_SSL_CACERT_BADFILE, 0), MS_EPERM);
}

static void test_backoff_bounds_and_jitter(void **state)
{
    uint64_t rng = 12345;
    int64_t lo = INT64_MAX;
    int64_t hi = 0;
    unsigned attempt;
    int i;

    (void)state;
    for (attempt = 0; attempt < 20; attempt++) {
        int64_t cap_d = 1000LL << (attempt < 10 ? attempt : 10);

        if (cap_d > 60000) {
            cap_d = 60000;
        }
        for (i = 0; i < 50; i++) {
            int64_t d = ms_backoff_ms(attempt, 1000, 60000, &rng);

            assert_true(d >= cap_d / 2);
            assert_true(d <= cap_d);
            if (attempt == 3) {
                lo = d < lo ? d : lo;
                hi = d > hi ? d : hi;
            }
        }
    }
    /* Jitter: 50 draws at the same attempt are not all equal. */
    assert_true(hi > lo);
}

static void test_retry_after(void **state)
{
    int64_t d = -1;
    time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */

    (void)state;
    assert_int_equal(ms_retry_after_parse("120", now, &d), MS_OK);
    assert_int_equal(d, 120000);
    assert_int_equal(ms_retry_after_parse(" 0 ", now, &d), MS_OK);
    assert_int_equal(d, 0);
    assert_int_equal(ms_retry_after_parse("Tue, 14 Nov 2023 22:14:20 GMT", now, &d), MS_OK);
    assert_int_equal(d, 60000);
    assert_int_equal(ms_retry_after_parse("Tue, 14 Nov 2023 22:00:00 GMT", now, &d), MS_OK);
    assert_int_equal(d, 0);
    assert_int_equal(ms_retry_after_parse("99999999", now, &d), MS_OK);
    assert_int_equal(d, 3600000);
    assert_int_equal(ms_retry_after_parse("soon", now, &d), MS_EINVAL);
    assert_int_equal(ms_retry_after_parse("12abc", now, &d), MS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_http_status),
        cmocka_unit_test(test_classify_transport),
        cmocka_unit_test(test_backoff_bounds_and_jitter),
        cmocka_unit_test(test_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
