#!/usr/bin/perl
# sandboxd down: 503 SANDBOX_UNAVAILABLE and a degraded /health, then a
# full recovery when it is back, without touching nginx.  Also: nginx reload
# and a graceful quit with work in flight leave no [alert] behind.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'down')->start;
my $q = 'What is the 30-day volatility of TSLA?';

is_success($s->analyze($q), 'up');

$s->stop_sandboxd;

# the answer of the first ask is in the result cache: ask past it
is_error($s->http(POST => '/analyze', json => { question => $q }, headers => { 'Cache-Control' => 'no-cache' }),
         503, 'SANDBOX_UNAVAILABLE', 'sandboxd stopped: /analyze (Cache-Control: no-cache)');
my $cached = is_success($s->analyze($q), 'sandboxd stopped: the same question is answered from the result cache');
is $cached->{metadata}{cache_hit}, JSON::PP::true, '  metadata.cache_hit';
is_error($s->execute(script => "result = 1\n"), 503, 'SANDBOX_UNAVAILABLE', 'sandboxd stopped: /execute');
my $h = is_success($s->http(GET => '/health'), '/health still answers');
is $h->{status}, 'degraded', '  degraded';
is $h->{components}{sandboxd}{status}, 'down', '  sandboxd down';
is $h->{components}{mcp}{status}, 'up', '  MCP up';

$s->start_sandboxd;

is_success($s->analyze($q), 'back: /analyze works again');
is $s->http(GET => '/health')->{json}{data}{status}, 'healthy', '  healthy again';

# killed in the middle of an execution: the request is answered, not lost
{
    my $sock = $s->connect;
    $s->send_request($sock, POST => '/execute',
                     json => { script => "import time\ntime.sleep(5)\nresult = 1\n" });
    select(undef, undef, undef, 0.5);
    $s->stop_sandboxd('KILL');
    my $r = QnA::Stack::read_response($sock, 10);
    is_error($r, 503, 'SANDBOX_UNAVAILABLE', 'sandboxd killed mid-execution');
    $s->start_sandboxd;
    is_success($s->analyze($q), 'and back again');
}

# reload, with an execution in flight across it
{
    my $sock = $s->connect;
    $s->send_request($sock, POST => '/execute',
                     json => { script => "import time\ntime.sleep(1)\nresult = 'kept'\n" });
    select(undef, undef, undef, 0.2);
    $s->reload_nginx;
    my $r = QnA::Stack::read_response($sock);
    my $d = is_success($r, 'an execution across a reload');
    is $d->{result}{body}[0]{value}, 'kept', '  its answer';
    select(undef, undef, undef, 0.5);
    is_success($s->analyze($q), 'after the reload');
}

# graceful quit while a script runs: it is answered before nginx exits
{
    my $sock = $s->connect;
    $s->send_request($sock, POST => '/execute',
                     json => { script => "import time\ntime.sleep(1)\nresult = 'done'\n" });
    select(undef, undef, undef, 0.2);
    $s->stop_nginx;
    my $r = QnA::Stack::read_response($sock, 5);
    is_success($r, 'answered across a graceful quit');
}

$s->stop;
log_is_clean($s, 'no [alert] after reload and quit');

done_testing;
