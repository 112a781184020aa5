/*
 * test_scripts.c: the consistency settings (pre/post-scripts, freeze): defaults,
 * a full object and its canonical round trip, every rule refused with the message a
 * user sees, and a policy carrying them.
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
    CHECK_OK(parse("{'preScriptLocation':'/usr/local/sbin/pre','preScriptParams':['-a','b c'],"
                   "'preScriptNoOfRetries':2,'postScriptLocation':'/post','timeoutInSeconds':"
                   "1800,'continueBackupOnFailure':false,'fsFreezeEnabled':false}",
                   &s, err, sizeof(err)));
    CHECK(!strcmp(s.pre.path, "/usr/local/sbin/pre"));
    CHECK_EQ(s.pre.nparams, 2);
    CHECK(!strcmp(s.pre.params[1], "b c"));
    CHECK_EQ(s.pre.retries, 2);
    CHECK(!strcmp(s.post.path, "/post"));
    CHECK_EQ(s.post.nparams, 0);
    CHECK_EQ(s.timeout_s, 1800);
    CHECK_EQ(s.continue_on_failure, 0);
    CHECK_EQ(s.fs_freeze, 0);
    CHECK(vv_scripts_any(&s));
    j = vv_scripts_to_json(&s);
    CHECK(j != NULL);
    text = vv_json_dump(j);
    CHECK(text && !strcmp(text, "{\"preScriptLocation\":\"/usr/local/sbin/pre\","
                                "\"preScriptParams\":[\"-a\",\"b c\"],\"preScriptNoOfRetries\":2,"
                                "\"postScriptLocation\":\"/post\",\"postScriptParams\":[],"
                                "\"postScriptNoOfRetries\":0,\"timeoutInSeconds\":1800,"
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
    CHECK_OK(parse("{'preScriptLocation':null,'timeoutInSeconds':null}", &s, err, sizeof(err)));
    CHECK(!vv_scripts_any(&s));
    CHECK_EQ(s.timeout_s, 60);
}

TEST(every_rule_refused_with_its_message)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[]", "scriptSettings: must be an object"},
        {"{'pluginName':'x'}", "scriptSettings.pluginName: unknown field"},
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
    CHECK_EQ(strlen(s.pre.path), 1024);
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
                  "{'preScriptLocation':'/q','continueBackupOnFailure':false}}");
    json_t *out;
    CHECK_OK(vv_policy_from_json(v, &p, err, sizeof(err)));
    CHECK_EQ(p.has_scripts, 1);
    CHECK(!strcmp(p.scripts.pre.path, "/q"));
    CHECK_EQ(p.scripts.continue_on_failure, 0);
    out = vv_policy_to_json(&p);
    text = vv_json_dump(json_object_get(out, "scriptSettings"));
    CHECK(text && strstr(text, "\"preScriptLocation\":\"/q\""));
    CHECK_OK(vv_policy_from_json(out, &q, err, sizeof(err)));
    CHECK(vv_policy_equal(&p, &q));
    q.scripts.timeout_s = 61;
    CHECK(!vv_policy_equal(&p, &q));
    free(text);
    json_decref(out);
    json_decref(v);
    v = J("{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00']},"
          "'retentionPolicy':{'dailySchedule':{'retentionDuration':{'count':30,"
          "'durationType':'Days'}}},'scriptSettings':{'timeoutInSeconds':9999}}");
    CHECK_EQ(vv_policy_from_json(v, &p, err, sizeof(err)), VV_E_INVAL);
    CHECK(strstr(err, "scriptSettings.timeoutInSeconds") != NULL);
    json_decref(v);
}
