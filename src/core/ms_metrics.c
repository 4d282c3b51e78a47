/* Local /metrics and /health endpoint. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_log.h"
#include "ms_metrics.h"

#define REQUEST_MAX        8192
#define REQUEST_TIMEOUT_MS 2000

struct ms_metrics_server {
    int fd;
    pthread_t thread;
    int stopping; /* atomic */
    ms_metrics_render_fn render;
    void *arg;
};

/* Splits "host:port" (host may be empty or [v6]). */
static int split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon = strrchr(addr, ':');
    size_t n;

    if (!colon || colon[1] == '\0' || strlen(colon + 1) >= plen) {
        return MS_EINVAL;
    }
    n = (size_t)(colon - addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        addr++;
        n -= 2;
    }
    if (n >= hlen) {
        return MS_EINVAL;
    }
    memcpy(host, addr, n);
    host[n] = '\0';
    snprintf(port, plen, "%s", colon + 1);
    return MS_OK;
}

int ms_metrics_addr_valid(const char *addr)
{
    char host[256];
    char port[16];
    char *end;
    long p;

    if (split_addr(addr, host, sizeof(host), port, sizeof(port)) != MS_OK) {
        return MS_EINVAL;
    }
    p = strtol(port, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
        return MS_EINVAL;
    }
    return MS_OK;
}

static void send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

static void serve_one(struct ms_metrics_server *srv, int fd)
{
    char req[REQUEST_MAX];
    char path[256];
    char head[256];
    struct ms_buf body;
    struct pollfd pfd;
    size_t used = 0;
    int status;
    int n;

    /* Read until the end of the headers, bounded in size and time. */
    while (used < sizeof(req) - 1) {
        ssize_t r;

        pfd.fd = fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, REQUEST_TIMEOUT_MS) <= 0) {
            return;
        }
        r = recv(fd, req + used, sizeof(req) - 1 - used, 0);
        if (r <= 0) {
            return;
        }
        used += (size_t)r;
        req[used] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) {
            break;
        }
    }
    if (sscanf(req, "GET %255s HTTP/", path) != 1) {
        static const char bad[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";
        send_all(fd, bad, sizeof(bad) - 1);
        return;
    }
    path[strcspn(path, "?")] = '\0';
    ms_buf_init(&body, 16u * 1024 * 1024);
    status = srv->render(srv->arg, path, &body);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 status,
                 status == 200   ? "OK"
                 : status == 503 ? "Service Unavailable"
                                 : "Not Found",
                 strcmp(path, "/metrics") == 0 ? "text/plain; version=0.0.4" : "application/json",
                 body.len);
    send_all(fd, head, (size_t)n);
    send_all(fd, ms_buf_cstr(&body), body.len);
    ms_buf_free(&body);
}

static void *metrics_thread(void *arg)
{
    struct ms_metrics_server *srv = arg;
    struct pollfd pfd;

    while (!__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) {
        int fd;

        pfd.fd = srv->fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 200) <= 0) {
            continue;
        }
        fd = accept(srv->fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        serve_one(srv, fd);
        close(fd);
    }
    return NULL;
}

struct ms_metrics_server *ms_metrics_start(const char *addr, ms_metrics_render_fn render, void *arg)
{
    struct ms_metrics_server *srv;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char host[256];
    char port[16];
    int one = 1;
    int rc;

    if (split_addr(addr, host, sizeof(host), port, sizeof(port)) != MS_OK) {
        ms_log_error(NULL, "metrics: bad listen address '%s'", addr);
        return NULL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        ms_log_error(NULL, "metrics: cannot resolve '%s': %s", addr, gai_strerror(rc));
        return NULL;
    }
    srv = calloc(1, sizeof(*srv));
    if (!srv) {
        freeaddrinfo(res);
        return NULL;
    }
    srv->render = render;
    srv->arg = arg;
    srv->fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (srv->fd < 0 || setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(srv->fd, res->ai_addr, res->ai_addrlen) != 0 || listen(srv->fd, 16) != 0) {
        ms_log_error(NULL, "metrics: cannot listen on %s: %s", addr, strerror(errno));
        freeaddrinfo(res);
        if (srv->fd >= 0) {
            close(srv->fd);
        }
        free(srv);
        return NULL;
    }
    freeaddrinfo(res);
    if (pthread_create(&srv->thread, NULL, metrics_thread, srv) != 0) {
        ms_log_error(NULL, "metrics: cannot start its thread");
        close(srv->fd);
        free(srv);
        return NULL;
    }
    ms_log_info(NULL, "metrics: serving /metrics and /health on %s", addr);
    return srv;
}

void ms_metrics_stop(struct ms_metrics_server *srv)
{
    if (!srv) {
        return;
    }
    __atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
    pthread_join(srv->thread, NULL);
    close(srv->fd);
    free(srv);
}
