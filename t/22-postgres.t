#!/usr/bin/perl
# libpq on nginx events: each worker's pool connects without blocking,
# reports in /health, and when PostgreSQL stops and starts again the pool
# reconnects by itself, no worker dying.  A host name (which would block
# the worker to resolve) is refused by nginx -t.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'postgres', workers => 2, postgres => 1)->start;

sub pg_status {
    my $h = $s->http(GET => '/health')->{json}{data};
    return ($h->{components}{postgres}{status} // 'none', $h->{status});
}

sub wait_status {
    my ($want, $seconds) = @_;
    my $until = time + $seconds;
    while (time < $until) {
        my $all = 1;
        for (1 .. 4) { $all = 0 unless (pg_status())[0] eq $want }
        return 1 if $all;
        sleep 0.1;
    }
    return 0;
}

ok wait_status('up', 5), 'every worker connected: /health says postgres up';
is((pg_status())[1], 'healthy', '  healthy');
like $s->error_log, qr/postgres: connected \(qna\)/, '  the connection logged';

$s->stop_postgres;
ok wait_status('down', 5), 'PostgreSQL stopped: postgres down';
is((pg_status())[1], 'degraded', '  degraded');

my $t0 = time;
$s->start_postgres;
ok wait_status('up', 5), sprintf('PostgreSQL back: up again, without a reload (%.2f s)', time - $t0);

unlike $s->error_log, qr/exited on signal/, 'no worker died';
is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg';
$s->stop;
unlike $s->error_log, qr/open socket .* left in connection/, 'libpq\'s sockets released at exit';

my $t = QnA::Stack->new(name => 'postgres-conf', nginx_http => "    qna_postgres \"host=db.example.com dbname=qna\";\n");
my $out = $t->nginx_test;
like $out, qr/must name "host=" as a socket directory/, 'a host name: refused by nginx -t';
for my $bad (qw(purge=0 purge=soon pool=0 timeout=x)) {
    my $b = QnA::Stack->new(name => 'postgres-conf-' . ($bad =~ s/\W/-/gr), nginx_http => "    qna_postgres \"host=/tmp dbname=qna\" $bad;\n");
    $out = $b->nginx_test;
    like $out, qr/invalid parameter "\Q$bad\E"/, "$bad: refused by nginx -t";
}
my $off = QnA::Stack->new(name => 'postgres-conf-off', nginx_http => "    qna_postgres \"host=/tmp dbname=qna\" purge=off pool=3 timeout=2s;\n");
$out = $off->nginx_test;
like $out, qr/test is successful/, 'purge=off pool=3 timeout=2s: accepted';

done_testing;
