/*
 * Test helper: runs librdkafka's mock cluster (rdkafka_mock.h) as a process on 127.0.0.1 for the
 * integration tests. Prints the bootstrap address as the first line on stdout, then obeys
 * commands read from stdin, one per line, answering "ok" or "error: ..." on stdout:
 *
 *   down ID|all                    the broker closes its connections and refuses new ones
 *   up ID|all                      the broker accepts connections again
 *   errors APIKEY NAME...          the next requests of that ApiKey (Produce = 0) fail with
 *                                  these errors, one each (names as rd_kafka_err2name gives them,
 *                                  e.g. NOT_ENOUGH_REPLICAS _TRANSPORT REQUEST_TIMED_OUT)
 *   create TOPIC PARTITIONS        creates a topic
 *
 * End of stdin is not a stop: the cluster runs until SIGTERM or SIGINT, then exits 0.
 * usage: kafka_mock [-b BROKERS] [-t TOPIC[:PARTITIONS]]...
 */
#include <config.h>

#include <errno.h>
#include <librdkafka/rdkafka.h>
/* rdkafka_mock.h needs rdkafka.h first */
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOCK_MAX_ERRORS 64

static volatile sig_atomic_t mock_stop;

static void mock_on_signal(int sig)
{
    (void)sig;
    mock_stop = 1;
}

static int mock_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int mock_err_by_name(const char *name, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t n;
    size_t i;

    rd_kafka_get_err_descs(&descs, &n);
    for (i = 0; i < n; i++) {
        if (descs[i].name && strcmp(descs[i].name, name) == 0) {
            *out = descs[i].code;
            return 0;
        }
    }
    return -1;
}

static int mock_create_topic(rd_kafka_mock_cluster_t *mc, const char *spec, long brokers)
{
    char topic[256];
    const char *colon = strrchr(spec, ':');
    long partitions = 4;
    rd_kafka_resp_err_t err;

    snprintf(topic, sizeof(topic), "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
    if (colon && mock_parse_int(colon + 1, 1, 1000, &partitions) != 0) {
        fprintf(stderr, "kafka_mock: bad partition count in '%s'\n", spec);
        return -1;
    }
    err = rd_kafka_mock_topic_create(mc, topic, (int)partitions, brokers < 3 ? (int)brokers : 3);
    if (err) {
        fprintf(stderr, "kafka_mock: cannot create topic %s: %s\n", topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Runs one command line; prints the answer. */
static void mock_command(rd_kafka_mock_cluster_t *mc, char *line, long brokers)
{
    rd_kafka_resp_err_t errs[MOCK_MAX_ERRORS];
    char *argv[MOCK_MAX_ERRORS + 2];
    char *save = NULL;
    char *tok;
    size_t argc = 0;
    size_t i;
    long id = -1;
    long v;

    for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < sizeof(argv) / sizeof(argv[0]);
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        argv[argc++] = tok;
    }
    if (argc == 0) {
        return;
    }
    if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) && argc == 2) {
        if (strcmp(argv[1], "all") != 0 && mock_parse_int(argv[1], 1, brokers, &id) != 0) {
            printf("error: no broker %s\n", argv[1]);
        }
        else if ((argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)id)
                                    : rd_kafka_mock_broker_set_up(mc, (int32_t)id)) != 0) {
            printf("error: %s %s failed\n", argv[0], argv[1]);
        }
        else {
            printf("ok\n");
        }
    }
    else if (strcmp(argv[0], "errors") == 0 && argc >= 3 &&
             mock_parse_int(argv[1], 0, 100, &v) == 0) {
        for (i = 2; i < argc; i++) {
            if (mock_err_by_name(argv[i], &errs[i - 2]) != 0) {
                printf("error: unknown error name %s\n", argv[i]);
                goto out;
            }
        }
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)v, argc - 2, errs);
        printf("ok\n");
    }
    else if (strcmp(argv[0], "create") == 0 && argc == 3) {
        char spec[300];

        snprintf(spec, sizeof(spec), "%s:%s", argv[1], argv[2]);
        printf(mock_create_topic(mc, spec, brokers) == 0 ? "ok\n" : "error: create failed\n");
    }
    else {
        printf("error: unknown command\n");
    }
out:
    fflush(stdout);
}

int main(int argc, char **argv)
{
    rd_kafka_mock_cluster_t *mc = NULL;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    struct sigaction sa;
    char errstr[512];
    char line[1024];
    long brokers = 1;
    bool stdin_open = true;
    int exit_code = 1;
    int opt;
    int i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = mock_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    while ((opt = getopt(argc, argv, "b:t:")) != -1) {
        if (opt == 'b' && mock_parse_int(optarg, 1, 16, &brokers) == 0) {
            continue;
        }
        if (opt == 't') {
            continue; /* topics are created once the cluster runs */
        }
        fprintf(stderr, "usage: kafka_mock [-b BROKERS(1..16)] [-t TOPIC[:PARTITIONS]]...\n");
        return 64;
    }

    /* The cluster lives inside a client handle; that handle never connects anywhere. */
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_mock: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create a mock cluster of %ld brokers\n", brokers);
        goto out;
    }
    optind = 1;
    while ((opt = getopt(argc, argv, "b:t:")) != -1) {
        if (opt == 't' && mock_create_topic(mc, optarg, brokers) != 0) {
            goto out;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    while (!mock_stop) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};

        if (!stdin_open) {
            usleep(100 * 1000);
            continue;
        }
        i = poll(&pfd, 1, 100);
        if (i <= 0) {
            continue;
        }
        if (!fgets(line, sizeof(line), stdin)) {
            stdin_open = false;
            continue;
        }
        mock_command(mc, line, brokers);
    }
    exit_code = 0;
out:
    if (mc) {
        rd_kafka_mock_cluster_destroy(mc);
    }
    rd_kafka_destroy(rk);
    return exit_code;
}
