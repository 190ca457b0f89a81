#!/usr/bin/perl
# sandboxd's execute frame, straight on its socket: what the caller sends
# (tools, user, role) and what sandboxd makes of it.  The tool policy
# fails closed: only the tools a frame lists are relayed.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'sbx-frames')->start;

my $sma = "result = mcp_client.call('calculate_sma', {'prices': [1, 2, 3], 'period': 2})['latest']\n";

# the tool policy: no list, a null one and an empty one allow nothing
for my $case (['no tools', {}], ['tools null', { tools => undef }],
              ['tools empty', { tools => [] }], ['another tool listed', { tools => ['calculate_ema'] }]) {
    my ($name, $extra) = @$case;
    my $r = $s->sandboxd_call(script => $sma, %$extra);
    is $r->{success}, JSON::PP::false, "$name: refused";
    is $r->{error}{code}, 'MCP_TOOL_ERROR', '  MCP_TOOL_ERROR';
    like $r->{error}{message}, qr/may not call calculate_sma/, '  naming the tool';
    is $r->{metadata}{mcp_calls_made}[0]{error}, 'MCP_TOOL_ERROR', '  recorded as refused';
}

{
    my $r = $s->sandboxd_call(script => $sma, tools => ['calculate_sma']);
    is $r->{success}, JSON::PP::true, 'a listed tool is relayed';
    is $r->{result}{body}[0]{value}, 2.5, '  and answers';
}

$s->stop;
log_is_clean($s);

done_testing;
