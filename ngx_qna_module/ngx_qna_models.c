
/*
 * GET /models: the planner chain in order, each provider with its model
 * and what this worker saw of it last (available, failing, or not asked
 * yet).  GET /debug/system-prompt (behind qna_debug): the system prompt
 * and the answer's schema, as the providers get them.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_llm.h"


static const char  *ngx_qna_llm_type_names[] = {
    "", "openai", "anthropic", "ollama"
};


ngx_int_t
ngx_qna_models_handler(ngx_http_request_t *r)
{
    json_t                   *list, *one;
    ngx_int_t                 rc;
    ngx_uint_t                i, n;
    const char               *state;
    ngx_qna_main_conf_t      *qmcf;
    ngx_qna_llm_provider_t  **link, *p;

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);

    list = json_array();
    if (list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = qmcf->planners ? qmcf->planners->nelts : 0;
    link = qmcf->planners ? qmcf->planners->elts : NULL;

    for (i = 0; i < n || (n == 0 && i == 0); i++) {
        p = n ? link[i] : NULL;

        if (p == NULL) {
            one = json_pack("{s:I, s:s, s:s, s:n, s:s, s:b}",
                            "position", (json_int_t) i + 1,
                            "planner", "builtin", "type", "builtin",
                            "model", "status", "available",
                            "available", 1);

        } else {
            state = p->last_ok == 0 && p->last_failure == 0 ? "unknown"
                    : p->last_ok >= p->last_failure ? "available"
                    : "failing";

            /* no URL: it may carry credentials */
            one = json_pack("{s:I, s:s%, s:s, s:s%, s:s, s:o, s:s?}",
                            "position", (json_int_t) i + 1,
                            "planner", p->name.data, p->name.len,
                            "type", ngx_qna_llm_type_names[p->type],
                            "model", p->model.data, p->model.len,
                            "status", state,
                            "available", ngx_strcmp(state, "failing") == 0
                                         ? json_false()
                                         : ngx_strcmp(state, "unknown") == 0
                                           ? json_null() : json_true(),
                            "last_error", ngx_strcmp(state, "failing") == 0
                                          ? p->last_error : NULL);
        }

        if (one == NULL || json_array_append_new(list, one) != 0) {
            json_decref(list);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_qna_send_data(r, json_pack("{s:o, s:I, s:I}",
                                          "planners", list,
                                          "retries",
                                              (json_int_t) qmcf->llm_retries,
                                          "corrections",
                                              (json_int_t)
                                                  qmcf->llm_corrections));
}


ngx_int_t
ngx_qna_debug_prompt_handler(ngx_http_request_t *r)
{
    json_t              *system, *schema;
    ngx_int_t            rc;
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    if (!qlcf->debug) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, NULL, NULL, NULL);
    }

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    system = ngx_qna_prompt_system();
    schema = ngx_qna_llm_plan_schema();

    if (system == NULL || schema == NULL) {
        json_decref(system);
        json_decref(schema);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_qna_send_data(r, json_pack("{s:o, s:o, s:s}",
                                          "system", system,
                                          "answer_schema", schema,
                                          "user",
                                          "[Earlier in this conversation: "
                                          "the last turns]\n[Your previous "
                                          "script failed: the script and "
                                          "its error]\nQuestion: ..."));
}
