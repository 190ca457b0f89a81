
/*
 * A user's conversations from PostgreSQL, where every turn's messages are
 * mirrored by the audit trail (ngx_qna_turn_trail.c): the history Redis no
 * longer keeps.
 *
 *   GET /conversation/{id}       a session Redis does not have (past its
 *                                7 days, emptied) or while Redis is away
 *   GET /conversation/sessions   while Redis is away
 *
 * The answers have the shapes of Redis's, with "source": "history"; a
 * session is read only by its user, so another's is NOT_FOUND here too.
 * Expansions and similar questions live in Redis alone: the history
 * answers them empty.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_http.h"


/* the times as Redis's answers write them */
#define NGX_QNA_HISTORY_TIME(col)                                             \
    "to_char(" col " AT TIME ZONE 'UTC', "                                    \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


/* the last 200 messages, as Redis keeps them, in the order they were said */
static const char  ngx_qna_history_session_sql[] =
    "SELECT json_build_object("
    "  'session_id', s.id, 'title', s.title,"
    "  'created_at', " NGX_QNA_HISTORY_TIME("s.created_at") ","
    "  'updated_at', " NGX_QNA_HISTORY_TIME("s.updated_at") ","
    "  'turns', (SELECT count(*) FROM chat_messages"
    "            WHERE session_id = s.id AND role = 'user'),"
    "  'source', 'history',"
    "  'context', json_build_object("
    "    'messages', (SELECT coalesce(json_agg(json_build_object("
    "         'role', m.role, 'content', m.content,"
    "         'created_at', " NGX_QNA_HISTORY_TIME("m.created_at") ","
    "         'execution_id', m.execution_id) ORDER BY m.id), '[]'::json)"
    "       FROM (SELECT * FROM chat_messages WHERE session_id = s.id"
    "             ORDER BY id DESC LIMIT 200) AS m),"
    "    'expanded_queries', '[]'::json,"
    "    'similar_previous_questions', '[]'::json))::text "
    "FROM chat_sessions s WHERE s.id = $1 AND s.user_id = $2";

static const char  ngx_qna_history_sessions_sql[] =
    "SELECT coalesce(json_agg(json_build_object("
    "  'session_id', x.id,"
    "  'created_at', " NGX_QNA_HISTORY_TIME("x.created_at") ","
    "  'updated_at', " NGX_QNA_HISTORY_TIME("x.updated_at") ","
    "  'turns', x.turns, 'title', coalesce(x.title, ''),"
    "  'last_question', coalesce(x.last_question, ''))"
    "  ORDER BY x.updated_at DESC, x.id), '[]'::json)::text,"
    "  (SELECT count(*) FROM chat_sessions WHERE user_id = $1)::text "
    "FROM (SELECT s.id, s.created_at, s.updated_at, s.title,"
    "  (SELECT count(*) FROM chat_messages"
    "   WHERE session_id = s.id AND role = 'user') AS turns,"
    "  (SELECT content FROM chat_messages"
    "   WHERE session_id = s.id AND role = 'user'"
    "   ORDER BY id DESC LIMIT 1) AS last_question"
    "  FROM chat_sessions s WHERE s.user_id = $1"
    "  ORDER BY s.updated_at DESC, s.id"
    "  LIMIT $2::integer OFFSET $3::integer) AS x";


static ngx_int_t ngx_qna_history_reply(ngx_http_request_t *r,
    PGresult *res, const char *error, void *data);


/*
 * Sends the query for cv (a session when cv->session is set, else the
 * page of sessions).  NGX_DONE: cv is answered from the reply (see
 * ngx_qna_pg_read); NGX_DECLINED: PostgreSQL is not there.
 */

ngx_int_t
ngx_qna_history_send(ngx_qna_conv_t *cv)
{
    u_char              *user, *session;
    const char          *values[3];
    ngx_http_request_t  *r = cv->request;
    u_char              *limit, *offset;

    user = ngx_pnalloc(r->pool, cv->user.len + 1);
    if (user == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cpystrn(user, cv->user.data, cv->user.len + 1);

    if (cv->session.len) {
        session = ngx_pnalloc(r->pool, cv->session.len + 1);
        if (session == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_cpystrn(session, cv->session.data, cv->session.len + 1);

        values[0] = (char *) session;
        values[1] = (char *) user;

        return ngx_qna_pg_read(r, ngx_qna_history_session_sql, 2, values,
                               ngx_qna_history_reply, cv);
    }

    limit = ngx_pnalloc(r->pool, 2 * (NGX_INT_T_LEN + 1));
    if (limit == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    offset = ngx_sprintf(limit, "%ui%Z", cv->per_page);
    ngx_sprintf(offset, "%ui%Z", (cv->page - 1) * cv->per_page);

    values[0] = (char *) user;
    values[1] = (char *) limit;
    values[2] = (char *) offset;

    return ngx_qna_pg_read(r, ngx_qna_history_sessions_sql, 3, values,
                           ngx_qna_history_reply, cv);
}


static ngx_int_t
ngx_qna_history_reply(ngx_http_request_t *r, PGresult *res,
    const char *error, void *data)
{
    ngx_qna_conv_t *cv = data;

    json_t     *v;
    ngx_int_t   rc;

    if (ngx_qna_pg_json_row(r, res, error, "No such session", &v, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (cv->session.len == 0) {
        v = json_pack("{s:o, s:I, s:I, s:I, s:s}",
                      "sessions", v,
                      "page", (json_int_t) cv->page,
                      "per_page", (json_int_t) cv->per_page,
                      "total", (json_int_t) ngx_atoi(
                          (u_char *) PQgetvalue(res, 0, 1),
                          PQgetlength(res, 0, 1)),
                      "source", "history");
    }

    return ngx_qna_send_data(r, v);
}
