/*
 * test_scripts.c: the vault's consistency settings (scripts on or off, freeze, time
 * limit, continue on failure): defaults, a full object and its canonical round trip,
 * every rule refused with the message a user sees, settings stored before the guest's
 * file (they still parse, a request may not give them), a policy carrying them, and
 * what a backup runs when the vault's settings meet the guest's file
 * (vv_scripts_resolve). The guest file's parser is test_guest_scripts.c.
 *
 * JSON in this file is written with ' for " to stay readable; J() swaps them back.
 */
#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "json.h"
#include "policy/policy.h"
#include "policy/scripts.h"

static json_t *J(const char *text)
{
    size_t n = strlen(text);
    char *s = malloc(n + 1), jerr[160];
    json_t *v;
    if (!s)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        s[i] = text[i] == '\'' ? '"' : text[i];
    v = vv_json_parse(s, n, jerr, sizeof(jerr));
    if (!v)
        vv_test_fail(__FILE__, __LINE__, "test JSON does not parse: %s: %s", jerr, s);
    free(s);
    return v;
}

static int parse(const char *text, struct vv_script_settings *s, char *err, size_t n)
{
    json_t *v = J(text);
    int r = v ? vv_scripts_from_json(v, s, err, n) : 1;
    json_decref(v);
    return r;
}

TEST(defaults_from_an_empty_object)
{
    struct vv_script_settings s, d;
    char err[300];
    CHECK_OK(parse("{}", &s, err, sizeof(err)));
    vv_scripts_default(&d);
    CHECK(!memcmp(&s, &d, sizeof(s)));
    CHECK_EQ(s.enabled, 0);
    CHECK_EQ(s.timeout_s, 60);
    CHECK_EQ(s.continue_on_failure, 1);
    CHECK_EQ(s.fs_freeze, 1);
    CHECK(!vv_scripts_any(&s));
}

TEST(full_settings_round_trip)
{
    struct vv_script_settings s, again;
    char err[300], *text;
    json_t *j;
    CHECK_OK(parse("{'scriptsEnabled':true,'timeoutInSeconds':1800,"
                   "'continueBackupOnFailure':false,'fsFreezeEnabled':false}",
                   &s, err, sizeof(err)));
    CHECK_EQ(s.enabled, 1);
    CHECK_EQ(s.timeout_s, 1800);
    CHECK_EQ(s.continue_on_failure, 0);
    CHECK_EQ(s.fs_freeze, 0);
    CHECK(!s.asked_pre.path[0] && !s.asked_post.path[0]);
    CHECK(vv_scripts_any(&s));
    j = vv_scripts_to_json(&s);
    CHECK(j != NULL);
    text = vv_json_dump(j);
    CHECK(text && !strcmp(text, "{\"scriptsEnabled\":true,\"timeoutInSeconds\":1800,"
                                "\"continueBackupOnFailure\":false,\"fsFreezeEnabled\":false}"));
    CHECK_OK(vv_scripts_from_json(j, &again, err, sizeof(err)));
    CHECK(!memcmp(&s, &again, sizeof(s)));
    free(text);
    json_decref(j);
}

TEST(nulls_are_absent)
{
    struct vv_script_settings s;
    char err[300];
    CHECK_OK(parse("{'preScriptLocation':null,'scriptsEnabled':null,'timeoutInSeconds':null}",
                   &s, err, sizeof(err)));
    CHECK(!vv_scripts_any(&s));
    CHECK_EQ(s.timeout_s, 60);
}

/* Settings stored before the guest's file named their scripts: they still parse, turn
 * scripts on, and keep the path only as what they ask for. */
TEST(stored_settings_that_name_scripts_still_parse)
{
    struct vv_script_settings s, again;
    char err[300], *text;
    json_t *j;
    CHECK_OK(parse("{'preScriptLocation':'/usr/local/sbin/pre','preScriptParams':['-a','b c'],"
                   "'preScriptNoOfRetries':2,'postScriptLocation':'/post','timeoutInSeconds':"
                   "1800,'continueBackupOnFailure':false,'fsFreezeEnabled':false}",
                   &s, err, sizeof(err)));
    CHECK_EQ(s.enabled, 1);
    CHECK(!strcmp(s.asked_pre.path, "/usr/local/sbin/pre"));
    CHECK_EQ(s.asked_pre.nparams, 2);
    CHECK(!strcmp(s.asked_pre.params[1], "b c"));
    CHECK_EQ(s.asked_pre.retries, 2);
    CHECK(!strcmp(s.asked_post.path, "/post"));
    CHECK(vv_scripts_any(&s));
    j = vv_scripts_to_json(&s);
    text = j ? vv_json_dump(j) : NULL;
    CHECK(text && !strcmp(text, "{\"scriptsEnabled\":true,"
                                "\"preScriptLocation\":\"/usr/local/sbin/pre\","
                                "\"preScriptParams\":[\"-a\",\"b c\"],\"preScriptNoOfRetries\":2,"
                                "\"postScriptLocation\":\"/post\",\"postScriptParams\":[],"
                                "\"postScriptNoOfRetries\":0,\"timeoutInSeconds\":1800,"
                                "\"continueBackupOnFailure\":false,\"fsFreezeEnabled\":false}"));
    CHECK_OK(vv_scripts_from_json(j, &again, err, sizeof(err)));
    CHECK(!memcmp(&s, &again, sizeof(s)));
    free(text);
    json_decref(j);
    /* a path with scriptsEnabled false still asks for that script */
    CHECK_OK(parse("{'scriptsEnabled':false,'preScriptLocation':'/x'}", &s, err, sizeof(err)));
    CHECK_EQ(s.enabled, 0);
    CHECK(vv_scripts_any(&s));
}

/* A request may not name a script: the message says where scripts are named now. */
TEST(a_request_that_names_a_script_is_refused)
{
    static const char *const named[] = {
        "{'preScriptLocation':'/usr/local/sbin/pre'}", "{'postScriptLocation':'/p'}",
        "{'scriptsEnabled':true,'preScriptParams':['x']}", "{'postScriptNoOfRetries':1}",
        "{'postScriptParams':[]}", "{'preScriptNoOfRetries':0}"};
    struct vv_script_settings s;
    char err[600];
    json_t *v;

    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        v = J(named[i]);
        err[0] = '\0';
        CHECK_EQ(vv_scripts_from_request(v, &s, err, sizeof(err)), VV_E_INVAL);
        CHECK(!strncmp(err, "scriptSettings.p", 16));
        CHECK(strstr(err, "no longer names the scripts") != NULL);
        CHECK(strstr(err, "/etc/vmvault/VMSnapshotScriptPluginConfig.json") != NULL);
        CHECK(strstr(err, "mode 0600") != NULL);
        CHECK(strstr(err, "\"scriptsEnabled\": true") != NULL);
        json_decref(v);
    }
    v = J("{'scriptsEnabled':true,'preScriptLocation':null,'timeoutInSeconds':120}");
    CHECK_OK(vv_scripts_from_request(v, &s, err, sizeof(err)));
    CHECK_EQ(s.enabled, 1);
    CHECK_EQ(s.timeout_s, 120);
    json_decref(v);
    v = J("{'timeoutInSeconds':0}");
    CHECK_EQ(vv_scripts_from_request(v, &s, err, sizeof(err)), VV_E_INVAL);
    CHECK(!strncmp(err, "scriptSettings.timeoutInSeconds: must be 1 to 1800", 50));
    json_decref(v);
}

TEST(every_rule_refused_with_its_message)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[]", "scriptSettings: must be an object"},
        {"{'pluginName':'x'}", "scriptSettings.pluginName: unknown field (the fields are "
                               "scriptsEnabled, timeoutInSeconds"},
        {"{'scriptsEnabled':1}", "scriptSettings.scriptsEnabled: must be true or false"},
        {"{'preScriptLocation':'pre.sh'}", "scriptSettings.preScriptLocation: must be an "
                                           "absolute path"},
        {"{'preScriptLocation':''}", "scriptSettings.preScriptLocation: must be 1 to 1024"},
        {"{'preScriptLocation':7}", "scriptSettings.preScriptLocation: must be a string"},
        {"{'postScriptLocation':'/a\\nb'}", "scriptSettings.postScriptLocation: must not "
                                            "contain control characters"},
        {"{'preScriptParams':['x']}", "scriptSettings.preScriptParams: needs "
                                      "preScriptLocation"},
        {"{'postScriptNoOfRetries':1}", "scriptSettings.postScriptNoOfRetries: needs "
                                        "postScriptLocation"},
        {"{'preScriptLocation':'/p','preScriptParams':'x'}",
         "scriptSettings.preScriptParams: must be an array of at most 16 strings"},
        {"{'preScriptLocation':'/p','preScriptParams':['1','2','3','4','5','6','7','8','9',"
         "'10','11','12','13','14','15','16','17']}",
         "scriptSettings.preScriptParams: must be an array of at most 16 strings"},
        {"{'preScriptLocation':'/p','preScriptParams':[1]}",
         "scriptSettings.preScriptParams[0]: must be a string"},
        {"{'preScriptLocation':'/p','preScriptNoOfRetries':6}",
         "scriptSettings.preScriptNoOfRetries: must be 0 to 5, not 6"},
        {"{'preScriptLocation':'/p','preScriptNoOfRetries':1.5}",
         "scriptSettings.preScriptNoOfRetries: must be an integer"},
        {"{'timeoutInSeconds':0}", "scriptSettings.timeoutInSeconds: must be 1 to 1800, not 0"},
        {"{'timeoutInSeconds':1801}", "scriptSettings.timeoutInSeconds: must be 1 to 1800"},
        {"{'continueBackupOnFailure':'yes'}",
         "scriptSettings.continueBackupOnFailure: must be true or false"},
        {"{'fsFreezeEnabled':1}", "scriptSettings.fsFreezeEnabled: must be true or false"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vv_script_settings s;
        char err[300] = "";
        int r = parse(bad[i].json, &s, err, sizeof(err));
        if (r != VV_E_INVAL || strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            vv_test_fail(__FILE__, __LINE__, "%s: got %d '%s', want '%s'", bad[i].json, r, err,
                         bad[i].msg);
    }
}

TEST(long_values_at_their_limits)
{
    struct vv_script_settings s;
    char path[1100], json[1300], err[300];
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[1024] = '\0';
    snprintf(json, sizeof(json), "{'preScriptLocation':'%s'}", path);
    CHECK_OK(parse(json, &s, err, sizeof(err)));
    CHECK_EQ(strlen(s.asked_pre.path), 1024);
    path[1024] = 'a';
    path[1025] = '\0';
    snprintf(json, sizeof(json), "{'preScriptLocation':'%s'}", path);
    CHECK_EQ(parse(json, &s, err, sizeof(err)), VV_E_INVAL);
}

TEST(a_policy_carries_its_script_settings)
{
    struct vv_policy p, q;
    char err[300], *text;
    json_t *v = J("{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
                  "['02:00']},'retentionPolicy':{'dailySchedule':{'retentionDuration':"
                  "{'count':30,'durationType':'Days'}}},'scriptSettings':"
                  "{'scriptsEnabled':true,'continueBackupOnFailure':false}}");
    json_t *out;
    CHECK_OK(vv_policy_from_json(v, &p, err, sizeof(err)));
    CHECK_EQ(p.has_scripts, 1);
    CHECK_EQ(p.scripts.enabled, 1);
    CHECK_EQ(p.scripts.continue_on_failure, 0);
    out = vv_policy_to_json(&p);
    text = vv_json_dump(json_object_get(out, "scriptSettings"));
    CHECK(text && strstr(text, "\"scriptsEnabled\":true"));
    CHECK_OK(vv_policy_from_json(out, &q, err, sizeof(err)));
    CHECK(vv_policy_equal(&p, &q));
    q.scripts.timeout_s = 61;
    CHECK(!vv_policy_equal(&p, &q));
    free(text);
    json_decref(out);
    json_decref(v);
    /* a policy stored with a script path still loads (the scheduler reads it) */
    v = J("{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00']},"
          "'retentionPolicy':{'dailySchedule':{'retentionDuration':{'count':30,"
          "'durationType':'Days'}}},'scriptSettings':{'preScriptLocation':'/q'}}");
    CHECK_OK(vv_policy_from_json(v, &p, err, sizeof(err)));
    CHECK(!strcmp(p.scripts.asked_pre.path, "/q"));
    json_decref(v);
    v = J("{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00']},"
          "'retentionPolicy':{'dailySchedule':{'retentionDuration':{'count':30,"
          "'durationType':'Days'}}},'scriptSettings':{'timeoutInSeconds':9999}}");
    CHECK_EQ(vv_policy_from_json(v, &p, err, sizeof(err)), VV_E_INVAL);
    CHECK(strstr(err, "scriptSettings.timeoutInSeconds") != NULL);
    json_decref(v);
}

/* ---- what a backup runs ---------------------------------------------------------- */

static void guest(const char *text, struct vv_guest_scripts *g)
{
    char err[300], *s = strdup(text);
    for (char *p = s; p && *p; p++)
        if (*p == '\'')
            *p = '"';
    if (!s || vv_guest_scripts_parse(s, strlen(s), g, err, sizeof(err)) != 0)
        vv_test_fail(__FILE__, __LINE__, "guest file does not parse: %s: %s", err, text);
    free(s);
}

TEST(the_guest_file_decides_what_runs)
{
    struct vv_script_settings v;
    struct vv_guest_scripts g;
    struct vv_script_plan pl;
    char why[900], err[300];

    CHECK_OK(parse("{'scriptsEnabled':true,'timeoutInSeconds':30}", &v, err, sizeof(err)));
    guest("{'preScriptLocation':'/usr/local/sbin/pre','preScriptParams':['--flush','all'],"
          "'preScriptNoOfRetries':1,'postScriptLocation':'/usr/local/sbin/post',"
          "'timeoutInSeconds':10}", &g);
    CHECK_OK(vv_scripts_resolve(&v, &g, &pl, why, sizeof(why)));
    CHECK(!strcmp(pl.pre.path, "/usr/local/sbin/pre"));
    CHECK_EQ(pl.pre.nparams, 2);
    CHECK(!strcmp(pl.pre.params[1], "all"));
    CHECK_EQ(pl.pre.retries, 1);
    CHECK(!strcmp(pl.post.path, "/usr/local/sbin/post"));
    CHECK_EQ(pl.timeout_s, 10);             /* the guest's, under the vault's limit */
    CHECK_EQ(pl.continue_on_failure, 1);
    /* the vault's limit caps the guest's */
    guest("{'preScriptLocation':'/pre','timeoutInSeconds':600}", &g);
    CHECK_OK(vv_scripts_resolve(&v, &g, &pl, why, sizeof(why)));
    CHECK_EQ(pl.timeout_s, 30);
    CHECK(!pl.post.path[0]);
    /* either side may make a failed script fail the backup */
    guest("{'preScriptLocation':'/pre','continueBackupOnFailure':false}", &g);
    CHECK_OK(vv_scripts_resolve(&v, &g, &pl, why, sizeof(why)));
    CHECK_EQ(pl.continue_on_failure, 0);
    CHECK_OK(parse("{'scriptsEnabled':true,'continueBackupOnFailure':false}", &v, err,
                   sizeof(err)));
    guest("{'preScriptLocation':'/pre','continueBackupOnFailure':true}", &g);
    CHECK_OK(vv_scripts_resolve(&v, &g, &pl, why, sizeof(why)));
    CHECK_EQ(pl.continue_on_failure, 0);
}

TEST(a_file_that_lists_no_script_runs_nothing)
{
    struct vv_script_settings v;
    struct vv_guest_scripts g;
    struct vv_script_plan pl;
    char why[900], err[300];

    CHECK_OK(parse("{'scriptsEnabled':true}", &v, err, sizeof(err)));
    guest("{'pluginName':'ScriptRunner','preScriptLocation':'','postScriptLocation':'',"
          "'preScriptParams':['',''],'timeoutInSeconds':30}", &g);
    CHECK_EQ(vv_scripts_resolve(&v, &g, &pl, why, sizeof(why)), VV_E_INVAL);
    CHECK(strstr(why, "/etc/vmvault/VMSnapshotScriptPluginConfig.json in the guest lists no "
                      "script") != NULL);
    CHECK(!pl.pre.path[0] && !pl.post.path[0]);
}

/* Settings (stored, or from a vault) that ask for a command the guest's file does not
 * list with exactly those parameters: nothing runs, and why names the file and what
 * it lacks. */
TEST(a_command_the_guest_did_not_list_is_refused)
{
    static const struct {
        const char *vault, *file, *why;
    } cases[] = {
        {"{'preScriptLocation':'/bin/rm','preScriptParams':['-rf','/']}",
         "{'preScriptLocation':'/usr/local/sbin/pre'}",
         "the vault's settings ask for the pre-script /bin/rm, but "
         "/etc/vmvault/VMSnapshotScriptPluginConfig.json in the guest lists "
         "/usr/local/sbin/pre as its preScriptLocation"},
        {"{'postScriptLocation':'/tmp/evil.sh'}", "{'preScriptLocation':'/usr/local/sbin/pre'}",
         "the vault's settings ask for the post-script /tmp/evil.sh [], but "
         "/etc/vmvault/VMSnapshotScriptPluginConfig.json in the guest has no "
         "postScriptLocation"},
        {"{'preScriptLocation':'/pre','preScriptParams':['--drop-all']}",
         "{'preScriptLocation':'/pre','preScriptParams':['--flush']}",
         "the vault's settings ask for the pre-script /pre with the parameters "
         "[\"--drop-all\"], but /etc/vmvault/VMSnapshotScriptPluginConfig.json in the guest "
         "lists it with [\"--flush\"] as its preScriptParams"},
        {"{'preScriptLocation':'/pre'}",
         "{'preScriptLocation':'/pre','preScriptParams':['--flush']}",
         "the vault's settings ask for the pre-script /pre with the parameters [], but"},
    };
    struct vv_script_settings v;
    struct vv_guest_scripts g;
    struct vv_script_plan pl;
    char why[900], err[300];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_OK(parse(cases[i].vault, &v, err, sizeof(err)));
        guest(cases[i].file, &g);
        memset(&pl, 0x55, sizeof(pl));
        if (vv_scripts_resolve(&v, &g, &pl, why, sizeof(why)) != VV_E_INVAL ||
            strncmp(why, cases[i].why, strlen(cases[i].why)) != 0)
            vv_test_fail(__FILE__, __LINE__, "case %zu: got '%s', want '%s'", i, why,
                         cases[i].why);
        CHECK(!pl.pre.path[0] && !pl.post.path[0]);
    }
    /* what the guest lists, exactly, runs (retries are the guest's) */
    CHECK_OK(parse("{'preScriptLocation':'/pre','preScriptParams':['--flush'],"
                   "'preScriptNoOfRetries':5}", &v, err, sizeof(err)));
    guest("{'preScriptLocation':'/pre','preScriptParams':['--flush'],'postScriptLocation':"
          "'/post'}", &g);
    CHECK_OK(vv_scripts_resolve(&v, &g, &pl, why, sizeof(why)));
    CHECK(!strcmp(pl.pre.path, "/pre"));
    CHECK_EQ(pl.pre.retries, 0);
    CHECK(!strcmp(pl.post.path, "/post"));
}
