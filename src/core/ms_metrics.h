/*
 * A tiny HTTP endpoint on a local port: GET /metrics (Prometheus text format 0.0.4) and
 * GET /health (JSON; 200 when healthy, 503 when degraded). One thread; requests are answered one
 * at a time with bounded reads and timeouts. The content comes from a render callback.
 */
#ifndef MS_METRICS_H
#define MS_METRICS_H

#include <stdbool.h>

#include "ms_buf.h"

struct ms_metrics_server;

/*
 * Renders the body for path "/metrics" or "/health" into out. Returns the HTTP status (200, 503)
 * or 404 for other paths. Called on the metrics thread: read shared counters atomically.
 */
typedef int (*ms_metrics_render_fn)(void *arg, const char *path, struct ms_buf *out);

/*
 * Listens on addr ("127.0.0.1:9810", "[::1]:9810" or ":9810" for all addresses) and serves from a
 * thread until ms_metrics_stop. Returns the server or NULL after logging why (address in use,
 * bad address).
 */
struct ms_metrics_server *
ms_metrics_start(const char *addr, ms_metrics_render_fn render, void *arg);

/* Stops the thread, closes the socket, frees. NULL-safe. */
void ms_metrics_stop(struct ms_metrics_server *srv);

/* Checks the syntax of a listen address. Returns MS_OK or MS_EINVAL. */
int ms_metrics_addr_valid(const char *addr);

#endif
