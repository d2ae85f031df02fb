/*
 * ingest_files.h — capture files (or standard input) into a store: read,
 * decapsulate, skip what an earlier run of the same file stored (source
 * marks, resume.c), add to the vault (threaded sealing with cfg.vault.threads
 * > 1), flush and close.
 *
 * Part of the index module (prefix idx_).  Never prints: what the caller
 * shows comes through the event callback, in the order it happens.
 */
#ifndef IDX_INGEST_FILES_H
#define IDX_INGEST_FILES_H

#include "vault.h"

#include <signal.h>

/* files cut short or unreadable whose names the result keeps */
#define IDX_FILES_BAD_NAMED 20

enum idx_files_event_kind {
	IDX_FILES_RECOVERED = 1, /* the store was opened: rec says what recovery did */
	IDX_FILES_SOURCE,        /* a file starts: path, res (which rule applied) */
	IDX_FILES_READ_ERROR,    /* msg names the file and the place; the next file is read */
	IDX_FILES_PROGRESS,      /* every 1024 packets: done_bytes of total_bytes, packets */
	IDX_FILES_INTERRUPTED,   /* *stop was set: what was read is stored */
};

typedef struct idx_files_event {
	int kind;                      /* enum idx_files_event_kind */
	const idx_recovery *rec;
	const char *path;
	const idx_source_resume *res;
	const char *msg;
	uint64_t done_bytes, total_bytes, packets;
} idx_files_event;

typedef void (*idx_files_cb)(void *ctx, const idx_files_event *ev);

typedef struct idx_files_cfg {
	const char *store;
	const char **files;            /* paths, folders, "-" for standard input */
	int nfiles;
	ingest_decap_cfg decap;
	idx_vault_cfg vault;
	const volatile sig_atomic_t *stop; /* non-zero: stop reading (may be NULL) */
	idx_files_cb cb;
	void *ctx;
} idx_files_cfg;

/* Which step failed (res.step) when idx_ingest_files returns an error. */
enum idx_files_step {
	IDX_FILES_STEP_SOURCES = 1, /* the files cannot be opened: msg says why */
	IDX_FILES_STEP_OPEN,        /* idx_vault_open */
	IDX_FILES_STEP_DECAP,       /* the decapsulator */
	IDX_FILES_STEP_COMPARE,     /* a file cannot be compared with what is stored (path) */
	IDX_FILES_STEP_STORE,       /* adding or writing failed */
	IDX_FILES_STEP_CLOSE,       /* the final commit failed (another error than STORE's) */
};

typedef struct idx_files_result {
	int step;                  /* of the first error; 0: none */
	int err;                   /* that error */
	int close_err;             /* the final commit's, when STORE failed before */
	char msg[1024];            /* STEP_SOURCES */
	char path[4096];           /* STEP_COMPARE */
	bool opened;               /* the store was opened (a summary makes sense) */
	int nfiles;                /* files read (folders expanded) */
	uint64_t read_errors;      /* files cut short or unreadable */
	int nbad;                  /* their names: the first IDX_FILES_BAD_NAMED */
	char bad[IDX_FILES_BAD_NAMED][512];
	uint64_t elapsed_ns;       /* from the first read to the close */
} idx_files_result;

/*
 * Ingests cfg->files into cfg->store; ctr (zeroed by the caller) receives
 * the source, decapsulation and store counters.  Returns 0, or the error of
 * res->step.  Read errors are no failure of the call: they are counted
 * (res->read_errors, src.read_errors) and reported through the callback.
 */
int idx_ingest_files(const idx_files_cfg *cfg, tv_counters *ctr, idx_files_result *res);

#endif
