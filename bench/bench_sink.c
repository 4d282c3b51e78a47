/*
 * Fast receivers for bench/run.sh on 127.0.0.1, so that the benchmark measures msfwd and not a
 * slow peer: "tcp" reads and discards everything (syslog over TCP); "hec" answers every HTTP
 * request with HEC's {"text":"Success","code":0} (keep-alive, Content-Length bodies only).
 * Prints the port it listens on as the first line of standard output; runs until SIGTERM/SIGINT,
 * then prints what it received on standard error.
 * usage: bench_sink tcp|hec
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_BUF (256 * 1024)

static const char hec_reply[] = "HTTP/1.1 200 OK\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 27\r\n"
                                "\r\n"
                                "{\"text\":\"Success\",\"code\":0}";

static volatile sig_atomic_t sink_stop;
static uint64_t sink_bytes;
static uint64_t sink_requests;
static int sink_hec;

static void sink_on_signal(int sig)
{
    (void)sig;
    sink_stop = 1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The Content-Length of the request head in buf[0..head) (0 when absent). */
static size_t content_length(const char *buf, size_t head)
{
    const char *p = buf;
    const char *end = buf + head;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));

        if (!eol) {
            break;
        }
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
            return (size_t)strtoull(p + 15, NULL, 10);
        }
        p = eol + 1;
    }
    return 0;
}

/* One HTTP connection: request heads are parsed, bodies skipped, each request answered. */
static void serve_hec(int fd, char *buf)
{
    size_t have = 0;
    size_t skip = 0; /* body bytes still to discard */

    for (;;) {
        ssize_t n;
        char *hdr_end;

        if (skip == 0 && have > 0) {
            hdr_end = memmem(buf, have, "\r\n\r\n", 4);
            if (hdr_end) {
                size_t head = (size_t)(hdr_end - buf) + 4;
                size_t body = content_length(buf, head);
                size_t avail = have - head;
                size_t take = avail < body ? avail : body;

                memmove(buf, buf + head + take, avail - take);
                have = avail - take;
                skip = body - take;
                if (skip == 0) {
                    __atomic_add_fetch(&sink_requests, 1, __ATOMIC_RELAXED);
                    if (write_all(fd, hec_reply, sizeof(hec_reply) - 1) != 0) {
                        return;
                    }
                }
                continue;
            }
        }
        if (have == SINK_BUF) {
            return; /* a head this long is not HEC */
        }
        n = read(fd, buf + have, SINK_BUF - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        __atomic_add_fetch(&sink_bytes, (uint64_t)n, __ATOMIC_RELAXED);
        if (skip > 0) {
            size_t take = (size_t)n < skip ? (size_t)n : skip;

            memmove(buf + have, buf + have + take, (size_t)n - take);
            skip -= take;
            have += (size_t)n - take;
            if (skip == 0) {
                __atomic_add_fetch(&sink_requests, 1, __ATOMIC_RELAXED);
                if (write_all(fd, hec_reply, sizeof(hec_reply) - 1) != 0) {
                    return;
                }
            }
        }
        else {
            have += (size_t)n;
        }
    }
}

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(SINK_BUF);
    ssize_t n;

    if (buf && sink_hec) {
        serve_hec(fd, buf);
    }
    else if (buf) {
        for (;;) {
            n = read(fd, buf, SINK_BUF);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            __atomic_add_fetch(&sink_bytes, (uint64_t)n, __ATOMIC_RELAXED);
        }
    }
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    struct sigaction sa;
    int one = 1;
    int lfd;

    if (argc != 2 || (strcmp(argv[1], "tcp") != 0 && strcmp(argv[1], "hec") != 0)) {
        fprintf(stderr, "usage: bench_sink tcp|hec\n");
        return 64;
    }
    sink_hec = strcmp(argv[1], "hec") == 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sink_on_signal; /* no SA_RESTART: accept returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("bind/listen");
        return 1;
    }
    printf("%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    while (!sink_stop) {
        pthread_t t;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0) {
            continue;
        }
        if (pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
    fprintf(stderr, "bench_sink %s: %llu bytes, %llu requests\n", argv[1],
            (unsigned long long)__atomic_load_n(&sink_bytes, __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&sink_requests, __ATOMIC_RELAXED));
    close(lfd);
    return 0;
}
