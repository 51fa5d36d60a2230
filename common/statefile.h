/*
 * The daemons' state files (enforcement state across restarts): a text
 * file with a magic first line and "time_ns <CLOCK_REALTIME>" second,
 * written to PATH.tmp and renamed over PATH, read back only if it is a
 * regular file of the right magic, neither stale nor from the future.
 * The caller writes and reads the lines in between.
 */
#ifndef CXD_STATEFILE_H
#define CXD_STATEFILE_H

#include <stdint.h>
#include <stdio.h>

/* Opens PATH.tmp (0600) and writes the head: 0, or -errno. */
int cxd_state_begin(const char *path, const char *magic, uint64_t real_ns,
		    FILE **f);

/* Flushes, closes and renames over path (removes the .tmp on error). */
int cxd_state_commit(const char *path, FILE *f);

/*
 * Opens path and checks its head: 0 with *f set and *saved_ns, 1 if there
 * is no file (nothing to restore), -EINVAL (not a regular file),
 * -EBADMSG (head malformed), -ESTALE (older than max_age_ns or from the
 * future) or -errno.
 */
int cxd_state_open(const char *path, const char *magic, uint64_t real_ns,
		   uint64_t max_age_ns, FILE **f, uint64_t *saved_ns);

/* CLOCK_REALTIME in ns. */
uint64_t cxd_state_real_ns(void);

#endif
