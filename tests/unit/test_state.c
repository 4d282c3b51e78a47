/* Atomic state writes: a crash between write and rename leaves the old state. */
#include <config.h>

#include "unit.h"

#include <sys/wait.h>

#include "core/ms_err.h"
#include "core/ms_state.h"

static struct json_object *cursor(int64_t offset)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "offset", json_object_new_int64(offset));
    return o;
}

static int64_t loaded_offset(const char *dir, const char *name)
{
    struct json_object *o = NULL;
    struct json_object *v;
    int64_t off;

    assert_int_equal(ms_state_load(dir, name, &o), MS_OK);
    assert_true(json_object_object_get_ex(o, "offset", &v));
    off = json_object_get_int64(v);
    json_object_put(o);
    return off;
}

static void test_fresh_start_is_eof(void **state)
{
    struct json_object *o = NULL;
    char dir[PATH_MAX];

    (void)state;
    unit_tmpdir(dir);
    assert_int_equal(ms_state_load(dir, "in", &o), MS_EOF);
    assert_null(o);
    unit_rmtree(dir);
}

static void test_save_then_load(void **state)
{
    struct json_object *c = cursor(42);
    char dir[PATH_MAX];

    (void)state;
    unit_tmpdir(dir);
    assert_int_equal(ms_state_save(dir, "in", c), MS_OK);
    assert_int_equal(loaded_offset(dir, "in"), 42);
    json_object_put(c);
    unit_rmtree(dir);
}

static void test_crash_between_write_and_rename_keeps_old(void **state)
{
    struct json_object *c = cursor(1);
    char dir[PATH_MAX];
    char path[PATH_MAX + 32];
    pid_t pid;
    int status;

    (void)state;
    unit_tmpdir(dir);
    assert_int_equal(ms_state_save(dir, "in", c), MS_OK);
    snprintf(path, sizeof(path), "%s/inputs/in.json", dir);
    /* The child writes the new state's tmp file and dies before the rename. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *next = "{\"offset\":2}";

        if (ms_atomic_write_prepare(path, next, strlen(next)) != MS_OK) {
            _exit(1);
        }
        _exit(9); /* "crash" */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 9);
    /* The tmp file exists, the state is still the old one. */
    snprintf(path, sizeof(path), "%s/inputs/in.json.tmp", dir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(loaded_offset(dir, "in"), 1);
    /* The next save replaces both. */
    json_object_put(c);
    c = cursor(3);
    assert_int_equal(ms_state_save(dir, "in", c), MS_OK);
    assert_int_equal(loaded_offset(dir, "in"), 3);
    assert_int_equal(access(path, F_OK), -1);
    json_object_put(c);
    unit_rmtree(dir);
}

static void test_torn_tmp_never_read(void **state)
{
    struct json_object *c = cursor(7);
    char dir[PATH_MAX];
    char path[PATH_MAX + 32];
    FILE *f;

    (void)state;
    unit_tmpdir(dir);
    assert_int_equal(ms_state_save(dir, "in", c), MS_OK);
    snprintf(path, sizeof(path), "%s/inputs/in.json.tmp", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"offs", f); /* half-written */
    fclose(f);
    assert_int_equal(loaded_offset(dir, "in"), 7);
    json_object_put(c);
    unit_rmtree(dir);
}

static void test_corrupt_state_is_einval(void **state)
{
    struct json_object *o = NULL;
    char dir[PATH_MAX];
    char sub[PATH_MAX + 16];
    char path[PATH_MAX];

    (void)state;
    unit_tmpdir(dir);
    snprintf(sub, sizeof(sub), "%s/inputs", dir);
    assert_int_equal(ms_mkdir_p(sub), MS_OK);
    unit_write_file(sub, "in.json", "not json", path);
    assert_int_equal(ms_state_load(dir, "in", &o), MS_EINVAL);
    assert_null(o);
    unit_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_start_is_eof),
        cmocka_unit_test(test_save_then_load),
        cmocka_unit_test(test_crash_between_write_and_rename_keeps_old),
        cmocka_unit_test(test_torn_tmp_never_read),
        cmocka_unit_test(test_corrupt_state_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
