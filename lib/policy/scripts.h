/*
 * scripts.h: the consistency settings of a backup: the scripts the guest runs before
 * and after the point in time is taken, and whether its filesystems are frozen for it
 * (docs/api.md, "Script settings"). The fields are those of Azure Backup's Linux
 * VMSnapshotScriptPluginConfig.json; a policy may carry them ("scriptSettings") and
 * a protected item may override its policy's.
 *
 * What a backup of a running VM does with them (agent/job_backup.c):
 *   pre-script (retried up to preScriptNoOfRetries more times) -> freeze (when
 *   fsFreezeEnabled) -> checkpoint + backup begin -> thaw -> post-script (retried
 *   likewise). Each run of a script must end within timeoutInSeconds. A script that
 *   fails (non-zero exit, timeout, cannot start) fails the backup unless
 *   continueBackupOnFailure, when the backup goes on with a warning.
 *
 * Pure module: no I/O. struct vv_script_settings holds no pointers: copy it by
 * assignment; unused bytes are zero, so equal settings compare equal with memcmp.
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

struct vv_script {
    char path[VV_SCRIPT_PATH_MAX + 1]; /* absolute path inside the guest; "" none */
    uint8_t nparams;
    char params[VV_SCRIPT_PARAMS_MAX][VV_SCRIPT_PARAM_MAX + 1];
    uint8_t retries; /* runs again up to this many times after a failure */
};

struct vv_script_settings {
    struct vv_script pre, post;
    uint16_t timeout_s;          /* each run of a script, 1..VV_SCRIPT_TIMEOUT_MAX */
    uint8_t continue_on_failure; /* a failed script gives a warning, not a failed job */
    uint8_t fs_freeze;           /* freeze the guest's filesystems for the point in time */
};

/* No scripts, freeze on, 60 s, continue on failure. Overwrites all of *s. */
void vv_scripts_default(struct vv_script_settings *s);

/*
 * Strict parse of a scriptSettings object. Keys, all optional:
 *   preScriptLocation, postScriptLocation   absolute paths inside the guest (at most
 *                                   VV_SCRIPT_PATH_MAX bytes, no control characters)
 *   preScriptParams, postScriptParams       arrays of at most 16 strings of at most
 *                                   256 bytes without control characters; only with
 *                                   the script's location
 *   preScriptNoOfRetries, postScriptNoOfRetries  0..5 (default 0); only with the
 *                                   script's location
 *   timeoutInSeconds                1..1800 (default 60)
 *   continueBackupOnFailure         boolean (default true)
 *   fsFreezeEnabled                 boolean (default true)
 * A JSON null counts as an absent key; any other key is refused. 0 or VV_E_INVAL with
 * a one-line reason naming the field in err.
 */
int vv_scripts_from_json(const json_t *in, struct vv_script_settings *out, char *err,
                         size_t errlen) VV_MUST_CHECK;

/* The canonical JSON object (every key present; locations "" left out). Caller
 * json_decref()s; NULL when out of memory. */
json_t *vv_scripts_to_json(const struct vv_script_settings *s);

/* 1 when s runs a pre- or a post-script. */
int vv_scripts_any(const struct vv_script_settings *s) VV_MUST_CHECK;

#endif
