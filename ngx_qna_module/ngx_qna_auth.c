
/*
 * qna_auth jwt: a bearer token signed with HS256 and the key of
 * qna_auth_jwt_secret_file.  HS256 is the only algorithm taken ("none" and
 * everything else refused before the signature is looked at), the MAC is
 * compared in constant time, "exp" is required, "exp" and "nbf" are
 * checked with qna_auth_jwt_leeway, "iss" and "aud" when configured.  A
 * token lives at most qna_auth_jwt_max_lifetime: "exp" no further ahead
 * (with the leeway), nor from "iat" when there is one.  Each part is
 * canonical base64url.  The user is "sub"; the role a claim
 * (qna_auth_jwt_role_claim, "role"): viewer (the default), manager or
 * admin.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"


#define NGX_QNA_TOKEN_MAX   4096
#define NGX_QNA_SECRET_MIN  32
#define NGX_QNA_SECRET_MAX  4096


static char *ngx_qna_auth_lifetime_check(ngx_conf_t *cf, void *post,
    void *data);


ngx_conf_post_t  ngx_qna_auth_lifetime_post = {
    ngx_qna_auth_lifetime_check
};


char *
ngx_qna_auth_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_main_conf_t *qmcf = conf;

    ngx_str_t  *value;

    if (qmcf->jwt_secret.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_qna_conf_read_secret(cf, &value[1], NGX_QNA_SECRET_MIN,
                                    NGX_QNA_SECRET_MAX, &qmcf->jwt_secret);
}


/* a token that lived for ever would be a password that never changes */

static char *
ngx_qna_auth_lifetime_check(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *sp = data;

    if (*sp <= 0) {
        return "must be more than 0";
    }

    return NGX_CONF_OK;
}


/*
 * Canonical base64url (RFC 7515, section 2) only: its alphabet, no padding,
 * no white space, no length of 4k + 1, and zeros in the bits of the last
 * character that carry nothing.  nginx's decoder stops at "=" and takes
 * whatever follows, padding too, and any low bits: one token would have
 * many spellings, each of them accepted.  "dst" holds
 * ngx_base64_decoded_length(len) bytes.
 */

static ngx_int_t
ngx_qna_auth_base64url(u_char *src, size_t len, ngx_str_t *dst)
{
    u_char      c, *d;
    size_t      i;
    ngx_uint_t  acc, bits, v;

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    d = dst->data;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '-') {
            v = 62;

        } else if (c == '_') {
            v = 63;

        } else {
            return NGX_ERROR;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (acc >> bits);
            acc &= ((ngx_uint_t) 1 << bits) - 1;
        }
    }

    /* what is left are the last character's unused bits */
    if (acc != 0) {
        return NGX_ERROR;
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


static json_t *
ngx_qna_auth_part(ngx_http_request_t *r, u_char *start, u_char *end,
    ngx_str_t *raw)
{
    raw->data = ngx_pnalloc(r->pool,
                            ngx_base64_decoded_length(end - start) + 1);
    if (raw->data == NULL) {
        return NULL;
    }

    if (ngx_qna_auth_base64url(start, end - start, raw) != NGX_OK) {
        return NULL;
    }

    if (raw->len == 0) {
        return NULL;
    }

    return json_loadb((char *) raw->data, raw->len, JSON_REJECT_DUPLICATES,
                      NULL);
}


static ngx_int_t
ngx_qna_auth_has_audience(json_t *aud, ngx_str_t *want)
{
    size_t   i;
    json_t  *a;

    if (json_is_string(aud)) {
        return json_string_length(aud) == want->len
               && ngx_strncmp(json_string_value(aud), want->data, want->len)
                  == 0;
    }

    json_array_foreach(aud, i, a) {
        if (ngx_qna_auth_has_audience(a, want) && json_is_string(a)) {
            return 1;
        }
    }

    return 0;
}


/* NGX_OK: ctx has the user and role; NGX_DECLINED: 401, "why" says why */

ngx_int_t
ngx_qna_auth_jwt(ngx_http_request_t *r, ngx_qna_ctx_t *ctx, const char **why)
{
    u_char               *p, *end, *dot1, *dot2, *c;
    double                expiry;
    time_t                now;
    json_t               *header, *claims, *v;
    ngx_str_t             raw, sig;
    ngx_int_t             rc;
    unsigned int          maclen;
    ngx_qna_main_conf_t  *qmcf;
    u_char                mac[EVP_MAX_MD_SIZE];

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);
    header = NULL;
    claims = NULL;

    if (r->headers_in.authorization == NULL) {
        *why = "a bearer token is required";
        return NGX_DECLINED;
    }

    p = r->headers_in.authorization->value.data;
    end = p + r->headers_in.authorization->value.len;

    if (end - p < 7 || ngx_strncasecmp(p, (u_char *) "Bearer ", 7) != 0) {
        *why = "a bearer token is required";
        return NGX_DECLINED;
    }

    p += 7;

    while (p < end && *p == ' ') {
        p++;
    }

    if (end - p > NGX_QNA_TOKEN_MAX) {
        *why = "the token is too long";
        return NGX_DECLINED;
    }

    *why = "the token is malformed";

    dot1 = ngx_strlchr(p, end, '.');
    dot2 = dot1 ? ngx_strlchr(dot1 + 1, end, '.') : NULL;

    if (dot1 == NULL || dot2 == NULL || ngx_strlchr(dot2 + 1, end, '.')) {
        return NGX_DECLINED;
    }

    /* the algorithm first: nothing else is read of a token not HS256 */
    header = ngx_qna_auth_part(r, p, dot1, &raw);
    v = json_object_get(header, "alg");

    if (!json_is_object(header) || !json_is_string(v)) {
        goto declined;
    }

    if (ngx_strcmp(json_string_value(v), "HS256") != 0
        || json_object_get(header, "crit") != NULL)
    {
        *why = "the token's algorithm is not allowed";
        goto declined;
    }

    v = json_object_get(header, "typ");

    if (v != NULL && (!json_is_string(v)
                      || ngx_strcasecmp((u_char *) json_string_value(v),
                                        (u_char *) "JWT") != 0))
    {
        goto declined;
    }

    sig.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(end - dot2));
    if (sig.data == NULL) {
        goto failed;
    }

    if (ngx_qna_auth_base64url(dot2 + 1, end - dot2 - 1, &sig) != NGX_OK) {
        goto declined;
    }

    if (HMAC(EVP_sha256(), qmcf->jwt_secret.data, (int) qmcf->jwt_secret.len,
             p, dot2 - p, mac, &maclen) == NULL)
    {
        goto failed;
    }

    if (sig.len != maclen || CRYPTO_memcmp(sig.data, mac, maclen) != 0) {
        *why = "the token's signature does not match";
        goto declined;
    }

    claims = ngx_qna_auth_part(r, dot1 + 1, dot2, &raw);
    if (!json_is_object(claims)) {
        goto declined;
    }

    now = ngx_time();
    v = json_object_get(claims, "exp");

    if (!json_is_number(v)) {
        *why = "the token has no expiry (exp)";
        goto declined;
    }

    expiry = json_number_value(v);

    if ((double) now > expiry + (double) qmcf->jwt_leeway) {
        *why = "the token has expired";
        goto declined;
    }

    /* a stolen token is worth what it has left to live */
    if (expiry - (double) now
        > (double) qmcf->jwt_max_lifetime + (double) qmcf->jwt_leeway)
    {
        *why = "the token lives too long: it expires further ahead than "
               "the longest lifetime allowed";
        goto declined;
    }

    v = json_object_get(claims, "iat");

    if (v != NULL) {
        if (!json_is_number(v)) {
            *why = "the token's issue time (iat) is not a number";
            goto declined;
        }

        if (json_number_value(v) > (double) now + (double) qmcf->jwt_leeway) {
            *why = "the token was issued in the future (iat)";
            goto declined;
        }

        if (expiry - json_number_value(v) > (double) qmcf->jwt_max_lifetime) {
            *why = "the token lives too long: from its issue (iat) to its "
                   "expiry (exp) is longer than the longest lifetime "
                   "allowed";
            goto declined;
        }
    }

    v = json_object_get(claims, "nbf");

    if (v != NULL && (!json_is_number(v)
                      || (double) now + (double) qmcf->jwt_leeway
                         < json_number_value(v)))
    {
        *why = "the token is not valid yet";
        goto declined;
    }

    if (qmcf->jwt_issuer.len) {
        v = json_object_get(claims, "iss");

        if (!json_is_string(v)
            || json_string_length(v) != qmcf->jwt_issuer.len
            || ngx_strncmp(json_string_value(v), qmcf->jwt_issuer.data,
                           qmcf->jwt_issuer.len) != 0)
        {
            *why = "the token's issuer is not accepted";
            goto declined;
        }
    }

    if (qmcf->jwt_audience.len
        && !ngx_qna_auth_has_audience(json_object_get(claims, "aud"),
                                      &qmcf->jwt_audience))
    {
        *why = "the token is not for this audience";
        goto declined;
    }

    /* the user names keys in Redis and rows in PostgreSQL: plain text */
    v = json_object_get(claims, "sub");

    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > NGX_QNA_USER_MAX)
    {
        *why = "the token has no subject (sub)";
        goto declined;
    }

    for (c = (u_char *) json_string_value(v); *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || ngx_strchr("_.@:+-", *c)))
        {
            *why = "the token's subject is not a plain name";
            goto declined;
        }
    }

    /* the name of everyone without a token: no token may be them */
    if (ngx_strcmp(json_string_value(v), "anonymous") == 0) {
        *why = "the token's subject is reserved";
        goto declined;
    }

    ctx->user.len = json_string_length(v);
    ctx->user.data = ngx_pnalloc(r->pool, ctx->user.len);
    if (ctx->user.data == NULL) {
        goto failed;
    }

    ngx_memcpy(ctx->user.data, json_string_value(v), ctx->user.len);

    v = json_object_get(claims, qmcf->jwt_role_claim.len
                                ? (char *) qmcf->jwt_role_claim.data
                                : "role");

    if (v == NULL) {
        ctx->role = NGX_QNA_ROLE_VIEWER;

    } else if (json_is_string(v)
               && ngx_strcmp(json_string_value(v), "viewer") == 0)
    {
        ctx->role = NGX_QNA_ROLE_VIEWER;

    } else if (json_is_string(v)
               && ngx_strcmp(json_string_value(v), "manager") == 0)
    {
        ctx->role = NGX_QNA_ROLE_MANAGER;

    } else if (json_is_string(v)
               && ngx_strcmp(json_string_value(v), "admin") == 0)
    {
        ctx->role = NGX_QNA_ROLE_ADMIN;

    } else {
        *why = "the token's role is not viewer, manager or admin";
        goto declined;
    }

    rc = NGX_OK;
    goto done;

declined:

    rc = NGX_DECLINED;
    goto done;

failed:

    rc = NGX_ERROR;

done:

    json_decref(header);
    json_decref(claims);

    return rc;
}
