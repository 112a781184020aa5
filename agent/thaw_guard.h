/*
 * thaw_guard.h: a guest is never left frozen.
 *
 * Before the agent freezes a guest's filesystems it starts a thaw guard: a separate
 * process (this same program run as "vmvault-agent thaw-guard", in its own session,
 * so it outlives the agent) joined to the agent by two pipes. The guard thaws the
 * guest itself when
 *   - the agent dies (killed, crashed): its end of the pipe closes; the guard thaws
 *     at once (within about a second, the time libvirt takes to answer), or
 *   - the freeze lasts longer than its limit (the agent's --freeze-timeout, 30 s by
 *     default): the guard thaws when the limit is reached and tells the agent so.
 * It ends when the agent says the guest is thawed. A guard that cannot thaw retries
 * every second for as long as the limit again, then logs the VM it left frozen.
 *
 * The agent's own freeze marker (agent.h: run/frozen-<uuid>) is the third line: an
 * agent that starts and finds one thaws that VM before anything else.
 */
#ifndef VV_THAW_GUARD_H
#define VV_THAW_GUARD_H

#include "err.h"

#include <sys/types.h>

struct vv_thaw_guard {
    pid_t pid;   /* the guard process; 0 when none */
    int to;      /* the agent's end of the guard's stdin */
    int from;    /* the agent's end of the guard's stdout */
};

/* Start a guard for domain uuid on libvirt uri that thaws after limit_s seconds.
 * Returns once the guard is ready (it has connected to libvirt), or <0. */
int vv_thaw_guard_start(const char *uri, const char *uuid, unsigned limit_s,
                        struct vv_thaw_guard *g) VV_MUST_CHECK;

/* The agent has thawed the guest (or never froze it): end the guard. Returns 1 when
 * the guard had thawed the guest itself because the limit was reached, 0 when not,
 * <0 when the guard could not be asked (it is ended anyway). */
int vv_thaw_guard_stop(struct vv_thaw_guard *g) VV_MUST_CHECK;

/* The guard process's main: argv is "thaw-guard URI UUID LIMIT_S". */
int vv_thaw_guard_main(int argc, char **argv) VV_MUST_CHECK;

#endif
