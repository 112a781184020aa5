/*
 * test_guest_scripts.c: the parser of the guest's own script file,
 * /etc/vmvault/VMSnapshotScriptPluginConfig.json (vv_guest_scripts_parse). Its bytes
 * come from inside a guest: an Azure-style file parses, every rule is refused with
 * the message the job's warning carries, sizes are capped, and a refusal leaves the
 * output alone. The seed corpus of fuzz_guest_scripts replays in tests/run.sh too.
 *
 * JSON in this file is written with ' for " to stay readable; G() swaps them back.
 */
#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "policy/scripts.h"

/* Parse text (with ' for ") as the guest's file. */
static int G(const char *text, struct vv_guest_scripts *g, char *err, size_t n)
{
    size_t len = strlen(text);
    char *s = malloc(len + 1);
    int r;
    if (!s)
        return VV_E_NOMEM;
    for (size_t i = 0; i <= len; i++)
        s[i] = text[i] == '\'' ? '"' : text[i];
    r = vv_guest_scripts_parse(s, len, g, err, n);
    free(s);
    return r;
}

TEST(an_azure_style_file_parses)
{
    struct vv_guest_scripts g;
    char err[300];
    CHECK_OK(G("{'pluginName':'ScriptRunner',"
               "'preScriptLocation':'/etc/vmvault/pre.sh','postScriptLocation':"
               "'/etc/vmvault/post.sh','preScriptParams':['--flush','all tables'],"
               "'postScriptParams':[],'preScriptNoOfRetries':2,'postScriptNoOfRetries':0,"
               "'timeoutInSeconds':30,'continueBackupOnFailure':true}",
               &g, err, sizeof(err)));
    CHECK(!strcmp(g.pre.path, "/etc/vmvault/pre.sh"));
    CHECK_EQ(g.pre.nparams, 2);
    CHECK(!strcmp(g.pre.params[1], "all tables"));
    CHECK_EQ(g.pre.retries, 2);
    CHECK(!strcmp(g.post.path, "/etc/vmvault/post.sh"));
    CHECK_EQ(g.post.nparams, 0);
    CHECK_EQ(g.timeout_s, 30);
    CHECK_EQ(g.continue_on_failure, 1);
}

TEST(absent_fields_and_empty_locations)
{
    struct vv_guest_scripts g;
    char err[300];
    CHECK_OK(G("{}", &g, err, sizeof(err)));
    CHECK(!g.pre.path[0] && !g.post.path[0]);
    CHECK_EQ(g.timeout_s, 0);
    CHECK_EQ(g.continue_on_failure, -1);
    /* Azure's sample: empty locations and params list nothing; params of a script
     * not listed are dropped */
    CHECK_OK(G("{'preScriptLocation':'','postScriptLocation':'','preScriptParams':['',''],"
               "'postScriptParams':['',''],'preScriptNoOfRetries':0,'postScriptNoOfRetries':0,"
               "'timeoutInSeconds':null}",
               &g, err, sizeof(err)));
    CHECK(!g.pre.path[0] && !g.post.path[0]);
    CHECK_EQ(g.pre.nparams, 0);
    /* an empty parameter of a listed script is passed on */
    CHECK_OK(G("{'postScriptLocation':'/p','postScriptParams':['', 'x']}", &g, err, sizeof(err)));
    CHECK_EQ(g.post.nparams, 2);
    CHECK(!g.post.params[0][0]);
}

TEST(every_rule_refused_with_its_message)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"", "VMSnapshotScriptPluginConfig.json: is not JSON"},
        {"{'preScriptLocation':'/p',}", "VMSnapshotScriptPluginConfig.json: is not JSON"},
        {"{'a':1,'a':2}", "VMSnapshotScriptPluginConfig.json: is not JSON"},
        {"[]", "VMSnapshotScriptPluginConfig.json: must be one JSON object"},
        {"'x'", "VMSnapshotScriptPluginConfig.json: is not JSON"},
        {"{} {}", "VMSnapshotScriptPluginConfig.json: is not JSON"},
        {"{'fsFreezeEnabled':true}", "VMSnapshotScriptPluginConfig.json: fsFreezeEnabled: "
                                     "unknown field (the fields are pluginName"},
        {"{'frontendTimeoutInSeconds':3600}", "VMSnapshotScriptPluginConfig.json: "
                                              "frontendTimeoutInSeconds: unknown field"},
        {"{'scriptsEnabled':true}", "VMSnapshotScriptPluginConfig.json: scriptsEnabled: "
                                    "unknown field"},
        {"{'pluginName':'Other'}", "VMSnapshotScriptPluginConfig.json: pluginName: must be "
                                   "ScriptRunner"},
        {"{'pluginName':7}", "VMSnapshotScriptPluginConfig.json: pluginName: must be a string"},
        {"{'preScriptLocation':'pre.sh'}", "VMSnapshotScriptPluginConfig.json: "
                                           "preScriptLocation: must be an absolute path"},
        {"{'preScriptLocation':7}", "VMSnapshotScriptPluginConfig.json: preScriptLocation: "
                                    "must be a string"},
        {"{'postScriptLocation':'/a\\u0000b'}", "VMSnapshotScriptPluginConfig.json: is not JSON"},
        {"{'postScriptLocation':'/a\\tb'}", "VMSnapshotScriptPluginConfig.json: "
                                            "postScriptLocation: must not contain control"},
        {"{'preScriptLocation':'/p','preScriptParams':'x'}",
         "VMSnapshotScriptPluginConfig.json: preScriptParams: must be an array of at most 16"},
        {"{'preScriptLocation':'/p','preScriptParams':['1','2','3','4','5','6','7','8','9',"
         "'10','11','12','13','14','15','16','17']}",
         "VMSnapshotScriptPluginConfig.json: preScriptParams: must be an array of at most 16"},
        {"{'preScriptLocation':'/p','preScriptParams':[null]}",
         "VMSnapshotScriptPluginConfig.json: preScriptParams[0]: must be a string"},
        {"{'preScriptParams':[1]}",
         "VMSnapshotScriptPluginConfig.json: preScriptParams[0]: must be a string"},
        {"{'postScriptNoOfRetries':6}",
         "VMSnapshotScriptPluginConfig.json: postScriptNoOfRetries: must be 0 to 5, not 6"},
        {"{'postScriptNoOfRetries':-1}",
         "VMSnapshotScriptPluginConfig.json: postScriptNoOfRetries: must be 0 to 5, not -1"},
        {"{'timeoutInSeconds':0}",
         "VMSnapshotScriptPluginConfig.json: timeoutInSeconds: must be 1 to 1800, not 0"},
        {"{'timeoutInSeconds':99999999999999999999}",
         "VMSnapshotScriptPluginConfig.json: is not JSON"},
        {"{'timeoutInSeconds':'30'}",
         "VMSnapshotScriptPluginConfig.json: timeoutInSeconds: must be an integer"},
        {"{'continueBackupOnFailure':'false'}",
         "VMSnapshotScriptPluginConfig.json: continueBackupOnFailure: must be true or false"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vv_guest_scripts g, before;
        char err[300] = "";
        int r;
        memset(&g, 0x5a, sizeof(g));
        before = g;
        r = G(bad[i].json, &g, err, sizeof(err));
        if (r != VV_E_INVAL || strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            vv_test_fail(__FILE__, __LINE__, "%s: got %d '%s', want '%s'", bad[i].json, r, err,
                         bad[i].msg);
        CHECK(!memcmp(&g, &before, sizeof(g)));
    }
}

TEST(bytes_that_are_not_text)
{
    static const char nul[] = "{\"preScriptLocation\":\"/p\"}\0garbage";
    static const char bad_utf8[] = "{\"preScriptLocation\":\"/p\xff\"}";
    struct vv_guest_scripts g;
    char err[300];
    CHECK_EQ(vv_guest_scripts_parse(nul, sizeof(nul) - 1, &g, err, sizeof(err)), VV_E_INVAL);
    CHECK_EQ(vv_guest_scripts_parse(bad_utf8, sizeof(bad_utf8) - 1, &g, err, sizeof(err)),
             VV_E_INVAL);
    CHECK(strstr(err, "is not JSON") != NULL);
    CHECK_EQ(vv_guest_scripts_parse("", 0, &g, NULL, 0), VV_E_INVAL);
}

TEST(sizes_are_capped)
{
    struct vv_guest_scripts g;
    char err[300], *big, path[1100], json[1300];
    size_t n = VV_GUEST_SCRIPT_CONFIG_MAX + 1, l;

    /* a file over the cap is refused before it is parsed */
    big = malloc(n);
    CHECK(big != NULL);
    if (big) {
        memset(big, ' ', n);
        big[0] = '{';
        big[n - 1] = '}';
        CHECK_EQ(vv_guest_scripts_parse(big, n, &g, err, sizeof(err)), VV_E_INVAL);
        CHECK(strstr(err, "is 65537 bytes long, more than the 65536 read") != NULL);
        big[n - 2] = '}';
        CHECK_OK(vv_guest_scripts_parse(big, n - 1, &g, err, sizeof(err)));
        free(big);
    }
    /* a path of 1024 bytes is the longest */
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[1024] = '\0';
    l = (size_t)snprintf(json, sizeof(json), "{'preScriptLocation':'%s'}", path);
    CHECK_OK(G(json, &g, err, sizeof(err)));
    CHECK_EQ(strlen(g.pre.path), 1024);
    path[1024] = 'a';
    path[1025] = '\0';
    l = (size_t)snprintf(json, sizeof(json), "{'preScriptLocation':'%s'}", path);
    CHECK(l < sizeof(json));
    CHECK_EQ(G(json, &g, err, sizeof(err)), VV_E_INVAL);
    CHECK(strstr(err, "preScriptLocation: must be 0 to 1024 bytes long") != NULL);
}
