/*
 * extender/obs/proc_stats.h - process statistics from Linux procfs, for the
 * process_* metrics that Prometheus client libraries conventionally export.
 *
 * Purpose: read /proc/self/stat (CPU time, virtual and resident memory,
 * start time in clock ticks since boot), /proc/stat (btime, the boot time in
 * Unix seconds), /proc/self/limits ("Max open files" soft limit) and count
 * the entries of /proc/self/fd.  The parsers are pure functions on text so
 * that hostile or truncated inputs can be tested without a procfs.
 *
 * Ownership: plain value structs; nothing is allocated for the caller.
 * Thread context: any thread; no shared state.
 * Errors: every field has a "have_" flag; a file that cannot be read or a
 * field that does not parse leaves its flag false (the metric is then left
 * out), never a crash.  Inputs are read with a hard cap (64 KiB per file).
 */
#ifndef FP_EXTENDER_PROC_STATS_H
#define FP_EXTENDER_PROC_STATS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* Fields of /proc/[pid]/stat that the metrics use, in raw units. */
typedef struct {
    guint64 utime_ticks;     /* field 14, user CPU time in clock ticks */
    guint64 stime_ticks;     /* field 15, system CPU time in clock ticks */
    guint64 starttime_ticks; /* field 22, start time in clock ticks after boot */
    guint64 vsize_bytes;     /* field 23, virtual memory size in bytes */
    guint64 rss_pages;       /* field 24, resident set size in pages */
} FpProcStat;

/* Parse the text of /proc/[pid]/stat (@len bytes, need not be NUL-terminated).
 * The command name (field 2) is in parentheses and may itself contain spaces
 * and ')' characters, so fields are counted from the LAST ')'.  Returns false
 * when the text is malformed or too short (fewer than 24 fields). */
bool fp_proc_parse_stat(const char *text, size_t len, FpProcStat *out);

/* Parse the "btime N" line of /proc/stat into *btime (Unix seconds). */
bool fp_proc_parse_btime(const char *text, size_t len, guint64 *btime);

/* Parse the soft limit of the "Max open files" row of /proc/[pid]/limits.
 * "unlimited" gives G_MAXUINT64. */
bool fp_proc_parse_max_fds(const char *text, size_t len, guint64 *max_fds);

/* What fp_proc_stats_read found, in the units of the metrics. */
typedef struct {
    bool have_cpu, have_vsize, have_rss, have_start, have_open_fds, have_max_fds;
    double cpu_seconds;    /* process_cpu_seconds_total */
    double virtual_bytes;  /* process_virtual_memory_bytes */
    double resident_bytes; /* process_resident_memory_bytes */
    double start_time;     /* process_start_time_seconds (Unix time) */
    double open_fds;       /* process_open_fds */
    double max_fds;        /* process_max_fds (+Inf when unlimited) */
} FpProcStats;

/* Read the statistics of the calling process from @proc_root ("/proc" when
 * NULL; tests may point it at a fake tree with self/stat, stat, self/limits
 * and self/fd/).  Fields that could not be read keep their flag false.
 * Returns true when at least one field was read. */
bool fp_proc_stats_read(const char *proc_root, FpProcStats *out);

G_END_DECLS

#endif /* FP_EXTENDER_PROC_STATS_H */
