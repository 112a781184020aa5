/*
 * xml.c: reading and rewriting libvirt domain XML with libxml2 (see xml.h).
 *
 * Documents are parsed with XML_PARSE_NONET and without XML_PARSE_NOENT or
 * XML_PARSE_DTDLOAD, so nothing is fetched and no entity is substituted; libvirt
 * never writes a DOCTYPE, so one is refused outright, which also keeps internal
 * entity declarations out. libxml2's own error printing is switched off
 * (XML_PARSE_NOERROR/NOWARNING); its last error is logged here once instead.
 * Element lookups match only elements without a namespace, so foreign elements
 * under <metadata> are never mistaken for devices. Removing an element also
 * removes the whitespace before it, so a rewritten document keeps libvirt's layout.
 */
#include "xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <libxml/xpath.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "util.h"

#define XML_MAX_LEN (16u << 20) /* a domain XML is a few KiB; refuse absurd input */
#define X(s) ((const xmlChar *)(s))

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/* Parse a domain XML. Returns 0 and *out (caller frees with xmlFreeDoc) or a vv_err. */
static int parse_domain(const char *xml, xmlDocPtr *out)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    xmlNodePtr root;
    size_t len;

    *out = NULL;
    pthread_once(&xml_once, xml_init);
    if (!xml) {
        vv_error("no domain XML given");
        return VV_E_INVAL;
    }
    len = strlen(xml);
    if (len > XML_MAX_LEN) {
        vv_error("domain XML of %zu bytes is larger than %u bytes", len, XML_MAX_LEN);
        return VV_E_TOOBIG;
    }
    if (!(ctxt = xmlNewParserCtxt()))
        return VV_E_NOMEM;
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[256] = "not well-formed";
        size_t k;
        int nomem = e && e->code == XML_ERR_NO_MEMORY;

        if (e && e->message) {
            snprintf(msg, sizeof(msg), "%s", e->message);
            k = strlen(msg);
            while (k && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
                msg[--k] = '\0';
        }
        if (!nomem)
            vv_error("malformed domain XML (line %d): %s", e ? e->line : 0, msg);
        xmlFreeParserCtxt(ctxt); /* e lives in ctxt */
        return nomem ? VV_E_NOMEM : VV_E_CORRUPT;
    }
    xmlFreeParserCtxt(ctxt);
    if (doc->intSubset || doc->extSubset) {
        vv_error("malformed domain XML: a DOCTYPE is not allowed");
        xmlFreeDoc(doc);
        return VV_E_CORRUPT;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || root->ns || !xmlStrEqual(root->name, X("domain"))) {
        vv_error("malformed domain XML: the root element is <%s>, not <domain>",
                 root ? (const char *)root->name : "");
        xmlFreeDoc(doc);
        return VV_E_CORRUPT;
    }
    *out = doc;
    return 0;
}

/* The nodes expr selects (an XPath location path), or NULL when out of memory.
 * Caller frees with xmlXPathFreeObject; nodesetval may be NULL when empty. */
static xmlXPathObjectPtr select_nodes(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr c = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o;

    if (!c)
        return NULL;
    o = xmlXPathEvalExpression(X(expr), c);
    xmlXPathFreeContext(c);
    if (o && o->type != XPATH_NODESET) {
        xmlXPathFreeObject(o);
        return NULL;
    }
    return o;
}

static int nodeset_len(xmlXPathObjectPtr o)
{
    return o && o->nodesetval ? o->nodesetval->nodeNr : 0;
}

/* The first child element of n called name (no namespace), or NULL. */
static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !c->ns && xmlStrEqual(c->name, X(name)))
            return c;
    return NULL;
}

/* A malloc'd copy of attribute name of n (NULL when n is NULL or has none), or
 * dflt when absent. Returns 0 or VV_E_NOMEM. */
static int prop(xmlNodePtr n, const char *name, const char *dflt, char **out)
{
    xmlChar *v = n ? xmlGetNoNsProp(n, X(name)) : NULL;

    *out = NULL;
    if (v) {
        *out = strdup((const char *)v);
        xmlFree(v);
    } else if (dflt) {
        *out = strdup(dflt);
    } else {
        return 0;
    }
    return *out ? 0 : VV_E_NOMEM;
}

/* Unlink and free n with the whitespace just before it. */
static void drop(xmlNodePtr n)
{
    xmlNodePtr prev = n->prev;

    if (prev && prev->type == XML_TEXT_NODE && xmlIsBlankNode(prev)) {
        xmlUnlinkNode(prev);
        xmlFreeNode(prev);
    }
    xmlUnlinkNode(n);
    xmlFreeNode(n);
}

/* Drop every child element of n called name. */
static void drop_children(xmlNodePtr n, const char *name)
{
    xmlNodePtr c;

    while ((c = child(n, name)))
        drop(c);
}

/* Replace n's content with the text v (escaped on output). */
static int set_text(xmlNodePtr n, const char *v)
{
    xmlNodePtr t;

    while (n->children) {
        t = n->children;
        xmlUnlinkNode(t);
        xmlFreeNode(t);
    }
    if (!(t = xmlNewText(X(v))))
        return VV_E_NOMEM;
    if (!xmlAddChild(n, t)) {
        xmlFreeNode(t);
        return VV_E_NOMEM;
    }
    return 0;
}

/* Insert the element e just before next (or at the end of parent when next is
 * NULL), indented like next. Returns 0 or VV_E_NOMEM (e is freed then). */
static int insert_before(xmlNodePtr parent, xmlNodePtr next, xmlNodePtr e)
{
    xmlNodePtr ws = NULL;

    if (next && next->prev && next->prev->type == XML_TEXT_NODE && xmlIsBlankNode(next->prev)) {
        if (!(ws = xmlCopyNode(next->prev, 1))) {
            xmlFreeNode(e);
            return VV_E_NOMEM;
        }
    }
    if (next) {
        xmlAddPrevSibling(next, e);
        if (ws)
            xmlAddPrevSibling(e, ws);
    } else {
        xmlAddChild(parent, e);
    }
    return 0;
}

/* ---- listing --------------------------------------------------------------------- */

void vv_xml_disks_free(struct vv_xml_disk *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].target);
        free(d[i].source);
        free(d[i].format);
        free(d[i].type);
        free(d[i].device);
    }
    free(d);
}

int vv_xml_domain_disks(const char *xml, struct vv_xml_disk **out, size_t *n)
{
    xmlDocPtr doc;
    xmlXPathObjectPtr o;
    struct vv_xml_disk *d = NULL;
    size_t k = 0;
    int r, count;

    *out = NULL;
    *n = 0;
    if ((r = parse_domain(xml, &doc)) < 0)
        return r;
    if (!(o = select_nodes(doc, "/domain/devices/disk"))) {
        xmlFreeDoc(doc);
        return VV_E_NOMEM;
    }
    count = nodeset_len(o);
    if (count && !(d = calloc((size_t)count, sizeof(*d)))) {
        r = VV_E_NOMEM;
        goto out;
    }
    for (int i = 0; i < count; i++) {
        xmlNodePtr disk = o->nodesetval->nodeTab[i];
        struct vv_xml_disk *e = &d[k];
        const char *src_attr;

        if ((r = prop(disk, "device", "disk", &e->device)) < 0)
            goto out;
        if (strcmp(e->device, "disk") != 0) {
            free(e->device);
            e->device = NULL;
            continue;
        }
        k++; /* e is in the array now, freed with it */
        if ((r = prop(disk, "type", "file", &e->type)) < 0 ||
            (r = prop(child(disk, "target"), "dev", NULL, &e->target)) < 0 ||
            (r = prop(child(disk, "driver"), "type", NULL, &e->format)) < 0)
            goto out;
        if (!e->target || !*e->target) {
            vv_error("malformed domain XML (line %ld): a disk without <target dev>",
                     xmlGetLineNo(disk));
            r = VV_E_CORRUPT;
            goto out;
        }
        src_attr = !strcmp(e->type, "file") ? "file" : !strcmp(e->type, "block") ? "dev" : NULL;
        if (src_attr && (r = prop(child(disk, "source"), src_attr, NULL, &e->source)) < 0)
            goto out;
    }
    r = 0;
out:
    xmlXPathFreeObject(o);
    xmlFreeDoc(doc);
    if (r < 0) {
        vv_xml_disks_free(d, k);
        return r;
    }
    if (!k) {
        free(d);
        d = NULL;
    }
    *out = d;
    *n = k;
    return 0;
}

/* ---- what a restored domain keeps ---------------------------------------------- */

void vv_xml_dropped_free(struct vv_xml_dropped *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->what[i]);
    free(d->what);
    d->what = NULL;
    d->n = 0;
}

static int in_set(const xmlChar *s, const char *const *set)
{
    for (; s && *set; set++)
        if (xmlStrEqual(s, X(*set)))
            return 1;
    return 0;
}

/* 1 when n's attribute name is one of set (absent counts as dflt). */
static int attr_in(xmlNodePtr n, const char *name, const char *dflt, const char *const *set)
{
    xmlChar *v = xmlGetNoNsProp(n, X(name));
    int r = in_set(v ? v : X(dflt), set);

    xmlFree(v);
    return r;
}

/* n's name with its namespace prefix ("qemu:commandline"), into buf. */
static const char *qname(xmlNodePtr n, char *buf, size_t len)
{
    if (n->ns && n->ns->prefix)
        snprintf(buf, len, "%s:%s", (const char *)n->ns->prefix, (const char *)n->name);
    else
        snprintf(buf, len, "%s%s", n->ns ? "{foreign}" : "", (const char *)n->name);
    return buf;
}

/* 1 when dropping n changes nothing a user would miss: the host's own emulator
 * (libvirt puts the default back), a dynamic security label (libvirt makes a new
 * one). */
static int routine(xmlNodePtr n)
{
    static const char *const yes[] = {"yes", NULL}, *const dyn[] = {"dynamic", NULL};

    if (xmlStrEqual(n->name, X("emulator"))) {
        xmlChar *t = xmlNodeGetContent(n);
        int std = t && (!xmlStrncmp(t, X("/usr/bin/qemu-system-"), 21) ||
                        xmlStrEqual(t, X("/usr/libexec/qemu-kvm"))) && !xmlStrstr(t, X("/../"));
        xmlFree(t);
        return std;
    }
    return xmlStrEqual(n->name, X("seclabel")) && attr_in(n, "type", "dynamic", dyn) &&
           attr_in(n, "relabel", "yes", yes);
}

/* Drop n (under "where", "" at the top), logged and, unless routine, listed in d. */
static int drop_listed(xmlNodePtr n, const char *where, struct vv_xml_dropped *d)
{
    char name[160], what[256];
    char **grown;
    int quiet = !n->ns && routine(n);

    snprintf(what, sizeof(what), "%s%s%s", where, *where ? "/" : "", qname(n, name, sizeof(name)));
    if (quiet)
        vv_debug("restore XML: <%s> (line %ld) is left out: libvirt makes its own", what,
                 xmlGetLineNo(n));
    else
        vv_warn("restore XML: <%s> (line %ld) is left out of the restored domain", what,
                xmlGetLineNo(n));
    drop(n);
    if (!d || quiet)
        return 0;
    if (!(grown = realloc(d->what, (d->n + 1) * sizeof(*grown))))
        return VV_E_NOMEM;
    d->what = grown;
    if (!(d->what[d->n] = strdup(what)))
        return VV_E_NOMEM;
    d->n++;
    return 0;
}

/* 1 when the text of n is one of set. */
static int text_in(xmlNodePtr n, const char *const *set)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    int r = in_set(t, set);

    xmlFree(t);
    return r;
}

/* 1 when the <channel> c is the guest agent's or spice's. */
static int channel_allowed(xmlNodePtr c)
{
    static const char *const unix_only[] = {"unix", NULL}, *const spice[] = {"spicevmc", NULL};
    static const char *const ga[] = {"org.qemu.guest_agent.0", NULL};
    xmlNodePtr t = child(c, "target");

    if (attr_in(c, "type", "", spice))
        return 1;
    return attr_in(c, "type", "", unix_only) && t && attr_in(t, "name", "", ga);
}

/* 1 when the device element e of <devices> is one a restored VM keeps. */
static int device_allowed(xmlNodePtr e)
{
    static const char *const plain[] = {"disk", "controller", "video", "sound", "memballoon",
                                        "watchdog", "panic", NULL};
    static const char *const nets[] = {"network", "bridge", "direct", "user", NULL};
    static const char *const inputs[] = {"mouse", "keyboard", "tablet", NULL};
    static const char *const gfx[] = {"vnc", "spice", NULL}, *const pty[] = {"pty", NULL};
    static const char *const audio[] = {"none", "spice", NULL};
    static const char *const rngs[] = {"/dev/urandom", "/dev/random", "/dev/hwrng", NULL};
    static const char *const random[] = {"random", NULL};
    const xmlChar *n = e->name;

    if (e->ns)
        return 0;
    if (in_set(n, plain))
        return 1;
    if (xmlStrEqual(n, X("interface")))
        return attr_in(e, "type", "", nets);
    if (xmlStrEqual(n, X("input")))
        return attr_in(e, "type", "", inputs);
    if (xmlStrEqual(n, X("graphics")))
        return attr_in(e, "type", "", gfx);
    if (xmlStrEqual(n, X("audio")))
        return attr_in(e, "type", "", audio);
    if (xmlStrEqual(n, X("console")) || xmlStrEqual(n, X("serial")))
        return attr_in(e, "type", "pty", pty);
    if (xmlStrEqual(n, X("channel")))
        return channel_allowed(e);
    if (xmlStrEqual(n, X("rng"))) {
        xmlNodePtr b = child(e, "backend");
        return b && attr_in(b, "model", "", random) && text_in(b, rngs);
    }
    return 0;
}

/* Inside a kept element: no relabelling overrides, option ROM files, scripts, tap
 * or vhost device paths, log files (a console's output written to a host file),
 * guest-agent socket paths (libvirt makes its own), and for graphics no socket. Recursive; dropped under where. */
static int scrub(xmlNodePtr e, const char *where, struct vv_xml_dropped *d)
{
    static const char *const bad[] = {"seclabel", "rom", "script", "downscript", "backend",
                                      "log", NULL};
    int is_channel = xmlStrEqual(e->name, X("channel")), is_gfx = xmlStrEqual(e->name, X("graphics"));
    int is_rng = xmlStrEqual(e->name, X("rng"));
    char sub[256];
    int r;

    snprintf(sub, sizeof(sub), "%s/%s", where, (const char *)e->name);
    if (is_gfx)
        xmlUnsetProp(e, X("socket"));
    for (xmlNodePtr c = e->children, next; c; c = next) {
        next = c->next;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (c->ns || (!is_rng && in_set(c->name, bad)) ||
            (is_channel && xmlStrEqual(c->name, X("source"))) ||
            (is_gfx && xmlStrEqual(c->name, X("listen")) && xmlHasProp(c, X("socket")))) {
            if ((r = drop_listed(c, sub, d)) < 0)
                return r;
        } else if ((r = scrub(c, sub, d)) < 0) {
            return r;
        }
    }
    return 0;
}

/* <devices>: the whitelist above, then scrub what is kept. */
static int keep_devices(xmlNodePtr devs, struct vv_xml_dropped *d)
{
    int r;

    for (xmlNodePtr c = devs->children, next; c; c = next) {
        next = c->next;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!device_allowed(c))
            r = drop_listed(c, "devices", d);
        else
            r = scrub(c, "devices", d);
        if (r < 0)
            return r;
    }
    return 0;
}

/* <os>: the guest boots from its restored disks with the host's firmware. */
static int keep_os(xmlNodePtr os, struct vv_xml_dropped *d)
{
    static const char *const bad[] = {"kernel", "initrd", "dtb", "cmdline", "nvram", "acpi",
                                      NULL};
    int r = 0;

    for (xmlNodePtr c = os->children, next; c && r == 0; c = next) {
        next = c->next;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (c->ns || in_set(c->name, bad))
            r = drop_listed(c, "os", d);
        else if (xmlStrEqual(c->name, X("loader"))) {
            xmlChar *t = xmlNodeGetContent(c);
            int ok = t && !xmlStrncmp(t, X("/usr/share/"), 11) && !xmlStrstr(t, X("/../"));
            xmlFree(t);
            if (!ok)
                r = drop_listed(c, "os", d);
        }
    }
    return r;
}

/* The top level of a restored domain: libvirt's elements that name no host path. */
static int keep_needed(xmlNodePtr root, struct vv_xml_dropped *d)
{
    static const char *const fwcfg[] = {"fwcfg", NULL};
    static const char *const top[] = {
        "name", "uuid", "genid", "title", "description", "metadata", "memory",
        "currentMemory", "maxMemory", "memoryBacking", "vcpu", "vcpus", "iothreads",
        "iothreadids", "cputune", "numatune", "resource", "sysinfo", "os", "features",
        "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm",
        "perf", "devices", "keywrap", "launchSecurity", NULL};
    int r = 0;

    for (xmlNodePtr c = root->children, next; c && r == 0; c = next) {
        next = c->next;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (c->ns || !in_set(c->name, top))
            r = drop_listed(c, "", d);
        else if (xmlStrEqual(c->name, X("devices")))
            r = keep_devices(c, d);
        else if (xmlStrEqual(c->name, X("os")))
            r = keep_os(c, d);
        else if (xmlStrEqual(c->name, X("sysinfo")) && attr_in(c, "type", "", fwcfg))
            r = drop_listed(c, "", d); /* fw_cfg entries may be read from host files */
    }
    return r;
}

/* ---- rewriting for a restore ------------------------------------------------------ */

/* Point disk at the file path in format fmt. */
static int retarget_disk(xmlNodePtr disk, const char *path, const char *fmt)
{
    xmlNodePtr src, old, drv, tgt;

    if (!xmlSetProp(disk, X("type"), X("file")))
        return VV_E_NOMEM;
    drop_children(disk, "backingStore");
    drop_children(disk, "mirror");
    drop_children(disk, "auth");
    drop_children(disk, "encryption");
    if (!(src = xmlNewDocNode(disk->doc, NULL, X("source"), NULL)) ||
        !xmlNewProp(src, X("file"), X(path))) {
        xmlFreeNode(src);
        return VV_E_NOMEM;
    }
    if ((old = child(disk, "source"))) {
        xmlReplaceNode(old, src);
        xmlFreeNode(old);
        for (xmlNodePtr c = src->next, next; c; c = next) { /* a second one is invalid */
            next = c->next;
            if (c->type == XML_ELEMENT_NODE && !c->ns && xmlStrEqual(c->name, X("source")))
                drop(c);
        }
    } else {
        tgt = child(disk, "target");
        if (insert_before(disk, tgt, src) < 0)
            return VV_E_NOMEM;
    }
    if (!(drv = child(disk, "driver"))) {
        if (!(drv = xmlNewDocNode(disk->doc, NULL, X("driver"), NULL)) ||
            !xmlNewProp(drv, X("name"), X("qemu"))) {
            xmlFreeNode(drv);
            return VV_E_NOMEM;
        }
        if (insert_before(disk, src, drv) < 0)
            return VV_E_NOMEM;
    }
    return xmlSetProp(drv, X("type"), X(fmt)) ? 0 : VV_E_NOMEM;
}

/* Set <name> and <uuid>, drop the id attribute. */
static int set_identity(xmlNodePtr root, const char *new_name, const char *new_uuid)
{
    xmlNodePtr name = child(root, "name"), uuid = child(root, "uuid");
    int r;

    xmlUnsetProp(root, X("id"));
    if (!name) {
        xmlNodePtr first = root->children;
        while (first && first->type != XML_ELEMENT_NODE)
            first = first->next;
        if (!(name = xmlNewDocNode(root->doc, NULL, X("name"), NULL)) ||
            insert_before(root, first, name) < 0)
            return VV_E_NOMEM;
    }
    if ((r = set_text(name, new_name)) < 0)
        return r;
    if (!new_uuid) {
        drop_children(root, "uuid");
        return 0;
    }
    if (!uuid) {
        xmlNodePtr next = name->next;
        while (next && next->type != XML_ELEMENT_NODE)
            next = next->next;
        if (!(uuid = xmlNewDocNode(root->doc, NULL, X("uuid"), NULL)) ||
            insert_before(root, next, uuid) < 0)
            return VV_E_NOMEM;
    }
    return set_text(uuid, new_uuid);
}

static int check_restore_args(const char *new_name, const char *const *targets,
                              const char *const *new_paths, const char *const *new_formats,
                              size_t n)
{
    if (!new_name || !*new_name || (n && (!targets || !new_paths || !new_formats))) {
        vv_error("restore XML: a name and, for each disk, a target, a path and a format "
                 "are needed");
        return VV_E_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!targets[i] || !*targets[i] || !new_paths[i] || !*new_paths[i] ||
            !new_formats[i] || !*new_formats[i]) {
            vv_error("restore XML: disk %zu lacks a target, a path or a format", i);
            return VV_E_INVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(targets[i], targets[j])) {
                vv_error("restore XML: disk %s is listed twice", targets[i]);
                return VV_E_INVAL;
            }
    }
    return 0;
}

static int dump_doc(xmlDocPtr doc, char **out)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlSaveCtxtPtr sc;
    int r = 0;

    if (!buf)
        return VV_E_NOMEM;
    if (!(sc = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL))) {
        xmlBufferFree(buf);
        return VV_E_NOMEM;
    }
    if (xmlSaveDoc(sc, doc) < 0)
        r = VV_E_NOMEM;
    if (xmlSaveClose(sc) < 0)
        r = VV_E_NOMEM;
    if (!r && !(*out = strndup((const char *)xmlBufferContent(buf),
                               (size_t)xmlBufferLength(buf))))
        r = VV_E_NOMEM;
    xmlBufferFree(buf);
    return r;
}

int vv_xml_domain_for_restore(const char *xml, const char *new_name, const char *new_uuid,
                              const char *const *targets, const char *const *new_paths,
                              const char *const *new_formats, size_t n,
                              struct vv_xml_dropped *dropped, char **out)
{
    xmlDocPtr doc = NULL;
    xmlXPathObjectPtr macs = NULL, disks = NULL;
    unsigned char *found = NULL;
    int r;

    *out = NULL;
    if (dropped) {
        dropped->what = NULL;
        dropped->n = 0;
    }
    if ((r = check_restore_args(new_name, targets, new_paths, new_formats, n)) < 0)
        return r;
    if ((r = parse_domain(xml, &doc)) < 0)
        return r;
    if ((n && !(found = calloc(n, 1))) ||
        (r = set_identity(xmlDocGetRootElement(doc), new_name, new_uuid)) < 0) {
        r = VV_E_NOMEM;
        goto out;
    }

    if (!(macs = select_nodes(doc, "/domain/devices/interface/mac"))) {
        r = VV_E_NOMEM;
        goto out;
    }
    for (int i = 0; i < nodeset_len(macs); i++)
        drop(macs->nodesetval->nodeTab[i]);

    if (!(disks = select_nodes(doc, "/domain/devices/disk"))) {
        r = VV_E_NOMEM;
        goto out;
    }
    for (int i = 0; i < nodeset_len(disks); i++) {
        xmlNodePtr disk = disks->nodesetval->nodeTab[i];
        xmlChar *dev = xmlGetNoNsProp(child(disk, "target") ? child(disk, "target") : disk,
                                      X("dev"));
        size_t k = n;

        if (dev && child(disk, "target"))
            for (k = 0; k < n && !xmlStrEqual(dev, X(targets[k])); k++)
                ;
        if (k == n) {
            xmlFree(dev);
            drop(disk);
            continue;
        }
        if (found[k]) {
            vv_error("malformed domain XML: two disks have the target %s", targets[k]);
            xmlFree(dev);
            r = VV_E_CORRUPT;
            goto out;
        }
        found[k] = 1;
        xmlFree(dev);
        if ((r = retarget_disk(disk, new_paths[k], new_formats[k])) < 0)
            goto out;
    }
    for (size_t k = 0; k < n; k++)
        if (!found[k]) {
            vv_error("restore XML: the domain has no disk with target %s", targets[k]);
            r = VV_E_NOTFOUND;
            goto out;
        }
    if ((r = keep_needed(xmlDocGetRootElement(doc), dropped)) < 0)
        goto out;
    r = dump_doc(doc, out);
out:
    xmlXPathFreeObject(macs);
    xmlXPathFreeObject(disks);
    xmlFreeDoc(doc);
    free(found);
    return r;
}

/* ---- the DAC label of a running domain ------------------------------------------- */

/* "+64055" or "64055" into *out: 0 or VV_E_CORRUPT. */
static int parse_id(const char *s, long *out)
{
    uint64_t v;

    if (*s == '+')
        s++;
    if (vv_parse_u64(s, &v) != 0 || v > 0x7fffffff)
        return VV_E_CORRUPT;
    *out = (long)v;
    return 0;
}

int vv_xml_dac_label(const char *xml, long *uid, long *gid)
{
    static const char *const dac[] = {"dac", NULL};
    xmlDocPtr doc;
    int r = VV_E_NOTFOUND;

    *uid = *gid = -1;
    if ((r = parse_domain(xml, &doc)) < 0)
        return r;
    r = VV_E_NOTFOUND;
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c; c = c->next) {
        xmlNodePtr label;
        xmlChar *t;
        char *colon;

        if (c->type != XML_ELEMENT_NODE || c->ns || !xmlStrEqual(c->name, X("seclabel")) ||
            !attr_in(c, "model", "", dac) || !(label = child(c, "label")))
            continue;
        if (!(t = xmlNodeGetContent(label))) {
            r = VV_E_NOMEM;
            break;
        }
        colon = strchr((char *)t, ':');
        if (colon)
            *colon = '\0';
        r = colon && parse_id((char *)t, uid) == 0 && parse_id(colon + 1, gid) == 0
                ? 0
                : VV_E_CORRUPT;
        if (r)
            vv_error("the domain's DAC label is not +UID:+GID");
        xmlFree(t);
        break;
    }
    xmlFreeDoc(doc);
    return r;
}

/* ---- backups and checkpoints ----------------------------------------------------- */

/* A new element name under parent (or the document's root when parent is NULL),
 * with attribute pairs attrs[0..] = name, value, ..., NULL. NULL when out of memory. */
static xmlNodePtr add_el(xmlDocPtr doc, xmlNodePtr parent, const char *name,
                         const char *const *attrs)
{
    xmlNodePtr e = parent ? xmlNewChild(parent, NULL, X(name), NULL)
                          : xmlNewDocNode(doc, NULL, X(name), NULL);

    if (!e)
        return NULL;
    if (!parent)
        xmlDocSetRootElement(doc, e);
    for (; attrs && attrs[0]; attrs += 2)
        if (!xmlNewProp(e, X(attrs[0]), X(attrs[1])))
            return NULL;
    return e;
}

static int backup_args_ok(const struct vv_xml_backup_disk *d, size_t n)
{
    if (n && !d)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!d[i].target || !*d[i].target)
            return 0;
    return 1;
}

/* The <disk> of d in the backup document under disks. */
static int backup_disk(xmlNodePtr disks, const struct vv_xml_backup_disk *d,
                       const char *incremental, const char *scratch_dir)
{
    char scratch[VV_PATH_MAX];
    xmlNodePtr e;
    int inc = incremental && d->incremental;

    if (!d->backup)
        return add_el(disks->doc, disks, "disk",
                      (const char *const[]){"name", d->target, "backup", "no", NULL})
                   ? 0
                   : VV_E_NOMEM;
    if (vv_path_join(scratch, sizeof(scratch), "%s/%s.scratch", scratch_dir, d->target) != 0)
        return VV_E_TOOBIG;
    e = add_el(disks->doc, disks, "disk",
               (const char *const[]){"name", d->target, "backup", "yes", "type", "file",
                                     "backupmode", inc ? "incremental" : "full",
                                     inc ? "incremental" : NULL, incremental, NULL});
    if (!e || !add_el(disks->doc, e, "scratch", (const char *const[]){"file", scratch, NULL}))
        return VV_E_NOMEM;
    return 0;
}

int vv_xml_backup(const char *incremental, const char *socket, const char *scratch_dir,
                  const struct vv_xml_backup_disk *d, size_t n, char **out)
{
    xmlDocPtr doc;
    xmlNodePtr root, disks;
    int r = 0;

    *out = NULL;
    if (!socket || !*socket || !scratch_dir || !*scratch_dir || (incremental && !*incremental) ||
        !backup_args_ok(d, n))
        return VV_E_INVAL;
    pthread_once(&xml_once, xml_init);
    if (!(doc = xmlNewDoc(X("1.0"))))
        return VV_E_NOMEM;
    if (!(root = add_el(doc, NULL, "domainbackup", (const char *const[]){"mode", "pull", NULL})) ||
        (incremental && !xmlNewTextChild(root, NULL, X("incremental"), X(incremental))) ||
        !add_el(doc, root, "server",
                (const char *const[]){"transport", "unix", "socket", socket, NULL}) ||
        !(disks = add_el(doc, root, "disks", NULL)))
        r = VV_E_NOMEM;
    for (size_t i = 0; i < n && r == 0; i++)
        r = backup_disk(disks, &d[i], incremental, scratch_dir);
    if (r == 0)
        r = dump_doc(doc, out);
    xmlFreeDoc(doc);
    return r;
}

int vv_xml_checkpoint(const char *name, const struct vv_xml_backup_disk *d, size_t n, char **out)
{
    xmlDocPtr doc;
    xmlNodePtr root, disks;
    int r = 0;

    *out = NULL;
    if (!name || !*name || !backup_args_ok(d, n))
        return VV_E_INVAL;
    pthread_once(&xml_once, xml_init);
    if (!(doc = xmlNewDoc(X("1.0"))))
        return VV_E_NOMEM;
    if (!(root = add_el(doc, NULL, "domaincheckpoint", NULL)) ||
        !xmlNewTextChild(root, NULL, X("name"), X(name)) ||
        !(disks = add_el(doc, root, "disks", NULL)))
        r = VV_E_NOMEM;
    for (size_t i = 0; i < n && r == 0; i++)
        if (!add_el(doc, disks, "disk",
                    (const char *const[]){"name", d[i].target, "checkpoint",
                                          d[i].checkpoint ? "bitmap" : "no", NULL}))
            r = VV_E_NOMEM;
    if (r == 0)
        r = dump_doc(doc, out);
    xmlFreeDoc(doc);
    return r;
}
