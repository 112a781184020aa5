/*
 * nbd_xml_check.c: checks of the agent's NBD and domain XML adapters against the
 * real tools: qemu-img, qemu-io and qemu-nbd serve real raw and qcow2 images (with
 * a persistent dirty bitmap), libxml2 parses a realistic libvirt domain XML.
 *
 * Built as build/tests/test_agent_adapters and run by tests/run.sh; exits 0 when
 * every check passed.
 * VERBOSE=1 in the environment turns on debug logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/source.h"
#include "err.h"
#include "log.h"
#include "nbd.h"
#include "trust_check.h"
#include "util.h"
#include "xml.h"

#define MiB (1024ull * 1024)
#define KiB 1024ull

static int failures, checks;
static char work[256];

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        checks++;                                                                         \
        if (!(cond)) {                                                                    \
            failures++;                                                                   \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            printf(__VA_ARGS__);                                                          \
            printf("\n");                                                                 \
        }                                                                                 \
    } while (0)

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---- helpers ------------------------------------------------------------------- */

/* Run argv (PATH lookup), output to /dev/null unless verbose; its exit status. */
static int run(const char *const *argv)
{
    pid_t pid = fork();
    int st;

    if (pid == 0) {
        if (!getenv("VERBOSE")) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Start argv in the background, output to /dev/null; its pid. */
static pid_t start(const char *const *argv)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

static int wait_for_file(const char *path, int ms)
{
    for (int i = 0; i < ms; i += 10) {
        if (access(path, F_OK) == 0)
            return 0;
        usleep(10000);
    }
    return -1;
}

/* Capture what is logged to stderr between capture_begin and capture_end. */
static int saved_err = -1;
static char cap_path[300];

static void capture_begin(void)
{
    int fd;

    fflush(stderr);
    snprintf(cap_path, sizeof(cap_path), "%s/stderr.txt", work);
    fd = open(cap_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    saved_err = dup(2);
    dup2(fd, 2);
    close(fd);
}

static void capture_end(char *buf, size_t cap)
{
    int fd;
    ssize_t k;

    fflush(stderr);
    dup2(saved_err, 2);
    close(saved_err);
    fd = open(cap_path, O_RDONLY);
    k = fd >= 0 ? read(fd, buf, cap - 1) : -1;
    buf[k > 0 ? k : 0] = '\0';
    if (fd >= 0)
        close(fd);
    if (getenv("VERBOSE"))
        fprintf(stderr, "%s", buf);
}

/* ---- XML ----------------------------------------------------------------------- */

static const char domain_xml[] =
    "<domain type='kvm' id='7'>\n"
    "  <name>web01</name>\n"
    "  <uuid>0c6f4b1e-6a55-4c59-9d0a-2d1c6f3a7b11</uuid>\n"
    "  <metadata>\n"
    "    <vmv:info xmlns:vmv='http://example.org/vmvault'>\n"
    "      <vmv:disk device='disk'><vmv:target dev='vdz'/></vmv:disk>\n"
    "    </vmv:info>\n"
    "  </metadata>\n"
    "  <memory unit='KiB'>1048576</memory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
    "    <boot dev='hd'/>\n"
    "  </os>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>\n"
    "      <source file='/var/lib/libvirt/images/web01.qcow2' index='2'/>\n"
    "      <backingStore type='file' index='3'>\n"
    "        <format type='qcow2'/>\n"
    "        <source file='/var/lib/libvirt/images/debian-base.qcow2'/>\n"
    "        <backingStore/>\n"
    "      </backingStore>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "      <alias name='virtio-disk0'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\n"
    "    </disk>\n"
    "    <disk type='block' device='disk'>\n"
    "      <driver name='qemu' type='raw' cache='none' io='native'/>\n"
    "      <source dev='/dev/vg0/web01-data' index='1'/>\n"
    "      <backingStore/>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "      <serial>data-01</serial>\n"
    "    </disk>\n"
    "    <disk type='file' device='cdrom'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <source file='/srv/iso/debian-12.iso'/>\n"
    "      <target dev='sda' bus='sata'/>\n"
    "      <readonly/>\n"
    "    </disk>\n"
    "    <disk type='network'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <source protocol='rbd' name='pool/web01-logs'>\n"
    "        <host name='ceph1' port='6789'/>\n"
    "      </source>\n"
    "      <auth username='libvirt'><secret type='ceph' usage='ceph'/></auth>\n"
    "      <target dev='vdc' bus='virtio'/>\n"
    "    </disk>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:12:34:56'/>\n"
    "      <source network='default'/>\n"
    "      <model type='virtio'/>\n"
    "    </interface>\n"
    "    <interface type='bridge'>\n"
    "      <mac address='52:54:00:ab:cd:ef'/>\n"
    "      <source bridge='br0'/>\n"
    "    </interface>\n"
    "    <console type='pty'/>\n"
    "  </devices>\n"
    "  <seclabel type='dynamic' model='dac' relabel='yes'/>\n"
    "</domain>\n";

static int streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void check_disk(const struct vv_xml_disk *d, const char *target, const char *source,
                       const char *format, const char *type)
{
    CHECK(streq(d->target, target), "target %s, want %s", d->target, target);
    CHECK(streq(d->source, source), "%s source %s, want %s", target,
          d->source ? d->source : "NULL", source ? source : "NULL");
    CHECK(streq(d->format, format), "%s format %s, want %s", target,
          d->format ? d->format : "NULL", format);
    CHECK(streq(d->type, type), "%s type %s, want %s", target, d->type, type);
    CHECK(streq(d->device, "disk"), "%s device %s", target, d->device);
}

/* libvirt's own schema check of a domain XML, when libvirt's tools are installed. */
static void validate(const char *name, const char *xml)
{
    char path[320];
    const char *argv[] = {"virt-xml-validate", path, "domain", NULL};
    int fd;

    if (run((const char *const[]){"sh", "-c", "command -v virt-xml-validate", NULL}) != 0) {
        printf("  virt-xml-validate not installed: %s not checked against libvirt's schema\n",
               name);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", work, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && vv_write_all(fd, xml, strlen(xml)) == 0, "writing %s", path);
    if (fd >= 0)
        close(fd);
    CHECK(run(argv) == 0, "%s does not validate against libvirt's domain schema", name);
}

/* The disks of the sample domain. */
static void check_xml_disks(void)
{
    struct vv_xml_disk *d = NULL;
    size_t n = 0;
    int r;

    r = vv_xml_domain_disks(domain_xml, &d, &n);
    CHECK(r == 0, "vv_xml_domain_disks: %s", vv_errname(r));
    CHECK(n == 3, "%zu disks, want 3 (vda, vdb, vdc; the cdrom skipped)", n);
    if (r == 0 && n == 3) {
        check_disk(&d[0], "vda", "/var/lib/libvirt/images/web01.qcow2", "qcow2", "file");
        check_disk(&d[1], "vdb", "/dev/vg0/web01-data", "raw", "block");
        check_disk(&d[2], "vdc", NULL, "raw", "network");
    }
    vv_xml_disks_free(d, n);
}

/* What vv_xml_domain_for_restore made of the sample domain (out): renamed, new
 * identity, only the listed disks on their new files, schema-valid. */
static void check_restore_xml(const char *out)
{
    struct vv_xml_disk *d = NULL;
    size_t n = 0;
    int r;

    if (getenv("VERBOSE"))
        printf("--- restore XML ---\n%s---\n", out);
    CHECK(!strstr(out, "<?xml"), "XML declaration present");
    CHECK(strstr(out, "<domain type=\"kvm\">") != NULL, "id attribute not dropped");
    CHECK(strstr(out, "<name>web01-restored &lt;&amp;&gt; \xc3\xa9t\xc3\xa9</name>") != NULL,
          "name not set/escaped/UTF-8");
    CHECK(strstr(out, "<uuid>5f3c2a9e-1b7d-4e8f-9a6b-c0d1e2f3a4b5</uuid>") != NULL,
          "uuid not replaced");
    CHECK(!strstr(out, "0c6f4b1e"), "old uuid remains");
    CHECK(!strstr(out, "<mac") && !strstr(out, "52:54:00"), "MAC addresses remain");
    CHECK(count_of(out, "<interface ") == 2, "interfaces lost");
    CHECK(!strstr(out, "backingStore"), "backingStore remains");
    CHECK(!strstr(out, "cdrom") && !strstr(out, "debian-12.iso"), "cdrom remains");
    CHECK(!strstr(out, "vdc") && !strstr(out, "rbd") && !strstr(out, "<auth"),
          "unlisted disk vdc remains");
    CHECK(!strstr(out, "/dev/vg0") && !strstr(out, "web01.qcow2"), "old sources remain");
    CHECK(strstr(out, "<serial>data-01</serial>") != NULL, "disk details lost");
    CHECK(strstr(out, "vmv:disk") != NULL, "metadata lost");
    CHECK(strstr(out, "<source file=\"/restore/web01 &amp; co/vda.qcow2\"/>") != NULL,
          "vda source not rewritten");
    CHECK(!strstr(out, "\n\n"), "removed elements left blank lines");

    validate("restore.xml", out);
    validate("original.xml", domain_xml);

    r = vv_xml_domain_disks(out, &d, &n);
    CHECK(r == 0 && n == 2, "re-parse: %s, %zu disks", vv_errname(r), n);
    if (r == 0 && n == 2) {
        check_disk(&d[0], "vda", "/restore/web01 & co/vda.qcow2", "qcow2", "file");
        check_disk(&d[1], "vdb", "/restore/web01 & co/vdb.raw", "raw", "file");
    }
    vv_xml_disks_free(d, n);
}

/* The XML of a restore: the sample domain, one without uuid or disks, one whose disk
 * has no <driver>. */
static void check_xml_restore(void)
{
    const char *targets[] = {"vdb", "vda"};
    const char *paths[] = {"/restore/web01 & co/vdb.raw", "/restore/web01 & co/vda.qcow2"};
    const char *formats[] = {"raw", "qcow2"};
    char *out = NULL;
    int r;

    r = vv_xml_domain_for_restore(domain_xml, "web01-restored <&> \xc3\xa9t\xc3\xa9",
                                  "5f3c2a9e-1b7d-4e8f-9a6b-c0d1e2f3a4b5", targets, paths,
                                  formats, 2, NULL, &out);
    CHECK(r == 0, "vv_xml_domain_for_restore: %s", vv_errname(r));
    if (out)
        check_restore_xml(out);
    free(out);
    out = NULL;

    /* No uuid: removed, so that libvirt makes one. Nothing listed: every disk goes. */
    r = vv_xml_domain_for_restore(domain_xml, "bare", NULL, NULL, NULL, NULL, 0, NULL, &out);
    CHECK(r == 0 && out && !strstr(out, "<uuid") && !strstr(out, "<disk") &&
              strstr(out, "<name>bare</name>"),
          "restore without uuid/disks: %s", vv_errname(r));
    free(out);
    out = NULL;

    /* A domain without <driver> on the disk gets one. */
    {
        const char *x = "<domain type='qemu'><name>n</name><devices><disk type='file'>"
                        "<source file='/a.img'/><target dev='vda'/></disk></devices></domain>";
        const char *t[] = {"vda"}, *p[] = {"/b.qcow2"}, *f[] = {"qcow2"};
        r = vv_xml_domain_for_restore(x, "m", "5f3c2a9e-1b7d-4e8f-9a6b-c0d1e2f3a4b5", t, p, f,
                                      1, NULL, &out);
        CHECK(r == 0 && out &&
                  strstr(out, "<driver name=\"qemu\" type=\"qcow2\"/><source file=\"/b.qcow2\"/>"),
              "driver added: %s %s", vv_errname(r), out ? out : "");
        CHECK(out && strstr(out, "<uuid>5f3c2a9e") != NULL, "uuid added");
        free(out);
    }
}

/* Restores the XML cannot make: an unknown or twice-listed target, no name. */
static void check_xml_refused(void)
{
    const char *t[] = {"vdq"}, *p[] = {"/x"}, *f[] = {"raw"};
    const char *t2[] = {"vda", "vda"}, *p2[] = {"/x", "/y"}, *f2[] = {"raw", "raw"};
    char *out = NULL, errbuf[8192];

    capture_begin();
    int r1 = vv_xml_domain_for_restore(domain_xml, "x", NULL, t, p, f, 1, NULL, &out);
    int r2 = vv_xml_domain_for_restore(domain_xml, "x", NULL, t2, p2, f2, 2, NULL, &out);
    int r3 = vv_xml_domain_for_restore(domain_xml, "", NULL, NULL, NULL, NULL, 0, NULL, &out);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r1 == VV_E_NOTFOUND && !out, "unknown target: %s", vv_errname(r1));
    CHECK(r2 == VV_E_INVAL, "duplicate target: %s", vv_errname(r2));
    CHECK(r3 == VV_E_INVAL, "empty name: %s", vv_errname(r3));
    CHECK(strstr(errbuf, "no disk with target vdq") != NULL, "message: %s", errbuf);
}

/* Malformed or hostile XML: refused with one message of ours, none of libxml2's. */
static void check_xml_malformed(void)
{
    static const char *const bad[] = {
        "",
        "<domain><name>x</domain>",
        "<domain><name>x</name>",
        "<notdomain><devices/></notdomain>",
        "<domain xmlns='urn:x'/>",
        "just text",
        "<domain>\x01</domain>",
        /* entities: external (XXE) and nested (billion laughs) */
        "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
        "<domain><name>&x;</name></domain>",
        "<!DOCTYPE domain [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>"
        "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>]><domain><name>&c;</name></domain>",
        "<!DOCTYPE domain SYSTEM 'http://127.0.0.1:9/domain.dtd'><domain/>",
        "<domain><devices><disk device='disk'><source file='/x'/></disk></devices></domain>",
    };
    struct vv_xml_disk *d;
    size_t n;
    char *out = NULL, errbuf[8192];
    int r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        capture_begin();
        d = NULL;
        n = 0;
        r = vv_xml_domain_disks(bad[i], &d, &n);
        int r2 = vv_xml_domain_for_restore(bad[i], "x", NULL, NULL, NULL, NULL, 0, NULL, &out);
        capture_end(errbuf, sizeof(errbuf));
        CHECK(r == VV_E_CORRUPT && !d && n == 0, "bad[%zu] disks: %s", i, vv_errname(r));
        /* the last one is well-formed: only the disk list needs a target */
        if (i + 1 < sizeof(bad) / sizeof(bad[0]))
            CHECK(r2 == VV_E_CORRUPT && !out, "bad[%zu] restore: %s", i, vv_errname(r2));
        free(out);
        out = NULL;
        CHECK(strstr(errbuf, "malformed domain XML") != NULL, "bad[%zu] message: %s", i,
              errbuf);
        CHECK(!strstr(errbuf, "parser error") && !strstr(errbuf, "domain.xml:"),
              "libxml2 printed its own errors: %s", errbuf);
    }
}

/* A saved definition a hostile vault might return: host devices, host paths and
 * foreign elements that a restored domain must not keep. */
static const char hostile_xml[] =
    "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
    "  <name>evil</name>\n"
    "  <memory unit='KiB'>65536</memory>\n"
    "  <sysinfo type='fwcfg'><entry name='opt/evil' file='/etc/gshadow'/></sysinfo>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='pc'>hvm</type>\n"
    "    <loader readonly='yes' type='pflash'>/etc/shadow</loader>\n"
    "    <nvram>/etc/passwd</nvram>\n"
    "    <kernel>/boot/vmlinuz</kernel>\n"
    "    <initrd>/boot/initrd.img</initrd>\n"
    "    <cmdline>init=/bin/sh</cmdline>\n"
    "    <acpi><table type='slic'>/etc/ssh/ssh_host_rsa_key</table></acpi>\n"
    "  </os>\n"
    "  <devices>\n"
    "    <emulator>/tmp/evil-qemu</emulator>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <source file='/etc/passwd'><seclabel model='dac' relabel='no'/></source>\n"
    "      <encryption format='luks'><secret type='passphrase' uuid='0c6f4b1e-6a55-4c59-9d0a-2d1c6f3a7b11'/></encryption>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "    </disk>\n"
    "    <filesystem type='mount' accessmode='passthrough'>\n"
    "      <source dir='/'/><target dir='hostroot'/>\n"
    "    </filesystem>\n"
    "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
    "      <source><address domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/></source>\n"
    "    </hostdev>\n"
    "    <redirdev bus='usb' type='tcp'><source mode='connect' host='10.0.0.1' service='4000'/></redirdev>\n"
    "    <smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='2001'/></smartcard>\n"
    "    <shmem name='evil'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>\n"
    "    <interface type='ethernet'><script path='/tmp/evil.sh'/></interface>\n"
    "    <interface type='network'><source network='default'/><rom file='/etc/shadow'/>"
    "<backend tap='/dev/evil'/><model type='virtio'/></interface>\n"
    "    <serial type='file'><source path='/etc/cron.d/evil'/><target port='0'/></serial>\n"
    "    <serial type='pty'><log file='/etc/cron.d/evil-log' append='on'/><target port='1'/></serial>\n"
    "    <console type='pty'><target type='serial' port='1'/></console>\n"
    "    <channel type='unix'><source mode='bind' path='/etc/evil.sock'/>"
    "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
    "    <channel type='unix'><source mode='bind' path='/etc/other.sock'/>"
    "<target type='virtio' name='org.example.other'/></channel>\n"
    "    <graphics type='vnc' socket='/etc/evil-vnc.sock'/>\n"
    "    <rng model='virtio'><backend model='random'>/etc/shadow</backend></rng>\n"
    "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
    "    <input type='passthrough' bus='virtio'><source evdev='/dev/input/event0'/></input>\n"
    "    <input type='tablet' bus='usb'/>\n"
    "    <memballoon model='virtio'/>\n"
    "  </devices>\n"
    "  <seclabel type='none' model='dac' relabel='no'/>\n"
    "  <qemu:commandline><qemu:arg value='-drive'/><qemu:arg value='file=/etc/shadow'/></qemu:commandline>\n"
    "</domain>\n";

/* The hostile definition restored: only what a restored VM needs, each thing left
 * out listed. */
static void check_xml_whitelist(void)
{
    static const char *const gone[] = {"/etc/", "/boot/", "/tmp/", "/dev/evil", "/dev/input",
                                       "<emulator", "<filesystem", "<hostdev", "<redirdev",
                                       "<smartcard", "<shmem", "ethernet", "<rom", "<backend tap",
                                       "<seclabel", "qemu:", "<kernel", "<initrd", "<nvram",
                                       "<loader", "<cmdline", "<encryption", "org.example.other",
                                       "passthrough", "init=/bin/sh", "fwcfg", "<log", "<acpi"};
    static const char *const kept[] = {"<interface type=\"network\">", "<serial type=\"pty\">",
                                       "<console type=\"pty\">", "org.qemu.guest_agent.0",
                                       "<graphics type=\"vnc\"/>", ">/dev/urandom</backend>",
                                       "<input type=\"tablet\"", "<memballoon",
                                       "<source file=\"/srv/r/evil-vda.raw\"/>"};
    const char *t[] = {"vda"}, *p[] = {"/srv/r/evil-vda.raw"}, *f[] = {"raw"};
    struct vv_xml_dropped dr;
    char *out = NULL, errbuf[16384];
    int r, listed = 0;

    capture_begin();
    r = vv_xml_domain_for_restore(hostile_xml, "evil-restored", NULL, t, p, f, 1, &dr, &out);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r == 0 && out, "hostile restore XML: %s", vv_errname(r));
    if (!out)
        return;
    if (getenv("VERBOSE"))
        printf("--- hostile restore XML ---\n%s---\n", out);
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        CHECK(!strstr(out, gone[i]), "whitelist: '%s' is still in the restored domain", gone[i]);
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        CHECK(strstr(out, kept[i]) != NULL, "whitelist: '%s' was lost", kept[i]);
    for (size_t i = 0; i < dr.n; i++)
        listed += !strcmp(dr.what[i], "devices/hostdev") ||
                  !strcmp(dr.what[i], "qemu:commandline") ||
                  !strcmp(dr.what[i], "devices/filesystem") || !strcmp(dr.what[i], "seclabel") ||
                  !strcmp(dr.what[i], "devices/emulator") || !strcmp(dr.what[i], "os/kernel");
    CHECK(listed == 6, "whitelist: %d of hostdev, qemu:commandline, filesystem, seclabel, "
          "emulator, os/kernel listed among %zu", listed, dr.n);
    CHECK(dr.n >= 20, "whitelist: only %zu elements listed as dropped", dr.n);
    CHECK(strstr(errbuf, "<devices/hostdev> (line") != NULL, "dropping is logged: %s", errbuf);
    validate("hostile-restored.xml", out);
    vv_xml_dropped_free(&dr);
    free(out);
}

/* Backup and checkpoint XML: every value escaped, the structure libvirt reads. */
static void check_xml_backup(void)
{
    struct vv_xml_backup_disk d[] = {{"vda", 1, 1, 1}, {"vd'b\"<&>", 1, 0, 0}, {"vdc", 0, 0, 0}};
    char *bx = NULL, *cx = NULL;
    long uid = 0, gid = 0;
    int r;

    r = vv_xml_backup("cp-1<x>", "/run/a'b\"/nbd.sock", "/run/s&d", d, 3, &bx);
    CHECK(r == 0 && bx, "backup XML: %s", vv_errname(r));
    if (bx) {
        CHECK(strstr(bx, "<domainbackup mode=\"pull\">") && strstr(bx, "<incremental>cp-1&lt;x&gt;</incremental>") &&
                  strstr(bx, "socket=\"/run/a'b&quot;/nbd.sock\"") &&
                  strstr(bx, "<disk name=\"vda\" backup=\"yes\" type=\"file\" backupmode=\"incremental\" incremental=\"cp-1&lt;x&gt;\"><scratch file=\"/run/s&amp;d/vda.scratch\"/></disk>") &&
                  strstr(bx, "name=\"vd'b&quot;&lt;&amp;&gt;\" backup=\"yes\" type=\"file\" backupmode=\"full\">") &&
                  strstr(bx, "<disk name=\"vdc\" backup=\"no\"/>"),
              "backup XML: %s", bx);
    }
    r = vv_xml_checkpoint("vmvault-1-<&>", d, 3, &cx);
    CHECK(r == 0 && cx && strstr(cx, "<name>vmvault-1-&lt;&amp;&gt;</name>") &&
              strstr(cx, "<disk name=\"vda\" checkpoint=\"bitmap\"/>") &&
              strstr(cx, "<disk name=\"vdc\" checkpoint=\"no\"/>"),
          "checkpoint XML: %s", cx ? cx : vv_errname(r));
    free(bx);
    free(cx);
    CHECK(vv_xml_backup(NULL, "", "/x", d, 1, &bx) == VV_E_INVAL && !bx, "empty socket refused");
    CHECK(vv_xml_checkpoint(NULL, d, 1, &cx) == VV_E_INVAL && !cx, "no checkpoint name refused");

    r = vv_xml_dac_label("<domain><seclabel type='dynamic' model='selinux'><label>x</label>"
                         "</seclabel><seclabel type='dynamic' model='dac' relabel='yes'>"
                         "<label>+64055:+993</label></seclabel></domain>", &uid, &gid);
    CHECK(r == 0 && uid == 64055 && gid == 993, "dac label: %s %ld:%ld", vv_errname(r), uid, gid);
    r = vv_xml_dac_label("<domain><name>x</name></domain>", &uid, &gid);
    CHECK(r == VV_E_NOTFOUND && uid == -1 && gid == -1, "no dac label: %s", vv_errname(r));
}

static void check_xml(void)
{
    double t0 = now_ms();

    check_xml_disks();
    check_xml_restore();
    check_xml_refused();
    check_xml_malformed();
    check_xml_whitelist();
    check_xml_backup();
    printf("xml: %.1f ms\n", now_ms() - t0);
}

/* ---- NBD ----------------------------------------------------------------------- */

struct ext_list {
    struct vv_extent e[64];
    size_t n;
    int stop_after; /* return 7 from the callback after this many, 0 = never */
};

static int collect(uint64_t off, uint64_t len, void *arg)
{
    struct ext_list *l = arg;
    if (l->n < 64) {
        l->e[l->n].off = off;
        l->e[l->n].len = len;
    }
    l->n++;
    return l->stop_after && (int)l->n >= l->stop_after ? 7 : 0;
}

static void print_extents(const char *what, const struct ext_list *l)
{
    printf("  %s:", what);
    for (size_t i = 0; i < l->n && i < 64; i++)
        printf(" [%llu+%llu)", (unsigned long long)l->e[i].off, (unsigned long long)l->e[i].len);
    printf("\n");
}

/* Ascending, disjoint, merged, inside [0, size). */
static void check_well_formed(const struct ext_list *l, uint64_t size, const char *what)
{
    for (size_t i = 0; i < l->n && i < 64; i++) {
        CHECK(l->e[i].len > 0 && l->e[i].off + l->e[i].len <= size, "%s: extent %zu bounds",
              what, i);
        if (i)
            CHECK(l->e[i].off > l->e[i - 1].off + l->e[i - 1].len,
                  "%s: extents %zu and %zu not ascending/disjoint/merged", what, i - 1, i);
    }
}

static int covered(const struct ext_list *l, uint64_t off, uint64_t len)
{
    for (size_t i = 0; i < l->n && i < 64; i++)
        if (l->e[i].off <= off && off + len <= l->e[i].off + l->e[i].len)
            return 1;
    return 0;
}

static int touches(const struct ext_list *l, uint64_t off, uint64_t len)
{
    for (size_t i = 0; i < l->n && i < 64; i++)
        if (l->e[i].off < off + len && off < l->e[i].off + l->e[i].len)
            return 1;
    return 0;
}

/* Data regions of the test image (A-D) and a region written with zeros (E). */
static const struct vv_extent data_regions[] = {
    {0, 64 * KiB}, {5 * MiB, MiB}, {32 * MiB + 4 * KiB, 8 * KiB}, {64 * MiB - 4 * KiB, 4 * KiB}};
static const struct vv_extent zero_region = {40 * MiB, MiB};
static const struct vv_extent hole_regions[] = {
    {MiB, 4 * MiB}, {6 * MiB, 26 * MiB}, {33 * MiB, 7 * MiB}, {41 * MiB, 22 * MiB}};

struct reader {
    struct vv_source *s;
    const uint8_t *ref;
    unsigned seed;
    int bad;
    int nreads;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    uint8_t *buf = malloc(MiB + 4096);

    for (int i = 0; i < rd->nreads && buf; i++) {
        uint64_t len = 1 + (uint64_t)rand_r(&rd->seed) % (MiB + 4095);
        uint64_t off = (uint64_t)rand_r(&rd->seed) % (rd->s->size - len);
        if (i % 3 == 0) /* chunk-aligned, like the engine */
            off &= ~(uint64_t)(256 * KiB - 1);
        if (rd->s->ops->read(rd->s, buf, len, off) != 0 || memcmp(buf, rd->ref + off, len)) {
            rd->bad++;
            break;
        }
    }
    free(buf);
    return NULL;
}

static void check_image_source(const char *path, const char *format, const uint8_t *ref,
                               uint64_t ref_size, int exact_qcow2)
{
    struct vv_source *s = NULL;
    struct ext_list l = {.n = 0};
    double t0 = now_ms(), t1, t2, t3, t4;
    int r;
    uint8_t *buf;

    r = vv_nbd_open_image(path, format, &s);
    t1 = now_ms();
    CHECK(r == 0 && s, "open %s (%s): %s", path, format, vv_errname(r));
    if (!s)
        return;
    CHECK(s->size == ref_size, "%s size %llu", format, (unsigned long long)s->size);
    CHECK(streq(s->desc, path), "desc %s", s->desc);

    r = s->ops->map(s, 0, s->size, collect, &l);
    t2 = now_ms();
    CHECK(r == 0, "map: %s", vv_errname(r));
    print_extents(format, &l);
    check_well_formed(&l, s->size, format);
    for (size_t i = 0; i < sizeof(data_regions) / sizeof(data_regions[0]); i++)
        CHECK(covered(&l, data_regions[i].off, data_regions[i].len),
              "%s: data at %llu not mapped", format, (unsigned long long)data_regions[i].off);
    for (size_t i = 0; i < sizeof(hole_regions) / sizeof(hole_regions[0]); i++)
        CHECK(!touches(&l, hole_regions[i].off, hole_regions[i].len),
              "%s: hole at %llu mapped", format, (unsigned long long)hole_regions[i].off);
    if (exact_qcow2) {
        /* qemu-img convert skipped the zeros of E; 64 KiB clusters. */
        static const struct vv_extent want[] = {
            {0, 64 * KiB}, {5 * MiB, MiB}, {32 * MiB, 64 * KiB}, {64 * MiB - 64 * KiB, 64 * KiB}};
        CHECK(l.n == 4, "qcow2: %zu extents, want 4", l.n);
        for (size_t i = 0; i < 4 && i < l.n; i++)
            CHECK(l.e[i].off == want[i].off && l.e[i].len == want[i].len,
                  "qcow2 extent %zu is [%llu+%llu)", i, (unsigned long long)l.e[i].off,
                  (unsigned long long)l.e[i].len);
    } else {
        CHECK(covered(&l, zero_region.off, zero_region.len),
              "raw: the region written with zeros is allocated and must be mapped");
    }

    /* A sub-range is clipped; a non-zero callback return stops and comes back. */
    l.n = 0;
    r = s->ops->map(s, 5 * MiB + 100, 10, collect, &l);
    CHECK(r == 0 && l.n == 1 && l.e[0].off == 5 * MiB + 100 && l.e[0].len == 10,
          "sub-range map: %s, %zu extents", vv_errname(r), l.n);
    l.n = 0;
    r = s->ops->map(s, 2 * MiB, 2 * MiB, collect, &l);
    CHECK(r == 0 && l.n == 0, "map of a hole: %zu extents", l.n);
    l.n = 0;
    l.stop_after = 2;
    r = s->ops->map(s, 0, s->size, collect, &l);
    CHECK(r == 7 && l.n == 2, "stop: r=%d n=%zu", r, l.n);
    l.n = 0;
    l.stop_after = 0;
    r = s->ops->map(s, s->size, 100, collect, &l);
    CHECK(r == 0 && l.n == 0, "map past the end");

    /* The whole disk in one read (split into 32 MiB requests inside). */
    buf = malloc(s->size);
    r = buf ? s->ops->read(s, buf, s->size, 0) : VV_E_NOMEM;
    t3 = now_ms();
    CHECK(r == 0 && memcmp(buf, ref, s->size) == 0, "%s whole read differs: %s", format,
          vv_errname(r));
    free(buf);

    capture_begin();
    {
        uint8_t b[16];
        r = s->ops->read(s, b, 16, s->size - 8);
    }
    {
        char eb[1024];
        capture_end(eb, sizeof(eb));
    }
    CHECK(r == VV_E_INVAL, "read past the end: %s", vv_errname(r));

    /* Several threads at once (the engine's workers). */
    {
        pthread_t th[6];
        struct reader rd[6];
        int bad = 0;
        for (int i = 0; i < 6; i++) {
            rd[i] = (struct reader){s, ref, 1234u + (unsigned)i, 0, 40};
            pthread_create(&th[i], NULL, reader_main, &rd[i]);
        }
        for (int i = 0; i < 6; i++) {
            pthread_join(th[i], NULL);
            bad += rd[i].bad;
        }
        CHECK(bad == 0, "%s: %d concurrent readers saw wrong bytes", format, bad);
    }
    t4 = now_ms();
    vv_source_close(s);
    printf("nbd %s: open %.1f ms, map %.1f ms, read 64 MiB %.1f ms, 240 concurrent reads "
           "%.1f ms, close %.1f ms\n",
           format, t1 - t0, t2 - t1, t3 - t2, t4 - t3, now_ms() - t4);
}

static uint8_t *slurp(const char *path, uint64_t *size)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    uint8_t *p;

    if (fd < 0 || fstat(fd, &st) < 0)
        return NULL;
    p = malloc((size_t)st.st_size);
    if (p && vv_pread_full(fd, p, (size_t)st.st_size, 0) < 0) {
        free(p);
        p = NULL;
    }
    close(fd);
    *size = (uint64_t)st.st_size;
    return p;
}

static void check_images(void)
{
    char raw[300], qcow[300], sock[300], errbuf[4096];
    uint8_t *ref;
    uint64_t size = 0;
    struct vv_source *s = NULL;
    int r;

    snprintf(raw, sizeof(raw), "%s/disk.raw", work);
    snprintf(qcow, sizeof(qcow), "%s/disk.qcow2", work);
    snprintf(sock, sizeof(sock), "%s/locker.sock", work);
    {
        char of[320];
        snprintf(of, sizeof(of), "of=%s", raw);
        const char *trunc[] = {"truncate", "-s", "64M", raw, NULL};
        const char *dd[][9] = {
            {"dd", "if=/dev/urandom", of, "bs=64k", "seek=0", "count=1", "conv=notrunc", NULL},
            {"dd", "if=/dev/urandom", of, "bs=1M", "seek=5", "count=1", "conv=notrunc", NULL},
            {"dd", "if=/dev/urandom", of, "bs=4k", "seek=8193", "count=2", "conv=notrunc", NULL},
            {"dd", "if=/dev/urandom", of, "bs=4k", "seek=16383", "count=1", "conv=notrunc", NULL},
            {"dd", "if=/dev/zero", of, "bs=1M", "seek=40", "count=1", "conv=notrunc", NULL},
        };
        const char *conv[] = {"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow, NULL};
        CHECK(run(trunc) == 0, "truncate");
        for (size_t i = 0; i < sizeof(dd) / sizeof(dd[0]); i++)
            CHECK(run(dd[i]) == 0, "dd %zu", i);
        CHECK(run(conv) == 0, "qemu-img convert");
    }
    ref = slurp(raw, &size);
    CHECK(ref && size == 64 * MiB, "reading the raw image back");
    if (!ref)
        return;

    check_image_source(raw, "raw", ref, size, 0);
    check_image_source(qcow, "qcow2", ref, size, 1);
    /* A relative path works too (given to qemu-nbd as ./NAME). */
    {
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) && chdir(work) == 0) {
            r = vv_nbd_open_image("disk.qcow2", "qcow2", &s);
            CHECK(r == 0 && s && s->size == 64 * MiB, "relative path: %s", vv_errname(r));
            vv_source_close(s);
            s = NULL;
            CHECK(chdir(cwd) == 0, "chdir back");
        }
    }

    /* Refusals. */
    capture_begin();
    r = vv_nbd_open_image(raw, "vmdk", &s);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r == VV_E_UNSUPPORTED && !s, "vmdk: %s", vv_errname(r));
    capture_begin();
    r = vv_nbd_open_image("/nonexistent/disk.qcow2", "qcow2", &s);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r == VV_E_NOTFOUND && !s, "missing image: %s", vv_errname(r));
    capture_begin();
    r = vv_nbd_open_image(raw, "qcow2", &s);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r == VV_E_IO && !s, "raw opened as qcow2: %s", vv_errname(r));
    CHECK(strstr(errbuf, "qcow2") && strstr(errbuf, "qemu-nbd cannot serve"),
          "qemu-nbd's message not reported: %s", errbuf);
    printf("  raw as qcow2 -> %s", errbuf);

    /* An image another QEMU has open for writing (as a running VM does) is locked. */
    {
        const char *argv[] = {"qemu-nbd", "--format=qcow2", "--persistent", "-k", sock, qcow, NULL};
        pid_t locker = start(argv);
        double t0;
        CHECK(wait_for_file(sock, 10000) == 0, "writable qemu-nbd did not start");
        t0 = now_ms();
        capture_begin();
        r = vv_nbd_open_image(qcow, "qcow2", &s);
        capture_end(errbuf, sizeof(errbuf));
        CHECK(r == VV_E_IO && !s, "locked image: %s", vv_errname(r));
        CHECK(strstr(errbuf, "Failed to get shared \"write\" lock") != NULL,
              "lock message not reported: %s", errbuf);
        printf("  locked image (%.1f ms) -> %s", now_ms() - t0, errbuf);
        vv_source_close(s);
        s = NULL;
        stop(locker);
    }
    free(ref);
}

static void check_bitmap(void)
{
    char img[300], sock[300], errbuf[4096];
    struct vv_source *s = NULL, *f = NULL;
    struct vv_extent *e = NULL;
    size_t n = 0;
    pid_t srv;
    int r;
    double t0, t1, t2;

    snprintf(img, sizeof(img), "%s/bm.qcow2", work);
    snprintf(sock, sizeof(sock), "%s/bm.sock", work);
    {
        const char *create[] = {"qemu-img", "create", "-f", "qcow2", img, "64M", NULL};
        const char *add[] = {"qemu-img", "bitmap", "--add", img, "bm0", NULL};
        const char *wr[] = {"qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 64k", img, NULL};
        CHECK(run(create) == 0, "qemu-img create");
        CHECK(run(add) == 0, "qemu-img bitmap --add");
        CHECK(run(wr) == 0, "qemu-io write");
    }
    {
        const char *argv[] = {"qemu-nbd", "--read-only", "--format=qcow2", "--bitmap=bm0",
                              "--shared=8", "--persistent", "-x", "vda", "-k", sock, img, NULL};
        srv = start(argv);
    }
    CHECK(wait_for_file(sock, 10000) == 0, "qemu-nbd did not start");

    t0 = now_ms();
    r = vv_nbd_open_unix(sock, "vda", "bm0", &s);
    t1 = now_ms();
    CHECK(r == 0 && s, "open_unix with bitmap: %s", vv_errname(r));
    if (s) {
        struct ext_list l = {.n = 0};
        uint8_t buf[64 * 1024];
        int ok = 1;

        CHECK(s->size == 64 * MiB, "size %llu", (unsigned long long)s->size);
        r = vv_nbd_dirty_extents(s, &e, &n);
        t2 = now_ms();
        CHECK(r == 0 && n == 1 && e[0].off == MiB && e[0].len == 64 * KiB,
              "dirty extents: %s, n=%zu [%llu+%llu)", vv_errname(r), n,
              n ? (unsigned long long)e[0].off : 0ull, n ? (unsigned long long)e[0].len : 0ull);
        printf("nbd bitmap: open %.1f ms, dirty extents %.1f ms\n", t1 - t0, t2 - t1);
        free(e);
        e = NULL;
        r = s->ops->map(s, 0, s->size, collect, &l);
        CHECK(r == 0 && l.n == 1 && l.e[0].off == MiB && l.e[0].len == 64 * KiB,
              "allocation: %s, %zu extents", vv_errname(r), l.n);
        r = s->ops->read(s, buf, sizeof(buf), MiB);
        for (size_t i = 0; i < sizeof(buf); i++)
            ok &= buf[i] == 0xab;
        CHECK(r == 0 && ok, "read of the written block");
        vv_source_close(s);
        s = NULL;
    }

    /* Without a bitmap there are no dirty extents to ask for. */
    r = vv_nbd_open_unix(sock, "vda", NULL, &s);
    CHECK(r == 0 && s, "open_unix without bitmap: %s", vv_errname(r));
    if (s) {
        capture_begin();
        r = vv_nbd_dirty_extents(s, &e, &n);
        capture_end(errbuf, sizeof(errbuf));
        CHECK(r == VV_E_INVAL && !e && n == 0, "dirty without bitmap: %s", vv_errname(r));
        vv_source_close(s);
        s = NULL;
    }
    /* Not an NBD source at all. */
    if (vv_source_file_open(img, &f) == 0) {
        capture_begin();
        r = vv_nbd_dirty_extents(f, &e, &n);
        capture_end(errbuf, sizeof(errbuf));
        CHECK(r == VV_E_INVAL, "dirty of a file source: %s", vv_errname(r));
        vv_source_close(f);
    }

    /* A bitmap the server does not export: refused, naming what it offers. */
    capture_begin();
    r = vv_nbd_open_unix(sock, "vda", "nosuch", &s);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r == VV_E_NOTFOUND && !s, "missing bitmap: %s", vv_errname(r));
    CHECK(strstr(errbuf, "qemu:dirty-bitmap:nosuch") && strstr(errbuf, "qemu:dirty-bitmap:bm0"),
          "missing-context message: %s", errbuf);
    printf("  missing bitmap -> %s", errbuf);

    capture_begin();
    r = vv_nbd_open_unix(sock, "vdx", NULL, &s);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r < 0 && !s, "unknown export: %s", vv_errname(r));
    printf("  unknown export (%s) -> %s", vv_errname(r), errbuf);

    capture_begin();
    r = vv_nbd_open_unix("/nonexistent/nbd.sock", "vda", NULL, &s);
    capture_end(errbuf, sizeof(errbuf));
    CHECK(r < 0 && !s, "no server: %s", vv_errname(r));
    printf("  no server (%s) -> %s", vv_errname(r), errbuf);

    stop(srv);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char cmd[512];
    int st;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("VERBOSE"))
        vv_log_set_level(VV_LOG_DEBUG);
    snprintf(work, sizeof(work), "%s/vv-adapter-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        perror("mkdtemp");
        return 2;
    }
    /* qemu-nbd sockets of vv_nbd_open_image go under TMPDIR: they must leave nothing. */
    setenv("TMPDIR", work, 1);

    check_xml();
    check_images();
    check_bitmap();
    trust_checks(work, &checks, &failures);

    snprintf(cmd, sizeof(cmd), "ls -d %s/vmvault-nbd-* >/dev/null 2>&1", work);
    CHECK(system(cmd) != 0, "a vmvault-nbd-* folder was left in %s", work);
    CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "a child process was left");
    CHECK(vv_rmtree(work) == 0, "the work folder is removed");

    if (!failures)
        printf("PASS the NBD and XML adapters, trust and state files: %d checks\n", checks);
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
