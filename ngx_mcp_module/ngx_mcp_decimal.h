
/*
 * JSON numbers to doubles, as jansson reads them (ngx_mcp_decimal.c).
 */

#ifndef _NGX_MCP_DECIMAL_H_INCLUDED_
#define _NGX_MCP_DECIMAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The number at "p" into *v; past it, or NULL: not a JSON number, or one
 * jansson refuses (an integer out of strtoll's range, a real overflowing
 * strtod), or longer than a number needs to be.  "p" < "last": the
 * caller has seen the number's first byte.
 */
u_char *ngx_mcp_decimal(u_char *p, u_char *last, double *v);


#endif /* _NGX_MCP_DECIMAL_H_INCLUDED_ */
