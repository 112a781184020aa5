/*
 * output.c: printing answers as JSON or as tables (see output.h): the column sets
 * of each resource and the text of each kind of cell.
 */
#include "output.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* ------------------------------------------------------------------------------ */
/* Column sets                                                                     */

const struct vv_column vv_cols_vault[] = {
    {"Name", "name", VV_COL_STR},
    {"Location", "location", VV_COL_STR},
    {"Redundancy", "storageRedundancy", VV_COL_STR},
    {"Soft delete", "softDelete", VV_COL_SOFTDELETE},
    {"Items", "protectedItemCount", VV_COL_STR},
    {"Points", "recoveryPointCount", VV_COL_STR},
    {"Hosts", "containerCount", VV_COL_STR},
    {"Created", "createdAt", VV_COL_TIME},
    {"Replica of", "replicaOf", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_backup_props[] = {
    {"Redundancy", "storageRedundancy", VV_COL_STR},
    {"Redundancy locked", "storageRedundancyLocked", VV_COL_STR},
    {"Soft delete", "softDelete", VV_COL_SOFTDELETE},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_policy[] = {
    {"Name", "name", VV_COL_STR},
    {"Schedule", "", VV_COL_SCHEDULE},
    {"Retention", "", VV_COL_RETENTION},
    {"Instant RP days", "instantRpRetentionRangeInDays", VV_COL_STR},
    {"Items", "protectedItemsCount", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_container[] = {
    {"Name", "name", VV_COL_STR},
    {"Region", "region", VV_COL_STR},
    {"Agent", "agentVersion", VV_COL_STR},
    {"Registered", "registeredAt", VV_COL_TIME},
    {"Last seen", "lastSeen", VV_COL_TIME},
    {"VMs", "protectableItemCount", VV_COL_STR},
    {"Protected", "protectedItemCount", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_protectable[] = {
    {"Name", "name", VV_COL_STR},
    {"Container", "container", VV_COL_STR},
    {"Region", "region", VV_COL_STR},
    {"State", "state", VV_COL_STR},
    {"Disks", "disks", VV_COL_DISKS},
    {"Protection", "protectionState", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_item[] = {
    {"Name", "name", VV_COL_STR},
    {"Container", "container", VV_COL_STR},
    {"Policy", "policy", VV_COL_STR},
    {"Protection", "protectionState", VV_COL_STR},
    {"Last backup", "lastBackupStatus", VV_COL_STR},
    {"Last backup time", "lastBackupTime", VV_COL_TIME},
    {"Points", "recoveryPointCount", VV_COL_STR},
    {"Next run", "nextRun", VV_COL_TIME},
    {"Scripts", "scriptSettingsSource", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_job[] = {
    {"Id", "id", VV_COL_STR},
    {"Operation", "operation", VV_COL_STR},
    {"Status", "status", VV_COL_STR},
    {"Item", "item", VV_COL_STR},
    {"Started", "startTime", VV_COL_TIME},
    {"Duration", "", VV_COL_DURATION},
    {"Progress", "", VV_COL_PROGRESS},
    {"Error", "error", VV_COL_ERROR},
    {"Warnings", "warnings", VV_COL_ERROR},
    {"Snapshot", "snapshot", VV_COL_SNAPSHOT},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_point[] = {
    {"Name", "name", VV_COL_STR},
    {"Item", "item", VV_COL_STR},
    {"Time", "time", VV_COL_TIME},
    {"Kind", "kind", VV_COL_STR},
    {"Expires", "expiresAt", VV_COL_TIME},
    {"Kept by", "retainedBy", VV_COL_LIST},
    {"Type", "recoveryPointType", VV_COL_STR},
    {"Disks", "disks", VV_COL_DISKS},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_user[] = {
    {"Name", "name", VV_COL_STR},
    {"Role", "role", VV_COL_STR},
    {"Tokens", "tokenCount", VV_COL_STR},
    {"Created", "createdAt", VV_COL_TIME},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_token[] = {
    {"Id", "id", VV_COL_STR},
    {"Name", "name", VV_COL_STR},
    {"User", "user", VV_COL_STR},
    {"Created", "createdAt", VV_COL_TIME},
    {"Expires", "expiresAt", VV_COL_TIME},
    {"Last used", "lastUsed", VV_COL_TIME},
    {"Revoked", "revoked", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_whoami[] = {
    {"User", "user", VV_COL_STR},
    {"Role", "role", VV_COL_STR},
    {"Token", "token", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};

void vv_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s)
        puts(s);
    free(s);
}

/* The value at a dotted path ("softDelete.state"); "" is v itself. Borrowed. */
static const json_t *get_path(const json_t *v, const char *path)
{
    char key[64];
    while (*path && v) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        path += n + (dot ? 1 : 0);
    }
    return v;
}

static const char *str_at(const json_t *v, const char *path)
{
    const json_t *s = get_path(v, path);
    return json_is_string(s) ? json_string_value(s) : NULL;
}

/* The scalar as text: "-" for null, missing or "". */
static void scalar(const json_t *v, char *out, size_t n)
{
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
        snprintf(out, n, "-");
    else if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, n, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_object(v) && json_is_string(json_object_get(v, "name")))
        snprintf(out, n, "%s", json_string_value(json_object_get(v, "name")));
    else {
        char *s = vv_json_dump(v);
        snprintf(out, n, "%s", s ? s : "?");
        free(s);
    }
}

void vv_format_time(const char *s, char *out, size_t n)
{
    time_t t;
    struct tm tm;
    if (!s || vv_time_parse(s, &t) < 0 || !localtime_r(&t, &tm) ||
        strftime(out, n, "%Y-%m-%d %H:%M %Z", &tm) == 0)
        snprintf(out, n, "%s", s ? s : "-");
}

static void format_duration(long long secs, char *out, size_t n)
{
    if (secs < 0)
        secs = 0;
    if (secs >= 86400)
        snprintf(out, n, "%lldd %02lldh", secs / 86400, secs % 86400 / 3600);
    else if (secs >= 3600)
        snprintf(out, n, "%lldh %02lldm", secs / 3600, secs % 3600 / 60);
    else if (secs >= 60)
        snprintf(out, n, "%lldm %02llds", secs / 60, secs % 60);
    else
        snprintf(out, n, "%llds", secs);
}

/* Append to a cell with bounds. */
static void cat(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *out, size_t n, const char *fmt, ...)
{
    size_t len = strlen(out);
    va_list ap;
    if (len + 1 >= n)
        return;
    va_start(ap, fmt);
    vsnprintf(out + len, n - len, fmt, ap);
    va_end(ap);
}

/* "02:00" out of "02:00" or an Azure-style "2026-01-01T02:00:00Z". */
static void time_of_day(const char *s, char out[8])
{
    const char *t = strchr(s, 'T');
    snprintf(out, 8, "%.5s", t ? t + 1 : s);
}

static void format_schedule(const json_t *pol, char *out, size_t n)
{
    const json_t *sp = json_object_get(pol, "schedulePolicy");
    const char *freq = str_at(sp, "scheduleRunFrequency"), *tz = str_at(pol, "timeZone");
    const json_t *times = json_object_get(sp, "scheduleRunTimes");
    const json_t *days = json_object_get(sp, "scheduleRunDays");
    const json_t *hs = json_object_get(sp, "hourlySchedule");
    char tod[8 * 24 + 1] = "";
    size_t i;
    const json_t *e;

    out[0] = '\0';
    if (!freq) {
        snprintf(out, n, "-");
        return;
    }
    json_array_foreach(times, i, e) {
        char one[8] = "";
        if (!json_is_string(e) || i >= 24)
            continue;
        time_of_day(json_string_value(e), one);
        snprintf(tod + strlen(tod), sizeof(tod) - strlen(tod), "%s%s", i ? "," : "", one);
    }
    if (!strcmp(freq, "Hourly") && json_is_object(hs)) {
        const char *start = str_at(hs, "scheduleWindowStartTime");
        char st[8] = "";
        if (start)
            time_of_day(start, st);
        cat(out, n, "Every %lldh from %s for %lldh",
            (long long)json_integer_value(json_object_get(hs, "interval")), st[0] ? st : "?",
            (long long)json_integer_value(json_object_get(hs, "scheduleWindowDuration")));
    } else {
        cat(out, n, "%s", freq);
        json_array_foreach(days, i, e)
            if (json_is_string(e))
                cat(out, n, "%s%.3s", i ? "," : " ", json_string_value(e));
        if (tod[0])
            cat(out, n, " %s", tod);
    }
    if (tz)
        cat(out, n, " %s", tz);
}

static void format_retention(const json_t *pol, char *out, size_t n)
{
    static const char *const scheds[] = {"dailySchedule", "weeklySchedule", "monthlySchedule",
                                         "yearlySchedule"};
    const json_t *rp = json_object_get(pol, "retentionPolicy");
    out[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        const json_t *d = get_path(json_object_get(rp, scheds[i]), "retentionDuration");
        const char *type = str_at(d, "durationType");
        char lower[16];
        size_t k;
        if (!json_is_object(d))
            continue;
        for (k = 0; type && type[k] && k + 1 < sizeof(lower); k++)
            lower[k] = (char)tolower((unsigned char)type[k]);
        lower[k] = '\0';
        cat(out, n, "%s%lld %s", out[0] ? ", " : "",
            (long long)json_integer_value(json_object_get(d, "count")), lower);
    }
    if (!out[0])
        snprintf(out, n, "-");
}

static void format_bytes(const json_t *v, char *out, size_t n)
{
    char a[32];
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        vv_bytes_text((uint64_t)json_integer_value(v), a);
        snprintf(out, n, "%s", a);
    } else {
        scalar(v, out, n);
    }
}

static void format_list(const json_t *v, char *out, size_t n)
{
    char a[32];
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        scalar(e, a, sizeof(a));
        cat(out, n, "%s%s", i ? ", " : "", a);
    }
}

static void format_disks(const json_t *v, char *out, size_t n)
{
    char a[32];
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        const json_t *sz = json_object_get(e, "virtualSize");
        if (!sz)
            sz = json_object_get(e, "size");
        cat(out, n, "%s%s", i ? ", " : "", str_at(e, "name") ? str_at(e, "name") : "?");
        if (json_is_integer(sz) && json_integer_value(sz) >= 0) {
            vv_bytes_text((uint64_t)json_integer_value(sz), a);
            cat(out, n, " %s", a);
        }
    }
}

static void format_softdelete(const json_t *v, char *out, size_t n)
{
    if (!json_is_object(v))
        return;
    scalar(json_object_get(v, "state"), out, n);
    if (json_is_integer(json_object_get(v, "retentionDays")))
        cat(out, n, ", %lld days",
            (long long)json_integer_value(json_object_get(v, "retentionDays")));
}

/* A job's end (or now) minus its start. */
static void format_job_duration(const json_t *v, char *out, size_t n)
{
    time_t s, t;
    const char *st = str_at(v, "startTime"), *et = str_at(v, "endTime");
    if (!st || vv_time_parse(st, &s) < 0)
        return;
    if (!et || vv_time_parse(et, &t) < 0)
        t = time(NULL);
    format_duration((long long)(t - s), out, n);
}

static void format_snapshot(const json_t *v, char *out, size_t n)
{
    static const char *const scripts[] = {"preScript", "postScript"};
    const json_t *fz = json_object_get(v, "fsFreeze");
    const char *type = json_string_value(json_object_get(v, "recoveryPointType"));
    const char *fst = json_string_value(json_object_get(fz, "status"));

    if (!type)
        return;
    snprintf(out, n, "%s", type);
    if (fst && !strcmp(fst, "Succeeded") && json_is_integer(json_object_get(fz, "milliseconds")))
        cat(out, n, ", frozen %lld ms",
            (long long)json_integer_value(json_object_get(fz, "milliseconds")));
    else if (fst)
        cat(out, n, ", freeze %s", fst);
    for (int k = 0; k < 2; k++) {
        const char *st = json_string_value(
            json_object_get(json_object_get(v, scripts[k]), "status"));
        if (st)
            cat(out, n, ", %s %s", k ? "post-script" : "pre-script", st);
    }
}

static void format_progress(const json_t *v, char *out, size_t n)
{
    const json_t *pct = json_object_get(v, "progressPercent");
    const json_t *done = json_object_get(v, "bytesDone"), *tot = json_object_get(v, "bytesTotal");
    char a[32], b[32];

    if (!json_is_integer(pct))
        return;
    snprintf(out, n, "%lld%%", (long long)json_integer_value(pct));
    if (json_is_integer(tot) && json_integer_value(tot) > 0 && json_is_integer(done) &&
        json_integer_value(done) >= 0) {
        vv_bytes_text((uint64_t)json_integer_value(done), a);
        vv_bytes_text((uint64_t)json_integer_value(tot), b);
        cat(out, n, " (%s of %s)", a, b);
    }
}

/* {"code",...}, or an array of them: the codes. */
static void format_error_codes(const json_t *v, char *out, size_t n)
{
    if (json_is_object(v)) {
        scalar(json_object_get(v, "code"), out, n);
    } else if (json_is_array(v)) {
        size_t wi, k = 0;
        json_t *w;
        json_array_foreach(v, wi, w) {
            const char *code = json_string_value(json_object_get(w, "code"));
            if (code && k + strlen(code) + 2 < n)
                k += (size_t)snprintf(out + k, n - k, "%s%s", k ? "," : "", code);
        }
    }
}

void vv_format_cell(const json_t *row, const struct vv_column *col, char *out, size_t n)
{
    const json_t *v = get_path(row, col->path);

    out[0] = '\0';
    switch (col->kind) {
    case VV_COL_STR:
        scalar(v, out, n);
        return;
    case VV_COL_TIME:
        if (json_is_string(v) && *json_string_value(v))
            vv_format_time(json_string_value(v), out, n);
        else
            scalar(v, out, n);
        return;
    case VV_COL_BYTES:
        format_bytes(v, out, n);
        return;
    case VV_COL_COUNT:
        snprintf(out, n, "%zu", json_is_array(v) ? json_array_size(v) : (size_t)0);
        return;
    case VV_COL_LIST: format_list(v, out, n); break;
    case VV_COL_DISKS: format_disks(v, out, n); break;
    case VV_COL_SOFTDELETE: format_softdelete(v, out, n); break;
    case VV_COL_SCHEDULE: format_schedule(v, out, n); break;
    case VV_COL_RETENTION: format_retention(v, out, n); break;
    case VV_COL_DURATION: format_job_duration(v, out, n); break;
    case VV_COL_SNAPSHOT: format_snapshot(v, out, n); break;
    case VV_COL_PROGRESS: format_progress(v, out, n); break;
    case VV_COL_ERROR: format_error_codes(v, out, n); break;
    }
    if (!out[0])
        snprintf(out, n, "-");
}

/* Display width of a UTF-8 string (code points; good enough for names and times). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static void print_table(const json_t *rows, const struct vv_column *cols)
{
    size_t ncols = 0, nrows = json_array_size(rows);
    size_t w[32];
    char **cells;

    while (cols[ncols].header && ncols < 32)
        ncols++;
    cells = calloc(nrows * ncols + 1, sizeof(*cells));
    if (!cells) {
        fprintf(stderr, "vmvault: out of memory\n");
        return;
    }
    for (size_t c = 0; c < ncols; c++)
        w[c] = width(cols[c].header);
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            char buf[1024];
            vv_format_cell(json_array_get(rows, r), &cols[c], buf, sizeof(buf));
            cells[r * ncols + c] = strdup(buf);
            if (cells[r * ncols + c] && width(buf) > w[c])
                w[c] = width(buf);
        }
    }
    for (size_t c = 0; c < ncols; c++)
        printf("%s%s%*s", cols[c].header, c + 1 < ncols ? "" : "\n",
               c + 1 < ncols ? (int)(w[c] - width(cols[c].header) + 3) : 0, "");
    for (size_t c = 0; c < ncols; c++) {
        for (size_t k = 0; k < w[c]; k++)
            putchar('-');
        fputs(c + 1 < ncols ? "   " : "\n", stdout);
    }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cells[r * ncols + c] ? cells[r * ncols + c] : "?";
            if (c + 1 < ncols)
                printf("%s%*s", s, (int)(w[c] - width(s) + 3), "");
            else
                printf("%s\n", s);
        }
    }
    for (size_t i = 0; i < nrows * ncols; i++)
        free(cells[i]);
    free(cells);
}

void vv_print(int json, const json_t *v, const struct vv_column *cols)
{
    const json_t *list = json_is_object(v) ? json_object_get(v, "value") : NULL;
    if (!v || json_is_null(v))
        return;
    if (json_is_array(list))
        v = list;
    if (json || !cols || (!json_is_array(v) && !json_is_object(v))) {
        vv_print_json(v);
        return;
    }
    if (json_is_array(v)) {
        print_table(v, cols);
    } else {
        json_t *one = json_array();
        json_array_append_new(one, json_deep_copy(v));
        print_table(one, cols);
        json_decref(one);
    }
}
