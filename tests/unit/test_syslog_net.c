/* syslog transport against sockets on 127.0.0.1: complete writes, peer-closed check, timeouts. */
#include <config.h>

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "core/ms_err.h"
#include "core/ms_plugin.h"
#include "../../outputs/syslog/syslog_net.h"

static struct ms_instance ins = {
    .kind = "output", .plugin_name = "syslog", .name = "net-test", .log_level = -1};

static int listen_on(int type, int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int one = 1;
    int fd = socket(AF_INET, type, 0);

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (type == SOCK_STREAM) {
        assert_int_equal(listen(fd, 4), 0);
    }
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct sl_net *net_new(enum sl_transport tr, int port, int64_t io_timeout_ms)
{
    struct sl_net_opts o = {.transport = tr,
                            .host = "127.0.0.1",
                            .port = port,
                            .connect_timeout_ms = 2000,
                            .io_timeout_ms = io_timeout_ms,
                            .ca_file = "",
                            .cert_file = "",
                            .key_file = "",
                            .verify = true,
                            .server_name = ""};
    struct sl_net *n = sl_net_create(&o);

    assert_non_null(n);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

struct reader {
    int lfd;
    size_t bytes;
    uint64_t sum;
    int delay_ms; /* sleep before reading, so the writer meets a full socket */
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    unsigned char buf[65536];
    int fd = accept(r->lfd, NULL, NULL);
    ssize_t n;
    ssize_t i;

    if (fd < 0) {
        return NULL;
    }
    sleep_ms(r->delay_ms);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (i = 0; i < n; i++) {
            r->sum = r->sum * 31 + buf[i];
        }
        r->bytes += (size_t)n;
    }
    close(fd);
    return NULL;
}

static void test_large_write_is_complete(void **state)
{
    const size_t total = 24u * 1024 * 1024;
    struct reader r = {.delay_ms = 200};
    struct sl_net *n;
    pthread_t th;
    uint64_t sum = 0;
    char *data;
    size_t i;
    int port;

    (void)state;
    r.lfd = listen_on(SOCK_STREAM, &port);
    data = malloc(total);
    assert_non_null(data);
    for (i = 0; i < total; i++) {
        data[i] = (char)(i * 7 + i / 4096);
        sum = sum * 31 + (unsigned char)data[i];
    }
    assert_int_equal(pthread_create(&th, NULL, read_all, &r), 0);
    n = net_new(SL_TRANSPORT_TCP, port, 5000);
    assert_int_equal(sl_net_connect(n, &ins), MS_OK);
    assert_true(sl_net_alive(n, &ins));
    /* Far more than the socket buffers hold while the reader sleeps: partial writes + EAGAIN. */
    assert_int_equal(sl_net_write_all(n, &ins, data, total), MS_OK);
    sl_net_close(n);
    pthread_join(th, NULL);
    assert_int_equal(r.bytes, total);
    assert_true(r.sum == sum);
    sl_net_destroy(n);
    free(data);
    close(r.lfd);
}

static void test_peer_closed_is_seen(void **state)
{
    struct sl_net *n;
    int lfd;
    int sfd;
    int port;
    int i;

    (void)state;
    lfd = listen_on(SOCK_STREAM, &port);
    n = net_new(SL_TRANSPORT_TCP, port, 1000);
    assert_false(sl_net_alive(n, &ins)); /* never connected */
    assert_int_equal(sl_net_connect(n, &ins), MS_OK);
    sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    /* The receiver sends something: read and discarded, the connection stays. */
    assert_int_equal(write(sfd, "hello", 5), 5);
    sleep_ms(50);
    assert_true(sl_net_alive(n, &ins));
    assert_true(sl_net_alive(n, &ins));
    assert_true(sl_net_is_open(n));
    /* Receiver goes away (a restart): the check notices before we write into the void. */
    close(sfd);
    for (i = 0; i < 200 && sl_net_alive(n, &ins); i++) {
        sleep_ms(10);
    }
    assert_true(i < 200);
    assert_false(sl_net_is_open(n));
    /* A write without a connection fails as retryable. */
    assert_int_equal(sl_net_write_all(n, &ins, "x", 1), MS_ERETRY);
    /* Reconnect works on the same sl_net. */
    assert_int_equal(sl_net_connect(n, &ins), MS_OK);
    sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(sl_net_write_all(n, &ins, "abc", 3), MS_OK);
    {
        char buf[4] = {0};

        assert_int_equal(read(sfd, buf, 3), 3);
        assert_string_equal(buf, "abc");
    }
    close(sfd);
    sl_net_destroy(n);
    close(lfd);
}

static void test_refused_and_timeout(void **state)
{
    struct sl_net *n;
    char *data;
    int lfd;
    int sfd;
    int port;
    time_t t0;

    (void)state;
    /* Nobody listens: retryable, not open. */
    lfd = listen_on(SOCK_STREAM, &port);
    close(lfd);
    n = net_new(SL_TRANSPORT_TCP, port, 300);
    assert_int_equal(sl_net_connect(n, &ins), MS_ERETRY);
    assert_false(sl_net_is_open(n));
    sl_net_destroy(n);

    /* A receiver that never reads: the write gives up after the I/O timeout. */
    lfd = listen_on(SOCK_STREAM, &port);
    n = net_new(SL_TRANSPORT_TCP, port, 300);
    assert_int_equal(sl_net_connect(n, &ins), MS_OK);
    sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    data = calloc(1, 64u * 1024 * 1024);
    assert_non_null(data);
    t0 = time(NULL);
    assert_int_equal(sl_net_write_all(n, &ins, data, 64u * 1024 * 1024), MS_ERETRY);
    assert_true(time(NULL) - t0 < 10);
    assert_false(sl_net_is_open(n));
    free(data);
    close(sfd);
    sl_net_destroy(n);
    close(lfd);
}

static void test_udp(void **state)
{
    struct sl_net *n;
    char buf[64];
    int ufd;
    int port;
    int i;
    int rc = MS_OK;

    (void)state;
    ufd = listen_on(SOCK_DGRAM, &port);
    n = net_new(SL_TRANSPORT_UDP, port, 1000);
    assert_int_equal(sl_net_connect(n, &ins), MS_OK);
    assert_true(sl_net_alive(n, &ins));
    assert_int_equal(sl_net_send_datagram(n, &ins, "<13>x", 5), MS_OK);
    assert_int_equal(recv(ufd, buf, sizeof(buf), 0), 5);
    assert_memory_equal(buf, "<13>x", 5);
    /* The receiver is gone: ICMP port unreachable surfaces as a retryable error. */
    close(ufd);
    for (i = 0; i < 50 && rc == MS_OK; i++) {
        rc = sl_net_send_datagram(n, &ins, "<13>y", 5);
        sleep_ms(10);
    }
    assert_int_equal(rc, MS_ERETRY);
    assert_false(sl_net_is_open(n));
    sl_net_destroy(n);
}

static void *accept_and_close(void *arg)
{
    int fd = accept(*(int *)arg, NULL, NULL);

    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

static void test_tls_setup_failures(void **state)
{
    struct sl_net_opts o = {.transport = SL_TRANSPORT_TLS,
                            .host = "127.0.0.1",
                            .port = 1,
                            .connect_timeout_ms = 1000,
                            .io_timeout_ms = 1000,
                            .ca_file = "/nonexistent/ca.pem",
                            .cert_file = "",
                            .key_file = "",
                            .verify = true,
                            .server_name = ""};
    struct sl_net *n;
    pthread_t th;
    int lfd;
    int port;

    (void)state;
    /* A missing CA file is the operator's to fix: permanent, before any connection. */
    n = sl_net_create(&o);
    assert_non_null(n);
    assert_int_equal(sl_net_connect(n, &ins), MS_EPERM);
    sl_net_destroy(n);
    o.ca_file = "";
    o.cert_file = "/nonexistent/cert.pem";
    o.key_file = "/nonexistent/key.pem";
    n = sl_net_create(&o);
    assert_int_equal(sl_net_connect(n, &ins), MS_EPERM);
    sl_net_destroy(n);

    /* A plain TCP peer that hangs up during the handshake: retryable. */
    lfd = listen_on(SOCK_STREAM, &port);
    o.cert_file = "";
    o.key_file = "";
    o.port = port;
    n = sl_net_create(&o);
    assert_non_null(n);
    assert_int_equal(pthread_create(&th, NULL, accept_and_close, &lfd), 0);
    assert_int_equal(sl_net_connect(n, &ins), MS_ERETRY);
    assert_false(sl_net_is_open(n));
    pthread_join(th, NULL);
    sl_net_destroy(n);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_write_is_complete), cmocka_unit_test(test_peer_closed_is_seen),
        cmocka_unit_test(test_refused_and_timeout),     cmocka_unit_test(test_udp),
        cmocka_unit_test(test_tls_setup_failures),
    };

    signal(SIGPIPE, SIG_IGN); /* as msfwd's main does */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
