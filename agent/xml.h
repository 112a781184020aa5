/*
 * xml.h: the parts of a libvirt domain XML the agent reads and rewrites (libxml2);
 * the only file that includes libxml2.
 *
 * Input is treated as untrusted: parsed without network access, without loading
 * any DTD and without substituting entities; a document with a DOCTYPE, or whose
 * root is not <domain>, is refused as VV_E_CORRUPT. Strings returned are copies
 * allocated with malloc; callers free them with free() (never xmlFree()).
 * libxml2 is initialised once per process on first use (thread-safe).
 */
#ifndef VV_AGENT_XML_H
#define VV_AGENT_XML_H

#include "err.h"

#include <stddef.h>

/* One <devices><disk> of a domain. */
struct vv_xml_disk {
    char *target; /* <target dev>, "vda"; never NULL */
    char *source; /* <source file> (type 'file'), <source dev> (type 'block'); NULL for
                   * other types and for an empty drive */
    char *format; /* <driver type>, "qcow2", "raw"; NULL when absent */
    char *type;   /* the disk's type attribute: "file", "block", "network", ...;
                   * "file" when absent (libvirt's default) */
    char *device; /* "disk" */
};

/* The disks of the domain XML xml with device 'disk' (an absent device attribute
 * means 'disk'; cdrom, floppy and lun are skipped), in document order. *out is an
 * array of *n entries (NULL when *n is 0); caller frees it with vv_xml_disks_free().
 * Returns 0, VV_E_CORRUPT (malformed XML, not a domain, a disk without <target dev>),
 * VV_E_INVAL (xml NULL), VV_E_TOOBIG (over 16 MiB), VV_E_NOMEM. */
int vv_xml_domain_disks(const char *xml, struct vv_xml_disk **out, size_t *n) VV_MUST_CHECK;
/* Free an array from vv_xml_domain_disks. NULL is a no-op. */
void vv_xml_disks_free(struct vv_xml_disk *d, size_t n);

/* What a restore's domain definition left out of the saved XML: one short
 * description per element dropped ("devices/hostdev", "qemu:commandline",
 * "os/kernel", ...). Owned by the struct; vv_xml_dropped_free() frees them. */
struct vv_xml_dropped {
    char **what;
    size_t n;
};
void vv_xml_dropped_free(struct vv_xml_dropped *d);

/* A copy of the domain XML xml to define the restored domain with:
 *   - <name> set to new_name; <uuid> set to new_uuid, or removed when new_uuid is
 *     NULL (libvirt then generates one); the <domain id> attribute dropped;
 *   - every <interface>'s <mac> removed (libvirt generates new addresses);
 *   - for each i < n, the disk whose target is targets[i] becomes type='file' with
 *     <source file='new_paths[i]'/> and <driver type='new_formats[i]'> (a <driver
 *     name='qemu'> is added when it had none); its <source>, <backingStore>,
 *     <mirror>, <auth> and <encryption> are replaced or removed;
 *   - every other <disk> (cdroms included) removed, and every <backingStore>;
 *   - only what a restored VM needs is kept (the saved XML comes from the vault and
 *     is not trusted to reach the host): top-level elements of libvirt's own
 *     domain schema that name no host file or device (name, uuid, title,
 *     description, metadata, memory and CPU settings, os, features, cpu, clock,
 *     the on_* actions, pm, perf, devices); in <os> no kernel, initrd, dtb,
 *     cmdline or nvram, and a <loader> only from /usr/share/; in <devices> only
 *     disk, controller, interface (network, bridge, direct, user), input (mouse,
 *     keyboard, tablet), graphics (vnc, spice; no socket), audio (none, spice),
 *     video, sound,
 *     console and serial (pty), channel (the guest agent's unix channel and
 *     spicevmc, without a source path), rng (/dev/urandom, /dev/random,
 *     /dev/hwrng), memballoon, watchdog and panic; no <seclabel>, <rom>, <script>
 *     or <backend> under them; no <emulator> (the host's default is used); no
 *     element of a foreign namespace (qemu:commandline) outside <metadata>.
 *     Each element dropped so is logged and, when dropped is not NULL, listed in
 *     it (caller frees with vv_xml_dropped_free, also on failure); only an
 *     <emulator> of the host's usual QEMU path and a dynamic, relabelling
 *     <seclabel> (libvirt makes both anew) go unlisted.
 * Everything else (and the formatting) is kept. *out is NUL-terminated without an
 * XML declaration; caller frees it with free(). Returns 0, VV_E_CORRUPT (malformed
 * XML, not a domain), VV_E_NOTFOUND (a target is not a disk of the domain),
 * VV_E_INVAL (empty name or path, a target listed twice), VV_E_TOOBIG, VV_E_NOMEM. */
int vv_xml_domain_for_restore(const char *xml, const char *new_name, const char *new_uuid,
                              const char *const *targets, const char *const *new_paths,
                              const char *const *new_formats, size_t n,
                              struct vv_xml_dropped *dropped, char **out) VV_MUST_CHECK;

/* The user and group QEMU runs the domain as, from a running domain's live XML
 * (<seclabel model='dac'><label>+UID:+GID</label>): 0 with *uid and *gid, or
 * VV_E_NOTFOUND when the XML names none (QEMU then runs as libvirtd's own user),
 * VV_E_CORRUPT, VV_E_NOMEM. */
int vv_xml_dac_label(const char *xml, long *uid, long *gid) VV_MUST_CHECK;

/* One disk of a pull-mode backup, for the XML below. */
struct vv_xml_backup_disk {
    const char *target;  /* "vda" */
    int backup;          /* exported */
    int incremental;     /* exported with the changes since the backup's incremental */
    int checkpoint;      /* carries a bitmap of the new checkpoint */
};

/* The <domainbackup mode='pull'> document for virDomainBackupBegin: the disks
 * exported over the unix socket, scratch files <scratch_dir>/<target>.scratch,
 * incremental (may be NULL) the checkpoint changes are counted from. And the
 * <domaincheckpoint> named name over the disks with a bitmap. Every value is
 * escaped as XML; *out is NUL-terminated, caller frees with free(). 0,
 * VV_E_INVAL (an empty or missing value), VV_E_TOOBIG (a path over VV_PATH_MAX),
 * VV_E_NOMEM. */
int vv_xml_backup(const char *incremental, const char *socket, const char *scratch_dir,
                  const struct vv_xml_backup_disk *d, size_t n, char **out) VV_MUST_CHECK;
int vv_xml_checkpoint(const char *name, const struct vv_xml_backup_disk *d, size_t n,
                      char **out) VV_MUST_CHECK;

#endif
