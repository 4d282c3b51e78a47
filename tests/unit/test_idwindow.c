/* Recent-id window: membership, eviction order, agreement with a naive model. */
#include <config.h>

#include "unit.h"

#include "core/ms_idwindow.h"

static void make_id(char *out, unsigned n)
{
    snprintf(out, 65, "%064x", n * 2654435761u);
}

static void test_add_contains_evict(void **state)
{
    struct ms_idwindow *w = ms_idwindow_create(3);
    char id[65];
    unsigned i;

    (void)state;
    assert_non_null(w);
    for (i = 0; i < 3; i++) {
        make_id(id, i);
        ms_idwindow_add(w, id);
    }
    assert_int_equal(ms_idwindow_size(w), 3);
    make_id(id, 3);
    ms_idwindow_add(w, id); /* evicts id 0 */
    make_id(id, 0);
    assert_false(ms_idwindow_contains(w, id));
    for (i = 1; i < 4; i++) {
        make_id(id, i);
        assert_true(ms_idwindow_contains(w, id));
    }
    /* Adding an id already held changes nothing. */
    make_id(id, 2);
    ms_idwindow_add(w, id);
    make_id(id, 1);
    assert_true(ms_idwindow_contains(w, id));
    ms_idwindow_destroy(w);
}

static void test_matches_naive_model(void **state)
{
    enum { CAP = 97, N = 20000, SPACE = 400 };
    struct ms_idwindow *w = ms_idwindow_create(CAP);
    unsigned ring[CAP];
    unsigned head = 0;
    unsigned count = 0;
    uint64_t rng = 42;
    char id[65];
    unsigned i;
    unsigned k;

    (void)state;
    assert_non_null(w);
    for (i = 0; i < N; i++) {
        unsigned v;
        bool held = false;

        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        v = (unsigned)(rng >> 33) % SPACE;
        for (k = 0; k < count; k++) {
            held = held || ring[k] == v;
        }
        make_id(id, v);
        assert_int_equal(ms_idwindow_contains(w, id), held);
        if (!held) {
            ring[head] = v;
            head = (head + 1) % CAP;
            count = count < CAP ? count + 1 : CAP;
            ms_idwindow_add(w, id);
        }
        assert_int_equal(ms_idwindow_size(w), count);
    }
    ms_idwindow_destroy(w);
}

static void test_refuses_long_ids(void **state)
{
    struct ms_idwindow *w = ms_idwindow_create(4);
    char id[100];

    (void)state;
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    ms_idwindow_add(w, id);
    assert_int_equal(ms_idwindow_size(w), 0);
    assert_false(ms_idwindow_contains(w, id));
    ms_idwindow_destroy(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_contains_evict),
        cmocka_unit_test(test_matches_naive_model),
        cmocka_unit_test(test_refuses_long_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
