/*
 * scripts.h: the consistency settings of a backup, and who decides what runs inside a
 * guest (docs/api.md, "Script settings and consistency" and "The guest's script
 * file").
 *
 * Two parties, two objects, one authority each:
 *   - the vault's settings ("scriptSettings" of a policy, or of a protected item, which
 *     replace its policy's): whether scripts run at all (scriptsEnabled), whether the
 *     filesystems are frozen (fsFreezeEnabled), the longest a script may run
 *     (timeoutInSeconds) and whether a failed script fails the backup
 *     (continueBackupOnFailure). They name no command: struct vv_script_settings;
 *   - the guest's own file, VV_GUEST_SCRIPT_CONFIG (owned by root, mode 0600, read
 *     through the guest agent), modelled on Azure Backup's Linux
 *     VMSnapshotScriptPluginConfig.json: which scripts run, with which parameters and
 *     retries. Nothing else ever names a command the agent runs in a guest: struct
 *     vv_guest_scripts.
 * vv_scripts_resolve() joins the two into what one backup runs (struct vv_script_plan).
 *
 * Settings stored before the guest's file existed name the scripts themselves
 * (preScriptLocation, preScriptParams, ...). Such settings still parse
 * (vv_scripts_from_json), so stored policies and items keep working: they switch
 * scripts on, and their paths and parameters are kept only as what the vault asks
 * for (asked_pre, asked_post). The agent never runs them as such: a backup whose
 * settings ask for a script the guest's file does not list runs no script at all.
 * A request can no longer set them (vv_scripts_from_request refuses them).
 *
 * What a backup of a running VM does (agent/quiesce.c):
 *   pre-script (retried up to preScriptNoOfRetries more times) -> freeze (when
 *   fsFreezeEnabled) -> checkpoint + backup begin -> thaw -> post-script (retried
 *   likewise). Each run of a script must end within the timeout. A script that fails
 *   (non-zero exit, timeout, cannot start) or is refused fails the backup unless
 *   continueBackupOnFailure, when the backup goes on with a warning.
 *
 * Pure module: no I/O. The structs hold no pointers: copy them by assignment; unused
 * bytes are zero, so equal settings compare equal with memcmp.
 */
#ifndef VV_SCRIPTS_H
#define VV_SCRIPTS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define VV_SCRIPT_PATH_MAX 1024  /* longest script path, without the NUL */
#define VV_SCRIPT_PARAMS_MAX 16  /* most parameters of a script */
#define VV_SCRIPT_PARAM_MAX 256  /* longest parameter, without the NUL */
#define VV_SCRIPT_RETRIES_MAX 5  /* most retries of a failed script */
#define VV_SCRIPT_TIMEOUT_MAX 1800     /* seconds */
#define VV_SCRIPT_TIMEOUT_DEFAULT 60   /* seconds */

/* The guest's file: where it is, and the most bytes the agent reads of it. */
#define VV_GUEST_SCRIPT_CONFIG "/etc/vmvault/VMSnapshotScriptPluginConfig.json"
#define VV_GUEST_SCRIPT_CONFIG_DIR "/etc/vmvault"
#define VV_GUEST_SCRIPT_CONFIG_MAX 65536

struct vv_script {
    char path[VV_SCRIPT_PATH_MAX + 1]; /* absolute path inside the guest; "" none */
    uint8_t nparams;
    char params[VV_SCRIPT_PARAMS_MAX][VV_SCRIPT_PARAM_MAX + 1];
    uint8_t retries; /* runs again up to this many times after a failure */
};

/* The vault's settings. */
struct vv_script_settings {
    uint8_t enabled;             /* scriptsEnabled: run the scripts the guest's file lists */
    uint16_t timeout_s;          /* longest run of a script, 1..VV_SCRIPT_TIMEOUT_MAX */
    uint8_t continue_on_failure; /* a failed script gives a warning, not a failed job */
    uint8_t fs_freeze;           /* freeze the guest's filesystems for the point in time */
    /* What settings from before the guest's file ask for (their preScriptLocation,
     * preScriptParams; retries are kept but the guest's count). Never run as such:
     * only compared with the guest's file. path "" when they ask for nothing. */
    struct vv_script asked_pre, asked_post;
};

/* No scripts, freeze on, 60 s, continue on failure. Overwrites all of *s. */
void vv_scripts_default(struct vv_script_settings *s);

/*
 * Strict parse of a stored scriptSettings object, or of one a vault sends an agent.
 * Keys, all optional:
 *   scriptsEnabled                  boolean (default false): run the scripts the
 *                                   guest's file lists
 *   timeoutInSeconds                1..1800 (default 60)
 *   continueBackupOnFailure         boolean (default true)
 *   fsFreezeEnabled                 boolean (default true)
 * and the keys of settings stored before the guest's file, kept as asked_pre/post
 * (a location switches scripts on):
 *   preScriptLocation, postScriptLocation   absolute paths (at most
 *                                   VV_SCRIPT_PATH_MAX bytes, no control characters)
 *   preScriptParams, postScriptParams       arrays of at most 16 strings of at most
 *                                   256 bytes without control characters; only with
 *                                   the script's location
 *   preScriptNoOfRetries, postScriptNoOfRetries  0..5; only with the location
 * A JSON null counts as an absent key; any other key is refused. 0 or VV_E_INVAL with
 * a one-line reason naming the field in err.
 */
int vv_scripts_from_json(const json_t *in, struct vv_script_settings *out, char *err,
                         size_t errlen) VV_MUST_CHECK;

/* The same for the body of a request (a policy, an item's settings): also refuses
 * the keys that name a script, with a reason that points at the guest's file. */
int vv_scripts_from_request(const json_t *in, struct vv_script_settings *out, char *err,
                            size_t errlen) VV_MUST_CHECK;

/* The canonical JSON object (every key present; the asked-for scripts only when
 * there are). Caller json_decref()s; NULL when out of memory. */
json_t *vv_scripts_to_json(const struct vv_script_settings *s);

/* 1 when s asks for scripts (scriptsEnabled, or an asked-for script). */
int vv_scripts_any(const struct vv_script_settings *s) VV_MUST_CHECK;

/* The guest's file. */
struct vv_guest_scripts {
    struct vv_script pre, post; /* path "" when it lists none */
    uint16_t timeout_s;         /* its timeoutInSeconds, 0 when it gives none */
    int8_t continue_on_failure; /* its continueBackupOnFailure, -1 when it gives none */
};

/*
 * Strict parse of the guest's file: len bytes (untrusted: they come from inside the
 * guest), at most VV_GUEST_SCRIPT_CONFIG_MAX, one JSON object. Keys, all optional:
 *   pluginName                      "ScriptRunner" (Azure's value; checked, not used)
 *   preScriptLocation, postScriptLocation   absolute paths inside the guest, at most
 *                                   VV_SCRIPT_PATH_MAX bytes without control
 *                                   characters; "" lists no script
 *   preScriptParams, postScriptParams       arrays of at most 16 strings of at most
 *                                   256 bytes without control characters ("" allowed)
 *   preScriptNoOfRetries, postScriptNoOfRetries  0..5 (default 0)
 *   timeoutInSeconds                1..1800: each run of a script, capped by the
 *                                   vault's timeoutInSeconds
 *   continueBackupOnFailure         boolean: false makes a failed script fail the
 *                                   backup whatever the vault says
 * Params and retries of a script the file does not list are checked but unused. A
 * JSON null counts as absent; any other key is refused. 0, or VV_E_INVAL with a
 * one-line reason (naming the field) in err; *out is written only on success.
 */
int vv_guest_scripts_parse(const void *bytes, size_t len, struct vv_guest_scripts *out,
                           char *err, size_t errlen) VV_MUST_CHECK;

/* What one backup runs. */
struct vv_script_plan {
    struct vv_script pre, post;  /* the guest's; path "" none */
    uint16_t timeout_s;          /* each run: the guest's, at most the vault's */
    uint8_t continue_on_failure; /* the vault's and the guest's both allow it */
};

/*
 * The scripts a backup with the vault's settings v runs in a guest whose file is g
 * (for settings that ask for scripts: vv_scripts_any). 0 with *out; VV_E_INVAL with
 * why (one sentence that names what the file lacks) when the file lists no script, or
 * when v asks for a script (asked_pre/asked_post) that the file does not list with
 * exactly those parameters: then nothing may run.
 */
int vv_scripts_resolve(const struct vv_script_settings *v, const struct vv_guest_scripts *g,
                       struct vv_script_plan *out, char *why, size_t n) VV_MUST_CHECK;

#endif
