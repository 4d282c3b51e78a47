/* Names for ms_rc codes, for log lines. */
#include <config.h>

#include "ms_err.h"

const char *ms_strerror(int rc)
{
    switch (rc) {
    case MS_OK:
        return "ok";
    case MS_ERR:
        return "internal error";
    case MS_ENOMEM:
        return "out of memory";
    case MS_EINVAL:
        return "invalid input";
    case MS_ETOOBIG:
        return "size limit exceeded";
    case MS_ERETRY:
        return "temporary failure";
    case MS_EPERM:
        return "permanent failure";
    case MS_EAUTH:
        return "authentication refused";
    case MS_EIO:
        return "I/O error";
    case MS_EOF:
        return "end of data";
    default:
        return "unknown error";
    }
}
