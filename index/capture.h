/*
 * capture.h — live capture into a store: a UDP listener (one socket per
 * worker, SO_REUSEPORT) or one interface through libpcap, a decapsulator
 * and an idx_vault_worker per worker thread, the senders' allowlist and the
 * VNI filter, and the vault's single writer (vault.h "live").
 *
 * Part of the index module (prefix idx_).  The caller owns signals and
 * printing: it opens the sources (before giving up root), starts the
 * capture, polls idx_capture_status until it wants to stop, then calls
 * idx_capture_finish.  Every function is called from one thread.
 */
#ifndef IDX_CAPTURE_H
#define IDX_CAPTURE_H

#include "vault.h"

#define IDX_CAPTURE_MAX_VNIS 4096

typedef struct idx_capture_cfg {
	/* exactly one source: listen (UDP) or iface (libpcap) */
	bool listen;
	tv_addr addr;              /* listen: address and port (ingest_listen_parse) */
	bool v6;
	uint16_t port;
	const char *iface;
	bool geneve;               /* listen: the port carries GENEVE, not VXLAN */
	bool all;                  /* iface: every frame, not only the tunnel's */
	int workers;               /* 1..256; an interface always uses 1 */
	uint64_t rcvbuf;           /* socket or pcap buffer; 0: the source's default */
	ingest_allow allow;        /* senders accepted (listen: before decapsulation) */
	uint32_t vnis[IDX_CAPTURE_MAX_VNIS]; /* VNIs stored, sorted; nvnis 0: all */
	int nvnis;
	ingest_decap_cfg decap;    /* the listening port is added as a tunnel port */
	idx_vault_cfg vault;
	idx_live_cfg live;         /* nworkers is set from workers */
} idx_capture_cfg;

typedef struct idx_capture idx_capture;

/*
 * Opens the sources of cfg (copied; cfg is not used after the call).
 * Nothing of the store is touched yet.  On failure err (cap bytes) says
 * what failed and the code is the source's (EADDRINUSE, EACCES, ...).
 */
int idx_capture_open(const idx_capture_cfg *cfg, idx_capture **out, char *err, size_t cap);
/* Receive buffer the kernel granted to the first socket (listen only). */
int idx_capture_rcvbuf(const idx_capture *c);

/* Which step of idx_capture_start failed. */
enum idx_capture_step {
	IDX_CAPTURE_STEP_OPEN = 1, /* idx_vault_open: the store */
	IDX_CAPTURE_STEP_WRITER,   /* idx_vault_live_start */
	IDX_CAPTURE_STEP_WORKER,   /* a worker (failed_worker says which) */
};

/*
 * Opens the store (rec: what recovery found) and starts the writer and the
 * workers; ctr receives the committed counters.  Signals must be blocked
 * in the calling thread: the threads inherit its mask.  On failure *step
 * says which step failed; the capture is stopped (idx_capture_finish
 * still reports and frees).
 */
int idx_capture_start(idx_capture *c, const char *store, tv_counters *ctr, idx_recovery *rec,
                      int *step, int *failed_worker);

/* Whether a worker stopped the capture (a storing error), and a snapshot
 * of the counters as of the writer's last commit with its first error. */
bool idx_capture_stopped(idx_capture *c);
void idx_capture_status(idx_capture *c, tv_counters *snap, int *werr);

/* Called once per problem found while finishing ("worker 2: storing
 * failed: ...", "writing failed: ...", "final commit failed: ..."). */
typedef void (*idx_capture_err_cb)(void *ctx, const char *msg);

/*
 * Stops the workers (each drains its socket for up to a second, emits its
 * flows and seals), waits for the writer to commit everything, closes the
 * store and frees c.  Returns 0, or the number of problems reported through
 * cb.  Accepts NULL.
 */
int idx_capture_finish(idx_capture *c, idx_capture_err_cb cb, void *ctx);

#endif
