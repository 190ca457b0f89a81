#!/usr/bin/perl
# Federation: upstream MCP servers' tools served under /mcp with a prefix.
# Upstreams here: the official TypeScript SDK server answering in JSON and
# in server-sent events (stateless), another nginx of ours (in a session),
# and an address where nothing listens.  An upstream that goes down makes
# its tools fail cleanly and is picked up again when it is back.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;

my ($ts, $sse, $peer_port, $gone) = map { QnA::Stack::free_port() } 1 .. 4;

my $peer = QnA::Stack->new(name => 'fed-peer', workers => 1, port => $peer_port);
$peer->start_nginx;

# upstream tools need a manager by default (t/30-secure-defaults.t): here anyone
my $s = QnA::Stack->new(name => 'federation', workers => 1, nginx_http => <<"EOF2",
    mcp_tool_role upstream viewer;
    mcp_upstream ts http://127.0.0.1:$ts/;
    mcp_upstream sse http://127.0.0.1:$sse/ prefix=events.;
    mcp_upstream peer http://127.0.0.1:$peer_port/mcp/analytics timeout=2s;
    mcp_upstream gone http://127.0.0.1:$gone/mcp;
EOF2
    locations => "        location = /mcp-paged {\n            mcp all;\n            mcp_page_size 7;\n        }\n");

for ([ts => $ts], [sse => $sse, 'sse']) {
    my ($name, $port, @mode) = @$_;
    $s->spawn($name => $s->dir . "/logs/$name.log", 'node',
              "$QnA::Stack::ROOT/bench/mcp-sdk-server.mjs", $port, @mode);
    $s->wait_for($name => sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) ? 1 : 0 });
}
$s->start;

sub upstreams {
    my $r = $s->http(GET => '/debug/mcp-tools');
    return { map { $_->{name} => $_ } @{ $r->{json}{data}{upstreams} || [] } };
}

sub wait_ready {
    my (@names) = @_;
    my $until = time + 20;
    while (time < $until) {
        my $u = upstreams();
        return $u unless grep { ($u->{$_}{state} // '') ne 'ready' } @names;
        sleep 0.1;
    }
    return upstreams();
}

my $u = wait_ready(qw(ts sse peer));
is $u->{$_}{state}, 'ready', "upstream $_ ready" for qw(ts sse peer);
is $u->{peer}{session}, JSON::PP::true, '  ours keeps a session';
is $u->{ts}{session}, JSON::PP::false, '  the stateless SDK server none';
is $u->{peer}{protocol_version}, '2025-11-25', '  protocol negotiated';
is $u->{gone}{state}, 'down', 'the upstream where nothing listens is down';
like $u->{gone}{error}, qr/could not be reached/, '  saying why';

my @names;
{
    my $l = $s->mcp('tools/list');
    @names = map { $_->{name} } @{ $l->{result}{tools} };
    ok((grep { $_ eq 'ts_calculate_sma' } @names), 'tools/list on /mcp: ts_calculate_sma');
    ok((grep { $_ eq 'events.calculate_sma' } @names), '  events.calculate_sma (a prefix of its own)');
    ok((grep { $_ eq 'peer_calculate_rsi' } @names), '  peer_calculate_rsi');
    ok(!(grep { /^gone_/ } @names), '  nothing of the upstream that is down');
    my ($t) = grep { $_->{name} eq 'peer_calculate_rsi' } @{ $l->{result}{tools} };
    ok $t->{inputSchema}{properties}{prices}, '  with the upstream\'s input schema';

    my (@paged, $cursor);
    for (1 .. 50) {
        my $p = $s->mcp('tools/list', $cursor ? { cursor => $cursor } : {}, path => '/mcp-paged');
        push @paged, map { $_->{name} } @{ $p->{result}{tools} };
        $cursor = $p->{result}{nextCursor} or last;
    }
    is_deeply \@paged, \@names, 'pages of 7 walk the same list, upstream tools included';

    my $a = $s->mcp('tools/list', undef, path => '/mcp/analytics');
    ok !(grep { /^(ts_|peer_|events\.)/ } map { $_->{name} } @{ $a->{result}{tools} }), '/mcp/analytics lists no upstream tool';
    my $e = $s->mcp('tools/call', { name => 'ts_calculate_sma', arguments => {} }, path => '/mcp/analytics');
    is $e->{error}{code}, -32602, '  nor calls one';
}

{
    my @p = map { 100 + $_ * 1.5 + ($_ % 3) } 1 .. 40;
    my $local = $s->tool('calculate_sma', { prices => \@p, period => 5 });
    my $r = $s->tool('ts_calculate_sma', { prices => \@p, period => 5 });
    close_to $r->{values}[$_], $local->{values}[$_], "ts_calculate_sma value $_" for 0, 17, 35;
    my $e = $s->tool('events.calculate_sma', { prices => \@p, period => 5 });
    is_deeply $e->{values}, $r->{values}, 'the same through the SSE upstream';
    my $rsi = $s->tool('peer_calculate_rsi', { prices => \@p, period => 14 });
    is_deeply $rsi, $s->tool('calculate_rsi', { prices => \@p, period => 14 }), 'peer_calculate_rsi: our peer\'s answer as is';

    my $bad = $s->mcp('tools/call', { name => 'peer_calculate_sma', arguments => { prices => \@p, period => 0 } });
    is $bad->{result}{isError}, JSON::PP::true, 'an upstream tool error is passed on';
    like $bad->{result}{content}[0]{text}, qr/INVALID_ARGUMENT.*period/, '  with its message';
    my $x = $s->mcp('tools/call', { name => 'ts_no_such_tool', arguments => {} });
    is $x->{error}{code}, -32602, 'an unknown prefixed tool: -32602';
    $x = $s->mcp('tools/call', { name => 'gone_anything', arguments => {} });
    is $x->{error}{code}, -32602, 'a tool of an upstream never reached: -32602';
}

# the peer goes down, then comes back
{
    $peer->stop_nginx;
    my $e = $s->mcp('tools/call', { name => 'peer_calculate_sma', arguments => { prices => [1, 2, 3], period => 2 } });
    is $e->{result}{isError}, JSON::PP::true, 'upstream down: isError';
    is $e->{result}{structuredContent}{error}{code}, 'MCP_TOOL_ERROR', '  MCP_TOOL_ERROR';
    like $e->{result}{content}[0]{text}, qr/"peer" could not be reached/, '  naming the upstream';
    $e = $s->mcp('tools/call', { name => 'peer_calculate_sma', arguments => { prices => [1, 2, 3], period => 2 } });
    like $e->{result}{content}[0]{text}, qr/"peer" is unavailable.*retried/, '  then: unavailable, being retried';
    ok((grep { $_ eq 'peer_calculate_sma' } map { $_->{name} } @{ $s->mcp('tools/list')->{result}{tools} }), '  its tools still listed (the list is good for an hour)');

    # an instance that starts now lists the peer's tools from Redis
    my $c = QnA::Stack->new(name => 'fed-c', workers => 1, redis_sock => $s->{redis_sock},
                            nginx_http => $s->{nginx_http});
    $c->start_nginx;
    my $until = time + 5;
    sleep 0.05 until time > $until || $c->error_log =~ /"peer": \d+ tools listed from redis/;
    like $c->error_log, qr/mcp upstream "peer": 16 tools listed from redis/, 'a new instance reads the tool list from Redis (mcp_tools:peer)';
    ok((grep { $_ eq 'peer_calculate_sma' } map { $_->{name} } @{ $c->mcp('tools/list')->{result}{tools} }), '  and lists the tools of the peer, down now');
    $e = $c->mcp('tools/call', { name => 'peer_calculate_sma', arguments => { prices => [1, 2, 3], period => 2 } });
    like $e->{result}{content}[0]{text}, qr/"peer" is unavailable/, '  whose calls fail cleanly';
    ok $s->redis_cli('TTL', 'qna:mcp_tools:peer') > 3500, '  the list kept an hour';
    $c->stop;

    $peer->start_nginx;
    my $u = wait_ready('peer');
    is $u->{peer}{state}, 'ready', 'the peer back: ready again, without a reload';
    my $r = $s->tool('peer_calculate_sma', { prices => [1, 2, 3], period => 2 });
    is_deeply $r->{values}, [1.5, 2.5], '  and its tools answer';
}

is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg in the error log';
$s->stop;
$peer->stop;
unlike $s->error_log, qr/open socket .* left in connection/, 'every socket released at exit';

# configuration mistakes
my $n = 0;
sub refused {
    my ($http, $re, $what) = @_;
    my $t = QnA::Stack->new(name => 'fed-bad' . ++$n, nginx_http => $http);
    my $out = $t->nginx_test;
    ok $? != 0, "refused: $what";
    like $out, $re, '  saying why' or diag $out;
}
refused("    mcp_upstream a http://127.0.0.1:1/;\n    mcp_upstream a http://127.0.0.1:2/;\n", qr/duplicate MCP upstream "a"/, 'a name twice');
refused("    mcp_upstream a ftp://x/;\n", qr/not an http:\/\/ or https:\/\/ URL/, 'not an http URL');
refused("    mcp_upstream a http://127.0.0.1:1/ prefix=a/b;\n", qr/invalid prefix/, 'a prefix with a slash');
refused("    mcp_upstream a http://127.0.0.1:1/ wait=1;\n", qr/invalid parameter "wait=1"/, 'an unknown parameter');

done_testing;
