#!/usr/bin/perl
# qna_rate_limit: GCRA in Redis, one round trip, shared by every instance.
# Two nginx instances on one Redis: the budget is one.  RateLimit-Policy
# and RateLimit on every answer; 429 RATE_LIMIT_EXCEEDED with Retry-After.
# Redis stopped under load: fail open (marked) or closed (503), no worker
# dies, and within 2 seconds of Redis coming back the limits hold again.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt);

my $key = 'k' x 40;
my $http = "    qna_auth_jwt_secret_file jwt.key;\n";
my $locations = <<'EOF2';
        location = /limited {
            qna_rate_limit 6r/m;
            qna_health;
        }

        location = /bursty {
            qna_rate_limit 1000r/h burst=2r/s;
            qna_health;
        }

        location = /shared {
            qna_auth jwt;
            qna_rate_limit 100r/h global=3r/m;
            qna_health;
        }

        location = /closed {
            qna_rate_limit 1000r/h;
            qna_rate_limit_fail closed;
            qna_health;
        }

        location = /open {
            qna_rate_limit 1000000r/h;
            qna_health;
        }
EOF2

my $a = QnA::Stack->new(name => 'rl-a', workers => 2, nginx_http => $http, locations => $locations);
QnA::Stack::write_file($a->dir . '/jwt.key', $key);
$a->start;
my $b = QnA::Stack->new(name => 'rl-b', workers => 2, nginx_http => $http, locations => $locations,
                        redis_sock => $a->{redis_sock});
QnA::Stack::write_file($b->dir . '/jwt.key', $key);
$b->start;

# both instances are connected before anything is counted
for my $s ($a, $b) {
    my $until = time + 5;
    sleep 0.05 while time < $until && ($s->http(GET => '/open')->{headers}{'ratelimit-status'} // '') eq 'unavailable';
}

{
    my @st;
    for my $i (1 .. 10) {
        my $r = ($i % 2 ? $a : $b)->http(GET => '/limited');
        push @st, $r->{status};
        if ($i == 1) {
            is $r->{headers}{'ratelimit-policy'}, '"user";q=6;w=60', 'RateLimit-Policy names the policy';
            like $r->{headers}{ratelimit}, qr/^"user";r=5;t=(9|10)$/, 'RateLimit: 5 left, full again in 10 s';
        }
        if ($i == 10) {
            is $r->{json}{error}{code}, 'RATE_LIMIT_EXCEEDED', 'over the budget: RATE_LIMIT_EXCEEDED';
            ok $r->{headers}{'retry-after'} >= 1 && $r->{headers}{'retry-after'} <= 10, "  Retry-After $r->{headers}{'retry-after'} s";
            like $r->{headers}{ratelimit}, qr/^"user";r=0;/, '  RateLimit r=0';
            is $r->{headers}{'ratelimit-policy'}, '"user";q=6;w=60', '  RateLimit-Policy on the refusal too';
        }
    }
    is scalar(grep { $_ == 200 } @st), 6, 'two instances, one Redis: 6 of 10 allowed, no more';
    is scalar(grep { $_ == 429 } @st), 4, '  the other 4 refused with 429';
    is $a->redis_cli('EXISTS', 'qna:rl:user:/limited:ip:127.0.0.1'), 1, '  the state under qna:rl:{policy}:{endpoint}:{who}';
}

{
    my @st = map { $a->http(GET => '/bursty')->{status} } 1 .. 3;
    is_deeply \@st, [200, 200, 429], 'burst 2r/s: the third at once is refused';
    sleep 0.6;
    is $b->http(GET => '/bursty')->{status}, 200, '  half a second later one more passes';
}

{
    my %tok = map { $_ => jwt($key, { sub => $_, exp => time + 300 }) } qw(alice bob);
    my @st;
    for my $u (qw(alice bob alice bob)) {
        push @st, $a->http(GET => '/shared', headers => { Authorization => "Bearer $tok{$u}" })->{status};
    }
    is_deeply \@st, [200, 200, 200, 429], 'global=3r/m: 3 across users, the fourth refused though each user is under their own';
}

{
    $a->redis_cli('SCRIPT', 'FLUSH');
    my $r = $a->http(GET => '/open');
    is $r->{status}, 200, 'after SCRIPT FLUSH (NOSCRIPT): the script is sent again';
    ok $r->{headers}{ratelimit} && !$r->{headers}{'ratelimit-status'}, '  and the limiter answered';
}

# Redis stopped under load
{
    my (%seen, $bad);
    my $stop_at = time + 0.5;
    my $stopped = 0;
    my $until = time + 2.0;
    while (time < $until) {
        if (!$stopped && time > $stop_at) { $a->stop_redis; $stopped = 1 }
        for my $s ($a, $b) {
            my $r = $s->http(GET => '/open');
            $seen{$r->{status}}++;
            $bad++ unless $r->{status} == 200;
        }
    }
    ok $stopped, 'Redis stopped during a stream of requests';
    ok !$bad, 'fail open: every request answered 200' or diag explain \%seen;
    my $r = $a->http(GET => '/open');
    is $r->{headers}{'ratelimit-status'}, 'unavailable', '  marked RateLimit-Status: unavailable';
    my $h = $a->http(GET => '/health')->{json}{data};
    is $h->{components}{redis}{status}, 'down', '  /health: redis down';
    is $h->{status}, 'degraded', '  degraded';
    $r = $b->http(GET => '/closed');
    is $r->{status}, 503, 'fail closed: 503';
    is $r->{json}{error}{code}, 'STORE_UNAVAILABLE', '  STORE_UNAVAILABLE';

    $a->start_redis;
    my $t0 = time;
    my $ok = 0;
    while (time - $t0 < 5) {
        my $ra = $a->http(GET => '/open');
        my $rb = $b->http(GET => '/open');
        if (!$ra->{headers}{'ratelimit-status'} && !$rb->{headers}{'ratelimit-status'}
            && $ra->{headers}{ratelimit} && $rb->{headers}{ratelimit}) { $ok = 1; last }
        sleep 0.05;
    }
    my $took = time - $t0;
    ok $ok && $took < 2, sprintf('Redis back: both instances limit again within 2 s (%.2f s), without a reload', $took);
    is $b->http(GET => '/closed')->{status}, 200, '  fail closed passes again';
}

like $a->error_log, qr/rate limit: redis .*allowing \(fail open\)/, 'the fail-open is logged';
unlike $a->error_log . $b->error_log, qr/exited on signal/, 'no worker died';
is_deeply [$a->bad_log_lines, $b->bad_log_lines], [], 'no alert, crit or emerg in the error logs';
$b->stop;
$a->stop;

# mistakes
{
    my $t = QnA::Stack->new(name => 'rl-conf', redis => 0,
        locations => "        location = /x {\n            qna_rate_limit 10r/m;\n            qna_health;\n        }\n");
    my $out = $t->nginx_test;
    like $out, qr/"qna_rate_limit" needs "qna_redis"/, 'a rate limit without Redis: nginx -t says so';
    $t = QnA::Stack->new(name => 'rl-conf2',
        locations => "        location = /x {\n            qna_rate_limit 10/m;\n            qna_health;\n        }\n");
    $out = $t->nginx_test;
    like $out, qr/invalid rate "10\/m"/, 'a rate without "r": refused';
    $t = QnA::Stack->new(name => 'rl-conf3', nginx_http => "    qna_redis localhost:6379;\n", redis => 0);
    $out = $t->nginx_test;
    like $out, qr/not unix:PATH or an IPv4 address/, 'Redis by name: refused (it would block to resolve)';
}

done_testing;
