/*
 * Transport of the syslog output: UDP datagrams, TCP and TLS (OpenSSL) streams with timeouts,
 * complete writes and a peer-closed check. One connection, used by the output's own thread.
 * Writes never raise SIGPIPE on plain sockets (MSG_NOSIGNAL); TLS writes go through OpenSSL's
 * socket BIO, so the process must ignore SIGPIPE (msfwd's main does).
 */
#ifndef SL_NET_H
#define SL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../src/core/ms_plugin.h"

enum sl_transport {
    SL_TRANSPORT_UDP,
    SL_TRANSPORT_TCP,
    SL_TRANSPORT_TLS,
};

/* Borrowed strings; they must outlive the sl_net. "" means unset. */
struct sl_net_opts {
    enum sl_transport transport;
    const char *host;
    int port;
    int64_t connect_timeout_ms;
    int64_t io_timeout_ms;
    const char *ca_file;     /* "" = the system's default CA store */
    const char *cert_file;   /* client certificate chain (PEM), optional */
    const char *key_file;    /* its private key (PEM) */
    bool verify;             /* verify the server's certificate and name */
    const char *server_name; /* name to verify and send as SNI; "" = host */
};

struct sl_net;

/* Allocates an unconnected transport; touches neither network nor files. NULL when out of memory.
 */
struct sl_net *sl_net_create(const struct sl_net_opts *o);

/* Closes the connection and frees everything. NULL-safe. */
void sl_net_destroy(struct sl_net *n);

/*
 * Connects (resolving host every time, trying each address), and for TLS loads the CA and client
 * certificate on first use and completes the handshake with verification. Logs the reason on
 * failure (once, here). Returns MS_OK, MS_ERETRY (resolution, connection, I/O) or MS_EPERM
 * (TLS setup or certificate verification failed: the operator must act).
 */
int sl_net_connect(struct sl_net *n, const struct ms_instance *ins);

bool sl_net_is_open(const struct sl_net *n);

/*
 * Peer-closed check for streams (rsyslog's MSG_PEEK check; for TLS the pending records are
 * processed so a close_notify or a reset is seen): returns false, after closing the connection,
 * when the peer closed or reset it. Data the peer sent is read and discarded. Never blocks.
 */
bool sl_net_alive(struct sl_net *n, const struct ms_instance *ins);

/*
 * Writes all len bytes (continuing after partial writes, EINTR, EAGAIN with the I/O timeout).
 * Returns MS_OK when every byte was handed to the kernel (TCP) or to OpenSSL's record layer and
 * the kernel (TLS), else logs why, closes the connection and returns MS_ERETRY.
 */
int sl_net_write_all(struct sl_net *n, const struct ms_instance *ins, const char *p, size_t len);

/*
 * Sends one UDP datagram. Returns MS_OK, or logs, closes and returns MS_ERETRY (for example
 * ECONNREFUSED reported for an earlier datagram by ICMP).
 */
int sl_net_send_datagram(struct sl_net *n,
                         const struct ms_instance *ins,
                         const char *p,
                         size_t len);

/* Closes the connection (the next connect opens a new one). */
void sl_net_close(struct sl_net *n);

#endif
