/*
 * syslog output: LEEF 2.0/1.0, CEF or JSON payloads behind an RFC 5424 or RFC 3164 header, over
 * UDP, TCP or TLS. A batch counts as delivered when its last byte was written to the connection
 * (TCP/TLS) or its last datagram was sent (UDP, which gives no delivery signal at all); any
 * failure returns MS_ERETRY and the engine sends the whole batch again after reconnecting.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/core/ms_buf.h"
#include "../../src/core/ms_deadletter.h"
#include "../../src/core/ms_err.h"
#include "../../src/core/ms_log.h"
#include "../../src/core/ms_plugin.h"
#include "syslog_format.h"
#include "syslog_net.h"

#define SYSLOG_UDP_DEFAULT_MAX    2048  /* RFC 5426: IPv4 receivers SHOULD accept 2048 */
#define SYSLOG_STREAM_DEFAULT_MAX 65536 /* syslog-ng's default log-msg-size */
#define SYSLOG_UDP_MAX            65507 /* largest UDP payload over IPv4 */
#define SYSLOG_MSG_CAP            ((size_t)16 * 1024 * 1024) /* one encoded event, before truncation */
#define SYSLOG_WRITE_CHUNK        ((size_t)64 * 1024)
#define SYSLOG_TRUNC_LOG_MS       60000
#define SYSLOG_PROFILES_FILE      "siem-profiles.json" /* in [service] mappings_dir */

struct syslog_ctx {
    /* config */
    char *host;
    int64_t port;
    char *transport;
    char *framing;
    char *header;
    char *format;
    char *hostname;
    char *app_name;
    char *facility;
    char *rfc3164_time;
    char *leef_delimiter;
    char *leef_usrname;
    char *leef_devtime;
    char *device_vendor;
    char *device_product;
    char *device_version;
    char *device_event_id;
    int64_t max_message_size;
    char *ca_file;
    char *tls_cert;
    char *tls_key;
    bool tls_verify;
    char *tls_server_name;
    int64_t connect_timeout_ms;
    int64_t write_timeout_ms;
    /* state */
    enum sl_transport tr;
    enum sl_framing framing_kind;
    size_t max_msg;
    char machine_name[256];
    struct sl_format_opts fmt;
    struct sl_profiles *profiles; /* NULL = every source type gets the generic profile */
    struct sl_header_opts hdr;
    struct sl_net *net;
    struct ms_buf msg; /* one message: header + payload */
    struct ms_buf out; /* framed messages waiting to be written */
    uint64_t truncated;
    int64_t trunc_logged_ms;
};

static const char *const transports[] = {"udp", "tcp", "tls", NULL};
static const char *const framings[] = {"auto", "octet-counting", "lf", NULL};
static const char *const headers[] = {"rfc5424", "rfc3164", NULL};
static const char *const formats[] = {"leef2", "leef1", "cef", "json", NULL};
static const char *const usrnames[] = {"recipient", "sender", "user", NULL};
static const char *const devtimes[] = {"epoch", "text", NULL};
static const char *const zones[] = {"local", "utc", NULL};
static const char *const facilities[] = {
    "kern",   "user",     "mail",   "daemon", "auth",   "syslog", "lpr",   "news",   "uucp",
    "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock", "local0", "local1",
    "local2", "local3",   "local4", "local5", "local6", "local7", NULL};

static const struct ms_config_map syslog_config_map[] = {
    {.name = "host",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct syslog_ctx, host),
     .desc = "receiver host name or address"},
    {.name = "port",
     .type = MS_CFG_INT,
     .def = "0",
     .min = 0,
     .max = 65535,
     .offset = offsetof(struct syslog_ctx, port),
     .desc = "receiver port; 0 = 6514 for tls, 514 for udp and tcp"},
    {.name = "transport",
     .type = MS_CFG_STR,
     .def = "tls",
     .choices = transports,
     .offset = offsetof(struct syslog_ctx, transport),
     .desc = "udp | tcp | tls"},
    {.name = "framing",
     .type = MS_CFG_STR,
     .def = "auto",
     .choices = framings,
     .offset = offsetof(struct syslog_ctx, framing),
     .desc = "tcp/tls framing: octet-counting (RFC 6587) | lf | auto (octet-counting for tls, lf "
             "for tcp); udp sends one message per datagram"},
    {.name = "header",
     .type = MS_CFG_STR,
     .def = "rfc5424",
     .choices = headers,
     .offset = offsetof(struct syslog_ctx, header),
     .desc = "syslog header: rfc5424 | rfc3164"},
    {.name = "format",
     .type = MS_CFG_STR,
     .def = "leef2",
     .choices = formats,
     .offset = offsetof(struct syslog_ctx, format),
     .desc = "payload: leef2 | leef1 | cef | json (json honours include_raw)"},
    {.name = "hostname",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, hostname),
     .desc = "HOSTNAME of the syslog header (QRadar picks the log source by it); empty = this "
             "machine's name"},
    {.name = "app_name",
     .type = MS_CFG_STR,
     .def = "msfwd",
     .offset = offsetof(struct syslog_ctx, app_name),
     .desc = "APP-NAME (rfc5424) or TAG (rfc3164); empty = '-' (rfc5424) or no TAG (rfc3164)"},
    {.name = "facility",
     .type = MS_CFG_STR,
     .def = "local0",
     .choices = facilities,
     .offset = offsetof(struct syslog_ctx, facility),
     .desc = "syslog facility; the severity follows the event's (>=9 crit, >=7 err, >=4 warning, "
             ">=1 notice, else info)"},
    {.name = "rfc3164_time",
     .type = MS_CFG_STR,
     .def = "local",
     .choices = zones,
     .offset = offsetof(struct syslog_ctx, rfc3164_time),
     .desc = "time zone of the rfc3164 timestamp, which carries none: local | utc"},
    {.name = "leef_delimiter",
     .type = MS_CFG_STR,
     .def = "x09",
     .offset = offsetof(struct syslog_ctx, leef_delimiter),
     .desc = "LEEF 2.0 attribute delimiter: one character (e.g. ^) or xHH (x09 = tab); not | = \\ "
             "or a letter or digit"},
    {.name = "leef_usrname",
     .type = MS_CFG_STR,
     .def = "recipient",
     .choices = usrnames,
     .offset = offsetof(struct syslog_ctx, leef_usrname),
     .desc = "event key that fills LEEF usrName: recipient | sender | user"},
    {.name = "leef_devtime",
     .type = MS_CFG_STR,
     .def = "epoch",
     .choices = devtimes,
     .offset = offsetof(struct syslog_ctx, leef_devtime),
     .desc = "LEEF devTime: epoch (milliseconds, no devTimeFormat needed) | text (MMM dd yyyy "
             "HH:mm:ss.SSS z, with devTimeFormat)"},
    {.name = "device_vendor",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, device_vendor),
     .desc = "LEEF/CEF header Vendor; empty = the source type's profile in "
             "<mappings_dir>/siem-profiles.json, else the event's vendor"},
    {.name = "device_product",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, device_product),
     .desc = "LEEF/CEF header Product; empty = the source type's profile, else the event's "
             "product"},
    {.name = "device_version",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, device_version),
     .desc = "LEEF/CEF header Version; empty = the source type's profile (the vendor API "
             "version), else 1.0"},
    {.name = "device_event_id",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, device_event_id),
     .desc = "LEEF EventID / CEF Device Event Class ID; empty = the source type's profile, else "
             "derived from the source type (acme:gw:alert -> ACME_GW_ALERT)"},
    {.name = "max_message_size",
     .type = MS_CFG_SIZE,
     .def = "0",
     .min = 0,
     .max = 16LL * 1024 * 1024,
     .offset = offsetof(struct syslog_ctx, max_message_size),
     .desc = "longer messages are truncated at a UTF-8 boundary (never split); 0 = 2048 for udp, "
             "64K for tcp and tls"},
    {.name = "ca_file",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, ca_file),
     .desc = "tls: PEM file of CA certificates to verify the receiver with; empty = system store; "
             "read at the first connection, not by msfwd check"},
    {.name = "tls_cert",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, tls_cert),
     .desc = "tls: client certificate chain (PEM) when the receiver asks for one; needs tls_key"},
    {.name = "tls_key",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, tls_key),
     .desc = "tls: private key (PEM) of tls_cert"},
    {.name = "tls_verify",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct syslog_ctx, tls_verify),
     .desc = "tls: verify the receiver's certificate and name (false warns at start)"},
    {.name = "tls_server_name",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct syslog_ctx, tls_server_name),
     .desc = "tls: name to verify and send as SNI; empty = host"},
    {.name = "connect_timeout",
     .type = MS_CFG_TIME,
     .def = "10s",
     .min = 100,
     .max = 600000,
     .offset = offsetof(struct syslog_ctx, connect_timeout_ms),
     .desc = "time allowed for connecting, including the TLS handshake"},
    {.name = "write_timeout",
     .type = MS_CFG_TIME,
     .def = "30s",
     .min = 100,
     .max = 600000,
     .offset = offsetof(struct syslog_ctx, write_timeout_ms),
     .desc = "time a write may make no progress before the connection is dropped and the batch "
             "retried"},
    {0},
};

static int choice_index(const char *const *list, const char *v)
{
    int i;

    for (i = 0; list[i]; i++) {
        if (strcmp(list[i], v) == 0) {
            return i;
        }
    }
    return 0; /* the config map already refused anything else */
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parses a LEEF 2.0 delimiter ("^", "x5E", "0x09"). Returns the byte or -1. */
static int parse_delimiter(const char *s)
{
    const char *h = NULL;
    int c;

    if (s[0] && !s[1]) {
        c = (unsigned char)s[0];
    }
    else {
        if ((s[0] == 'x' || s[0] == 'X') && s[1]) {
            h = s + 1;
        }
        else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2]) {
            h = s + 2;
        }
        if (!h || strlen(h) > 2 || hexval(h[0]) < 0 || (h[1] && hexval(h[1]) < 0)) {
            return -1;
        }
        c = h[1] ? hexval(h[0]) * 16 + hexval(h[1]) : hexval(h[0]);
    }
    /* Tab or printable ASCII that no value escaping or header field relies on. */
    if (c != '\t' && (c < 0x21 || c > 0x7e)) {
        return -1;
    }
    if (c == '|' || c == '=' || c == '\\' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z')) {
        return -1;
    }
    return c;
}

/*
 * Loads <mappings_dir>/siem-profiles.json into ctx->profiles. Without a mappings directory (a
 * test harness without a runtime) every source type gets the generic profile; so it does, after
 * one warning, when the file does not exist. A file that exists must load: faults go to errs.
 */
static int load_profiles(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct syslog_ctx *ctx = ins->ctx;
    const char *dir = ins->rt ? ins->rt->mappings_dir : NULL;
    char path[4096];
    int n;
    int ret;

    if (!dir || !dir[0]) {
        ms_log_debug(ins, "no mappings directory: LEEF/CEF headers use the generic profile");
        return MS_OK;
    }
    n = snprintf(path, sizeof(path), "%s/%s", dir, SYSLOG_PROFILES_FILE);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        ms_cfg_errors_add(errs, "%s/%s: path too long", dir, SYSLOG_PROFILES_FILE);
        return MS_EINVAL;
    }
    ret = sl_profiles_load(path, &ctx->profiles, errs);
    if (ret != MS_OK) {
        return ret;
    }
    if (!ctx->profiles) {
        /* Once per file, not once per syslog output (init runs on the main thread only). */
        static char warned[sizeof(path)];

        if (strcmp(warned, path) != 0) {
            ms_log_warn(ins,
                        "%s does not exist: LEEF/CEF headers of every source type come from the "
                        "event (vendor, product, version 1.0, EventID from the source type)",
                        path);
            (void)snprintf(warned, sizeof(warned), "%s", path);
        }
        return MS_OK;
    }
    ms_log_debug(ins, "%zu SIEM profiles loaded from %s", sl_profiles_count(ctx->profiles), path);
    return MS_OK;
}

static int syslog_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct syslog_ctx *ctx = ins->ctx;
    struct sl_net_opts no;
    int delim;
    int rc;
    int ret = MS_OK;

    ms_buf_init(&ctx->msg, SYSLOG_MSG_CAP);
    ms_buf_init(&ctx->out, SYSLOG_MSG_CAP + SYSLOG_WRITE_CHUNK);
    ctx->tr = (enum sl_transport)choice_index(transports, ctx->transport);
    if (ctx->port == 0) {
        ctx->port = ctx->tr == SL_TRANSPORT_TLS ? 6514 : 514;
    }
    if (ctx->tr == SL_TRANSPORT_UDP) {
        ctx->framing_kind = SL_FRAMING_NONE;
    }
    else if (strcmp(ctx->framing, "auto") == 0) {
        ctx->framing_kind = ctx->tr == SL_TRANSPORT_TLS ? SL_FRAMING_OCTET : SL_FRAMING_LF;
    }
    else {
        ctx->framing_kind = strcmp(ctx->framing, "lf") == 0 ? SL_FRAMING_LF : SL_FRAMING_OCTET;
    }
    if (ctx->max_message_size == 0) {
        ctx->max_msg =
            ctx->tr == SL_TRANSPORT_UDP ? SYSLOG_UDP_DEFAULT_MAX : SYSLOG_STREAM_DEFAULT_MAX;
    }
    else if (ctx->max_message_size < 480) {
        ms_instance_config_error(ins, errs, "max_message_size",
                                 "%" PRId64 " is too small (RFC 5426: at least 480 bytes)",
                                 ctx->max_message_size);
        ret = MS_EINVAL;
    }
    else if (ctx->tr == SL_TRANSPORT_UDP && ctx->max_message_size > SYSLOG_UDP_MAX) {
        ms_instance_config_error(ins, errs, "max_message_size",
                                 "%" PRId64 " does not fit a UDP datagram (at most %d)",
                                 ctx->max_message_size, SYSLOG_UDP_MAX);
        ret = MS_EINVAL;
    }
    else {
        ctx->max_msg = (size_t)ctx->max_message_size;
    }
    delim = parse_delimiter(ctx->leef_delimiter);
    if (delim < 0) {
        ms_instance_config_error(ins, errs, "leef_delimiter",
                                 "'%s' is not a delimiter: one character or xHH, tab or printable "
                                 "ASCII other than | = \\ letters and digits",
                                 ctx->leef_delimiter);
        ret = MS_EINVAL;
    }
    if ((ctx->tls_cert[0] != '\0') != (ctx->tls_key[0] != '\0')) {
        ms_instance_config_error(ins, errs, ctx->tls_cert[0] ? "tls_key" : "tls_cert",
                                 "tls_cert and tls_key go together");
        ret = MS_EINVAL;
    }
    rc = load_profiles(ins, errs);
    if (rc != MS_OK) {
        ret = rc;
    }
    if (ret != MS_OK) {
        return ret;
    }

    ctx->fmt.payload = (enum sl_payload)choice_index(formats, ctx->format);
    ctx->fmt.delim = (char)delim;
    ctx->fmt.usrname = (enum sl_usrname)choice_index(usrnames, ctx->leef_usrname);
    ctx->fmt.devtime_text = strcmp(ctx->leef_devtime, "text") == 0;
    ctx->fmt.include_raw = ins->include_raw;
    ctx->fmt.vendor = ctx->device_vendor;
    ctx->fmt.product = ctx->device_product;
    ctx->fmt.version = ctx->device_version;
    ctx->fmt.event_id = ctx->device_event_id;
    ctx->fmt.profiles = ctx->profiles;
    sl_format_opts_prepare(&ctx->fmt);
    /* LEEF and CEF look up normalized keys only; JSON copies the spooled text or, rarely, walks
     * the event (then it needs "raw" unless include_raw is off). */
    if (ctx->fmt.payload == SL_PAYLOAD_JSON) {
        ins->event_view = ins->include_raw ? MS_VIEW_FULL : MS_VIEW_NO_RAW;
    }
    else {
        ins->event_view = MS_VIEW_NORMALIZED;
    }

    if (ctx->hostname[0]) {
        (void)snprintf(ctx->machine_name, sizeof(ctx->machine_name), "%s", ctx->hostname);
    }
    else if (gethostname(ctx->machine_name, sizeof(ctx->machine_name) - 1) != 0) {
        (void)snprintf(ctx->machine_name, sizeof(ctx->machine_name), "-");
    }
    ctx->hdr.kind = (enum sl_header_kind)choice_index(headers, ctx->header);
    ctx->hdr.facility = choice_index(facilities, ctx->facility);
    ctx->hdr.hostname = ctx->machine_name;
    ctx->hdr.app_name = ctx->app_name;
    ctx->hdr.utc = strcmp(ctx->rfc3164_time, "utc") == 0;

    if (ctx->tr == SL_TRANSPORT_TLS && !ctx->tls_verify) {
        ms_log_warn(ins,
                    "tls_verify = false: the certificate of %s is not checked; anyone in the "
                    "path can read and change the events",
                    ctx->host);
    }
    if (ctx->tr == SL_TRANSPORT_UDP) {
        ms_log_info(ins, "udp gives no delivery guarantee: a datagram sent counts as delivered");
    }
    no.transport = ctx->tr;
    no.host = ctx->host;
    no.port = (int)ctx->port;
    no.connect_timeout_ms = ctx->connect_timeout_ms;
    no.io_timeout_ms = ctx->write_timeout_ms;
    no.ca_file = ctx->ca_file;
    no.cert_file = ctx->tls_cert;
    no.key_file = ctx->tls_key;
    no.verify = ctx->tls_verify;
    no.server_name = ctx->tls_server_name;
    ctx->net = sl_net_create(&no);
    return ctx->net ? MS_OK : MS_ENOMEM;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Encodes ev as one syslog message into ctx->msg. Returns its (possibly truncated) length. */
static int encode(struct ms_instance *ins, const struct ms_event *ev, int64_t now, size_t *len)
{
    struct syslog_ctx *ctx = ins->ctx;
    int ret;

    ms_buf_reset(&ctx->msg);
    ret = sl_header_write(&ctx->hdr, ev, now, &ctx->msg);
    if (ret == MS_OK) {
        ret = sl_format_payload(&ctx->fmt, ev, &ctx->msg);
    }
    if (ret != MS_OK) {
        return ret;
    }
    *len = sl_truncate_len(ctx->msg.data, ctx->msg.len, ctx->max_msg);
    if (*len < ctx->msg.len) {
        ctx->truncated++;
    }
    return MS_OK;
}

static void log_truncations(struct ms_instance *ins)
{
    struct syslog_ctx *ctx = ins->ctx;
    int64_t now = wall_ms();

    if (ctx->truncated && now - ctx->trunc_logged_ms >= SYSLOG_TRUNC_LOG_MS) {
        ms_log_warn(ins,
                    "%" PRIu64 " message(s) longer than %zu bytes were truncated "
                    "(max_message_size)",
                    ctx->truncated, ctx->max_msg);
        ctx->truncated = 0;
        ctx->trunc_logged_ms = now;
    }
}

/*
 * An event that cannot be encoded even into the 16 MiB message buffer will never be: it goes to
 * the dead-letter file and the rest of the batch continues. Returns MS_OK when that worked.
 */
static int encode_failed(struct ms_instance *ins, const struct ms_event *ev, int rc)
{
    if (rc == MS_ETOOBIG &&
        ms_deadletter_write(ins, ev, "syslog: encoded event too large") == MS_OK) {
        return MS_OK;
    }
    ms_log_error(ins, "cannot encode event %s: %s", ev->id, ms_strerror(rc));
    return MS_ERETRY;
}

static int flush_udp(struct ms_instance *ins, const struct ms_batch *b)
{
    struct syslog_ctx *ctx = ins->ctx;
    int64_t now = wall_ms();
    size_t i;
    size_t len;
    int ret;

    if (!sl_net_is_open(ctx->net)) {
        ret = sl_net_connect(ctx->net, ins);
        if (ret != MS_OK) {
            return ret;
        }
    }
    for (i = 0; i < b->n; i++) {
        ret = encode(ins, &b->events[i], now, &len);
        if (ret != MS_OK) {
            ret = encode_failed(ins, &b->events[i], ret);
            if (ret != MS_OK) {
                return ret;
            }
            continue;
        }
        ret = sl_net_send_datagram(ctx->net, ins, ctx->msg.data, len);
        if (ret != MS_OK) {
            return ret;
        }
    }
    return MS_OK;
}

static int write_out(struct ms_instance *ins)
{
    struct syslog_ctx *ctx = ins->ctx;
    int ret;

    if (ctx->out.len == 0) {
        return MS_OK;
    }
    /* A peer that closed since the last write would swallow this chunk: check before sending. */
    if (!sl_net_alive(ctx->net, ins)) {
        return MS_ERETRY;
    }
    ret = sl_net_write_all(ctx->net, ins, ctx->out.data, ctx->out.len);
    ms_buf_reset(&ctx->out);
    return ret;
}

static int flush_stream(struct ms_instance *ins, const struct ms_batch *b)
{
    struct syslog_ctx *ctx = ins->ctx;
    int64_t now = wall_ms();
    size_t i;
    size_t len;
    int ret;

    /* TCP keeps one connection across batches; reconnect only when the peer went away. */
    if (!sl_net_alive(ctx->net, ins)) {
        ret = sl_net_connect(ctx->net, ins);
        if (ret != MS_OK) {
            return ret;
        }
    }
    ms_buf_reset(&ctx->out);
    for (i = 0; i < b->n; i++) {
        ret = encode(ins, &b->events[i], now, &len);
        if (ret != MS_OK) {
            ret = encode_failed(ins, &b->events[i], ret);
            if (ret != MS_OK) {
                return ret;
            }
            continue;
        }
        ret = sl_frame(ctx->framing_kind, ctx->msg.data, len, &ctx->out);
        if (ret == MS_OK && ctx->out.len >= SYSLOG_WRITE_CHUNK) {
            ret = write_out(ins);
        }
        if (ret != MS_OK) {
            if (ret != MS_ERETRY) {
                ms_log_error(ins, "cannot frame event %s: %s", b->events[i].id, ms_strerror(ret));
            }
            return MS_ERETRY;
        }
    }
    return write_out(ins);
}

static int syslog_flush(struct ms_instance *ins, const struct ms_batch *b)
{
    struct syslog_ctx *ctx = ins->ctx;
    int ret;

    ret = ctx->tr == SL_TRANSPORT_UDP ? flush_udp(ins, b) : flush_stream(ins, b);
    log_truncations(ins);
    if (ret == MS_OK) {
        ms_log_debug(ins, "%zu events sent", b->n);
    }
    return ret;
}

static void syslog_destroy(struct ms_instance *ins)
{
    struct syslog_ctx *ctx = ins->ctx;

    sl_net_destroy(ctx->net);
    ctx->net = NULL;
    ms_buf_free(&ctx->msg);
    ms_buf_free(&ctx->out);
    sl_profiles_destroy(ctx->profiles);
    ctx->profiles = NULL;
    ctx->fmt.profiles = NULL;
}

const struct ms_output_plugin out_syslog_plugin = {
    .name = "syslog",
    .description = "LEEF, CEF or JSON over syslog (RFC 5424/3164) on UDP, TCP or TLS",
    .config_map = syslog_config_map,
    .ctx_size = sizeof(struct syslog_ctx),
    .init = syslog_init,
    .flush = syslog_flush,
    .destroy = syslog_destroy,
};
