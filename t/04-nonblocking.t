#!/usr/bin/perl
# Rule 1 of DESIGN.md: nothing blocks a worker.  With one worker, a script
# that sleeps 3 seconds in sandboxd must not hold up /health, /mcp or another
# /analyze: they are answered while the slow one is still running.  No clock
# is asserted; the order of the answers is.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'nonblock', workers => 1)->start;

sub readable {
    my ($sock) = @_;
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    return select(my $rout = $rin, undef, undef, 0) > 0;
}

my $slow = $s->connect;
$s->send_request($slow, POST => '/execute',
                 json => { script => "import time\ntime.sleep(3)\nresult = 'slept'\n" });

# let the worker take it and hand it to sandboxd
select(undef, undef, undef, 0.3);
ok !readable($slow), 'the slow script is running';

my $h = $s->http(GET => '/health');
my $d = is_success($h, '/health meanwhile');
is $d->{components}{sandboxd}{active}, 1, '  sandboxd reports the running execution';
ok !readable($slow), '  answered before the slow script';

is_success($s->analyze('What is the 30-day volatility of TSLA?'), 'a whole /analyze meanwhile');
ok !readable($slow), '  answered before the slow script';

my $m = $s->mcp('tools/list');
ok $m && $m->{result} && @{ $m->{result}{tools} }, '/mcp meanwhile';
ok !readable($slow), '  answered before the slow script';

my $r = QnA::Stack::read_response($slow);
my $sd = is_success($r, 'the slow script finishes');
is $sd->{result}{body}[0]{value}, 'slept', '  with its answer';

# a client that gives up ends its execution: the slot is free again
{
    my $gone = $s->connect;
    $s->send_request($gone, POST => '/execute',
                     json => { script => "import time\ntime.sleep(20)\nresult = 1\n" });
    select(undef, undef, undef, 0.3);
    close $gone;
    my $active = 1;
    for (1 .. 50) {
        select(undef, undef, undef, 0.1);
        $active = $s->http(GET => '/health')->{json}{data}{components}{sandboxd}{active};
        last if defined $active && $active == 0;
    }
    is $active, 0, 'a closed client cancels its execution';
}

$s->stop;
log_is_clean($s);

done_testing;
