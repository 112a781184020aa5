/*
 * guest.c: guest-agent requests (guest.h): guest-ping, guest-fsfreeze-status,
 * guest-exec and guest-exec-status, as QMP JSON through virt.h.
 */
#include "guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "virt.h"

#define POLL_MS 200

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Send cmd (taken) and parse the answer's "return" member into *ret (a new
 * reference; caller decrefs). */
static int command(struct vv_virt *v, const char *uuid, json_t *cmd, int timeout_s, json_t **ret,
                   char *why, size_t n)
{
    char *text = cmd ? vv_json_dump(cmd) : NULL, *ans = NULL;
    json_t *j;
    int r;

    json_decref(cmd);
    *ret = NULL;
    if (!text)
        return VV_E_NOMEM;
    r = vv_virt_agent_command(v, uuid, text, timeout_s, &ans, why, n);
    free(text);
    if (r)
        return r;
    j = vv_json_parse(ans, strlen(ans), NULL, 0);
    free(ans);
    if (!j || !json_object_get(j, "return")) {
        snprintf(why, n, "the guest agent's answer is not what QMP promises");
        json_decref(j);
        return VV_E_CORRUPT;
    }
    *ret = json_incref(json_object_get(j, "return"));
    json_decref(j);
    return 0;
}

int vv_guest_ping(struct vv_virt *v, const char *uuid, int timeout_s, char *why, size_t n)
{
    json_t *ret;
    int r = command(v, uuid, json_pack("{s:s}", "execute", "guest-ping"), timeout_s, &ret, why, n);
    json_decref(ret);
    return r;
}

int vv_guest_frozen(struct vv_virt *v, const char *uuid, char *why, size_t n)
{
    json_t *ret;
    const char *s;
    int r = command(v, uuid, json_pack("{s:s}", "execute", "guest-fsfreeze-status"), 10, &ret,
                    why, n);
    if (r)
        return r;
    s = json_string_value(ret);
    r = s && !strcmp(s, "thawed") ? 0 : 1;
    json_decref(ret);
    return r;
}

/* The end of a base64 stream of output as one printable line of ASCII (control
 * characters as spaces, other bytes as '?': it goes into JSON, which must be UTF-8,
 * and the guest may print anything). */
static void tail_text(const char *b64, char *out, size_t n)
{
    size_t len = strlen(b64), cap = len / 4 * 3 + 3, got = 0, start, k = 0;
    uint8_t *raw = malloc(cap ? cap : 1);

    out[0] = '\0';
    if (!raw || vv_base64_decode(b64, raw, cap, &got) != 0) {
        free(raw);
        return;
    }
    while (got && (raw[got - 1] == '\n' || raw[got - 1] == ' ' || raw[got - 1] == '\r'))
        got--;
    start = got > n - 1 ? got - (n - 1) : 0;
    for (size_t i = start; i < got && k + 1 < n; i++)
        out[k++] = raw[i] < 0x20 || raw[i] == 0x7f ? ' ' : raw[i] > 0x7f ? '?' : (char)raw[i];
    out[k] = '\0';
    free(raw);
}

int vv_guest_exec(struct vv_virt *v, const char *uuid, const char *path,
                  const char *const *args, size_t nargs, unsigned timeout_s,
                  const atomic_int *cancel, struct vv_guest_run *out, char *why, size_t n)
{
    json_t *argv = json_array(), *ret = NULL;
    uint64_t t0 = now_ms(), limit = (uint64_t)timeout_s * 1000u;
    json_int_t pid;
    int r;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; argv && i < nargs; i++)
        json_array_append_new(argv, json_string(args[i]));
    r = command(v, uuid,
                json_pack("{s:s,s:{s:s,s:o,s:b}}", "execute", "guest-exec", "arguments", "path",
                          path, "arg", argv, "capture-output", 1),
                10, &ret, why, n);
    if (r)
        return r;
    pid = json_integer_value(json_object_get(ret, "pid"));
    json_decref(ret);
    out->started = 1;
    for (;;) {
        const char *err_data, *out_data;
        usleep(POLL_MS * 1000);
        r = command(v, uuid,
                    json_pack("{s:s,s:{s:I}}", "execute", "guest-exec-status", "arguments", "pid",
                              pid),
                    10, &ret, why, n);
        out->ms = (unsigned)(now_ms() - t0);
        if (r)
            return r;
        if (json_is_true(json_object_get(ret, "exited"))) {
            out->exited = 1;
            if (json_object_get(ret, "signal"))
                out->signal = (int)json_integer_value(json_object_get(ret, "signal"));
            out->exit_code = (int)json_integer_value(json_object_get(ret, "exitcode"));
            err_data = json_string_value(json_object_get(ret, "err-data"));
            out_data = json_string_value(json_object_get(ret, "out-data"));
            if (err_data)
                tail_text(err_data, out->output, sizeof(out->output));
            if (!out->output[0] && out_data)
                tail_text(out_data, out->output, sizeof(out->output));
            json_decref(ret);
            return 0;
        }
        json_decref(ret);
        if (out->ms >= limit || (cancel && atomic_load(cancel))) {
            out->timed_out = 1;
            vv_warn("script %s in the guest is still running after %u s; it is left to end "
                    "on its own",
                    path, out->ms / 1000);
            return 0;
        }
    }
}

/* ---- files ------------------------------------------------------------------------- */

/* One record of stat's "%u %a %F;" output at *p into st; moves *p past it. */
static int stat_record(const char **p, struct vv_guest_stat *st)
{
    const char *end = strchr(*p, ';');
    char rec[96];
    int used = 0;
    size_t l;

    while (**p == ' ')
        (*p)++;
    if (!end || (l = (size_t)(end - *p)) >= sizeof(rec))
        return -1;
    memcpy(rec, *p, l);
    rec[l] = '\0';
    *p = end + 1;
    memset(st, 0, sizeof(*st));
    if (sscanf(rec, "%u %o %n", &st->uid, &st->mode, &used) != 2 || !rec[used] ||
        strlen(rec + used) >= sizeof(st->type) || st->mode > 07777)
        return -1;
    snprintf(st->type, sizeof(st->type), "%s", rec + used);
    st->exists = 1;
    return 0;
}

int vv_guest_stat2(struct vv_virt *v, const char *uuid, const char *dir, const char *file,
                   struct vv_guest_stat *d, struct vv_guest_stat *f, char *why, size_t n)
{
    const char *args[] = {"-c", "%u %a %F;", dir, file};
    struct vv_guest_run run;
    const char *p;
    int r;

    memset(d, 0, sizeof(*d));
    memset(f, 0, sizeof(*f));
    r = vv_guest_exec(v, uuid, "stat", args, 4, 15, NULL, &run, why, n);
    if (r < 0)
        return r;
    if (run.exited && !run.signal && run.exit_code && strstr(run.output, "No such file"))
        return 0;
    if (!run.exited || run.signal || run.exit_code) {
        snprintf(why, n, "'stat %s' in the guest %s%s%s", file,
                 run.timed_out ? "did not end in time" : "failed",
                 run.output[0] ? ": " : "", run.output);
        return VV_E_IO;
    }
    p = run.output;
    if (stat_record(&p, d) != 0 || stat_record(&p, f) != 0) {
        memset(d, 0, sizeof(*d));
        memset(f, 0, sizeof(*f));
        snprintf(why, n, "'stat' in the guest answered '%.200s', not owner, mode and type",
                 run.output);
        return VV_E_CORRUPT;
    }
    return 0;
}

/* Append one guest-file-read answer (ret) to buf (got of max + 1 bytes used); *eof
 * when the guest says so. 0, or <0 with why. */
static int read_chunk(const json_t *ret, char *buf, size_t max, size_t *got, int *eof,
                      char *why, size_t n)
{
    const char *b64 = json_string_value(json_object_get(ret, "buf-b64"));
    size_t k = 0;

    if (!b64 || vv_base64_decode(b64, (uint8_t *)buf + *got, max + 1 - *got, &k) != 0) {
        snprintf(why, n, "the guest agent's guest-file-read answer is not what QMP promises "
                 "(or holds more than was asked)");
        return VV_E_CORRUPT;
    }
    *got += k;
    *eof = json_is_true(json_object_get(ret, "eof")) || k == 0;
    return 0;
}

int vv_guest_file_read(struct vv_virt *v, const char *uuid, const char *path, size_t max,
                       char **data, size_t *len, char *why, size_t n)
{
    json_t *ret = NULL;
    json_int_t h;
    size_t got = 0;
    char *buf, close_why[256];
    int r, eof = 0;

    *data = NULL;
    *len = 0;
    if (!(buf = malloc(max + 2)))
        return VV_E_NOMEM;
    r = command(v, uuid, json_pack("{s:s,s:{s:s,s:s}}", "execute", "guest-file-open",
                                   "arguments", "path", path, "mode", "r"),
                10, &ret, why, n);
    if (r) {
        free(buf);
        return r;
    }
    h = json_integer_value(ret);
    json_decref(ret);
    /* each read asks for what is left of max + 1 bytes: the guest answers at most that */
    for (int i = 0; r == 0 && !eof && got <= max && i < 64; i++) {
        r = command(v, uuid, json_pack("{s:s,s:{s:I,s:I}}", "execute", "guest-file-read",
                                       "arguments", "handle", h, "count",
                                       (json_int_t)(max + 1 - got)),
                    10, &ret, why, n);
        if (r == 0)
            r = read_chunk(ret, buf, max, &got, &eof, why, n);
        json_decref(ret);
    }
    vv_best_effort(command(v, uuid, json_pack("{s:s,s:{s:I}}", "execute", "guest-file-close",
                                              "arguments", "handle", h),
                           10, &ret, close_why, sizeof(close_why)));
    json_decref(ret);
    if (r == 0 && got > max) {
        r = VV_E_TOOBIG;
        snprintf(why, n, "%s holds more than %zu bytes", path, max);
    } else if (r == 0 && !eof) {
        r = VV_E_IO;
        snprintf(why, n, "the guest agent did not reach the end of %s", path);
    }
    if (r) {
        free(buf);
        return r;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}
