
/*
 * The callers, by the frame's "user": how many executions each has
 * running and waiting, for the per-user limits (one user cannot take every
 * slot, nor fill the queue).  A user is kept while it has one, then freed:
 * the table holds no more users than executions.
 */

#include <stdlib.h>
#include <string.h>
#include "sbx.h"


#define SBX_USER_BUCKETS  1024


static sbx_user_t  *sbx_users[SBX_USER_BUCKETS];
static int          sbx_nusers;


static uint32_t
sbx_user_hash(const char *name)
{
    uint32_t  h;

    /* FNV-1a: names are short, and a bucket's chain is walked anyway */
    for (h = 2166136261u; *name; name++) {
        h = (h ^ (unsigned char) *name) * 16777619u;
    }

    return h % SBX_USER_BUCKETS;
}


/* the user of that name, made when it has nothing yet; NULL: no memory */

sbx_user_t *
sbx_user_get(const char *name)
{
    size_t       len;
    uint32_t     h;
    sbx_user_t  *u;

    h = sbx_user_hash(name);

    for (u = sbx_users[h]; u; u = u->next) {
        if (strcmp(u->name, name) == 0) {
            return u;
        }
    }

    len = strlen(name);

    u = calloc(1, sizeof(sbx_user_t) + len + 1);
    if (u == NULL) {
        return NULL;
    }

    memcpy(u->name, name, len + 1);
    u->next = sbx_users[h];
    sbx_users[h] = u;
    sbx_nusers++;

    return u;
}


/* after its counts went down: a user with nothing left is forgotten */

void
sbx_user_release(sbx_user_t *u)
{
    sbx_user_t  **pp;

    if (u == NULL || u->active > 0 || u->queued > 0) {
        return;
    }

    for (pp = &sbx_users[sbx_user_hash(u->name)]; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            sbx_nusers--;
            free(u);
            return;
        }
    }
}


int
sbx_user_count(void)
{
    return sbx_nusers;
}
