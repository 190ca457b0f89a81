
/*
 * sandboxd's answers to nginx: built from what the child said (its final
 * frame, checked when it arrived) or, when it said nothing, from how it
 * ended.  Every error carries suggestions a user can act on.
 */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "sbx.h"


static json_t *
sbx_suggestions(const char *code)
{
    if (strcmp(code, "EXECUTION_TIMEOUT") == 0) {
        return json_pack("[s, s, s]", "Try with fewer symbols or a shorter "
                         "period", "Increase timeout_seconds (at most 120)",
                         "Simplify the analysis");
    }

    if (strcmp(code, "MEMORY_LIMIT_EXCEEDED") == 0) {
        return json_pack("[s, s]", "Use less data: fewer symbols or a "
                         "shorter period", "Increase max_memory_mb (at most "
                         "2048)");
    }

    if (strcmp(code, "SCRIPT_VALIDATION_FAILED") == 0) {
        return json_pack("[s]", "Fix the syntax error at the line in "
                         "details");
    }

    if (strcmp(code, "SECURITY_VIOLATION") == 0) {
        return json_pack("[s]", "Use only mcp_client, numpy, pandas and "
                         "plain Python");
    }

    if (strcmp(code, "DATA_UNAVAILABLE") == 0) {
        return json_pack("[s, s]", "Check the symbol: the sample vendor "
                         "knows a fixed universe", "Retry later");
    }

    if (strcmp(code, "MCP_TOOL_ERROR") == 0) {
        return json_pack("[s, s]", "Check the tool's name and arguments",
                         "Retry later");
    }

    if (strcmp(code, "RATE_LIMIT_EXCEEDED") == 0) {
        return json_pack("[s]", "Wait for your running executions to "
                         "finish");
    }

    if (strcmp(code, "SANDBOX_UNAVAILABLE") == 0) {
        return json_pack("[s]", "Retry on a sandbox with the isolation "
                         "required");
    }

    if (strcmp(code, "SANDBOX_BUSY") == 0) {
        return json_pack("[s]", "Retry in a second");
    }

    return json_pack("[s, s]", "Check the error type and line in details",
                     "Re-run with corrected code or other PARAMS");
}


json_t *
sbx_error(const char *id, const char *code, const char *message,
    json_t *details)
{
    return json_pack("{s:b, s:s, s:{s:s, s:s, s:o}, s:o}",
                     "success", 0, "execution_id", id,
                     "error", "code", code, "message", message,
                         "details", details ? details : json_object(),
                     "recovery_suggestions", sbx_suggestions(code));
}


json_t *
sbx_exec_metadata(sbx_exec_t *ex)
{
    json_t  *meta;

    meta = json_pack("{s:O, s:O, s:i, s:b, s:i}",
                     "data_sources", ex->sources,
                     "mcp_calls_made", ex->calls,
                     "mcp_call_count", ex->call_count,
                     "cache_hit", 0,
                     "progress_dropped", ex->progress_dropped);

    /* only when a vendor's answer came from its cache, old or stale */
    if (meta != NULL && (ex->data_age > 0 || ex->data_stale)) {
        json_object_set_new(meta, "data_age_s", json_integer(ex->data_age));
        json_object_set_new(meta, "data_stale",
                            json_boolean(ex->data_stale));
    }

    return meta;
}


json_t *
sbx_exec_reply(sbx_exec_t *ex, int status)
{
    int          sig;
    char         msg[160];
    json_t      *reply, *v, *details;
    const char  *type;

    type = json_string_value(json_object_get(ex->final, "t"));

    if (type && strcmp(type, "done") == 0) {
        reply = json_pack("{s:b, s:s, s:O}", "success", 1,
                          "execution_id", ex->id,
                          "result", json_object_get(ex->final, "result"));

        v = json_object_get(ex->final, "stdout");
        if (reply && json_is_string(v)) {
            json_object_set(reply, "stdout", v);
            json_object_set(reply, "stdout_truncated",
                            json_is_true(json_object_get(ex->final,
                                                         "stdout_truncated"))
                            ? json_true() : json_false());
        }

        return reply;
    }

    if (type && strcmp(type, "error") == 0) {
        details = json_object_get(ex->final, "details");
        details = json_is_object(details) ? json_incref(details) : NULL;

        return sbx_error(ex->id,
                         json_string_value(json_object_get(ex->final, "code")),
                         json_string_value(json_object_get(ex->final,
                                                           "message")),
                         details);
    }

    sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;

    if (ex->timed_out || sig == SIGXCPU) {
        snprintf(msg, sizeof(msg), "Script execution exceeded %lld second "
                 "limit", (long long) ((ex->timeout_ms + 999) / 1000));

        return sbx_error(ex->id, "EXECUTION_TIMEOUT", msg,
                         json_pack("{s:f, s:i, s:s?}",
                                   "timeout_seconds",
                                   (double) ex->timeout_ms / 1000.0,
                                   "steps_completed", ex->steps,
                                   "last_step",
                                   ex->steps ? ex->last_step : NULL));
    }

    if (ex->oom) {
        snprintf(msg, sizeof(msg), "the script ran out of memory: the "
                 "kernel ended it at its limit (%lld MB for this script, "
                 "%lld MB for all scripts at once)",
                 (long long) sbx_cgroup_limit_mb(ex->memory_mb),
                 (long long) sbx_cgroup_total_mb());

        return sbx_error(ex->id, "MEMORY_LIMIT_EXCEEDED", msg,
                         json_pack("{s:I, s:I, s:I}",
                                   "max_memory_mb", (json_int_t) ex->memory_mb,
                                   "limit_mb", (json_int_t)
                                       sbx_cgroup_limit_mb(ex->memory_mb),
                                   "memory_total_mb",
                                   (json_int_t) sbx_cgroup_total_mb()));
    }

    if (sig) {
        snprintf(msg, sizeof(msg), "the script was killed by signal %d (%s)",
                 sig, strsignal(sig));

        return sbx_error(ex->id, sig == SIGSYS ? "SECURITY_VIOLATION"
                                               : "EXECUTION_FAILED",
                         msg, json_pack("{s:i}", "signal", sig));
    }

    snprintf(msg, sizeof(msg), "the script ended (status %d) without an "
             "answer", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    return sbx_error(ex->id, "EXECUTION_FAILED", msg, NULL);
}
