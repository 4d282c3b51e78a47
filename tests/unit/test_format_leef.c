/* LEEF encoder: header, IBM keys, escaping table row by row, hostile values, missing/wrong keys. */
#include <config.h>

#include "sl_unit.h"

#define EV_FULL                                                                                    \
    "{\"id\":\"ab12\",\"time\":\"2026-11-20T10:15:30.000Z\",\"vendor\":\"Mimecast\","              \
    "\"product\":\"Email Security\",\"source_type\":\"mimecast:ttp:url\",\"alert_type\":\"URL "    \
    "Protection\",\"mitre\":{\"technique_id\":\"T1598.003\",\"technique_name\":\"Spearphishing "   \
    "Link\"},\"severity\":7,\"action\":\"blocked\",\"vendor_action\":\"block\",\"sender\":\"a@x."  \
    "org\",\"recipient\":\"b@y.com\",\"subject\":\"Hello\",\"message_id\":\"<m1@x>\",\"src_ip\":"  \
    "\"185.220.101.7\",\"url\":\"https://e.x/?a=1\",\"signature\":\"Inbound URL\",\"size\":1234}"

static void test_full_event_leef2(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    sl_expect(&o, EV_FULL,
              "LEEF:2.0|Mimecast|Email Security|2.0|TTP_URL|x09|devTime=" SL_T0_MS
              "\tcat=blocked\tsev=7\tsrc=185.220.101.7\tusrName=b@y.com\tsuser=a@x.org"
              "\tduser=b@y.com\turl=https://e.x/?a\\=1\tpolicy=Inbound URL\tsubject=Hello"
              "\tmessageId=<m1@x>\talertType=URL Protection\taction=blocked\tvendorAction=block"
              "\tmitreTechnique=T1598.003\tmitreTechniqueName=Spearphishing Link\tsize=1234"
              "\teventId=ab12\tsourceType=mimecast:ttp:url");
}

static void test_full_event_leef1_and_caret(void **state)
{
    struct sl_format_opts o;
    const char *ev = "{\"id\":\"i\",\"time\":\"2026-11-20T10:15:30.000Z\","
                     "\"source_type\":\"pps:quarantine\",\"subject\":\"a^b\\tc\"}";

    (void)state;
    /* LEEF 1.0: no delimiter field, tab between attributes whatever delim says. */
    sl_opts(&o, SL_PAYLOAD_LEEF1, '^');
    sl_expect(&o, ev,
              "LEEF:1.0|Proofpoint|Protection Server|v1|PPS_Quarantine|devTime=" SL_T0_MS
              "\tcat=quarantined\tsubject=a^b\\tc\teventId=i\tsourceType=pps:quarantine");
    /* LEEF 2.0 with ^: written literally in the header; a ^ inside a value becomes a space. */
    sl_opts(&o, SL_PAYLOAD_LEEF2, '^');
    sl_expect(&o, ev,
              "LEEF:2.0|Proofpoint|Protection Server|v1|PPS_Quarantine|^|devTime=" SL_T0_MS
              "^cat=quarantined^subject=a b\\tc^eventId=i^sourceType=pps:quarantine");
}

/* Encodes {"source_type":"x:y","subject":<json_value>} and returns the subject value. */
static char *subject_of(const struct sl_format_opts *o, const char *json_value)
{
    char json[4096];
    char key[16];
    struct ms_event ev;
    size_t len;
    char *out;
    char *p;
    char *end;
    char *val;

    snprintf(json, sizeof(json), "{\"source_type\":\"x:y\",\"subject\":%s}", json_value);
    sl_ev_init(&ev, json);
    out = sl_encode(o, &ev, &len);
    sl_ev_free(&ev);
    assert_true(sl_valid_utf8(out, len));
    snprintf(key, sizeof(key), "%csubject=", o->payload == SL_PAYLOAD_LEEF1 ? '\t' : o->delim);
    p = strstr(out, key);
    if (!p) {
        free(out);
        return NULL;
    }
    p += strlen(key);
    end = strchr(p, o->payload == SL_PAYLOAD_LEEF1 ? '\t' : o->delim);
    val = end ? strndup(p, (size_t)(end - p)) : strdup(p);
    assert_non_null(val);
    free(out);
    return val;
}

struct row {
    const char *in;   /* JSON string literal as it appears in the event */
    const char *want; /* LEEF value */
};

/* The escaping table (outputs-protocols.md §2.5 and our choices in sl_format_opts_prepare). */
static const struct row leef_rows[] = {
    {"\"plain text\"", "plain text"},
    {"\"a\\tb\"", "a\\tb"},                /* tab (the delimiter): the two characters \t */
    {"\"a\\nb\"", "a\\nb"},                /* LF -> \n */
    {"\"a\\rb\"", "a\\rb"},                /* CR -> \r */
    {"\"a\\r\\nb\"", "a\\r\\nb"},          /* CRLF */
    {"\"a=b\"", "a\\=b"},                  /* = -> \= */
    {"\"a\\\\b\"", "a\\\\b"},              /* \ -> \\ */
    {"\"a\\\\=b\"", "a\\\\\\=b"},          /* \= -> \\\= (no ambiguity) */
    {"\"trailing\\\\\"", "trailing\\\\"},  /* a final \ cannot escape the delimiter */
    {"\"a|b\"", "a|b"},                    /* | is harmless in attributes */
    {"\"a^b\"", "a^b"},                    /* not the delimiter here */
    {"\"a\\u0000b\"", "ab"},               /* NUL dropped */
    {"\"a\\u0001\\u001bb\\u007f\"", "ab"}, /* other C0 and DEL dropped */
    {"\"a\\u0085b\"", "ab"},               /* C1 (NEL) dropped */
    {"\"a\\u2028b\"", "a\xe2\x80\xa8"
                      "b"}, /* U+2028 is text for LEEF */
    {"\"Gr\xc3\xbc\xc3\x9f"
     "e M\xc3\xbcller\"",
     "Gr\xc3\xbc\xc3\x9f"
     "e M\xc3\xbcller"},
    {"\"\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8\xe3\x81\xae\xe3\x81\x8a\xe7\x9f\xa5\xe3\x82\x89"
     "\xe3\x81\x9b\"",
     "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8\xe3\x81\xae\xe3\x81\x8a\xe7\x9f\xa5\xe3\x82\x89"
     "\xe3\x81\x9b"},                             /* Japanese */
    {"\"\xf0\x9f\x93\xa7\"", "\xf0\x9f\x93\xa7"}, /* 4-byte emoji */
    {"\"a\xff"
     "b\"",
     "a\xef\xbf\xbd"
     "b"},                                                        /* invalid byte -> U+FFFD */
    {"\"a\xc3\"", "a\xef\xbf\xbd"},                               /* truncated 2-byte sequence */
    {"\"a\xe3\x81\"", "a\xef\xbf\xbd"},                           /* truncated 3-byte: one U+FFFD */
    {"\"\xc0\xaf\"", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong: two */
    {"\"\xed\xa0\x80\"", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate: three */
    {"\"\xf0\x9f\x98"
     "A\"",
     "\xef\xbf\xbd"
     "A"}, /* cut 4-byte then ASCII */
    {"\"\xf4\x90\x80\x80\"", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
    {"42", "42"},
    {"-7", "-7"},
    {"true", "true"},
    {"1.5", "1.5"},
    {"[\"a\",1,{\"x\":1},[\"n\"],\"b\"]", "a,1,b"}, /* arrays of scalars joined */
};

static void test_escaping_table(void **state)
{
    struct sl_format_opts o;
    size_t i;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    for (i = 0; i < sizeof(leef_rows) / sizeof(leef_rows[0]); i++) {
        char *got = subject_of(&o, leef_rows[i].in);

        if (!got || strcmp(got, leef_rows[i].want) != 0) {
            fprintf(stderr, "# row %zu: in %s want [%s] got [%s]\n", i, leef_rows[i].in,
                    leef_rows[i].want, got ? got : "(absent)");
        }
        assert_non_null(got);
        assert_string_equal(got, leef_rows[i].want);
        free(got);
    }
    /* The same rows through LEEF 1.0 give the same values (tab is its only delimiter). */
    sl_opts(&o, SL_PAYLOAD_LEEF1, '^');
    for (i = 0; i < sizeof(leef_rows) / sizeof(leef_rows[0]); i++) {
        char *got = subject_of(&o, leef_rows[i].in);

        assert_non_null(got);
        assert_string_equal(got, leef_rows[i].want);
        free(got);
    }
}

static void test_no_value_makes_no_attribute(void **state)
{
    struct sl_format_opts o;
    const char *absent[] = {"null", "{\"a\":1}", "[]", "[{\"a\":1}]", "\"\"", "\"\\u0000\""};
    size_t i;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        char *got = subject_of(&o, absent[i]);

        if (got) {
            fprintf(stderr, "# %s gave subject=[%s]\n", absent[i], got);
        }
        assert_null(got);
    }
}

/* Splits a LEEF 2.0 tab-delimited line into attributes and checks each key is unique. */
static void assert_attributes_unique(const char *out, size_t len, const char *const *keys)
{
    const char *p;
    size_t pipes = 0;
    size_t i;

    /* Past the 6 header pipes. */
    for (p = out; p < out + len && pipes < 6; p++) {
        pipes += *p == '|';
    }
    for (i = 0; keys[i]; i++) {
        char needle[64];
        size_t hits = 0;
        const char *q = p;

        snprintf(needle, sizeof(needle), "%s=", keys[i]);
        while (q < out + len) {
            const char *end = memchr(q, '\t', (size_t)(out + len - q));
            size_t alen = end ? (size_t)(end - q) : (size_t)(out + len - q);

            if (alen >= strlen(needle) && memcmp(q, needle, strlen(needle)) == 0) {
                hits++;
            }
            q += alen + 1;
        }
        if (hits > 1) {
            fprintf(stderr, "# key %s appears %zu times in %s\n", keys[i], hits, out);
        }
        assert_true(hits <= 1);
    }
}

static void test_no_injection(void **state)
{
    static const char *const keys[] = {"devTime", "cat", "sev",     "src",        "usrName",
                                       "subject", "url", "eventId", "sourceType", NULL};
    struct sl_format_opts o;
    struct ms_event ev;
    size_t len;
    char *out;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    sl_ev_init(&ev, "{\"source_type\":\"mimecast:ttp:url\",\"id\":\"x\","
                    "\"subject\":\"hi\\tsev=10\\tsrc=1.2.3.4\\ncat=evil\","
                    "\"url\":\"http://h/?subject=spoof&eventId=forged\","
                    "\"recipient\":\"r\\r\\nusrName=admin\"}");
    out = sl_encode(&o, &ev, &len);
    assert_null(memchr(out, '\n', len));
    assert_null(memchr(out, '\r', len));
    assert_attributes_unique(out, len, keys);
    /* No "key=" of ours appears inside a value: a key=([^\t]+) regex finds the real one only. */
    assert_int_equal(sl_count(out, len, "subject="), 1);
    assert_int_equal(sl_count(out, len, "eventId="), 1);
    assert_int_equal(sl_count(out, len, "sev="), 0);
    assert_int_equal(sl_count(out, len, "src="), 0);
    assert_int_equal(sl_count(out, len, "cat="), 1);
    assert_non_null(strstr(out, "|cat=other\t"));
    assert_non_null(strstr(out, "\tsubject=hi\\tsev\\=10\\tsrc\\=1.2.3.4\\ncat\\=evil\t"));
    free(out);
    sl_ev_free(&ev);
}

static void test_huge_values(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    struct ms_buf json;
    size_t len;
    size_t i;
    char *out;
    char *v;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    ms_buf_init(&json, 8u * 1024 * 1024);
    assert_int_equal(ms_buf_puts(&json, "{\"source_type\":\"x:y\",\"subject\":\""), MS_OK);
    for (i = 0; i < 400000; i++) {
        assert_int_equal(ms_buf_puts(&json, "\xe6\x97\xa5"), MS_OK); /* U+65E5, 3 bytes */
    }
    assert_int_equal(ms_buf_puts(&json, "\",\"url\":\""), MS_OK);
    for (i = 0; i < 100000; i++) {
        assert_int_equal(ms_buf_puts(&json, "\\\\"), MS_OK); /* one backslash each */
    }
    assert_int_equal(ms_buf_puts(&json, "\",\"recipient\":\""), MS_OK);
    for (i = 0; i < 5000; i++) {
        assert_int_equal(ms_buf_puts(&json, "\xc3\xbc"), MS_OK); /* u umlaut */
    }
    assert_int_equal(ms_buf_puts(&json, "\"}"), MS_OK);
    sl_ev_init(&ev, ms_buf_cstr(&json));
    ms_buf_free(&json);
    out = sl_encode(&o, &ev, &len);
    assert_true(sl_valid_utf8(out, len));
    assert_true(len < 4 * SL_VALUE_MAX);

    v = strstr(out, "\tsubject=") + strlen("\tsubject=");
    assert_int_equal(strchr(v, '\t') - v, 3999); /* 1333 whole characters, never a part */
    v = strstr(out, "\turl=") + strlen("\turl=");
    assert_int_equal(strchr(v, '\t') - v, SL_VALUE_MAX); /* 2000 escaped pairs, none split */
    v = strstr(out, "\tusrName=") + strlen("\tusrName=");
    assert_int_equal(strchr(v, '\t') - v, 254); /* usrName <= 255 bytes: 127 umlauts */
    free(out);
    sl_ev_free(&ev);
}

static void test_missing_keys(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    /* What today's first-cut mapping produces. */
    sl_expect(&o,
              "{\"id\":\"i1\",\"time\":\"2026-11-20T10:15:30.000Z\","
              "\"source_type\":\"mimecast:ttp:url\",\"raw\":{\"url\":\"x=y\"}}",
              "LEEF:2.0|Mimecast|Email Security|2.0|TTP_URL|x09|devTime=" SL_T0_MS
              "\tcat=other\teventId=i1\tsourceType=mimecast:ttp:url");
    /* Nothing at all, and not even an object. */
    sl_expect(&o, "{}", "LEEF:2.0|Unknown|Unknown|1.0|EVENT|x09|cat=other");
    sl_expect(&o, "[1,2]", "LEEF:2.0|Unknown|Unknown|1.0|EVENT|x09|cat=other");
    sl_expect(&o, "\"text\"", "LEEF:2.0|Unknown|Unknown|1.0|EVENT|x09|cat=other");
}

static void test_wrong_types(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
#define PRE "LEEF:2.0|Unknown|Unknown|1.0|X_Y|x09|cat=other"
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":\"7\"}", PRE "\tsev=7\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":\"high\"}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":99}", PRE "\tsev=10\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":-3}", PRE "\tsev=1\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":0}", PRE "\tsev=1\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":7.9}", PRE "\tsev=7\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":true}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"severity\":[7]}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"time\":\"yesterday\"}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"time\":1795169730}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"time\":\"2026-02-30T10:15:30.000Z\"}",
              PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"mitre\":\"T1566\"}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"mitre\":{\"technique_id\":[\"T1\",\"T2\"]}}",
              PRE "\tmitreTechnique=T1,T2\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"src_ip\":\"Internal IP\"}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"src_ip\":\"2001:db8::1\",\"src_port\":\"25\"}",
              PRE "\tsrc=2001:db8::1\tsrcPort=25\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"src_port\":70000}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"dest\":\"10.0.0.5\",\"dest_port\":25}",
              PRE "\tdst=10.0.0.5\tdstPort=25\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"dest\":\"mx.example.com\"}",
              PRE "\tdestHost=mx.example.com\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"recipient\":[\"r1@x\",\"r2@y\"]}",
              PRE "\tusrName=r1@x\tduser=r1@x,r2@y\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"recipient\":[1,\"q@r\"]}",
              PRE "\tusrName=q@r\tduser=1,q@r\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"recipient\":[]}", PRE "\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":\"x:y\",\"id\":123,\"size\":\"12k\"}",
              PRE "\teventId=123\tsourceType=x:y");
    sl_expect(&o, "{\"source_type\":7,\"vendor\":[\"A\"],\"product\":null}",
              "LEEF:2.0|Unknown|Unknown|1.0|EVENT|x09|cat=other");
#undef PRE
}

static void test_cat_vocabulary(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '^');
#define URL_PRE "LEEF:2.0|Mimecast|Email Security|2.0|TTP_URL|^|cat="
    sl_expect(&o, "{\"source_type\":\"mimecast:ttp:url\",\"vendor_action\":\" Block \"}",
              URL_PRE "blocked^vendorAction= Block ^sourceType=mimecast:ttp:url");
    sl_expect(&o, "{\"source_type\":\"mimecast:ttp:url\",\"vendor_action\":\"warn\"}",
              URL_PRE "warned^vendorAction=warn^sourceType=mimecast:ttp:url");
    sl_expect(&o, "{\"source_type\":\"mimecast:ttp:url\",\"action\":\"allowed\"}",
              URL_PRE "allowed^action=allowed^sourceType=mimecast:ttp:url");
    sl_expect(&o, "{\"source_type\":\"mimecast:ttp:url\",\"vendor_action\":\"permit\"}",
              URL_PRE "other^vendorAction=permit^sourceType=mimecast:ttp:url");
#undef URL_PRE
    sl_expect(&o, "{\"source_type\":\"mimecast:ttp:attachment\",\"category\":\"Malicious\"}",
              "LEEF:2.0|Mimecast|Email Security|2.0|TTP_Attachment|^|cat=malicious"
              "^sourceType=mimecast:ttp:attachment");
    sl_expect(&o, "{\"source_type\":\"ser:summary\",\"category\":\"whatever\"}",
              "LEEF:2.0|Proofpoint|Secure Email Relay|v1|SER_Usage_Summary|^|cat=usage"
              "^sourceType=ser:summary");
    /* Unknown source type: header from the event; cat free but restricted to [a-z0-9_-]. */
    sl_expect(&o,
              "{\"source_type\":\"acme:thing-2\",\"vendor\":\"Acme\",\"product\":\"Gate\","
              "\"category\":\"Phish Kit!\"}",
              "LEEF:2.0|Acme|Gate|1.0|ACME_THING_2|^|cat=phish_kit_^sourceType=acme:thing-2");
}

static void test_header_overrides_and_sanitizing(void **state)
{
    struct sl_format_opts o;
    char long_id[400];

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    o.vendor = "Ac|me\\x\nY";
    o.product = "P\tQ";
    o.version = "9";
    o.event_id = "My|ID";
    sl_expect(&o, "{\"source_type\":\"x:y\"}",
              "LEEF:2.0|Ac_me_x Y|P Q|9|My_ID|x09|cat=other\tsourceType=x:y");
    /* The event's own vendor/product are sanitized the same way. */
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    sl_expect(&o, "{\"vendor\":\"V|1\",\"product\":\"P\\u0001Q\\n\"}",
              "LEEF:2.0|V_1|PQ |1.0|EVENT|x09|cat=other");
    /* EventID at most 255 bytes. */
    memset(long_id, 'E', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    o.event_id = long_id;
    {
        struct ms_event ev;
        size_t len;
        char *out;
        char *p;

        sl_ev_init(&ev, "{}");
        out = sl_encode(&o, &ev, &len);
        p = strstr(out, "|EEE");
        assert_non_null(p);
        assert_int_equal(strchr(p + 1, '|') - (p + 1), 255);
        free(out);
        sl_ev_free(&ev);
    }
}

static void test_devtime_text_and_usrname(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    o.devtime_text = true;
    o.usrname = SL_USRNAME_SENDER;
    sl_expect(&o,
              "{\"source_type\":\"x:y\",\"time\":\"2026-11-20T11:15:30.5+01:00\","
              "\"sender\":\"s@x\",\"recipient\":\"r@y\"}",
              "LEEF:2.0|Unknown|Unknown|1.0|X_Y|x09|devTime=Nov 20 2026 10:15:30.500 UTC"
              "\tdevTimeFormat=MMM dd yyyy HH:mm:ss.SSS z\tcat=other\tusrName=s@x\tsuser=s@x"
              "\tduser=r@y\tsourceType=x:y");
}

/* fuzz_syslog_format: values written without the escape table carried the delimiter. */
static void test_delimiter_in_unescaped_values(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '-');
    sl_expect(&o,
              "{\"source_type\":\"acme:thing-2\",\"vendor\":\"Acme\",\"product\":\"Gate\","
              "\"category\":\"Phish-Kit_x.y\",\"size\":-5}",
              "LEEF:2.0|Acme|Gate|1.0|ACME_THING_2|-|cat=phish kit_x_y-sourceType=acme:thing 2");
    sl_opts(&o, SL_PAYLOAD_LEEF2, '_');
    sl_expect(&o, "{\"category\":\"Phish Kit\",\"size\":-5}",
              "LEEF:2.0|Unknown|Unknown|1.0|EVENT|_|cat=phish kit_size=-5");
    sl_opts(&o, SL_PAYLOAD_LEEF2, ':');
    o.devtime_text = true;
    sl_expect(&o, "{\"source_type\":\"x:y\",\"time\":\"2026-11-20T11:15:30.5+01:00\"}",
              "LEEF:2.0|Unknown|Unknown|1.0|X_Y|:|devTime=Nov 20 2026 10 15 30.500 UTC"
              ":devTimeFormat=MMM dd yyyy HH mm ss.SSS z:cat=other:sourceType=x y");
    sl_opts(&o, SL_PAYLOAD_LEEF2, '-');
    sl_expect(&o, "{\"time\":\"1969-12-31T23:59:59.000Z\"}",
              "LEEF:2.0|Unknown|Unknown|1.0|EVENT|-|cat=other");
    /* A list is joined with ',', which may be the delimiter too. */
    sl_opts(&o, SL_PAYLOAD_LEEF2, ',');
    sl_expect(&o, "{\"recipient\":[\"a@x\",\"b,c@y\",\"\",\"d@z\"]}",
              "LEEF:2.0|Unknown|Unknown|1.0|EVENT|,|cat=other,usrName=a@x,duser=a@x b c@y d@z");
    sl_opts(&o, SL_PAYLOAD_LEEF2, '^');
    sl_expect(&o, "{\"recipient\":[\"a@x\",\"b,c@y\",\"\",\"d@z\"]}",
              "LEEF:2.0|Unknown|Unknown|1.0|EVENT|^|cat=other^usrName=a@x^duser=a@x,b,c@y,d@z");
}

static void test_buffer_cap(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    struct ms_buf buf;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    sl_ev_init(&ev, EV_FULL);
    ms_buf_init(&buf, 100);
    assert_int_equal(sl_format_leef(&o, &ev, &buf), MS_ETOOBIG);
    assert_null(buf.data);
    ms_buf_free(&buf);
    sl_ev_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_event_leef2),
        cmocka_unit_test(test_full_event_leef1_and_caret),
        cmocka_unit_test(test_escaping_table),
        cmocka_unit_test(test_no_value_makes_no_attribute),
        cmocka_unit_test(test_no_injection),
        cmocka_unit_test(test_huge_values),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_cat_vocabulary),
        cmocka_unit_test(test_header_overrides_and_sanitizing),
        cmocka_unit_test(test_devtime_text_and_usrname),
        cmocka_unit_test(test_delimiter_in_unescaped_values),
        cmocka_unit_test(test_buffer_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
