/*
 * test_crypto_tls.c: the TLS certificate helpers of crypto.h: the self-signed pair
 * of `vmvaultd --tls auto` parses back and its key matches; the public-key pin and
 * the fingerprint agree with what the openssl command line computes for a fixed
 * certificate, and the pin stays with the key; bad PEM, foreign or encrypted keys
 * and unusable names are refused.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "err.h"
#include "harness.h"

/* A fixed P-256 certificate for CN=kat.example (valid until 2126) and its key, made
 * with `openssl req -x509 -newkey ec ...`. The expected pin and fingerprint are what
 *     openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
 *         openssl dgst -sha256 -binary | base64
 *     openssl x509 -noout -fingerprint -sha256
 * print for it. */
static const char kat_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIUCcXhZGvRJYa0a0ATJkuvDXV9viIwCgYIKoZIzj0EAwIw\n"
    "FjEUMBIGA1UEAwwLa2F0LmV4YW1wbGUwIBcNMjYxMjAyMTQ1MzQxWhgPMjEyNjEx\n"
    "MDgxNDUzNDFaMBYxFDASBgNVBAMMC2thdC5leGFtcGxlMFkwEwYHKoZIzj0CAQYI\n"
    "KoZIzj0DAQcDQgAEonfyfpKEL+ZpbdIFlTV7/ba2wUwm0UztvZyBucQYt8XCg8F2\n"
    "zhcYA4Jemt0Ur4SC1ZU0tv4tTB43Kp0+c5zD7KNrMGkwHQYDVR0OBBYEFP/cs6p2\n"
    "8HjO4eDykW1HKtolDzIYMB8GA1UdIwQYMBaAFP/cs6p28HjO4eDykW1HKtolDzIY\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wFgYDVR0RBA8wDYILa2F0LmV4YW1wbGUwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIhAMHp5Wt0t1IIUOrJ02VeNuPDAaiUeVbRT0oayDyuAKiJAiAW\n"
    "uVMm29b4r2rW24acPW3rlhTY5KL5AwdkPnA+qPMGNg==\n"
    "-----END CERTIFICATE-----\n";
static const char kat_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjNYIpuGC7Ru47YMk\n"
    "wCHiYvA/l/CIu5u/Ti5SmweffeShRANCAASid/J+koQv5mlt0gWVNXv9trbBTCbR\n"
    "TO29nIG5xBi3xcKDwXbOFxgDgl6a3RSvhILVlTS2/i1MHjcqnT5znMPs\n"
    "-----END PRIVATE KEY-----\n";
/* The same key in the traditional EC form (openssl ec). */
static const char kat_key_ec[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIIzWCKbhgu0buO2DJMAh4mLwP5fwiLubv04uUpsHn33koAoGCCqGSM49\n"
    "AwEHoUQDQgAEonfyfpKEL+ZpbdIFlTV7/ba2wUwm0UztvZyBucQYt8XCg8F2zhcY\n"
    "A4Jemt0Ur4SC1ZU0tv4tTB43Kp0+c5zD7A==\n"
    "-----END EC PRIVATE KEY-----\n";
/* The same key encrypted with the passphrase "secret" (openssl pkey -aes256). */
static const char kat_key_encrypted[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAijd5hNwn6o0QICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEMU4lnDOTvm8+5h1ct+NgGUEgZBO\n"
    "DYh5RgKtGWqbUpj68yKnznLV2TMkzxerwM4pZHY1sThcw4OqPSbganyokbLjqpqk\n"
    "BsQ2VNBPM91CT1llc7f3gA1kn0dygo0VqrWHy3TRbMcuaG65sbeFEEQx4HNPJhUR\n"
    "b424YSJ0WMXdm4LWSzaHPzOGus4OR8frWNOMiA0wACB2vSgMv2eDqDSBUygyD9E=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";
static const char kat_pin[] = "sha256//DPkOlQn/ECdzTdjdcNG4YXjIw1mefssg9WAlc7qUmjc=";
static const char kat_fingerprint[] = "EA:3E:08:FF:19:6D:F7:80:43:C5:AC:1A:3F:2F:0B:E9:"
                                      "C4:2A:81:BF:0A:56:8C:71:48:6E:C3:BE:23:4B:A6:46";
static const time_t kat_not_after = 4949823221; /* 2126-11-08T14:53:41Z */

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

TEST(pin_and_fingerprint_match_openssl)
{
    char pin[VV_TLS_PIN_LEN], fp[VV_TLS_FINGERPRINT_LEN];
    CHECK_OK(vv_tls_cert_pin(kat_cert, pin));
    CHECK(strcmp(pin, kat_pin) == 0);
    CHECK_EQ(strlen(pin), VV_TLS_PIN_LEN - 1);
    CHECK_OK(vv_tls_cert_fingerprint(kat_cert, fp));
    CHECK(strcmp(fp, kat_fingerprint) == 0);
    CHECK_EQ(strlen(fp), VV_TLS_FINGERPRINT_LEN - 1);
}

TEST(pin_is_of_the_first_certificate_of_a_chain)
{
    char pin[VV_TLS_PIN_LEN], fp[VV_TLS_FINGERPRINT_LEN], *other_cert = NULL, *other_key = NULL,
         *chain;
    CHECK_OK(vv_tls_selfsigned("issuer.example", time(NULL), 30, &other_cert, &other_key));
    if (!other_cert)
        return;
    chain = concat(kat_cert, other_cert);
    CHECK(chain != NULL);
    CHECK_OK(vv_tls_cert_pin(chain, pin));
    CHECK(strcmp(pin, kat_pin) == 0);
    CHECK_OK(vv_tls_cert_fingerprint(chain, fp));
    CHECK(strcmp(fp, kat_fingerprint) == 0);
    CHECK_OK(vv_tls_check_pair(chain, kat_key, NULL, NULL, 0));
    free(chain);
    free(other_cert);
    free(other_key);
}

TEST(check_pair_accepts_the_key_in_both_forms)
{
    time_t not_after = 0;
    char err[200] = "";
    CHECK_OK(vv_tls_check_pair(kat_cert, kat_key, &not_after, err, sizeof(err)));
    CHECK_EQ(not_after, kat_not_after);
    CHECK_OK(vv_tls_check_pair(kat_cert, kat_key_ec, NULL, err, sizeof(err)));
    CHECK_EQ(strlen(err), 0);
}

TEST(selfsigned_parses_back_and_matches_its_key)
{
    char *cert = NULL, *key = NULL, pin1[VV_TLS_PIN_LEN], pin2[VV_TLS_PIN_LEN],
         fp[VV_TLS_FINGERPRINT_LEN], err[200] = "";
    time_t now = time(NULL), not_after = 0;

    CHECK_OK(vv_tls_selfsigned("vault.example.org", now, 3650, &cert, &key));
    CHECK(starts_with(cert, "-----BEGIN CERTIFICATE-----\n"));
    CHECK(starts_with(key, "-----BEGIN PRIVATE KEY-----\n"));
    if (!cert || !key)
        return;
    CHECK(strstr(cert, "-----END CERTIFICATE-----\n") != NULL);
    CHECK_OK(vv_tls_check_pair(cert, key, &not_after, err, sizeof(err)));
    CHECK_EQ(not_after, now + 3650LL * 86400);
    CHECK_OK(vv_tls_cert_pin(cert, pin1));
    CHECK(starts_with(pin1, "sha256//"));
    CHECK_EQ(strlen(pin1), 52);
    CHECK_EQ(pin1[51], '=');
    CHECK_OK(vv_tls_cert_fingerprint(cert, fp));
    CHECK_EQ(strlen(fp), 95);
    for (size_t i = 0; i < 95; i++)
        CHECK(i % 3 == 2 ? fp[i] == ':'
                         : ((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'A' && fp[i] <= 'F')));
    /* the same text gives the same pin every time */
    CHECK_OK(vv_tls_cert_pin(cert, pin2));
    CHECK(strcmp(pin1, pin2) == 0);
    free(cert);
    free(key);
}

TEST(selfsigned_takes_an_address_as_name)
{
    char *cert = NULL, *key = NULL;
    CHECK_OK(vv_tls_selfsigned("192.0.2.10", time(NULL), 1, &cert, &key));
    CHECK_OK(vv_tls_check_pair(cert, key, NULL, NULL, 0));
    free(cert);
    free(key);
    cert = key = NULL;
    CHECK_OK(vv_tls_selfsigned("2001:db8::1", time(NULL), 1, &cert, &key));
    CHECK_OK(vv_tls_check_pair(cert, key, NULL, NULL, 0));
    free(cert);
    free(key);
    cert = key = NULL;
    CHECK_OK(vv_tls_selfsigned("localhost", time(NULL), 1, &cert, &key));
    free(cert);
    free(key);
}

TEST(every_pair_is_new)
{
    char *c1 = NULL, *k1 = NULL, *c2 = NULL, *k2 = NULL, p1[VV_TLS_PIN_LEN], p2[VV_TLS_PIN_LEN],
         err[200] = "";
    time_t now = time(NULL);
    CHECK_OK(vv_tls_selfsigned("vmvault", now, 10, &c1, &k1));
    CHECK_OK(vv_tls_selfsigned("vmvault", now, 10, &c2, &k2));
    if (!c1 || !c2)
        goto out;
    CHECK(strcmp(k1, k2) != 0);
    CHECK_OK(vv_tls_cert_pin(c1, p1));
    CHECK_OK(vv_tls_cert_pin(c2, p2));
    CHECK(strcmp(p1, p2) != 0);
    /* a key from another pair is refused, saying so */
    CHECK_EQ(vv_tls_check_pair(c1, k2, NULL, err, sizeof(err)), VV_E_INVAL);
    CHECK(strstr(err, "does not belong") != NULL);
out:
    free(c1);
    free(k1);
    free(c2);
    free(k2);
}

TEST(bad_pem_is_refused)
{
    static const char *const bad[] = {
        "",
        "hello\n",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        /* a key where a certificate belongs */
        kat_key,
        NULL,
    };
    char pin[VV_TLS_PIN_LEN], fp[VV_TLS_FINGERPRINT_LEN], err[200];
    char *truncated;

    for (size_t i = 0; bad[i]; i++) {
        err[0] = 0;
        CHECK_EQ(vv_tls_cert_pin(bad[i], pin), VV_E_INVAL);
        CHECK_EQ(vv_tls_cert_fingerprint(bad[i], fp), VV_E_INVAL);
        CHECK_EQ(vv_tls_check_pair(bad[i], kat_key, NULL, err, sizeof(err)), VV_E_INVAL);
        CHECK(strstr(err, "no PEM certificate") != NULL);
    }
    /* a certificate cut short */
    truncated = strdup(kat_cert);
    CHECK(truncated != NULL);
    if (truncated) {
        truncated[strlen(truncated) / 2] = 0;
        CHECK_EQ(vv_tls_cert_pin(truncated, pin), VV_E_INVAL);
        free(truncated);
    }
    CHECK_EQ(vv_tls_cert_pin(NULL, pin), VV_E_INVAL);
    /* keys: missing, not a key, a certificate, encrypted */
    CHECK_EQ(vv_tls_check_pair(kat_cert, NULL, NULL, err, sizeof(err)), VV_E_INVAL);
    CHECK_EQ(vv_tls_check_pair(kat_cert, "", NULL, err, sizeof(err)), VV_E_INVAL);
    CHECK(strstr(err, "no PEM private key") != NULL);
    CHECK_EQ(vv_tls_check_pair(kat_cert, kat_cert, NULL, err, sizeof(err)), VV_E_INVAL);
    CHECK(strstr(err, "no PEM private key") != NULL);
    CHECK_EQ(vv_tls_check_pair(kat_cert, kat_key_encrypted, NULL, err, sizeof(err)),
             VV_E_INVAL);
    CHECK(strstr(err, "passphrase") != NULL);
    /* err may be left out */
    CHECK_EQ(vv_tls_check_pair("", "", NULL, NULL, 0), VV_E_INVAL);
}

TEST(unusable_names_and_days_are_refused)
{
    static const char *const bad[] = {"", "a b", "x,DNS:evil", "-lead", ".dot", "a..b",
                                      "host/path", "a\nb", NULL};
    char *cert = NULL, *key = NULL, longname[300];
    for (size_t i = 0; bad[i]; i++)
        CHECK_EQ(vv_tls_selfsigned(bad[i], time(NULL), 10, &cert, &key), VV_E_INVAL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    CHECK_EQ(vv_tls_selfsigned(longname, time(NULL), 10, &cert, &key), VV_E_INVAL);
    CHECK_EQ(vv_tls_selfsigned(NULL, time(NULL), 10, &cert, &key), VV_E_INVAL);
    CHECK_EQ(vv_tls_selfsigned("ok.example", time(NULL), 0, &cert, &key), VV_E_INVAL);
    /* nothing was handed out */
    CHECK(cert == NULL && key == NULL);
}
