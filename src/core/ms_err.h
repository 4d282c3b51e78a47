/* Error codes shared by every module. 0 always means success; failures are negative. */
#ifndef MS_ERR_H
#define MS_ERR_H

enum ms_rc {
    MS_OK = 0,
    MS_ERR = -1,     /* internal; already logged where it happened */
    MS_ENOMEM = -2,  /* allocation failed */
    MS_EINVAL = -3,  /* bad config or malformed input */
    MS_ETOOBIG = -4, /* bounded buffer hit its cap */
    MS_ERETRY = -5,  /* transient: timeout, 408/429/5xx, queue full; try again later */
    MS_EPERM = -6,   /* permanent for this data or request: other 4xx; do not retry as is */
    MS_EAUTH = -7,   /* credentials refused (401/403): retry slowly, operator must act */
    MS_EIO = -8,     /* local I/O failed (disk, file) */
    MS_EOF = -9,     /* nothing more to read right now */
};

/* Returns a static, human-readable name for an ms_rc value (never NULL). */
const char *ms_strerror(int rc);

#endif
