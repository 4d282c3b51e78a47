/* Config refusals (one test per kind), typed values, expansion. */
#include <config.h>

#include "unit.h"

#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_log.h"

struct demo_ctx {
    char *url;
    char *password;
    int64_t retries;
    int64_t interval_ms;
    int64_t size;
    bool verify;
    struct ms_strlist streams;
    char *mode;
    struct ms_kvlist kafka;
};

static const char *const modes[] = {"udp", "tcp", "tls", NULL};

static const struct ms_config_map demo_map[] = {
    {.name = "url",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct demo_ctx, url),
     .desc = "endpoint"},
    {.name = "password",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET,
     .offset = offsetof(struct demo_ctx, password),
     .desc = "secret"},
    {.name = "retries",
     .type = MS_CFG_INT,
     .def = "3",
     .min = 0,
     .max = 10,
     .offset = offsetof(struct demo_ctx, retries),
     .desc = "retries"},
    {.name = "interval",
     .type = MS_CFG_TIME,
     .def = "60s",
     .min = 1000,
     .max = 86400000,
     .offset = offsetof(struct demo_ctx, interval_ms),
     .desc = "interval"},
    {.name = "size",
     .type = MS_CFG_SIZE,
     .def = "1M",
     .offset = offsetof(struct demo_ctx, size),
     .desc = "size"},
    {.name = "verify",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct demo_ctx, verify),
     .desc = "verify"},
    {.name = "streams",
     .type = MS_CFG_STRLIST,
     .def = "a, b",
     .offset = offsetof(struct demo_ctx, streams),
     .desc = "streams"},
    {.name = "mode",
     .type = MS_CFG_STR,
     .def = "tcp",
     .choices = modes,
     .offset = offsetof(struct demo_ctx, mode),
     .desc = "transport"},
    {.name = "kafka.",
     .type = MS_CFG_PREFIX,
     .offset = offsetof(struct demo_ctx, kafka),
     .desc = "pass-through"},
    {0},
};

struct fixture {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    struct ms_config *cfg;
    struct ms_cfg_errors errs;
    struct demo_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    unit_tmpdir(fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    ms_config_map_free(demo_map, &fx->ctx);
    ms_config_destroy(fx->cfg);
    ms_cfg_errors_free(&fx->errs);
    unit_rmtree(fx->dir);
    free(fx);
    ms_log_clear_secrets();
    return 0;
}

/* Loads text and applies demo_map to [input.demo]. Returns the apply (or load) result. */
static int load_apply(struct fixture *fx, const char *text)
{
    const struct ms_config_map *maps[1] = {demo_map};
    void *ctxs[1] = {&fx->ctx};
    int ret;

    unit_write_file(fx->dir, "msfwd.conf", text, fx->path);
    ret = ms_config_load(fx->path, &fx->cfg, &fx->errs);
    if (ret != MS_OK) {
        return ret;
    }
    return ms_config_apply(fx->cfg, ms_config_find(fx->cfg, "input", "demo"), maps, ctxs, 1,
                           &fx->errs);
}

/* Asserts that one of the collected messages contains every needle. */
static void assert_error_has(const struct fixture *fx, const char *a, const char *b, const char *c)
{
    size_t i;

    for (i = 0; i < fx->errs.n; i++) {
        const char *m = fx->errs.msgs[i];

        if (strstr(m, a) && (!b || strstr(m, b)) && (!c || strstr(m, c))) {
            return;
        }
    }
    for (i = 0; i < fx->errs.n; i++) {
        print_message("# got: %s\n", fx->errs.msgs[i]);
    }
    fail_msg("no error message contains '%s' '%s' '%s'", a, b ? b : "", c ? c : "");
}

static void test_valid_values_and_defaults(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[service]\n"
                                    "[input.demo]\n"
                                    "url = https://x.example\n"
                                    "interval = 5m ; comment\n"
                                    "size = 64K\n"
                                    "verify = no\n"
                                    "streams = ttp_url , ttp_attachment\n"
                                    "kafka.compression.type = zstd\n"),
                     MS_OK);
    assert_string_equal(fx->ctx.url, "https://x.example");
    assert_int_equal(fx->ctx.interval_ms, 300000);
    assert_int_equal(fx->ctx.size, 65536);
    assert_int_equal(fx->ctx.retries, 3);
    assert_false(fx->ctx.verify);
    assert_int_equal(fx->ctx.streams.n, 2);
    assert_string_equal(fx->ctx.streams.items[1], "ttp_attachment");
    assert_string_equal(fx->ctx.mode, "tcp");
    assert_int_equal(fx->ctx.kafka.n, 1);
    assert_string_equal(fx->ctx.kafka.keys[0], "compression.type");
    assert_string_equal(fx->ctx.kafka.values[0], "zstd");
}

static void test_empty_optional_list_is_empty(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[input.demo]\nurl = x\nstreams =\n"), MS_OK);
    assert_int_equal(fx->ctx.streams.n, 0);
}

static void test_refuse_unknown_key(void **state)
{
    struct fixture *fx = *state;
    char where[PATH_MAX + 32];

    assert_int_equal(load_apply(fx, "[input.demo]\n"
                                    "url = x\n"
                                    "intervall = 5m\n"),
                     MS_EINVAL);
    snprintf(where, sizeof(where), "%s:3:", fx->path);
    assert_error_has(fx, where, "[input.demo] intervall: unknown key", "did you mean 'interval'");
}

static void test_refuse_wrong_type(void **state)
{
    struct fixture *fx = *state;
    char where[PATH_MAX + 32];

    assert_int_equal(load_apply(fx, "[input.demo]\nurl = x\nretries = many\n"), MS_EINVAL);
    snprintf(where, sizeof(where), "%s:3:", fx->path);
    assert_error_has(fx, where, "[input.demo] retries:", "not an integer");
}

static void test_refuse_wrong_duration(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[input.demo]\nurl = x\ninterval = 5 minutes\n"), MS_EINVAL);
    assert_error_has(fx, ":3:", "interval:", "not a duration");
}

static void test_refuse_out_of_range(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[input.demo]\nurl = x\nretries = 11\n"), MS_EINVAL);
    assert_error_has(fx, ":3:", "[input.demo] retries:", "out of range (0..10)");
}

static void test_refuse_bad_choice(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[input.demo]\nurl = x\nmode = sctp\n"), MS_EINVAL);
    assert_error_has(fx, ":3:", "mode:", "not one of: udp | tcp | tls");
}

static void test_refuse_missing_required(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[service]\n\n[input.demo]\nretries = 1\n"), MS_EINVAL);
    /* Reported at the section's line, since the key has none. */
    assert_error_has(fx, ":3:", "[input.demo] url:", "required key is missing");
}

static void test_refuse_unreadable_file(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(
        load_apply(fx, "[input.demo]\nurl = x\npassword = @/nonexistent/msfwd.secret\n"),
        MS_EINVAL);
    assert_error_has(fx, ":3:", "[input.demo] password:", "cannot read file '/nonexistent");
}

static void test_refuse_unset_env(void **state)
{
    struct fixture *fx = *state;

    unsetenv("MSFWD_TEST_UNSET");
    assert_int_equal(load_apply(fx, "[input.demo]\nurl = https://${MSFWD_TEST_UNSET}/x\n"),
                     MS_EINVAL);
    assert_error_has(fx, ":2:", "[input.demo] url:", "environment variable MSFWD_TEST_UNSET");
}

static void test_refuse_duplicate_key(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[input.demo]\nurl = x\nurl = y\n"), MS_EINVAL);
    assert_error_has(fx, ":3:", "url: key given twice", "first at line 2");
}

static void test_refuse_unknown_section(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[inputs.demo]\nurl = x\n"), MS_EINVAL);
    assert_error_has(fx, ":1:", "[inputs.demo]", "unknown section");
    assert_int_equal(fx->errs.n, 1);
}

static void test_refuse_syntax_error(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load_apply(fx, "[input.demo]\nurl = x\nthis line has no equals sign\n"),
                     MS_EINVAL);
    assert_error_has(fx, ":3:", "syntax error", NULL);
}

static void test_refuse_missing_file(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(ms_config_load("/nonexistent/msfwd.conf", &fx->cfg, &fx->errs), MS_EIO);
    assert_error_has(fx, "/nonexistent/msfwd.conf", "cannot open", NULL);
}

static void test_expand_env_and_file(void **state)
{
    struct fixture *fx = *state;
    char secret_path[PATH_MAX];
    char text[PATH_MAX * 2];

    setenv("MSFWD_TEST_HOST", "mc.example", 1);
    unit_write_file(fx->dir, "pw", "s3cr3t-value\n\n", secret_path);
    snprintf(
        text, sizeof(text),
        "[input.demo]\nurl = https://${MSFWD_TEST_HOST}:$${x}/${source_type}\npassword = @%s\n",
        secret_path);
    assert_int_equal(load_apply(fx, text), MS_OK);
    assert_string_equal(fx->ctx.url, "https://mc.example:${x}/${source_type}");
    assert_string_equal(fx->ctx.password, "s3cr3t-value");
}

static void test_long_line_is_kept_whole(void **state)
{
    struct fixture *fx = *state;
    char text[2048];
    char url[1200];

    memset(url, 'a', sizeof(url) - 1);
    url[sizeof(url) - 1] = '\0';
    snprintf(text, sizeof(text), "[input.demo]\nurl = %s\nretries = 2\n", url);
    assert_int_equal(load_apply(fx, text), MS_OK);
    assert_string_equal(fx->ctx.url, url);
    assert_int_equal(fx->ctx.retries, 2);
}

static void test_scalar_parsers(void **state)
{
    int64_t v;
    bool b;

    (void)state;
    assert_int_equal(ms_parse_duration_ms("250ms", &v), MS_OK);
    assert_int_equal(v, 250);
    assert_int_equal(ms_parse_duration_ms("7d", &v), MS_OK);
    assert_int_equal(v, 7LL * 86400000);
    assert_int_equal(ms_parse_duration_ms("30", &v), MS_OK);
    assert_int_equal(v, 30000);
    assert_int_equal(ms_parse_duration_ms("-1s", &v), MS_EINVAL);
    assert_int_equal(ms_parse_duration_ms("1y", &v), MS_EINVAL);
    assert_int_equal(ms_parse_size("2G", &v), MS_OK);
    assert_int_equal(v, 2LL * 1024 * 1024 * 1024);
    assert_int_equal(ms_parse_size("10MB", &v), MS_OK);
    assert_int_equal(v, 10LL * 1024 * 1024);
    assert_int_equal(ms_parse_size("99999999999999999999", &v), MS_EINVAL);
    assert_int_equal(ms_parse_bool("On", &b), MS_OK);
    assert_true(b);
    assert_int_equal(ms_parse_bool("maybe", &b), MS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_values_and_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_optional_list_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_wrong_duration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_bad_choice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_missing_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_unreadable_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_unset_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_duplicate_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_unknown_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_syntax_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_env_and_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_is_kept_whole, setup, teardown),
        cmocka_unit_test(test_scalar_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
