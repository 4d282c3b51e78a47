/*
 * libFuzzer target: a spooled event's text read with every output view (ms_batch_add_text) must
 * get the verdict json_tokener_parse gives, the same id and source type, and the object the view
 * promises (the whole event less what the view leaves out); ms_json_write of json-c's object must
 * be json-c's own text, byte for byte.
 */
#include <config.h>

#include "core/ms_buf.h"
#include "core/ms_json.h"
#include "fuzz_common.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char *text_of(struct json_object *v)
{
    return json_object_to_json_string_ext(v, FLAGS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum ms_event_view views[] = {MS_VIEW_FULL, MS_VIEW_NO_RAW, MS_VIEW_TEXT,
                                               MS_VIEW_NORMALIZED};
    char *text;
    struct json_object *want;
    struct ms_batch b;
    char id[MS_EVENT_ID_LEN + 1] = "";
    char st[MS_SOURCE_TYPE_MAX] = "";
    size_t v;
    bool ok;

    if (size > 1 << 16) {
        return 0;
    }
    text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    want = json_tokener_parse(text);
    ok = want && json_object_is_type(want, json_type_object);
    if (ok) {
        struct json_object *x;
        struct ms_buf buf;

        if (json_object_object_get_ex(want, "id", &x)) {
            snprintf(id, sizeof(id), "%s", json_object_get_string(x));
        }
        if (json_object_object_get_ex(want, "source_type", &x)) {
            snprintf(st, sizeof(st), "%s", json_object_get_string(x));
        }
        ms_buf_init(&buf, 1 << 24);
        FUZZ_CHECK(ms_json_write(&buf, want) == MS_OK, "ms_json_write failed");
        FUZZ_CHECK(strcmp(ms_buf_cstr(&buf), text_of(want)) == 0, "writer: %s vs %s",
                   ms_buf_cstr(&buf), text_of(want));
        ms_buf_free(&buf);
    }
    if (ms_json_scan(text, size, NULL, NULL)) {
        FUZZ_CHECK(ok, "strict scan accepted what json-c refuses: %s", text);
    }
    for (v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
        const struct ms_event *ev;
        int rc;

        if (ms_batch_init(&b, 1) != MS_OK) {
            break;
        }
        rc = ms_batch_add_text(&b, (const char *)data, size, views[v]);
        FUZZ_CHECK(rc == (ok ? MS_OK : MS_EINVAL), "view %d: rc %d, json-c %s", (int)views[v], rc,
                   ok ? "accepts" : "refuses");
        if (ok) {
            ev = &b.events[0];
            FUZZ_CHECK(ev->text_len == size && memcmp(ev->text, data, size) == 0, "text");
            FUZZ_CHECK(strcmp(ev->id, id) == 0, "id '%s' vs '%s'", ev->id, id);
            FUZZ_CHECK(strcmp(ev->source_type, st) == 0, "source_type");
            if (views[v] == MS_VIEW_TEXT) {
                FUZZ_CHECK(!ev->ev, "text view has an object");
            }
            else {
                struct json_object *less = json_tokener_parse(text);

                if (views[v] != MS_VIEW_FULL) {
                    json_object_object_del(less, "raw");
                }
                if (views[v] == MS_VIEW_NORMALIZED) {
                    json_object_object_del(less, "fields");
                }
                FUZZ_CHECK(strcmp(text_of(ev->ev), text_of(less)) == 0, "view %d: %s vs %s",
                           (int)views[v], text_of(ev->ev), text_of(less));
                json_object_put(less);
            }
        }
        ms_batch_free(&b);
    }
    json_object_put(want);
    free(text);
    return 0;
}
