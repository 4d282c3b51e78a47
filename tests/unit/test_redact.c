/* Secrets never reach a log line, a config dump or a config error. */
#include <config.h>

#include "unit.h"

#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_log.h"
#include "core/ms_plugin.h"

struct secret_ctx {
    char *token;
    char *user;
};

static const struct ms_config_map secret_map[] = {
    {.name = "token",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET | MS_CFG_REQUIRED,
     .offset = offsetof(struct secret_ctx, token),
     .desc = "secret"},
    {.name = "user",
     .type = MS_CFG_STR,
     .offset = offsetof(struct secret_ctx, user),
     .desc = "not secret"},
    {0},
};

/* Captures everything the log prints while fn runs. Caller frees. */
static char *capture_log(void (*fn)(void))
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    assert_non_null(mem);
    ms_log_set_stream(mem);
    fn();
    ms_log_set_stream(NULL);
    fclose(mem);
    return text;
}

static void log_with_secret(void)
{
    struct ms_instance ins;

    memset(&ins, 0, sizeof(ins));
    ins.kind = "input";
    ins.plugin_name = "mimecast";
    snprintf(ins.name, sizeof(ins.name), "eu");
    ins.log_level = -1;
    ms_log_error(&ins, "token refused: Authorization: Bearer %s (twice: %s)", "tok-ABCDEF123456",
                 "tok-ABCDEF123456");
    ms_log_error(NULL, "client_secret=%s", "tok-ABCDEF123456");
}

static void test_registered_secret_is_scrubbed(void **state)
{
    char *text;

    (void)state;
    assert_int_equal(ms_log_register_secret("tok-ABCDEF123456"), MS_OK);
    text = capture_log(log_with_secret);
    assert_null(strstr(text, "tok-ABCDEF123456"));
    assert_non_null(strstr(text, "[input:mimecast:eu] token refused"));
    assert_non_null(strstr(text, "Bearer ****************"));
    assert_non_null(strstr(text, "[core] client_secret=****"));
    free(text);
    ms_log_clear_secrets();
}

static void test_short_values_not_registered(void **state)
{
    char line[] = "a b abc";

    (void)state;
    assert_int_equal(ms_log_register_secret("abc"), MS_OK);
    assert_int_equal(ms_log_scrub(line), 0);
    assert_string_equal(line, "a b abc");
}

static void test_config_secret_from_env_scrubbed_and_redacted(void **state)
{
    const struct ms_config_map *maps[1] = {secret_map};
    struct ms_cfg_errors errs = {NULL, 0};
    struct secret_ctx ctx;
    struct ms_config *cfg = NULL;
    void *ctxs[1] = {&ctx};
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char *dump = NULL;
    size_t dump_len = 0;
    char line[128];
    FILE *mem;

    (void)state;
    memset(&ctx, 0, sizeof(ctx));
    unit_tmpdir(dir);
    setenv("MSFWD_TEST_TOKEN", "env-secret-9f8e7d", 1);
    unit_write_file(dir, "c.conf", "[output.x]\ntoken = ${MSFWD_TEST_TOKEN}\nuser = bob\n", path);
    assert_int_equal(ms_config_load(path, &cfg, &errs), MS_OK);
    assert_int_equal(ms_config_apply(cfg, ms_config_find(cfg, "output", "x"), maps, ctxs, 1, &errs),
                     MS_OK);
    assert_string_equal(ctx.token, "env-secret-9f8e7d");

    /* The dump shows the key but not the value. */
    mem = open_memstream(&dump, &dump_len);
    ms_config_map_dump(secret_map, &ctx, mem);
    fclose(mem);
    assert_non_null(strstr(dump, "token = <redacted>"));
    assert_non_null(strstr(dump, "user = bob"));
    assert_null(strstr(dump, "env-secret-9f8e7d"));
    free(dump);

    /* Applying registered it with the scrubber. */
    snprintf(line, sizeof(line), "got env-secret-9f8e7d back");
    assert_int_equal(ms_log_scrub(line), 1);
    assert_null(strstr(line, "env-secret"));

    ms_config_map_free(secret_map, &ctx);
    ms_config_destroy(cfg);
    ms_cfg_errors_free(&errs);
    ms_log_clear_secrets();
    unit_rmtree(dir);
}

static void test_invalid_secret_value_not_echoed(void **state)
{
    static const char *const choices[] = {"a", "b", NULL};
    static const struct ms_config_map choice_secret[] = {
        {.name = "token",
         .type = MS_CFG_STR,
         .flags = MS_CFG_SECRET,
         .choices = choices,
         .offset = 0,
         .desc = "secret with choices"},
        {0},
    };
    const struct ms_config_map *maps[1] = {choice_secret};
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_config *cfg = NULL;
    char *token = NULL;
    void *ctxs[1] = {&token};
    char dir[PATH_MAX];
    char path[PATH_MAX];

    (void)state;
    unit_tmpdir(dir);
    unit_write_file(dir, "c.conf", "[output.x]\ntoken = hunter2-not-a-choice\n", path);
    assert_int_equal(ms_config_load(path, &cfg, &errs), MS_OK);
    assert_int_equal(ms_config_apply(cfg, ms_config_find(cfg, "output", "x"), maps, ctxs, 1, &errs),
                     MS_EINVAL);
    assert_int_equal(errs.n, 1);
    assert_null(strstr(errs.msgs[0], "hunter2"));
    assert_non_null(strstr(errs.msgs[0], "not shown: secret"));
    ms_config_map_free(choice_secret, ctxs[0]);
    ms_config_destroy(cfg);
    ms_cfg_errors_free(&errs);
    unit_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_secret_is_scrubbed),
        cmocka_unit_test(test_short_values_not_registered),
        cmocka_unit_test(test_config_secret_from_env_scrubbed_and_redacted),
        cmocka_unit_test(test_invalid_secret_value_not_echoed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
