/*
 * quiesce.c: scripts, freeze, point in time, thaw (quiesce.h).
 *
 * The freeze is bracketed three times so that a guest is never left frozen:
 *   1. this thread thaws on every path out of the freeze and then asks the guest
 *      whether it is thawed (and thaws again if not);
 *   2. the thaw guard (thaw_guard.h) thaws when the agent dies or the freeze outlasts
 *      --freeze-timeout;
 *   3. a marker file (state folder, frozen/<uuid>) lives exactly as long as the freeze
 *      may: an agent that starts and finds one thaws that VM.
 */
#include "quiesce.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "guest.h"
#include "log.h"
#include "thaw_guard.h"
#include "util.h"
#include "virt.h"

#define PING_TIMEOUT_S 5
#define THAW_TRIES 5

static const char channel_xml[] =
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void warn(struct vv_quiesce *q, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(struct vv_quiesce *q, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vv_warn("%s: %s", code, msg);
    json_array_append_new(q->warnings, json_pack("{s:s,s:s}", "code", code, "message", msg));
}

static void failq(struct vv_quiesce *q, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failq(struct vv_quiesce *q, const char *code, const char *fmt, ...)
{
    va_list ap;
    if (q->code[0])
        return;
    snprintf(q->code, sizeof(q->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(q->message, sizeof(q->message), fmt, ap);
    va_end(ap);
}

/* ---- the freeze marker ------------------------------------------------------------- */

/* The marker of VM uuid into out (n bytes): 0, or VV_E_TOOBIG said. */
static int marker_path(struct vv_agent *a, const char *uuid, char *out, size_t n)
{
    if (vv_path_join(out, n, "%s/frozen/%s", a->state_dir, uuid) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/frozen/%s is too long", a->state_dir, uuid);
    return 0;
}

static int marker_set(struct vv_agent *a, const char *uuid)
{
    char dir[VV_PATH_MAX], p[VV_PATH_MAX];
    int r;

    if (vv_path_join(dir, sizeof(dir), "%s/frozen", a->state_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/frozen is too long", a->state_dir);
    if ((r = marker_path(a, uuid, p, sizeof(p))) != 0)
        return r;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        vv_error("cannot create %s: %s", dir, strerror(errno));
        return VV_E_IO;
    }
    return vv_state_write(p, uuid, strlen(uuid));
}

static void marker_clear(struct vv_agent *a, const char *uuid)
{
    char p[VV_PATH_MAX];
    if (marker_path(a, uuid, p, sizeof(p)) == 0)
        unlink(p);
}

void vv_quiesce_recover(struct vv_agent *a)
{
    char dir[VV_PATH_MAX], why[512];
    struct dirent *e;
    DIR *d;

    if (vv_path_join(dir, sizeof(dir), "%s/frozen", a->state_dir) != 0) {
        vv_error("the path of %s/frozen is too long", a->state_dir);
        return;
    }
    if (!(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (vv_virt_fs_thaw(a->virt, e->d_name, why, sizeof(why)) >= 0 ||
            vv_guest_frozen(a->virt, e->d_name, why, sizeof(why)) == 0)
            vv_warn("VM %s was left frozen by an agent that ended during its backup; it is "
                    "thawed",
                    e->d_name);
        else
            vv_warn("VM %s may have been left frozen by an agent that ended during its "
                    "backup, and thawing it failed (%s); it is not running, or check it with "
                    "'virsh domfsinfo'",
                    e->d_name, why);
        marker_clear(a, e->d_name);
    }
    closedir(d);
}

/* ---- scripts ----------------------------------------------------------------------- */

/* Run one script with its retries; its record goes into details[key]. 1 when it
 * succeeded, 0 when it failed (*fail_text says how), VV_E_CANCELLED. */
static int run_script(struct vv_agent *a, const char *uuid, const struct vv_script *sc,
                      unsigned timeout_s, const atomic_int *cancel, json_t *record,
                      char *fail_text, size_t fn)
{
    const char *args[VV_SCRIPT_PARAMS_MAX];
    struct vv_guest_run run;
    char why[512];
    unsigned total_ms = 0;
    int attempts = 0, ok = 0, r = 0;

    for (uint8_t i = 0; i < sc->nparams; i++)
        args[i] = sc->params[i];
    for (int k = 0; k <= sc->retries && !ok; k++) {
        if (cancel && atomic_load(cancel))
            break;
        attempts++;
        r = vv_guest_exec(a->virt, uuid, sc->path, args, sc->nparams, timeout_s, cancel, &run,
                          why, sizeof(why));
        total_ms += run.ms;
        if (r < 0)
            snprintf(fail_text, fn, "could not be started by the guest agent (%s)", why);
        else if (run.timed_out)
            snprintf(fail_text, fn, "did not end within %u s (it is left running in the "
                     "guest)", timeout_s);
        else if (run.signal)
            snprintf(fail_text, fn, "was killed by signal %d%s%s", run.signal,
                     run.output[0] ? ": " : "", run.output);
        else if (run.exit_code)
            snprintf(fail_text, fn, "exited with status %d%s%s", run.exit_code,
                     run.output[0] ? ": " : "", run.output);
        else
            ok = 1;
    }
    json_object_set_new(record, "path", json_string(sc->path));
    json_object_set_new(record, "status", json_string(ok ? "Succeeded"
                                                         : r >= 0 && run.timed_out ? "TimedOut"
                                                         : attempts ? "Failed" : "NotStarted"));
    json_object_set_new(record, "attempts", json_integer(attempts));
    json_object_set_new(record, "milliseconds", json_integer(total_ms));
    if (attempts && r >= 0 && run.exited && !run.signal)
        json_object_set_new(record, "exitCode", json_integer(run.exit_code));
    if (attempts && r >= 0 && run.output[0])
        json_object_set_new(record, "output", json_string(run.output));
    if (!ok && cancel && atomic_load(cancel))
        return VV_E_CANCELLED;
    if (!ok && attempts > 1) {
        size_t l = strlen(fail_text);
        snprintf(fail_text + l, fn - l, " (%d attempts)", attempts);
    }
    return ok;
}

/* ---- freeze and thaw --------------------------------------------------------------- */

/* Thaw and check; 0 when the guest reports thawed. */
static int thaw_checked(struct vv_agent *a, const char *uuid, char *why, size_t n)
{
    for (int i = 0; i < THAW_TRIES; i++) {
        vv_best_effort(vv_virt_fs_thaw(a->virt, uuid, why, n));
        if (vv_guest_frozen(a->virt, uuid, why, n) == 0)
            return 0;
        usleep(200 * 1000);
    }
    return VV_E_IO;
}

struct freeze_state {
    int held;       /* the freeze covered the point in time */
    uint64_t t0;    /* when the freeze began */
    struct vv_thaw_guard guard;
};

static int freeze(struct vv_agent *a, const char *uuid, const char *vm, json_t *rec,
                  struct vv_quiesce *q, struct freeze_state *f)
{
    const char *hold;
    char why[512];
    int n;

    memset(f, 0, sizeof(*f));
    if (marker_set(a, uuid) != 0 ||
        vv_thaw_guard_start(a->uri, uuid, (unsigned)a->freeze_timeout, &f->guard) != 0) {
        marker_clear(a, uuid);
        json_object_set_new(rec, "status", json_string("Skipped"));
        warn(q, "FsFreezeSkipped",
             "the filesystems of VM '%s' were not frozen because the thaw guard could not "
             "start (see the agent's log); the point is crash-consistent",
             vm);
        return 0;
    }
    f->t0 = now_ms();
    n = vv_virt_fs_freeze(a->virt, uuid, why, sizeof(why));
    if (n < 0) {
        json_object_set_new(rec, "status", json_string("Failed"));
        json_object_set_new(rec, "error", json_string(why));
        warn(q, "FsFreezeFailed",
             "freezing the filesystems of VM '%s' failed (%s); the point is crash-consistent. "
             "Check the guest's filesystems and its fsfreeze hook scripts "
             "(/etc/qemu/fsfreeze-hook.d), and that 'virsh domfsfreeze' works",
             vm, why);
        return 0;
    }
    f->held = 1;
    json_object_set_new(rec, "frozenFilesystems", json_integer(n));
    vv_info("froze %d filesystem(s) of VM '%s'", n, vm);
    /* Test seam: hold the freeze this long, so that tests can kill the agent or reach
     * the freeze limit while the guest is frozen (agent/README.md). */
    if ((hold = getenv("VMVAULT_AGENT_FREEZE_HOLD_MS")) && strtol(hold, NULL, 10) > 0)
        usleep((useconds_t)strtol(hold, NULL, 10) * 1000u);
    return 1;
}

static void thaw(struct vv_agent *a, const char *uuid, const char *vm, json_t *rec,
                 struct vv_quiesce *q, struct freeze_state *f)
{
    char why[512];
    int checked = thaw_checked(a, uuid, why, sizeof(why));
    uint64_t ms = now_ms() - f->t0;
    int by_guard = vv_thaw_guard_stop(&f->guard) == 1;

    marker_clear(a, uuid);
    if (!f->held)
        return;
    json_object_set_new(rec, "milliseconds", json_integer((json_int_t)ms));
    json_object_set_new(rec, "thawed", json_boolean(checked == 0));
    vv_info("thawed VM '%s' after %llu ms", vm, (unsigned long long)ms);
    if (by_guard) {
        f->held = 0;
        json_object_set_new(rec, "status", json_string("TimedOut"));
        warn(q, "FsFreezeTimedOut",
             "the point in time of VM '%s' took longer than the freeze limit (%d s), so the "
             "thaw guard thawed the guest before it was taken; the point is crash-consistent. "
             "Raise vmvault-agent's --freeze-timeout if the host is this slow",
             vm, a->freeze_timeout);
    } else {
        json_object_set_new(rec, "status", json_string("Succeeded"));
    }
    if (checked != 0)
        warn(q, "GuestNotThawed",
             "VM '%s' still reports frozen filesystems after the backup thawed them (%s); "
             "thaw it with 'virsh domfsthaw' and check the guest agent",
             vm, why);
}

/* ---- the whole step ---------------------------------------------------------------- */

/* The guest agent did not answer the ping (r, why): fail when scripts must run,
 * else warn and take a crash-consistent point. */
static int take_without_agent(const char *vm_name, int r, const char *why,
                              const struct vv_script_settings *s, vv_take_fn take, void *arg,
                              struct vv_quiesce *q)
{
    int absent = r == VV_E_UNSUPPORTED, scripts = vv_scripts_any(s);

    json_object_set_new(q->details, "guestAgent",
                        json_string(absent ? "NotConfigured" : "NotResponding"));
    if (scripts && !s->continue_on_failure) {
        failq(q, absent ? "GuestAgentNotConfigured" : "GuestAgentNotResponding",
              "VM '%s' has scripts to run but its guest agent %s (%s), and "
              "continueBackupOnFailure is false; nothing was backed up. %s",
              vm_name, absent ? "is not configured" : "does not answer", why,
              absent ? "Add the guest-agent channel to the domain and install "
                       "qemu-guest-agent in the guest"
                     : "Install and start qemu-guest-agent in the guest");
        return VV_E_INVAL;
    }
    if (absent)
        warn(q, "GuestAgentNotConfigured",
             "VM '%s' runs but has no guest-agent channel, so its point is "
             "crash-consistent%s. Add %s to the domain (virsh edit) and install and start "
             "qemu-guest-agent in the guest for file-system- or application-consistent "
             "points",
             vm_name, scripts ? " and its scripts did not run" : "", channel_xml);
    else
        warn(q, "GuestAgentNotResponding",
             "the guest agent of VM '%s' did not answer (%s), so its point is "
             "crash-consistent%s. Install and start qemu-guest-agent in the guest "
             "(systemctl enable --now qemu-guest-agent) for file-system- or "
             "application-consistent points",
             vm_name, why, scripts ? " and its scripts did not run" : "");
    return take(arg);
}

/* What a step with a guest agent that answers needs to know. */
struct quiesce_run {
    struct vv_agent *a;
    const char *uuid, *vm_name;
    const struct vv_script_settings *s;
    const atomic_int *cancel;
    struct vv_quiesce *q;
    struct vv_script_plan plan; /* what runs: the guest's file's scripts (none: "") */
    int scripts_ok;  /* no script failed or was refused */
};

static const char cont_text[] = "the backup went on (continueBackupOnFailure)";

/* ---- the guest's script file ------------------------------------------------------- */

/* The scripts were refused (code, the sentence fmt): no script runs. Records
 * details.scriptConfig.status; a warning with continueBackupOnFailure, else the
 * job's failure. 0 to go on, VV_E_INVAL when the backup must not. */
static int refuse(struct quiesce_run *qr, const char *code, const char *status,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(struct quiesce_run *qr, const char *code, const char *status,
                  const char *fmt, ...)
{
    char text[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    for (char *p = text; *p; p++) /* parts come from the guest: keep it valid UTF-8 */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    memset(&qr->plan, 0, sizeof(qr->plan));
    qr->scripts_ok = 0;
    json_object_set_new(qr->q->details, "scriptConfig",
                        json_pack("{s:s,s:s}", "path", VV_GUEST_SCRIPT_CONFIG, "status", status));
    if (!qr->s->continue_on_failure) {
        failq(qr->q, code, "VM '%s': %s; no script ran, and continueBackupOnFailure is false, "
              "so nothing was backed up", qr->vm_name, text);
        return VV_E_INVAL;
    }
    warn(qr->q, code, "VM '%s': %s; no script ran and the point is not "
         "application-consistent; the backup went on (continueBackupOnFailure)",
         qr->vm_name, text);
    return 0;
}

/* Why the guest's file and its folder (as stat saw them) cannot be trusted, into
 * why; 0 when they can: a regular file owned by root with mode 0600, in a folder
 * owned by root that no one else can write. */
static int unsafe(const struct vv_guest_stat *d, const struct vv_guest_stat *f, char *why,
                  size_t n)
{
    if (strcmp(f->type, "regular file") != 0)
        snprintf(why, n, "is a %s, not a regular file", f->type);
    else if (f->uid != 0)
        snprintf(why, n, "is owned by uid %u, not by root", f->uid);
    else if (f->mode != 0600)
        snprintf(why, n, "has mode %04o, not 0600", f->mode);
    else if (strcmp(d->type, "directory") != 0 || d->uid != 0 || (d->mode & 022))
        snprintf(why, n, "is in " VV_GUEST_SCRIPT_CONFIG_DIR ", which %s",
                 strcmp(d->type, "directory") ? "is not a folder"
                 : d->uid ? "root does not own" : "others than root can write");
    else
        return 0;
    return 1;
}

/* The guest's file, checked and parsed into *g: 0, or the refusal's result (said). */
static int guest_file(struct quiesce_run *qr, struct vv_guest_scripts *g)
{
    static const char fix[] = "make it a regular file owned by root with mode 0600 "
                              "(chown root:root, chmod 600) in a folder only root can write";
    struct vv_guest_stat d, f;
    char why[512], *data = NULL;
    size_t len = 0;
    int r;

    r = vv_guest_stat2(qr->a->virt, qr->uuid, VV_GUEST_SCRIPT_CONFIG_DIR,
                       VV_GUEST_SCRIPT_CONFIG, &d, &f, why, sizeof(why));
    if (r < 0)
        return refuse(qr, "GuestScriptConfigUnreadable", "Unreadable",
                      "the owner and mode of " VV_GUEST_SCRIPT_CONFIG " could not be checked "
                      "through the guest agent (%s)", why);
    if (!f.exists)
        return refuse(qr, "GuestScriptConfigMissing", "Missing",
                      "the vault's settings ask for scripts, but the guest has no "
                      VV_GUEST_SCRIPT_CONFIG ", which lists the scripts the guest allows. "
                      "Create it in the guest (owned by root, mode 0600; see docs/api.md, "
                      "\"The guest's script file\"), or set scriptsEnabled to false");
    if (unsafe(&d, &f, why, sizeof(why)))
        return refuse(qr, "GuestScriptConfigUnsafe", "Unsafe",
                      VV_GUEST_SCRIPT_CONFIG " in the guest %s, so it is not trusted: %s", why,
                      fix);
    r = vv_guest_file_read(qr->a->virt, qr->uuid, VV_GUEST_SCRIPT_CONFIG,
                           VV_GUEST_SCRIPT_CONFIG_MAX, &data, &len, why, sizeof(why));
    if (r == 0)
        r = vv_guest_scripts_parse(data, len, g, why, sizeof(why)) ? VV_E_INVAL : 0;
    free(data);
    if (r == VV_E_INVAL || r == VV_E_TOOBIG)
        return refuse(qr, "GuestScriptConfigInvalid", "Invalid",
                      "%s in the guest: fix the file (docs/api.md, \"The guest's script "
                      "file\")", why);
    if (r < 0)
        return refuse(qr, "GuestScriptConfigUnreadable", "Unreadable",
                      VV_GUEST_SCRIPT_CONFIG " could not be read through the guest agent (%s)",
                      why);
    return 1;
}

/* qr->plan from the vault's settings and the guest's file: 0 to go on (with a plan,
 * or refused with continueBackupOnFailure), VV_E_INVAL when the backup must not. */
static int plan_scripts(struct quiesce_run *qr)
{
    struct vv_guest_scripts g;
    char why[900];
    int r;

    memset(&qr->plan, 0, sizeof(qr->plan));
    if (!vv_scripts_any(qr->s))
        return 0;
    if ((r = guest_file(qr, &g)) != 1)
        return r;
    if (vv_scripts_resolve(qr->s, &g, &qr->plan, why, sizeof(why)) != 0)
        return refuse(qr, "ScriptNotInGuestConfig", "Refused",
                      "%s. The guest decides what runs in it: list the script there, or "
                      "clear the script from the vault's settings", why);
    json_object_set_new(qr->q->details, "scriptConfig",
                        json_pack("{s:s,s:s}", "path", VV_GUEST_SCRIPT_CONFIG, "status", "Used"));
    if (qr->s->asked_pre.path[0] || qr->s->asked_post.path[0])
        vv_warn("the script settings of VM '%s' still name their scripts; "
                VV_GUEST_SCRIPT_CONFIG " in the guest lists the same, so they run. Give the "
                "vault's settings {\"scriptsEnabled\": true} without paths",
                qr->vm_name);
    return 0;
}

/* The pre-script (record into *pre): 0 to go on, VV_E_CANCELLED or VV_E_INVAL. */
static int pre_script(struct quiesce_run *qr, json_t **pre)
{
    const struct vv_script_plan *s = &qr->plan;
    char text[1024];
    int ok;

    *pre = json_object();
    ok = run_script(qr->a, qr->uuid, &s->pre, s->timeout_s, qr->cancel, *pre, text,
                    sizeof(text));
    if (ok == VV_E_CANCELLED)
        return VV_E_CANCELLED;
    if (!ok && !s->continue_on_failure) {
        failq(qr->q, "PreScriptFailed",
              "the pre-script %s of VM '%s' %s; continueBackupOnFailure is false, so "
              "nothing was backed up",
              s->pre.path, qr->vm_name, text);
        return VV_E_INVAL;
    }
    if (!ok) {
        qr->scripts_ok = 0;
        warn(qr->q, "PreScriptFailed", "the pre-script %s of VM '%s' %s; %s", s->pre.path,
             qr->vm_name, text, cont_text);
    }
    return 0;
}

/* The post-script (record into *post) after the point (r): r, or VV_E_INVAL when it
 * failed and the backup must not be kept. */
static int post_script(struct quiesce_run *qr, int r, json_t **post)
{
    const struct vv_script_plan *s = &qr->plan;
    char text[1024];
    int ok;

    *post = json_object();
    ok = run_script(qr->a, qr->uuid, &s->post, s->timeout_s, NULL, *post, text, sizeof(text));
    if (ok != 1 && r == 0 && !s->continue_on_failure) {
        failq(qr->q, "PostScriptFailed",
              "the post-script %s of VM '%s' %s; continueBackupOnFailure is false, so "
              "the backup was not kept",
              s->post.path, qr->vm_name, text);
        return VV_E_INVAL;
    }
    if (ok != 1) {
        qr->scripts_ok = 0;
        if (r == 0)
            warn(qr->q, "PostScriptFailed", "the post-script %s of VM '%s' %s; %s",
                 s->post.path, qr->vm_name, text, cont_text);
    }
    return r;
}

/* The guest agent answers: pre-script, freeze, take(), thaw, post-script. */
static int take_with_agent(struct quiesce_run *qr, vv_take_fn take, void *arg)
{
    const struct vv_script_settings *s = qr->s;
    const struct vv_script_plan *pl = &qr->plan;
    struct vv_quiesce *q = qr->q;
    json_t *pre = NULL, *post = NULL, *fz = NULL;
    struct freeze_state f;
    int r = 0;

    memset(&f, 0, sizeof(f));
    json_object_set_new(q->details, "guestAgent", json_string("Available"));
    if ((r = plan_scripts(qr)) != 0)
        return r; /* refused, and continueBackupOnFailure is false: nothing taken */
    if (pl->pre.path[0])
        r = pre_script(qr, &pre);
    if (r == 0 && s->fs_freeze) {
        fz = json_object();
        freeze(qr->a, qr->uuid, qr->vm_name, fz, q, &f);
        r = take(arg);
        thaw(qr->a, qr->uuid, qr->vm_name, fz, q, &f);
    } else if (r == 0) {
        fz = json_pack("{s:s}", "status", "Disabled");
        r = take(arg);
    }
    if (pl->post.path[0] && (pl->pre.path[0] || r == 0)) /* after a pre-script, always */
        r = post_script(qr, r, &post);
    if (r == 0) {
        if (vv_scripts_any(s) && qr->scripts_ok && (f.held || !s->fs_freeze))
            q->type = VV_APPLICATION_CONSISTENT;
        else if (f.held)
            q->type = VV_FILESYSTEM_CONSISTENT;
    }
    if (pre)
        json_object_set_new(q->details, "preScript", pre);
    if (fz)
        json_object_set_new(q->details, "fsFreeze", fz);
    if (post)
        json_object_set_new(q->details, "postScript", post);
    return r;
}

int vv_quiesce_take(struct vv_agent *a, const char *uuid, const char *vm_name, int running,
                    const struct vv_script_settings *s, vv_take_fn take, void *arg,
                    const atomic_int *cancel, struct vv_quiesce *q)
{
    struct quiesce_run qr = {
        .a = a, .uuid = uuid, .vm_name = vm_name, .s = s, .cancel = cancel, .q = q,
        .scripts_ok = 1,
    };
    char why[512];
    int r;

    memset(q, 0, sizeof(*q));
    q->type = VV_CRASH_CONSISTENT;
    q->details = json_object();
    q->warnings = json_array();
    if (!running || (!vv_scripts_any(s) && !s->fs_freeze)) {
        /* Shut off, or nothing asked of the guest (fsFreezeEnabled false and no
         * scripts): crash-consistent by choice, no warning. */
        json_object_set_new(q->details, "guestAgent",
                            json_string(running ? "NotUsed" : "NotApplicable"));
        if (running)
            json_object_set_new(q->details, "fsFreeze", json_pack("{s:s}", "status", "Disabled"));
        r = take(arg);
    } else if ((r = vv_guest_ping(a->virt, uuid, PING_TIMEOUT_S, why, sizeof(why))) != 0) {
        r = take_without_agent(vm_name, r, why, s, take, arg, q);
        if (r == VV_E_INVAL && q->code[0])
            return r; /* scripts could not run: no point was taken */
    } else {
        r = take_with_agent(&qr, take, arg);
    }
    json_object_set_new(q->details, "recoveryPointType",
                        json_string(vv_consistency_name(q->type)));
    return r;
}

void vv_quiesce_release(struct vv_quiesce *q)
{
    json_decref(q->details);
    json_decref(q->warnings);
    memset(q, 0, sizeof(*q));
}
