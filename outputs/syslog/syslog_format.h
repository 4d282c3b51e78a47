/*
 * Encoders of the syslog output: normalized event -> bytes appended to a caller-owned, reused
 * ms_buf. Pure: no I/O, no globals, no allocation beyond the buffer's growth, so unit tests call
 * them directly. Every value is sanitized so that no record can break a frame or inject a field.
 * The one exception is sl_profiles_load, which reads the SIEM profile file once, at init.
 */
#ifndef SL_FORMAT_H
#define SL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../src/core/ms_buf.h"
#include "../../src/core/ms_config.h"
#include "../../src/core/ms_event.h"

/* Largest value written for one LEEF/CEF attribute (bytes, after escaping), unless a key says less.
 */
#define SL_VALUE_MAX 4000

enum sl_payload {
    SL_PAYLOAD_LEEF2,
    SL_PAYLOAD_LEEF1,
    SL_PAYLOAD_CEF,
    SL_PAYLOAD_JSON,
};

enum sl_header_kind {
    SL_HEADER_RFC5424,
    SL_HEADER_RFC3164,
};

enum sl_framing {
    SL_FRAMING_OCTET, /* RFC 6587 octet counting: "LEN SP MSG" */
    SL_FRAMING_LF,    /* non-transparent: "MSG LF" */
    SL_FRAMING_NONE,  /* UDP: one message per datagram */
};

/* Which event key feeds LEEF usrName (QRadar's "Username"). */
enum sl_usrname {
    SL_USRNAME_RECIPIENT,
    SL_USRNAME_SENDER,
    SL_USRNAME_USER,
};

/*
 * How one encoder treats each ASCII byte of a value: rep[c] NULL = copy, "" = drop, else the
 * replacement text. Bytes >= 0x80 are checked as UTF-8: invalid sequences become U+FFFD (one per
 * maximal invalid subpart, as Python's decoder does); C1 controls (U+0080..U+009F) are dropped,
 * or, when json is set, written as \u00XX together with U+2028/U+2029.
 */
struct sl_escape {
    const char *rep[128];
    bool json;
};

/* Fills the escape tables of an sl_format_opts; call after setting payload and delim. */
struct sl_format_opts {
    enum sl_payload payload;
    char delim;              /* LEEF 2.0 attribute delimiter; LEEF 1.0 always uses tab */
    enum sl_usrname usrname; /* LEEF usrName source */
    bool devtime_text; /* devTime as "MMM dd yyyy HH:mm:ss.SSS z" + devTimeFormat; else epoch ms */
    bool include_raw;  /* json: keep the "raw" vendor record */
    /* Header overrides (NULL or "" = per source type, see sl_profile_get). Borrowed. */
    const char *vendor;
    const char *product;
    const char *version;
    const char *event_id;
    /* Per-source-type header and cat (sl_profiles_load); borrowed; NULL = all generic. */
    const struct sl_profiles *profiles;
    /* Filled by sl_format_opts_prepare. */
    struct sl_escape leef_value;
    struct sl_escape leef_header;
    struct sl_escape cef_header;
    struct sl_escape cef_value;
    struct sl_escape json;
};

struct sl_header_opts {
    enum sl_header_kind kind;
    int facility;         /* 0..23 */
    const char *hostname; /* borrowed; sanitized when written; "" = NILVALUE / omitted */
    const char *app_name; /* borrowed; "" = NILVALUE (5424) or no TAG (3164) */
    bool utc;             /* rfc3164: print UTC instead of local time */
};

/*
 * The LEEF/CEF header fields and `cat` vocabulary for one source type (siem-conventions §3.3),
 * as mappings/siem-profiles.json gives them. NULL members behave as the generic profile does.
 */
struct sl_profile {
    const char *source_type;     /* NULL in the generic profile */
    const char *vendor;          /* NULL = the event's vendor */
    const char *product;         /* NULL = the event's product */
    const char *version;         /* NULL = "1.0" */
    const char *event_id;        /* NULL = derived from the source type */
    const char *cat_const;       /* fixed cat, or NULL */
    const char *const *cat_keys; /* event keys tried in order for cat */
    const char *const *cats;     /* closed vocabulary (unknown -> "other"), NULL = free text */
};

/* The profiles of one profile file, sorted by source type (syslog_profile.c). */
struct sl_profiles;

/* Prepares the escape tables in o from o->payload and o->delim. */
void sl_format_opts_prepare(struct sl_format_opts *o);

/*
 * Loads a SIEM profile file (mappings/siem-profiles.json; format in mappings/README.md). Every
 * fault is refused into errs as "<path>: <JSON pointer>: <why>" (malformed JSON: line and column
 * instead of the pointer), all of them, as the mapping loader does. A file that does not exist is
 * not a fault: MS_OK with *out NULL, and the caller warns (every source type is then generic).
 * Returns MS_OK with *out set (caller frees with sl_profiles_destroy), or MS_EINVAL (faults in
 * errs), MS_EIO (unreadable: in errs) or MS_ENOMEM, with *out NULL.
 */
int sl_profiles_load(const char *path, struct sl_profiles **out, struct ms_cfg_errors *errs);

/* Frees a table from sl_profiles_load. NULL-safe. */
void sl_profiles_destroy(struct sl_profiles *ps);

/* Number of source types with a profile in ps (0 for NULL). */
size_t sl_profiles_count(const struct sl_profiles *ps);

/*
 * Returns the profile of source_type in ps (borrowed from ps), or the generic profile (static:
 * header from the event's vendor and product, version 1.0, EventID derived from the source type,
 * cat from the event's category or action) when ps is NULL or has none. Never NULL.
 */
const struct sl_profile *sl_profile_get(const struct sl_profiles *ps, const char *source_type);

/*
 * Appends the payload (LEEF, CEF or JSON, by o->payload) of ev to out. Nothing else is written
 * (no header, no trailer). Returns MS_OK, MS_ENOMEM or MS_ETOOBIG (out hit its cap and was freed,
 * as ms_buf does). Missing keys are left out; keys of unexpected types are converted when that is
 * unambiguous (numbers, booleans, arrays of scalars) and left out otherwise.
 */
int sl_format_payload(const struct sl_format_opts *o,
                      const struct ms_event *ev,
                      struct ms_buf *out);
int sl_format_leef(const struct sl_format_opts *o, const struct ms_event *ev, struct ms_buf *out);
int sl_format_cef(const struct sl_format_opts *o, const struct ms_event *ev, struct ms_buf *out);
int sl_format_json(const struct sl_format_opts *o, const struct ms_event *ev, struct ms_buf *out);

/*
 * Appends the syslog header for ev, including the space that separates it from MSG:
 *   rfc5424: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME - - - "
 *   rfc3164: "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: "   (no TAG when app_name is empty)
 * The time is the event's own "time" when it parses, else now_ms. PRI = facility * 8 + the
 * syslog severity of the event (sl_syslog_severity). Returns MS_OK, MS_ENOMEM or MS_ETOOBIG.
 */
int sl_header_write(const struct sl_header_opts *h,
                    const struct ms_event *ev,
                    int64_t now_ms,
                    struct ms_buf *out);

/* Syslog severity (0..7) for the event's 0-10 severity: >=9 crit, >=7 err, >=4 warning,
 * >=1 notice, else (0 or missing) informational. */
int sl_syslog_severity(const struct ms_event *ev);

/*
 * Length to which a message of len bytes must be cut to fit max bytes: never inside a UTF-8
 * sequence and never leaving a dangling escape backslash at the end. Returns len when it fits.
 */
size_t sl_truncate_len(const char *msg, size_t len, size_t max);

/* Appends msg framed for a stream: "LEN SP msg" or "msg LF" (NONE: msg as is). */
int sl_frame(enum sl_framing framing, const char *msg, size_t len, struct ms_buf *out);

/* ---- helpers shared by the encoders (format_util.c) ---- */

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fff]" followed by "Z" or "+HH:MM"/"-HH:MM" into epoch
 * milliseconds (UTC). Returns MS_OK or MS_EINVAL.
 */
int sl_time_parse(const char *s, int64_t *ms);

/*
 * Appends n bytes of s through esc, writing at most max bytes (cut between whole units: an
 * escape sequence or a UTF-8 character). Returns MS_OK, MS_ENOMEM or MS_ETOOBIG.
 */
int sl_put_text(
    struct ms_buf *out, const char *s, size_t n, const struct sl_escape *esc, size_t max);

/* Appends the decimal form of v (no printf: this is on the hot path). */
int sl_put_i64(struct ms_buf *out, int64_t v);

/*
 * Appends a json value as text through esc: strings as they are, numbers and booleans as
 * their JSON text, arrays of scalars joined by ',' (nested containers skipped), objects and null
 * not at all. *wrote tells whether anything was appended. Returns as sl_put_text.
 */
int sl_put_value(struct ms_buf *out,
                 struct json_object *v,
                 const struct sl_escape *esc,
                 size_t max,
                 bool *wrote);

/* Event lookups; all borrowed. NULL when absent. */
struct json_object *sl_ev_get(const struct ms_event *ev, const char *key);
/* The string value of key, or NULL when absent or not a string. */
const char *sl_ev_str(const struct ms_event *ev, const char *key);
/* The integer value of key (number or a string holding only an integer). Returns false if none. */
bool sl_ev_int(const struct ms_event *ev, const char *key, int64_t *out);
/* Event time (key "time") in epoch ms. Returns false if absent or unparsable. */
bool sl_ev_time_ms(const struct ms_event *ev, int64_t *ms);
/* Source type: ev->source_type, else the "source_type" key, else "". */
const char *sl_ev_source_type(const struct ms_event *ev);
/* True when s is an IPv4 or IPv6 address literal. */
bool sl_is_ip(const char *s);

/*
 * EventID for a source type whose profile has none: "acme:gw:alert" -> "ACME_GW_ALERT"
 * (letters upper-cased, anything but letters and digits -> '_'); "" -> "EVENT". out holds len.
 */
void sl_derive_event_id(const char *source_type, char *out, size_t len);

/* Writes the LEEF/CEF `cat` value for ev (see sl_profile). Never empty: "other" at worst. */
int sl_put_cat(struct ms_buf *out, const struct sl_profile *p, const struct ms_event *ev);

/* Cuts out back to len bytes (len <= out->len). */
void sl_buf_cut(struct ms_buf *out, size_t len);

#endif
