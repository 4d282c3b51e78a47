/* Bounded buffer: growth, cap, take. */
#include <config.h>

#include "unit.h"

#include "core/ms_buf.h"
#include "core/ms_err.h"

static void test_append_and_printf(void **state)
{
    struct ms_buf buf;

    (void)state;
    ms_buf_init(&buf, 1024);
    assert_string_equal(ms_buf_cstr(&buf), "");
    assert_int_equal(ms_buf_puts(&buf, "abc"), MS_OK);
    assert_int_equal(ms_buf_printf(&buf, "-%d-%s", 42, "x"), MS_OK);
    assert_string_equal(ms_buf_cstr(&buf), "abc-42-x");
    assert_int_equal(buf.len, 8);
    ms_buf_reset(&buf);
    assert_string_equal(ms_buf_cstr(&buf), "");
    ms_buf_free(&buf);
}

static void test_cap_frees_buffer(void **state)
{
    struct ms_buf buf;
    char big[100];

    (void)state;
    memset(big, 'a', sizeof(big));
    ms_buf_init(&buf, 150);
    assert_int_equal(ms_buf_append(&buf, big, 100), MS_OK);
    assert_int_equal(ms_buf_append(&buf, big, 50), MS_OK);
    assert_int_equal(buf.len, 150);
    assert_int_equal(ms_buf_putc(&buf, 'x'), MS_ETOOBIG);
    assert_null(buf.data);
    assert_int_equal(buf.len, 0);
    /* Usable again after the cap freed it. */
    assert_int_equal(ms_buf_puts(&buf, "ok"), MS_OK);
    assert_string_equal(ms_buf_cstr(&buf), "ok");
    ms_buf_free(&buf);
}

static void test_printf_over_cap(void **state)
{
    struct ms_buf buf;

    (void)state;
    ms_buf_init(&buf, 8);
    assert_int_equal(ms_buf_printf(&buf, "%s", "123456789"), MS_ETOOBIG);
    ms_buf_free(&buf);
}

static void test_truncate(void **state)
{
    struct ms_buf buf;

    (void)state;
    ms_buf_init(&buf, 64);
    assert_int_equal(ms_buf_puts(&buf, "record,partial"), MS_OK);
    ms_buf_truncate(&buf, 6);
    assert_string_equal(ms_buf_cstr(&buf), "record");
    ms_buf_truncate(&buf, 60); /* longer than the contents: no change */
    assert_int_equal(buf.len, 6);
    ms_buf_free(&buf);
}

static void test_take(void **state)
{
    struct ms_buf buf;
    char *p;

    (void)state;
    ms_buf_init(&buf, 64);
    assert_int_equal(ms_buf_puts(&buf, "owned"), MS_OK);
    p = ms_buf_take(&buf);
    assert_string_equal(p, "owned");
    assert_null(buf.data);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_printf),
        cmocka_unit_test(test_cap_frees_buffer),
        cmocka_unit_test(test_printf_over_cap),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
