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

/* A copy of the domain XML xml to define the restored domain with:
 *   - <name> set to new_name; <uuid> set to new_uuid, or removed when new_uuid is
 *     NULL (libvirt then generates one); the <domain id> attribute dropped;
 *   - every <interface>'s <mac> removed (libvirt generates new addresses);
 *   - for each i < n, the disk whose target is targets[i] becomes type='file' with
 *     <source file='new_paths[i]'/> and <driver type='new_formats[i]'> (a <driver
 *     name='qemu'> is added when it had none); its <source>, <backingStore>,
 *     <mirror> and <auth> are replaced or removed;
 *   - every other <disk> (cdroms included) removed, and every <backingStore>.
 * Everything else (and the formatting) is kept. *out is NUL-terminated without an
 * XML declaration; caller frees it with free(). Returns 0, VV_E_CORRUPT (malformed
 * XML, not a domain), VV_E_NOTFOUND (a target is not a disk of the domain),
 * VV_E_INVAL (empty name or path, a target listed twice), VV_E_TOOBIG, VV_E_NOMEM. */
int vv_xml_domain_for_restore(const char *xml, const char *new_name, const char *new_uuid,
                              const char *const *targets, const char *const *new_paths,
                              const char *const *new_formats, size_t n, char **out) VV_MUST_CHECK;

#endif
