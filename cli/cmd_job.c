/*
 * cmd_job.c: `vmvault job ...`: list, show and stop a vault's jobs, and wait for one
 * to end with a progress bar (/api/v1/vaults/{v}/jobs).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

const char vv_job_usage[] =
    "usage: vmvault job <command> [<options>]\n"
    "\n"
    "Every operation on protected items runs as a job: ConfigureBackup, Backup,\n"
    "DisableBackup, DeleteBackupData, Restore; so do the server's own Prune,\n"
    "GarbageCollection, Verify and, on a paired primary, Replication (one per\n"
    "recovery point sent to the secondary). A job is InProgress, then Completed,\n"
    "CompletedWithWarnings, Failed or Cancelled (through Cancelling).\n"
    "\n"
    "Commands:\n"
    "  list   list a vault's jobs, newest first\n"
    "  show   show a job\n"
    "  stop   cancel a job\n"
    "  wait   wait for a job to end, showing its progress\n"
    "\n"
    "Run 'vmvault job <command> --help' for a command's options.\n";

static const char list_usage[] =
    "usage: vmvault job list --vault-name VAULT [--status STATUS] [--operation OPERATION]\n"
    "                        [--item-name ITEM] [--start-date DATE] [--end-date DATE]\n"
    "                        [--limit N] [--output json|table]\n"
    "\n"
    "List a vault's jobs, newest first, optionally filtered. Dates filter on the jobs'\n"
    "start times.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --status STATUS          InProgress, Completed, CompletedWithWarnings, Failed,\n"
    "                           Cancelling or Cancelled\n"
    "  --operation OPERATION    ConfigureBackup, Backup, DisableBackup,\n"
    "                           DeleteBackupData, Restore, Undelete, Prune,\n"
    "                           GarbageCollection, Replication or Verify\n"
    "  --item-name ITEM         only the jobs of this protected item\n"
    "  --start-date DATE        jobs started on or after DATE: YYYY-MM-DD, DD-MM-YYYY\n"
    "                           or a UTC time like 2026-11-27T21:00:00Z\n"
    "  --end-date DATE          jobs started on or before DATE (same forms)\n"
    "  --limit N                at most N jobs, 1 to 1000 (default: 200)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault job list --vault-name v1 --status Failed --output table\n"
    "  vmvault job list --vault-name v1 --operation Backup --start-date 2026-11-01 --limit 20\n"
    VV_HELP_TAIL;

static const char show_usage[] =
    "usage: vmvault job show --vault-name VAULT --name JOB [--output json|table]\n"
    "\n"
    "Show a job: operation, status, item, start and end, its tasks, bytes done, and\n"
    "for a failed job its error code and message.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name JOB               the job's id\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault job show --vault-name v1 --name 1f0e6b1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b\n"
    VV_HELP_TAIL;

static const char stop_usage[] =
    "usage: vmvault job stop --vault-name VAULT --name JOB [--output json|table]\n"
    "\n"
    "Cancel a job. A job no host agent has picked up yet is Cancelled at once; a\n"
    "running one is Cancelling until its agent stops. The server refuses a job that\n"
    "has ended (JobNotCancellable). Needs the Operator role.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name JOB               the job's id\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault job stop --vault-name v1 --name 1f0e6b1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b\n"
    VV_HELP_TAIL;

static const char wait_usage[] =
    "usage: vmvault job wait --vault-name VAULT --name JOB [--timeout SECONDS]\n"
    "                        [--interval SECONDS] [--output json|table]\n"
    "\n"
    "Wait for a job to end, asking the server every --interval seconds. When standard\n"
    "error is a terminal a one-line progress bar shows the job's current task, percent\n"
    "done and bytes transferred. At the end the job is printed. A request that gets no\n"
    "answer is tried again up to 5 times, 2 s apart, before the wait gives up.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name JOB               the job's id\n"
    "  --timeout SECONDS        give up after this long (default: wait until it ends)\n"
    "  --interval SECONDS       time between polls, 1 to 3600 (default: 2)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault job wait --vault-name v1 --name 1f0e6b1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b \\\n"
    "      --timeout 3600\n"
    "\n"
    "The server and token come from VMVAULT_URL and VMVAULT_TOKEN, else from the\n"
    "config file written by 'vmvault login'.\n"
    "\n"
    "Exit status: 0 when the job Completed or CompletedWithWarnings; 1 when it Failed\n"
    "or was Cancelled (its error code and message are printed), when the timeout\n"
    "passed, or when the server refused a request or could not be reached; 2 on a\n"
    "usage error.\n";

static const struct vv_simple_verb s_list = {
    .verb = {"job list", list_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_STATUS, 0}, {O_OPERATION, 0}, {O_ITEM_NAME, 0},
              {O_START_DATE, 0}, {O_END_DATE, 0}, {O_LIMIT, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/jobs", .segs = {O_VAULT_NAME},
    .query = {{"status", O_STATUS}, {"operation", O_OPERATION}, {"item", O_ITEM_NAME},
              {"startDate", O_START_DATE}, {"endDate", O_END_DATE}, {"limit", O_LIMIT}},
    .cols = vv_cols_job};
static const struct vv_simple_verb s_show = {
    .verb = {"job show", show_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ | VV_TEXT}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/jobs/%s", .segs = {O_VAULT_NAME, O_NAME},
    .cols = vv_cols_job};
static const struct vv_simple_verb s_stop = {
    .verb = {"job stop", stop_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ | VV_TEXT}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "POST", .path = "/api/v1/vaults/%s/jobs/%s/cancel",
    .segs = {O_VAULT_NAME, O_NAME}, .cols = vv_cols_job};
static const struct vv_verb v_wait = {
    "job wait", wait_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ | VV_TEXT}, {O_TIMEOUT, 0}, {O_INTERVAL, 0},
     {O_OUTPUT, 0}, {O_HELP, 0}}};

static int cmd_list(int argc, char **argv)
{
    return vv_run_simple(&s_list, argc, argv);
}

static int cmd_show(int argc, char **argv)
{
    return vv_run_simple(&s_show, argc, argv);
}

static int cmd_stop(int argc, char **argv)
{
    return vv_run_simple(&s_stop, argc, argv);
}

/* ---- job wait ---- */

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
    struct timespec ts;
    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static const char *job_str(const json_t *job, const char *key)
{
    const json_t *v = json_object_get(job, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_final(const char *status)
{
    return status && (!strcmp(status, "Completed") || !strcmp(status, "CompletedWithWarnings") ||
                      !strcmp(status, "Failed") || !strcmp(status, "Cancelled"));
}

/* The task to show: the first one in progress, else the last one, else "". */
static const char *current_task(const json_t *job)
{
    const json_t *tasks = json_object_get(job, "tasks"), *t, *last = NULL;
    size_t i;
    json_array_foreach(tasks, i, t) {
        const char *st = job_str(t, "status");
        if (st && !strcmp(st, "InProgress") && job_str(t, "name"))
            return job_str(t, "name");
        if (job_str(t, "name"))
            last = t;
    }
    return last ? job_str(last, "name") : "";
}

static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* Redraw the progress line in place on stderr:
 * "Backup web1 [#####-----]  25%  Transfer data to vault  100.0 MiB/400.0 MiB  1m 05s",
 * the bar as wide as the terminal leaves room for (10 to 30 characters). */
static void draw_bar(const json_t *job)
{
    const json_t *pct = json_object_get(job, "progressPercent");
    const json_t *done = json_object_get(job, "bytesDone"), *tot = json_object_get(job, "bytesTotal");
    const char *status = job_str(job, "status"), *task = current_task(job);
    const char *op = job_str(job, "operation"), *item = job_str(job, "item");
    static const struct vv_column dur = {"", "", VV_COL_DURATION};
    char head[160], tail[256], bar[32], a[32], b[32], elapsed[32], line[512];
    long long p = 0;
    int cols = term_columns(), barw;

    if (json_is_integer(pct))
        p = json_integer_value(pct);
    else if (json_is_integer(tot) && json_integer_value(tot) > 0 && json_is_integer(done))
        p = json_integer_value(done) * 100 / json_integer_value(tot);
    p = p < 0 ? 0 : p > 100 ? 100 : p;
    vv_format_cell(job, &dur, elapsed, sizeof(elapsed));
    snprintf(head, sizeof(head), "%.40s %.60s", op ? op : "Job", item ? item : "");
    if (json_is_integer(tot) && json_integer_value(tot) > 0 && json_is_integer(done) &&
        json_integer_value(done) >= 0) {
        vv_bytes_text((uint64_t)json_integer_value(done), a);
        vv_bytes_text((uint64_t)json_integer_value(tot), b);
        /* padded so that the line keeps its length as the numbers change */
        snprintf(tail, sizeof(tail), " %3lld%%  %.60s  %*s/%s  %-7s", p,
                 status && strcmp(status, "InProgress") ? status : task, (int)strlen(b), a, b,
                 elapsed);
    } else {
        snprintf(tail, sizeof(tail), " %3lld%%  %.60s  %-7s", p,
                 status && strcmp(status, "InProgress") ? status : task, elapsed);
    }
    barw = cols - 1 - (int)strlen(head) - (int)strlen(tail) - 3;
    barw = barw < 10 ? 10 : barw > 30 ? 30 : barw;
    for (int i = 0; i < barw; i++)
        bar[i] = i < p * barw / 100 ? '#' : '-';
    bar[barw] = '\0';
    snprintf(line, sizeof(line), "%s [%s]%s", head, bar, tail);
    if ((int)strlen(line) > cols - 1)
        line[cols - 1] = '\0';
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
}

static void clear_bar(void)
{
    fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* Ask for the job at p every interval seconds, drawing its progress on a terminal,
 * until it ends or timeout seconds (0: no limit) have passed since start. *job is
 * the last answer (caller json_decref()s); *timed_out is set when time ran out. */
static int poll_job(struct vv_client *c, const struct vv_path *p, double start,
                    double timeout, double interval, json_t **job, int *timed_out)
{
    int tty = isatty(STDERR_FILENO), drawn = 0, rc;

    for (;;) {
        double left;
        json_decref(*job);
        *job = NULL;
        if (drawn) {
            clear_bar(); /* so that a message lands on a clean line */
            drawn = 0;
        }
        if ((rc = vv_client_call(c, "GET", p, NULL, job)) != VV_EXIT_OK)
            return rc;
        if (tty) {
            draw_bar(*job);
            drawn = 1;
        }
        if (is_final(job_str(*job, "status")))
            break;
        left = timeout > 0 ? timeout - (now_mono() - start) : interval;
        if (left <= 0) {
            *timed_out = 1;
            break;
        }
        sleep_seconds(left < interval ? left : interval);
    }
    if (drawn)
        fputc('\n', stderr);
    return VV_EXIT_OK;
}

/* Say on stderr how the wait for job ended; returns the exit status: 0 when it
 * completed (with or without warnings). */
static int report_end(const struct vv_args *a, const json_t *job, int timed_out)
{
    const char *id = vv_arg(a, O_NAME), *status = job_str(job, "status");
    const json_t *err;
    const char *code, *msg;

    if (timed_out) {
        fprintf(stderr, "vmvault: job %s is still %s after %llu s; wait again with 'vmvault "
                "job wait --vault-name %s --name %s', or cancel it with 'vmvault job stop'\n",
                id, status ? status : "running", (unsigned long long)vv_arg_num(a, O_TIMEOUT),
                vv_arg(a, O_VAULT_NAME), id);
        return VV_EXIT_FAIL;
    }
    if (!strcmp(status, "Completed"))
        return VV_EXIT_OK;
    if (!strcmp(status, "CompletedWithWarnings")) {
        size_t i;
        json_t *w;
        fprintf(stderr, "vmvault: job %s completed with warnings\n", id);
        json_array_foreach(json_object_get(job, "warnings"), i, w) {
            code = job_str(w, "code");
            msg = job_str(w, "message");
            fprintf(stderr, "vmvault: warning: %s: %s\n", code ? code : "?", msg ? msg : "");
        }
        return VV_EXIT_OK;
    }
    err = json_object_get(job, "error");
    code = job_str(err, "code");
    msg = job_str(err, "message");
    if (code)
        fprintf(stderr, "vmvault: job %s %s: %s: %s\n", id, status, code,
                msg ? msg : "(no message)");
    else
        fprintf(stderr, "vmvault: job %s %s\n", id, status);
    return VV_EXIT_FAIL;
}

static int cmd_wait(int argc, char **argv)
{
    struct vv_args a;
    struct vv_client c;
    struct vv_path p;
    json_t *job = NULL;
    double start = now_mono(), timeout, interval;
    int timed_out = 0;
    int rc = vv_args_parse(&v_wait, argc, argv, &a);

    if (rc >= 0)
        return rc;
    timeout = vv_arg(&a, O_TIMEOUT) ? (double)vv_arg_num(&a, O_TIMEOUT) : 0;
    interval = vv_arg(&a, O_INTERVAL) ? (double)vv_arg_num(&a, O_INTERVAL) : 2;
    if ((rc = vv_client_open(&c, &a)) == VV_EXIT_OK) {
        c.retries = 5;
        vv_path_init(&p, "/api/v1/vaults/%s/jobs/%s", vv_arg(&a, O_VAULT_NAME),
                     vv_arg(&a, O_NAME));
        rc = poll_job(&c, &p, start, timeout, interval, &job, &timed_out);
    }
    if (rc == VV_EXIT_OK) {
        vv_print(c.json, job, vv_cols_job);
        rc = report_end(&a, job, timed_out);
    }
    json_decref(job);
    vv_client_close(&c);
    return rc;
}

static const struct vv_command job_commands[] = {
    {"list", cmd_list, "list jobs", list_usage},
    {"show", cmd_show, "show a job", show_usage},
    {"stop", cmd_stop, "cancel a job", stop_usage},
    {"wait", cmd_wait, "wait for a job to end", wait_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_job(int argc, char **argv)
{
    return vv_cli_group("job", vv_job_usage, job_commands, argc, argv);
}
