/*
 * test_http_proxy.c: which proxy a request takes (vv_http_proxy_for): the client's
 * own setting first, else https_proxy / HTTPS_PROXY for https, http_proxy for http,
 * then all_proxy, except hosts in no_proxy (names, domain suffixes, "*", addresses,
 * host:port entries); and the pin's syntax.
 */
#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "http_client.h"

static void clear_env(void)
{
    static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY",
                                       "all_proxy",   "ALL_PROXY",   "no_proxy",   "NO_PROXY",
                                       NULL};
    for (const char *const *v = vars; *v; v++)
        unsetenv(*v);
}

static int is(struct vv_http *h, const char *url, const char *want)
{
    char got[256];
    vv_http_proxy_for(h, url, got, sizeof(got));
    if (strcmp(got, want) != 0) {
        vv_test_fail(__FILE__, __LINE__, "%s: proxy '%s', want '%s'", url, got, want);
        return 0;
    }
    return 1;
}

TEST(environment_by_scheme)
{
    struct vv_http *h = vv_http_new(NULL);
    clear_env();
    is(h, "https://vault.example:8443/api", "");
    setenv("https_proxy", "http://p1:3128", 1);
    setenv("http_proxy", "http://p2:3128", 1);
    is(h, "https://vault.example:8443/api", "http://p1:3128");
    is(h, "http://vault.example/api", "http://p2:3128");
    unsetenv("https_proxy");
    setenv("HTTPS_PROXY", "p3:8080", 1);
    is(h, "https://vault.example/api", "p3:8080");
    unsetenv("HTTPS_PROXY");
    unsetenv("http_proxy");
    setenv("HTTP_PROXY", "http://ignored:1", 1); /* upper case is not read for http */
    setenv("all_proxy", "http://p4:1080", 1);
    is(h, "http://vault.example/api", "http://p4:1080");
    is(h, "https://vault.example/api", "http://p4:1080");
    clear_env();
    vv_http_free(h);
}

TEST(no_proxy_entries)
{
    struct vv_http *h = vv_http_new(NULL);
    clear_env();
    setenv("https_proxy", "http://p:3128", 1);
    setenv("no_proxy", "localhost, .internal.example,10.0.0.7 ,vault2.example:8443,[::1]", 1);
    is(h, "https://localhost:8443/", "");
    is(h, "https://vault.internal.example/", "");
    is(h, "https://internal.example/", "");
    is(h, "https://xinternal.example/", "http://p:3128");
    is(h, "https://10.0.0.7:8443/", "");
    is(h, "https://10.0.0.70:8443/", "http://p:3128");
    is(h, "https://VAULT2.example:8443/x", "");
    is(h, "https://[::1]:8443/", "");
    is(h, "https://user@vault.example/", "http://p:3128");
    setenv("no_proxy", "*", 1);
    is(h, "https://anything.example/", "");
    unsetenv("no_proxy");
    setenv("NO_PROXY", "anything.example", 1);
    is(h, "https://anything.example/", "");
    clear_env();
    vv_http_free(h);
}

TEST(own_setting_wins)
{
    struct vv_http *h = vv_http_new(NULL);
    clear_env();
    setenv("https_proxy", "http://env:3128", 1);
    setenv("no_proxy", "vault.example", 1);
    CHECK_OK(vv_http_set_proxy(h, "http://conf:3128", "u", "p"));
    is(h, "https://vault.example/", "http://conf:3128");
    CHECK_OK(vv_http_set_proxy(h, NULL, NULL, NULL));
    is(h, "https://vault.example/", "");
    is(h, "https://other.example/", "http://env:3128");
    CHECK_EQ(vv_http_set_proxy(h, "socks5://x:1", NULL, NULL), VV_E_INVAL);
    CHECK_EQ(vv_http_set_proxy(h, "http://a b:1", NULL, NULL), VV_E_INVAL);
    clear_env();
    vv_http_free(h);
}

TEST(pin_syntax)
{
    struct vv_http *h = vv_http_new(NULL);
    CHECK_OK(vv_http_set_pin(h, "sha256//xR9r2EnzspYMqUAahOQVF14/gQCw3xEZb1AcmANxYX8="));
    CHECK_OK(vv_http_set_pin(h, NULL));
    CHECK_OK(vv_http_set_pin(h, ""));
    CHECK_EQ(vv_http_set_pin(h, "sha1//xR9r2EnzspYMqUAahOQVF14/gQCw3xEZb1AcmANxYX8="), VV_E_INVAL);
    CHECK_EQ(vv_http_set_pin(h, "sha256//short"), VV_E_INVAL);
    CHECK_EQ(vv_http_set_pin(h, "sha256//xR9r2EnzspYMqUAahOQVF14/gQCw3xEZb1AcmANxYX8= x"),
             VV_E_INVAL);
    vv_http_free(h);
}
