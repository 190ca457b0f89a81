
/*
 * GET /openapi.json: the OpenAPI 3.1 description of the gateway, every
 * endpoint with its request, its answer and each error it may give
 * (docs/openapi.json, validated by the tests).  It is built into the
 * module: an installed module serves the description of itself.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"


/* the file as read-only data, '\0'-terminated, not exported from the .so */
__asm__(".section .rodata\n"
        ".global ngx_qna_openapi_json\n"
        ".hidden ngx_qna_openapi_json\n"
        ".type ngx_qna_openapi_json, @object\n"
        "ngx_qna_openapi_json:\n"
        ".incbin \"" NGX_QNA_OPENAPI_JSON "\"\n"
        ".byte 0\n"
        ".previous\n");

extern const char  ngx_qna_openapi_json[];


ngx_int_t
ngx_qna_openapi_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  type = ngx_string("application/json");

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_qna_http_send(r, NGX_HTTP_OK, &type,
                             (u_char *) ngx_qna_openapi_json,
                             ngx_strlen(ngx_qna_openapi_json));
}
