/*
 * Transport of the syslog output: non-blocking sockets driven with poll() and deadlines, so a
 * stalled receiver costs at most the configured timeout; OpenSSL for TLS (verification of the
 * server certificate and name by default, optional client certificate).
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/core/ms_err.h"
#include "../../src/core/ms_log.h"
#include "syslog_net.h"

#define KEEPALIVE_IDLE_S  30
#define KEEPALIVE_INTVL_S 10
#define KEEPALIVE_CNT     3
#define DRAIN_ROUNDS      16

struct sl_net {
    struct sl_net_opts o;
    int fd; /* -1 when closed */
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    char peer[320]; /* "host:port" for log lines */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline. Returns 1 ready, 0 timed out, -1 error (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd;
    int64_t left;
    int r;

    for (;;) {
        left = deadline - now_ms();
        if (left <= 0) {
            return 0;
        }
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        return r > 0 ? 1 : 0;
    }
}

/* The first OpenSSL error of this thread (the root cause, e.g. a missing file), or a fallback. */
static const char *ssl_reason(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_error();

    if (!e) {
        (void)snprintf(buf, len, "%s", fallback);
    }
    else {
        ERR_error_string_n(e, buf, len);
    }
    ERR_clear_error();
    return buf;
}

static bool is_ip_literal(const char *s)
{
    unsigned char addr[16];

    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

struct sl_net *sl_net_create(const struct sl_net_opts *o)
{
    struct sl_net *n = calloc(1, sizeof(*n));

    if (!n) {
        return NULL;
    }
    n->o = *o;
    n->fd = -1;
    (void)snprintf(n->peer, sizeof(n->peer), "%s:%d", o->host, o->port); /* for logs only */
    return n;
}

void sl_net_close(struct sl_net *n)
{
    if (n->ssl) {
        (void)SSL_shutdown(n->ssl); /* one non-blocking close_notify; the answer is not awaited */
        SSL_free(n->ssl);
        n->ssl = NULL;
        ERR_clear_error();
    }
    if (n->fd >= 0) {
        close(n->fd);
        n->fd = -1;
    }
}

void sl_net_destroy(struct sl_net *n)
{
    if (!n) {
        return;
    }
    sl_net_close(n);
    SSL_CTX_free(n->ssl_ctx);
    free(n);
}

bool sl_net_is_open(const struct sl_net *n)
{
    return n->fd >= 0;
}

static void set_stream_options(const struct sl_net *n, int fd)
{
    int one = 1;
    int idle = KEEPALIVE_IDLE_S;
    int intvl = KEEPALIVE_INTVL_S;
    int cnt = KEEPALIVE_CNT;
    unsigned int user_timeout = (unsigned int)n->o.io_timeout_ms;

    /* A dead peer is noticed by keepalive probes and TCP_USER_TIMEOUT, not only on our writes. */
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

/* Connects one socket to ai within the deadline. Returns the fd or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int err = 0;
    socklen_t elen = sizeof(err);
    int r;

    if (fd < 0) {
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        return fd;
    }
    if (errno != EINPROGRESS) {
        err = errno;
        goto fail;
    }
    r = wait_fd(fd, POLLOUT, deadline);
    if (r <= 0) {
        err = r == 0 ? ETIMEDOUT : errno;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
        err = errno;
        goto fail;
    }
    if (err == 0) {
        return fd;
    }
fail:
    close(fd);
    errno = err;
    return -1;
}

static int sock_connect(struct sl_net *n, const struct ms_instance *ins)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct addrinfo *ai;
    int64_t deadline = now_ms() + n->o.connect_timeout_ms;
    char port[16];
    int err = 0;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = n->o.transport == SL_TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM;
    (void)snprintf(port, sizeof(port), "%d", n->o.port);
    rc = getaddrinfo(n->o.host, port, &hints, &res);
    if (rc != 0) {
        ms_log_warn(ins, "cannot resolve %s: %s", n->o.host, gai_strerror(rc));
        return MS_ERETRY;
    }
    for (ai = res; ai && n->fd < 0; ai = ai->ai_next) {
        n->fd = connect_one(ai, deadline);
        if (n->fd < 0) {
            err = errno;
        }
    }
    freeaddrinfo(res);
    if (n->fd < 0) {
        ms_log_warn(ins, "cannot connect to %s: %s", n->peer, strerror(err));
        return MS_ERETRY;
    }
    if (n->o.transport != SL_TRANSPORT_UDP) {
        set_stream_options(n, n->fd);
    }
    return MS_OK;
}

/* Builds the TLS context on first use: CA store, verification mode, client certificate. */
static int tls_ctx_setup(struct sl_net *n, const struct ms_instance *ins)
{
    char why[256];
    SSL_CTX *ctx;

    if (n->ssl_ctx) {
        return MS_OK;
    }
    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ms_log_error(ins, "cannot create a TLS context: %s",
                     ssl_reason(why, sizeof(why), "out of memory"));
        return MS_ERETRY;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (n->o.verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (n->o.ca_file[0] ? SSL_CTX_load_verify_locations(ctx, n->o.ca_file, NULL) != 1
                            : SSL_CTX_set_default_verify_paths(ctx) != 1) {
            ms_log_error(ins, "cannot load CA certificates from %s: %s",
                         n->o.ca_file[0] ? n->o.ca_file : "the system store",
                         ssl_reason(why, sizeof(why), "unknown error"));
            goto fail;
        }
    }
    else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (n->o.cert_file[0]) {
        if (SSL_CTX_use_certificate_chain_file(ctx, n->o.cert_file) != 1) {
            ms_log_error(ins, "cannot load client certificate %s: %s", n->o.cert_file,
                         ssl_reason(why, sizeof(why), "unknown error"));
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, n->o.key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            ms_log_error(ins, "cannot load client key %s: %s", n->o.key_file,
                         ssl_reason(why, sizeof(why), "key does not match the certificate"));
            goto fail;
        }
    }
    n->ssl_ctx = ctx;
    return MS_OK;
fail:
    SSL_CTX_free(ctx);
    return MS_EPERM;
}

static int tls_handshake(struct sl_net *n, const struct ms_instance *ins)
{
    const char *name = n->o.server_name[0] ? n->o.server_name : n->o.host;
    int64_t deadline = now_ms() + n->o.connect_timeout_ms;
    char why[256];
    long vr;
    int r;

    ERR_clear_error();
    n->ssl = SSL_new(n->ssl_ctx);
    if (!n->ssl || SSL_set_fd(n->ssl, n->fd) != 1) {
        ms_log_error(ins, "cannot create a TLS session: %s",
                     ssl_reason(why, sizeof(why), "out of memory"));
        return MS_ERETRY;
    }
    if (!is_ip_literal(name) && SSL_set_tlsext_host_name(n->ssl, name) != 1) {
        ms_log_error(ins, "cannot set the TLS server name %s", name);
        return MS_EPERM;
    }
    if (n->o.verify) {
        r = is_ip_literal(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(n->ssl), name)
                                : SSL_set1_host(n->ssl, name);
        if (r != 1) {
            ms_log_error(ins, "cannot set the name to verify (%s)", name);
            return MS_EPERM;
        }
    }
    for (;;) {
        int e;
        int w;

        ERR_clear_error();
        r = SSL_connect(n->ssl);
        if (r == 1) {
            return MS_OK;
        }
        e = SSL_get_error(n->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            w = wait_fd(n->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w > 0) {
                continue;
            }
            ms_log_warn(ins, "TLS handshake with %s: %s", n->peer,
                        w == 0 ? "timed out" : strerror(errno));
            return MS_ERETRY;
        }
        vr = SSL_get_verify_result(n->ssl);
        if (n->o.verify && vr != X509_V_OK) {
            ms_log_error(ins, "TLS: certificate of %s (name %s) refused: %s", n->peer, name,
                         X509_verify_cert_error_string(vr));
            ERR_clear_error();
            return MS_EPERM;
        }
        ms_log_warn(
            ins, "TLS handshake with %s failed: %s", n->peer,
            ssl_reason(why, sizeof(why),
                       e == SSL_ERROR_SYSCALL && errno ? strerror(errno) : "connection closed"));
        return MS_ERETRY;
    }
}

int sl_net_connect(struct sl_net *n, const struct ms_instance *ins)
{
    int ret;

    sl_net_close(n);
    if (n->o.transport == SL_TRANSPORT_TLS) {
        ret = tls_ctx_setup(n, ins);
        if (ret != MS_OK) {
            return ret;
        }
    }
    ret = sock_connect(n, ins);
    if (ret == MS_OK && n->o.transport == SL_TRANSPORT_TLS) {
        ret = tls_handshake(n, ins);
    }
    if (ret != MS_OK) {
        sl_net_close(n);
        return ret;
    }
    ms_log_debug(ins, "connected to %s", n->peer);
    return MS_OK;
}

/* TLS: processes what the peer sent. Returns true while the session is usable. */
static bool tls_alive(struct sl_net *n, const struct ms_instance *ins)
{
    char buf[4096];
    int i;

    for (i = 0; i < DRAIN_ROUNDS; i++) {
        int r;
        int e;

        ERR_clear_error();
        r = SSL_read(n->ssl, buf, sizeof(buf));
        if (r > 0) {
            ms_log_debug(ins, "discarded %d bytes the receiver sent", r);
            continue;
        }
        e = SSL_get_error(n->ssl, r);
        ERR_clear_error();
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
    return true;
}

/* Plain TCP: peek; EOF or an error means the peer is gone. Stray data is drained. */
static bool tcp_alive(struct sl_net *n, const struct ms_instance *ins)
{
    char buf[4096];
    ssize_t r;
    int i;

    r = recv(n->fd, buf, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0) {
        return false;
    }
    if (r < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
    for (i = 0; i < DRAIN_ROUNDS; i++) {
        r = recv(n->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0) {
            return false;
        }
        if (r < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        }
        ms_log_debug(ins, "discarded %zd bytes the receiver sent", r);
    }
    return true;
}

bool sl_net_alive(struct sl_net *n, const struct ms_instance *ins)
{
    struct pollfd pfd;
    bool alive;
    int r;

    if (n->fd < 0) {
        return false;
    }
    if (n->o.transport == SL_TRANSPORT_UDP) {
        return true;
    }
    pfd.fd = n->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    r = poll(&pfd, 1, 0);
    if (r <= 0) {
        return true; /* nothing pending (or EINTR): the connection stands */
    }
    alive = n->ssl ? tls_alive(n, ins) : tcp_alive(n, ins);
    if (!alive) {
        ms_log_info(ins, "%s closed the connection; reconnecting", n->peer);
        sl_net_close(n);
    }
    return alive;
}

static int write_fail(struct sl_net *n, const struct ms_instance *ins, size_t left, const char *why)
{
    ms_log_warn(ins, "write to %s failed with %zu bytes unsent: %s", n->peer, left, why);
    sl_net_close(n);
    return MS_ERETRY;
}

int sl_net_write_all(struct sl_net *n, const struct ms_instance *ins, const char *p, size_t len)
{
    int64_t deadline = now_ms() + n->o.io_timeout_ms;
    char why[256];

    if (n->fd < 0) {
        return write_fail(n, ins, len, "not connected");
    }
    while (len > 0) {
        short wait_for = POLLOUT;
        int w;

        if (n->ssl) {
            int chunk = len > INT_MAX ? INT_MAX : (int)len;
            int r;
            int e;

            ERR_clear_error();
            r = SSL_write(n->ssl, p, chunk);
            if (r > 0) {
                p += r;
                len -= (size_t)r;
                deadline = now_ms() + n->o.io_timeout_ms;
                continue;
            }
            e = SSL_get_error(n->ssl, r);
            if (e == SSL_ERROR_WANT_READ) {
                wait_for = POLLIN;
            }
            else if (e != SSL_ERROR_WANT_WRITE) {
                return write_fail(n, ins, len,
                                  ssl_reason(why, sizeof(why),
                                             e == SSL_ERROR_SYSCALL && errno
                                                 ? strerror(errno)
                                                 : "connection closed"));
            }
        }
        else {
            ssize_t r = send(n->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

            if (r > 0) {
                p += r;
                len -= (size_t)r;
                deadline = now_ms() + n->o.io_timeout_ms;
                continue;
            }
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                return write_fail(n, ins, len, strerror(errno));
            }
        }
        /* Same buffer and length again once the socket is ready (OpenSSL's WANT_* rule). */
        w = wait_fd(n->fd, wait_for, deadline);
        if (w <= 0) {
            return write_fail(n, ins, len, w == 0 ? "timed out" : strerror(errno));
        }
    }
    return MS_OK;
}

int sl_net_send_datagram(struct sl_net *n, const struct ms_instance *ins, const char *p, size_t len)
{
    int64_t deadline = now_ms() + n->o.io_timeout_ms;

    if (n->fd < 0) {
        return write_fail(n, ins, len, "not connected");
    }
    for (;;) {
        ssize_t r = send(n->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        int w;

        if (r >= 0 && (size_t)r == len) {
            return MS_OK;
        }
        if (r >= 0) {
            return write_fail(n, ins, len - (size_t)r, "datagram sent in part");
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return write_fail(n, ins, len, strerror(errno));
        }
        w = wait_fd(n->fd, POLLOUT, deadline);
        if (w <= 0) {
            return write_fail(n, ins, len, w == 0 ? "timed out" : strerror(errno));
        }
    }
}
