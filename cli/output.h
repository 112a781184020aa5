/*
 * output.h: how `vmvault` prints answers: --output json (the default; lists as a
 * JSON array of their "value" elements) or --output table (aligned columns, a
 * column set per resource), and the cell formats tables share (times in local
 * time, sizes, schedules, durations).
 */
#ifndef VV_CLI_OUTPUT_H
#define VV_CLI_OUTPUT_H

#include <stddef.h>

#include "json.h"

enum vv_col_kind {
    VV_COL_STR,        /* string, number or boolean as is; null as "-" */
    VV_COL_TIME,       /* UTC time shown in local time, "2026-11-27 22:00 CET" */
    VV_COL_BYTES,      /* "10.0 GiB" */
    VV_COL_LIST,       /* array of strings, joined with ", " */
    VV_COL_COUNT,      /* the number of elements of an array */
    VV_COL_DISKS,      /* array of disks: "vda 10.0 GiB, vdb 2.0 GiB" */
    VV_COL_SOFTDELETE, /* {"state", "retentionDays"}: "Enabled, 14 days" */
    VV_COL_SCHEDULE,   /* a policy: "Daily 02:00 UTC" */
    VV_COL_RETENTION,  /* a policy: "30 days, 12 weeks" */
    VV_COL_DURATION,   /* a job: end (or now) minus start, "1m 05s" */
    VV_COL_PROGRESS,   /* a job: "25% (100.0 MiB of 400.0 MiB)" */
    VV_COL_ERROR,      /* {"code", "message"}: the code */
    VV_COL_SNAPSHOT,   /* a backup's snapshot: "FileSystemConsistent, frozen 412 ms" */
};

struct vv_column {
    const char *header; /* NULL ends the list */
    const char *path;   /* dotted field path ("softDelete.state"); "" is the row itself */
    enum vv_col_kind kind;
};

/* Column sets of each resource. */
extern const struct vv_column vv_cols_vault[], vv_cols_backup_props[], vv_cols_policy[],
    vv_cols_container[], vv_cols_protectable[], vv_cols_item[], vv_cols_job[],
    vv_cols_point[], vv_cols_user[], vv_cols_token[], vv_cols_whoami[];

/* Print an answer: a {"value": [...]} list or a single object. json: pretty,
 * 2-space indent, a list as the array of its elements; table: the columns, one row
 * per element (one row for an object). A JSON null prints nothing. */
void vv_print(int json, const json_t *v, const struct vv_column *cols);
/* Print any JSON value pretty (2-space indent). */
void vv_print_json(const json_t *v);

/* One cell's text as the table shows it; out has room for n bytes. */
void vv_format_cell(const json_t *row, const struct vv_column *col, char *out, size_t n);
/* A UTC time string for humans in local time ("2026-11-27 22:00 CET"), or s itself
 * when it does not parse. */
void vv_format_time(const char *s, char *out, size_t n);

#endif
