/* Calendar arithmetic: known dates and the round trip over a wide range of days. */
#include <config.h>

#include "unit.h"

#include "core/ms_time.h"

static void test_known_dates(void **state)
{
    (void)state;
    assert_int_equal(ms_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ms_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(ms_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(ms_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(ms_days_from_civil(2026, 11, 23), 20780);
    assert_int_equal(ms_days_from_civil(0, 1, 1), -719528);
}

static void test_round_trip(void **state)
{
    int64_t z;

    (void)state;
    for (z = -800000; z <= 3000000; z += 7) {
        int64_t y;
        int m;
        int d;

        ms_civil_from_days(z, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
        assert_int_equal(ms_days_from_civil(y, m, d), z);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_dates),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
