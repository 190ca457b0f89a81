#!/usr/bin/perl
# conf/production/ as it runs (issue 12): two gateway instances of
# gateway.conf and sandboxd.conf (auth on, rate limits on, their own
# sandboxd each, one Redis, one PostgreSQL, the same keys) behind the
# nginx of edge.conf.  Through the edge: the contract, the request id,
# the trace and the client's address carried to the instances, event
# streams not held back, MCP sessions good on either instance.  Under a
# bounded load (4 clients, 400 requests): one instance killed (SIGKILL to
# its nginx) loses no request but those in flight on it, and the other
# answers the rest; one rolled (out of the edge, then nginx -s quit)
# loses none.  Every 200 is in PostgreSQL's executions.  The edge's own
# errors (502, 504, 413) speak the error contract.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;
use QnA::Failover;

my $f = QnA::Failover->new(name => 'edge');
my ($a, $b, $edge) = ($f->a, $f->b, $f->edge);
my $name = $QnA::Failover::SERVER_NAME;

# the edge's own error answer: the contract's envelope, its time in ISO
# 8601 with the edge's offset
sub edge_error {
    my ($r, $status, $code, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $j = $r->{json};
    my $ok = ($r->{status} // 0) == $status && ref $j eq 'HASH'
        && $j->{success} eq JSON::PP::false && ($j->{error}{code} // '') eq $code
        && length($j->{error}{message} // '') && ref $j->{error}{details} eq 'HASH'
        && $j->{error}{details}{status} == $status
        && ref $j->{recovery_suggestions} eq 'ARRAY' && @{ $j->{recovery_suggestions} }
        && ($j->{timestamp} // '') =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/
        && ($j->{request_id} // '') =~ /^[0-9a-f]{32}$/
        && ($r->{headers}{'x-request-id'} // '') eq $j->{request_id}
        && ($r->{headers}{'content-type'} // '') eq 'application/json';
    ok($ok, "$what: $status $code from the edge")
        or diag("got " . ($r->{status} // 'none') . ": " . substr($r->{body} // '', 0, 600));
}

# an instance's access log line of a request, by request id (written
# once the answer is sent: waited for a little)
sub gateway_line {
    my ($id) = @_;
    my $until = time + 5;
    while (time < $until) {
        for my $s ($a, $b) {
            open my $in, '<', $s->dir . '/logs/access.log' or next;
            while (my $line = <$in>) {
                my $j = eval { QnA::Stack::json()->decode($line) } or next;
                return $j if $j->{request_id} eq $id;
            }
        }
        sleep 0.02;
    }
    return {};
}

sub via_edge {
    my ($method, $path, %o) = @_;
    return $edge->http($method, $path, %o);
}

# the files themselves: nginx -t on each as rendered (sandboxd refuses an
# unknown key at start: it runs from sandboxd.conf)
for my $t (['gateway.conf (A)', $a], ['gateway.conf (B)', $b], ['edge.conf', $edge]) {
    my $out = $t->[1]->nginx_test;
    is $?, 0, "nginx -t: conf/production/$t->[0]" or diag $out;
    unlike $out, qr/\[(warn|alert|emerg)\]/, '  without a warning';
}
like $a->psql('qna', 'SELECT count(*) FROM schema_migrations'), qr/^[1-9]\d*$/, 'one PostgreSQL, migrated';

# the contract through the edge
{
    my $h = is_success(via_edge(GET => '/health', headers => { Host => $name }), 'GET /health without a token');
    is $h->{status}, 'healthy', '  healthy: sandboxd, Redis and PostgreSQL up';
    is_error(via_edge(POST => '/analyze', json => { question => 'What is the 30-day volatility of TSLA?' },
                      headers => { Host => $name }), 401, 'UNAUTHORIZED', 'POST /analyze without a token');

    my $trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    my $r = via_edge(POST => '/analyze', json => { question => 'What is the 20-day volatility of KO?' },
                     headers => $f->headers('alice', traceparent => "00-$trace-00f067aa0ba902b7-01",
                                            'X-Forwarded-For' => '198.51.100.66, 203.0.113.9',
                                            'X-Real-IP' => '198.51.100.77'));
    my $d = is_success($r, 'POST /analyze with a token');
    my $id = $r->{json}{request_id};
    my $log = $edge->log_line($id);
    ok $log, "  its request id is the edge's (\$request_id)";
    like $log->{upstream_addr} // '', qr/^127\.0\.0\.1:\d+$/, '  the edge logged which instance answered';
    my $line = gateway_line($id);
    is $line->{request_id}, $id, '  the instance kept it as its own request id';
    is $line->{trace_id}, $trace, '  and continued the client\'s trace (traceparent passed through)';
    is $line->{remote_addr}, '203.0.113.9', '  the client\'s address: the load balancer\'s rightmost, not the edge\'s, not X-Real-IP\'s';
    is $line->{user}, 'alice', '  the token\'s user';
    is $a->wait_psql("SELECT host(client_addr) FROM audit_log WHERE execution_id = '$d->{execution_id}' LIMIT 1", '203.0.113.9', 5),
       '203.0.113.9', '  the audit trail records that address';
    like $r->{headers}{'ratelimit-policy'} // '', qr/"user";q=600;w=3600, "burst";q=5;w=1, "global";q=36000;w=3600/,
         '  rate limited: per user, a burst, a global budget';

    edge_error(via_edge(POST => '/analyze', body => '{"question":"' . ('x' x 70000) . '"}', headers => $f->headers('alice')),
               413, 'PAYLOAD_TOO_LARGE', 'a body over /analyze\'s 64k');
    edge_error(via_edge(POST => '/mcp', body => 'x' x (1024 * 1024 + 1), headers => $f->headers('alice')),
               413, 'PAYLOAD_TOO_LARGE', 'a body over /mcp\'s 1m');

    is_error(via_edge(GET => '/metrics', headers => $f->headers('alice')), 404, 'NOT_FOUND', '/metrics is not on the public listener');
    is_error(via_edge(GET => '/ready', headers => $f->headers('alice')), 404, 'NOT_FOUND', 'nor /ready');
    is_error(via_edge(GET => '/debug/mcp-tools', headers => $f->headers('root', role => 'admin')), 404, 'NOT_FOUND',
             'debug endpoints are off, even for an admin');
    my $m = $f->internal($a, '/metrics');
    is $m->{status}, 200, 'GET /metrics on the internal listener';
    like $m->{body}, qr/^qna_http_requests_total\{endpoint="analyze",status="200"\} \d+$/m, '  Prometheus text';
    is_success($f->internal($b, '/ready'), 'GET /ready on the internal listener');

    is_error(via_edge(POST => '/execute', json => { script => "result = 1\n" }, headers => $f->headers('alice')),
             403, 'FORBIDDEN', '/execute: a viewer may not');
    my $x = via_edge(POST => '/execute', json => { script => "result = 1\n" }, headers => $f->headers('mgr', role => 'manager'));
    if ($> == 0) {
        is_success($x, '/execute: a manager may, sandboxd fully isolated');
    } else {
        is_error($x, 503, 'SANDBOX_UNAVAILABLE', '/execute: not without sandboxd\'s isolation (not root here)');
    }
}

# MCP: the public name and origin only; a session any instance accepts
{
    my %h = (%{ $f->headers('alice') }, Origin => "https://$name", Accept => 'application/json, text/event-stream');
    my $init = { jsonrpc => '2.0', id => 1, method => 'initialize',
                 params => { protocolVersion => '2025-11-25', capabilities => {},
                             clientInfo => { name => 'edge-test', version => '1' } } };
    my $r = via_edge(POST => '/mcp', headers => \%h, json => $init);
    is $r->{status}, 200, 'MCP initialize by the public name';
    my $sid = $r->{headers}{'mcp-session-id'};
    ok $sid, '  a session';
    my %seen;
    for my $i (1 .. 6) {
        my $l = via_edge(POST => '/mcp', headers => { %h, 'MCP-Session-Id' => $sid, 'MCP-Protocol-Version' => '2025-11-25' },
                         json => { jsonrpc => '2.0', id => 1 + $i, method => 'tools/list' });
        $seen{ ($edge->log_line($l->{headers}{'x-request-id'}) || {})->{upstream_addr} // '' }++
            if ($l->{status} // 0) == 200 && ref $l->{json}{result}{tools} eq 'ARRAY';
    }
    is sum(values %seen), 6, '  tools/list in that session, six times';
    is scalar(keys %seen), 2, '  answered by both instances (one secret)';
    is via_edge(POST => '/mcp', headers => { %h, Origin => 'https://evil.example' }, json => $init)->{status}, 403,
       'another Origin: 403';
    is via_edge(POST => '/mcp', headers => { %h, Host => 'evil.example' }, json => $init)->{status}, 403,
       'another Host: 403';
}

sub sum { my $n = 0; $n += $_ for @_; $n }

# an event stream is not held back by the edge: with both sandboxds
# stopped, what the instance sent before the execution is at the client
{
    kill 'STOP', $a->{pids}{sandboxd}, $b->{pids}{sandboxd};
    my $sock = $edge->connect;
    $edge->send_request($sock, POST => '/analyze', json => { question => 'What is the 25-day volatility of PEP?' },
                        headers => { %{ $f->headers('sse') }, Accept => 'text/event-stream', 'Cache-Control' => 'no-cache' });
    my $buf = '';
    my $read_until = sub {
        my ($re, $seconds) = @_;
        my $until = time + $seconds;
        while (time < $until && $buf !~ $re) {
            my $rin = '';
            vec($rin, fileno($sock), 1) = 1;
            select(my $rout = $rin, undef, undef, 0.1) or next;
            sysread($sock, $buf, 65536, length $buf) or last;
        }
    };
    $read_until->(qr/event: execution_started\ndata: [^\n]*\n\n/, 20);
    is join(',', $buf =~ /^event: (\w+)$/mg), 'accepted,validated,execution_started',
       'SSE through the edge: accepted, validated, execution_started while sandboxd is stopped';
    kill 'CONT', $a->{pids}{sandboxd}, $b->{pids}{sandboxd};
    $read_until->(qr/event: done\n/, 20);
    like join(',', $buf =~ /^event: (\w+)$/mg), qr/,execution_started,(mcp_call,)+result,done$/, '  then the rest, to done';
    close $sock;
}

my %all_ok;

sub in_postgres {
    my ($run, $what) = @_;
    my @ok = grep { $_->{status} == 200 && $_->{kind} eq 'analyze' } @{ $run->{records} };
    $all_ok{ $_->{execution_id} } = 1 for @ok;
    my $list = join ',', map { "'$_->{execution_id}'" } @ok;
    is $a->wait_psql("SELECT count(*) FROM executions WHERE status = 'success' AND id IN ($list)", scalar @ok, 10),
       scalar @ok, "$what: every one of the " . scalar(@ok) . " analyses answered 200 is in executions, success";
}

sub answered_all {
    my ($run, $what) = @_;
    my @r = @{ $run->{records} };
    is scalar(@r), $run->{expected}, "$what: $run->{expected} requests sent";
    is $run->{stragglers}, 0, '  no client left waiting';
    is scalar(grep { !$_->{status} } @r), 0, '  every one answered (a status line)';
}

# one instance killed mid-load
{
    my $run = $f->load(clients => 4, requests => 100, at => 150, event => sub { $f->kill_instance($a) });
    my $fig = $f->figures($run, $a);
    diag $f->report('SIGKILL of A', $fig);
    answered_all($run, 'A killed');
    my @failed = @{ $fig->{failed} };
    my %in_flight = map { ("$_->{client}.$_->{i}" => 1) } @{ $fig->{in_flight} };
    cmp_ok scalar(@failed), '<=', scalar(keys %in_flight), '  no more failures than requests in flight on A when it died';
    is scalar(grep { !$in_flight{"$_->{client}.$_->{i}"} } @failed), 0, '  each failure one of those';
    is scalar(grep { $_->{status} != 502 || $_->{code} ne 'GATEWAY_UNAVAILABLE' } @failed), 0,
       '  each 502 GATEWAY_UNAVAILABLE from the edge'
        or diag join "\n", map { "$_->{status} $_->{code}" } @failed;
    my $aport = '127.0.0.1:' . $a->port;
    cmp_ok $fig->{answered_by}{ $a->port }, '>', 0, '  A answered before it died';
    my @after = @{ $fig->{after} };
    cmp_ok scalar(@after), '>', 100, '  more than 100 requests begun after A was gone';
    is scalar(grep { $_->{status} != 200 || $_->{upstream} ne '127.0.0.1:' . $b->port } @after), 0,
       '  every one answered 200 by B';
    ok defined $fig->{first_survivor_ms}, '  B answered after the kill';
    log_is_clean($b, "B's error log is clean");

    # past fail_timeout the edge tries A again: refused, the request goes
    # on to B (nothing was sent to A) and is answered
    my ($probed, @status) = (0);
    my $until = time + 15;
    while (time < $until && !$probed) {
        my $r = via_edge(POST => '/analyze', json => { question => 'What is the 35-day volatility of IBM?' },
                         headers => $f->headers('prober', 'Cache-Control' => 'no-cache'));
        push @status, $r->{status} // 0;
        my $l = $edge->log_line($r->{headers}{'x-request-id'}) || {};
        $probed = ($l->{upstream_addr} // '') eq "$aport, 127.0.0.1:" . $b->port;
        sleep 0.25 unless $probed;     # within the burst limit (5r/s)
    }
    ok $probed, 'A tried again after fail_timeout, refused: the POST passed on to B';
    is scalar(grep { $_ != 200 } @status), 0, '  every POST /analyze meanwhile answered 200 (' . scalar(@status) . ')';

    # A again, in its folder: the edge takes it back after fail_timeout,
    # and its new workers replay what the killed ones had sent PostgreSQL
    # without an answer yet (their journals, spool/sent.PID.G)
    ok $f->restart_instance($a), 'A restarted: the edge sends to it again';
    in_postgres($run, 'A killed, then restarted');
}

# one instance rolled mid-load: out of the edge, then nginx -s quit
{
    my $run = $f->load(clients => 4, requests => 100, at => 150, event => sub { $f->roll_instance($a) });
    my $fig = $f->figures($run, $a);
    diag $f->report('graceful roll of A', $fig)
        . sprintf(' (out of the edge in %.0f ms)', 1000 * $run->{event}{drained});
    answered_all($run, 'A rolled');
    is scalar(@{ $fig->{failed} }), 0, '  not one failed'
        or diag join "\n", map { "$_->{kind} $_->{status} $_->{code} via $_->{upstream}" } @{ $fig->{failed} };
    is scalar(@{ $fig->{in_flight} }), 0, '  none was on A when it was told to quit';
    is $run->{event}{status}, 0, '  A\'s nginx exited 0';
    cmp_ok $fig->{answered_by}{ $a->port }, '>', 0, '  A answered before it was rolled';
    is scalar(grep { $_->{upstream} ne '127.0.0.1:' . $b->port } @{ $fig->{after} }), 0,
       '  everything begun after it: B';
    in_postgres($run, 'A rolled');
    log_is_clean($a, "A's error log is clean after its quit");
}

# B counted every /analyze the edge says it answered (summed over workers)
{
    my $m = $f->internal($b, '/metrics');
    my ($n) = $m->{body} =~ /^qna_http_requests_total\{endpoint="analyze",status="200"\} (\d+)$/m;
    my $bport = '127.0.0.1:' . $b->port;
    my $want = grep { $_->{uri} eq '/analyze' && $_->{status} == 200 && $_->{upstream_addr} =~ /(^|, )\Q$bport\E$/ }
               values %{ $edge->access_log };
    is $n, $want, "B's /metrics: the $want analyses the edge's log says B answered";
}

# the edge's own errors: B stopped (not answering), then gone; A is out
{
    my @pids = $b->nginx_pids;
    kill 'STOP', @pids;
    edge_error(via_edge(GET => '/health', headers => { Host => $name }, timeout => 30),
               504, 'GATEWAY_TIMEOUT', 'the only instance hangs: /health');
    kill 'CONT', @pids;
    $b->stop_nginx;
    edge_error(via_edge(GET => '/health', headers => { Host => $name }), 502, 'GATEWAY_UNAVAILABLE', 'no instance: /health');
    edge_error(via_edge(POST => '/analyze', json => { question => 'What is the 30-day volatility of TSLA?' },
                        headers => $f->headers('alice')), 502, 'GATEWAY_UNAVAILABLE', '  POST /analyze');
}

log_is_clean($edge, "the edge's error log is clean");

# stopped in order now, so that a passing run leaves no folder behind
undef $_ for $edge, $b, $a, $f;

done_testing;
