/*
 * The engine: builds instances from the config, then moves batches
 * input -> mapping -> spool -> outputs, keeping invariant 1 (at-least-once):
 * an input's cursor is committed only after its events are durable in the spool; an output's
 * spool position only after its receiver acknowledged. Each output runs on its own thread, so a
 * slow or dead output never blocks the others or the inputs (until the spool is full).
 */
#ifndef MS_ENGINE_H
#define MS_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "ms_config.h"

struct ms_engine;

enum ms_engine_mode {
    MS_MODE_CHECK, /* validate only: no state, no spool, no network */
    MS_MODE_RUN,   /* poll on intervals until stop */
    MS_MODE_ONCE,  /* poll every input until it has nothing more, drain every output, return */
};

/*
 * Validates cfg and builds every instance (plugin init included). Takes ownership of cfg on
 * success AND failure. stop is polled by every loop (set it from a signal handler).
 * Returns MS_OK with *out set, or MS_EINVAL with the refusals in errs (or MS_ENOMEM).
 */
int ms_engine_create(struct ms_config *cfg,
                     enum ms_engine_mode mode,
                     volatile sig_atomic_t *stop,
                     struct ms_engine **out,
                     struct ms_cfg_errors *errs);

/* Prints the effective configuration (defaults filled in, secrets redacted). */
void ms_engine_dump(const struct ms_engine *eng, FILE *out);

/*
 * Runs in the mode given at create; opens the spool and state at the start and closes them at the
 * end, so the same engine may run again (msfwd keeps the old engine when a reload is refused).
 * Returns MS_OK when everything polled was delivered (once) or
 * the engine stopped cleanly (run); MS_ERR when an input failed (once), an output could not
 * deliver before the drain timeout, or the spool/state could not be opened (logged).
 */
int ms_engine_run(struct ms_engine *eng);

/*
 * msfwd test: runs each selected instance's connection check (all when n_names is 0; names are
 * instance names) and prints one line per instance to out: "PASS input mimecast-eu: ...".
 * Returns MS_OK when every check passed, MS_EINVAL when a name matches no instance, else MS_ERR.
 */
int ms_engine_test(struct ms_engine *eng, char *const *names, size_t n_names, FILE *out);

/* Stops plugins and frees everything. NULL-safe. */
void ms_engine_destroy(struct ms_engine *eng);

#endif
