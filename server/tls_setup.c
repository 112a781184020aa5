/*
 * tls_setup.c: the certificate and key of HTTPS (see tls_setup.h): reading and
 * checking a given pair, and the self-signed pair of --tls auto.
 *
 * Invariant of --tls auto: the key is written before the certificate, so a
 * certificate on disk always has its key next to it; a key alone is what a start cut
 * short left, and is replaced.
 */
#include "tls_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "options.h"
#include "util.h"

#define PEM_MAX (1 << 20)       /* a certificate chain or key file, at most */
#define TLS_AUTO_DAYS 3653      /* 10 years, leap days included */
#define TLS_EXPIRY_WARN_DAYS 30 /* warn at start when a given certificate ends sooner */

void vv_tls_pair_release(struct vv_tls_pair *p)
{
    free(p->cert);
    if (p->key) {
        for (volatile char *q = p->key; *q; q++)
            *q = 0;
        free(p->key);
    }
    p->cert = p->key = NULL;
}

/* A PEM file as a NUL-terminated string (caller frees), or NULL with the reason in
 * err. */
static char *read_pem(const char *path, char *err, size_t errlen)
{
    struct vv_buf b;
    size_t n;
    int r;

    vv_buf_init(&b, PEM_MAX + 1);
    r = vv_read_file(path, &b);
    if (r == 0 && vv_buf_append(&b, "", 1) != 0)
        r = VV_E_TOOBIG;
    if (r != 0) {
        snprintf(err, errlen, "%s",
                 r == VV_E_NOTFOUND ? "no such file"
                 : r == VV_E_TOOBIG ? "larger than 1 MiB, not a PEM certificate or key"
                                    : strerror(errno));
        if (b.data)
            memset(b.data, 0, b.len);
        vv_buf_release(&b);
        return NULL;
    }
    return (char *)vv_buf_detach(&b, &n);
}

/* Write text to path through path.tmp, durably, with the given mode. */
static int write_file_atomic(const char *path, const char *text, mode_t mode)
{
    char tmp[VV_PATH_MAX];
    int fd, r = 0;

    if (vv_path_join(tmp, sizeof(tmp), "%s.tmp", path) != 0)
        return vv_fail(VV_E_TOOBIG, "cannot write %s: the path is too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 || fchmod(fd, mode) != 0 || vv_write_all(fd, text, strlen(text)) != 0 ||
        fsync(fd) != 0)
        r = VV_E_IO;
    if (fd >= 0 && close(fd) != 0)
        r = VV_E_IO;
    if (r == 0 && rename(tmp, path) != 0)
        r = VV_E_IO;
    if (r != 0) {
        vv_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    return r;
}

/* --tls-cert and --tls-key: read and check the pair. Returns 0, or 2 (the exit
 * status of a usage error) after saying why. */
int vv_tls_load_given(const char *cert_path, const char *key_path, struct vv_tls_pair *p)
{
    char err[300], when[32];
    struct stat st;
    time_t not_after = 0, now = time(NULL);

    if (!(p->cert = read_pem(cert_path, err, sizeof(err)))) {
        fprintf(stderr, "vmvaultd: --tls-cert %s: %s\n", cert_path, err);
        return 2;
    }
    if (!(p->key = read_pem(key_path, err, sizeof(err)))) {
        fprintf(stderr, "vmvaultd: --tls-key %s: %s\n", key_path, err);
        return 2;
    }
    if (vv_tls_check_pair(p->cert, p->key, &not_after, err, sizeof(err)) != 0) {
        fprintf(stderr, "vmvaultd: --tls-cert %s / --tls-key %s: %s\n", cert_path, key_path,
                err);
        return 2;
    }
    if (stat(key_path, &st) == 0 && (st.st_mode & S_IROTH))
        vv_warn("TLS key %s is readable by every user (mode %03o); run: chmod o-r %s",
                key_path, (unsigned)(st.st_mode & 0777), key_path);
    vv_time_format(not_after, when, sizeof(when));
    if (not_after <= now)
        vv_warn("the certificate in %s expired at %s: clients that verify it will refuse "
                "to connect", cert_path, when);
    else if (not_after - now < TLS_EXPIRY_WARN_DAYS * 86400)
        vv_warn("the certificate in %s expires in %lld day(s): renew it and restart",
                cert_path, (long long)((not_after - now) / 86400));
    return 0;
}

/* Where --tls auto keeps its pair: DIR/tls, and the certificate and key in it. */
struct auto_paths {
    char dir[VV_PATH_MAX], cert[VV_PATH_MAX], key[VV_PATH_MAX];
};

/* The pair an earlier start made (the certificate exists): read and checked. 0 or
 * <0 after logging. */
static int auto_load(const struct auto_paths *ap, time_t now, struct vv_tls_pair *p)
{
    char err[300], when[32];
    struct stat st;
    time_t not_after = 0;

    if (stat(ap->key, &st) != 0) {
        vv_error("%s is there but %s is not (%s): put the key back, or remove %s too to "
                 "make a new pair (hosts then need new vault credentials)",
                 ap->cert, ap->key, strerror(errno), ap->cert);
        return VV_E_KEY;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        vv_error("TLS key %s is accessible by group or others (mode %03o); run: chmod 600 "
                 "%s", ap->key, (unsigned)(st.st_mode & 0777), ap->key);
        return VV_E_KEY;
    }
    if (!(p->cert = read_pem(ap->cert, err, sizeof(err)))) {
        vv_error("cannot read %s: %s", ap->cert, err);
        return VV_E_IO;
    }
    if (!(p->key = read_pem(ap->key, err, sizeof(err)))) {
        vv_error("cannot read %s: %s", ap->key, err);
        return VV_E_IO;
    }
    if (vv_tls_check_pair(p->cert, p->key, &not_after, err, sizeof(err)) != 0) {
        vv_error("%s and %s: %s; remove both to make a new pair (hosts then need new "
                 "vault credentials)", ap->cert, ap->key, err);
        return VV_E_KEY;
    }
    vv_time_format(not_after, when, sizeof(when));
    vv_info("TLS: the self-signed certificate in %s (valid until %s)", ap->cert, when);
    if (not_after <= now)
        vv_warn("the certificate in %s has expired: clients that pin its key still "
                "connect; remove %s and %s for a new pair", ap->cert, ap->cert, ap->key);
    return 0;
}

/* A new self-signed pair, written key first, then the certificate. 0 or <0 after
 * logging. */
static int auto_make(const struct vv_server *s, const char *listen, const struct auto_paths *ap,
                     time_t now, struct vv_tls_pair *p)
{
    char names[3][256];
    const char *name = "vmvault";
    int r, n = 0, dfd;

    /* The certificate's name: the host of --public-url, else the listen host unless
     * it is a wildcard, else "vmvault"; the first a certificate can carry. */
    if (s->public_url[0])
        vv_addr_host(s->public_url, names[n++], sizeof(names[0]));
    vv_addr_host(listen, names[n], sizeof(names[0]));
    if (strcmp(names[n], "0.0.0.0") && strcmp(names[n], "::"))
        n++;
    snprintf(names[n++], sizeof(names[0]), "vmvault");
    r = VV_E_INVAL;
    for (int i = 0; i < n && r == VV_E_INVAL; i++) {
        name = names[i];
        r = vv_tls_selfsigned(name, now, TLS_AUTO_DAYS, &p->cert, &p->key);
    }
    if (r != 0) {
        vv_error("cannot make a self-signed certificate: %s", vv_strerror(r));
        return r;
    }
    if ((r = write_file_atomic(ap->key, p->key, 0600)) != 0 ||
        (r = write_file_atomic(ap->cert, p->cert, 0644)) != 0)
        return r;
    if ((dfd = open(ap->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(dfd);
        close(dfd);
    }
    vv_info("TLS: made a self-signed certificate for '%s' in %s (valid for 10 years)", name,
            ap->cert);
    return 0;
}

int vv_tls_auto(const struct vv_server *s, const char *listen, struct vv_tls_pair *p)
{
    struct auto_paths ap;
    struct stat st;
    time_t now = time(NULL);

    if (vv_path_join(ap.dir, sizeof(ap.dir), "%s/tls", s->data_dir) != 0 ||
        vv_path_join(ap.cert, sizeof(ap.cert), "%s/cert.pem", ap.dir) != 0 ||
        vv_path_join(ap.key, sizeof(ap.key), "%s/key.pem", ap.dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/tls is too long", s->data_dir);
    if (vv_mkdir_p(ap.dir, 0700) != 0)
        return VV_E_IO;
    if (chmod(ap.dir, 0700) != 0) {
        vv_error("cannot set the mode of %s: %s", ap.dir, strerror(errno));
        return VV_E_IO;
    }
    if (stat(ap.cert, &st) == 0)
        return auto_load(&ap, now, p);
    if (errno != ENOENT) {
        vv_error("cannot read %s: %s", ap.cert, strerror(errno));
        return VV_E_IO;
    }
    return auto_make(s, listen, &ap, now, p);
}

int vv_tls_identity(struct vv_server *s, const struct vv_tls_pair *p)
{
    if (vv_tls_cert_pin(p->cert, s->tls_pin) != 0 ||
        vv_tls_cert_fingerprint(p->cert, s->tls_fingerprint) != 0) {
        vv_error("cannot compute the certificate's pin and fingerprint");
        return -1;
    }
    vv_info("TLS: certificate SHA-256 fingerprint %s, public-key pin %s", s->tls_fingerprint,
            s->tls_pin);
    if (!strncmp(s->public_url, "http://", 7))
        vv_warn("--public-url %s is http:// but the server serves only HTTPS: hosts "
                "given vault credentials with that URL cannot connect", s->public_url);
    return 0;
}
