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
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

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
                              const char *const *new_formats, size_t n, char **out)
{
    xmlDocPtr doc = NULL;
    xmlXPathObjectPtr macs = NULL, disks = NULL;
    unsigned char *found = NULL;
    int r;

    *out = NULL;
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
    r = dump_doc(doc, out);
out:
    xmlXPathFreeObject(macs);
    xmlXPathFreeObject(disks);
    xmlFreeDoc(doc);
    free(found);
    return r;
}
