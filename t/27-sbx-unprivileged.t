#!/usr/bin/perl
# sandboxd without root: no namespaces, but the seccomp allow-list still
# loads in every child (no_new_privs is all it takes), so the level is
# "partial" and a denied system call is still a SECURITY_VIOLATION.  As
# root the test runs sandboxd itself as nobody; otherwise as whoever runs
# it.  Then seccomp = off: the level "none".

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

# /execute runs below full isolation only when told to, loudly; the
# location /execute-strict keeps the default
my $s = QnA::Stack->new(name => 'sbx-unpriv', sandboxd_user => 'nobody',
                        nginx_http => "    qna_execute_unisolated on;\n",
                        locations => "        location = /execute-strict {\n"
                                   . "            qna_execute_unisolated off;\n"
                                   . "            qna_auth_role viewer;\n"
                                   . "            qna_execute;\n        }\n\n",
                        sandboxd => { scan => 'off' })->start;

my $pid = $s->{pids}{sandboxd};
open my $st, '<', "/proc/$pid/status" or die "status: $!";
my ($uid) = map { /^Uid:\s+(\d+)/ ? $1 : () } <$st>;
close $st;
isnt $uid, 0, "sandboxd runs as uid $uid, not root";

my $sbx = $s->http(GET => '/health')->{json}{data}{components}{sandboxd};
my $iso = $sbx->{isolation};
is $sbx->{status}, 'up', '/health: sandboxd is up';
is $iso->{level}, 'partial', '  isolation level partial';
is $iso->{seccomp}, JSON::PP::true, '  seccomp on';
is $iso->{namespaces}, JSON::PP::false, '  no namespaces';
is $iso->{network_namespace}, JSON::PP::false, '  no network namespace';
is $iso->{user}, undef, '  scripts run as sandboxd\'s own user';
is_deeply $iso->{missing}, ['namespaces', 'network_namespace', 'unprivileged_user'], '  what is missing';
like $iso->{reason}, qr/^not root: no namespaces/, '  and why';

open my $log, '<', $s->dir . '/logs/sandboxd.log' or die;
ok scalar(grep { /WARNING: isolation level partial, not full: not root: no namespaces/ } <$log>),
    'sandboxd said so at start';
close $log;

{
    my $j = is_error($s->http(POST => '/execute-strict', json => { script => "result = 1\n" }), 503, 'SANDBOX_UNAVAILABLE',
                     'by default /execute refuses to run below full isolation');
    is $j->{error}{details}{isolation}, 'partial', '  saying the level';
    like $j->{error}{message}, qr/not root: no namespaces/, '  and what is missing';
}
open my $ngx, '<', $s->dir . '/logs/nginx.stderr' or die;
ok scalar(grep { /\[warn\].*"qna_execute_unisolated on": scripts sent to \/execute run even when sandboxd lacks its kernel isolation/ } <$ngx>),
   'qna_execute_unisolated on: nginx warns at start';
close $ngx;

my $d = is_success($s->execute(script => "import os\nresult = [os.getuid(), 1 + 1]\n"), 'with it, a script runs');
is_deeply $d->{result}{body}[0]{value}, [$uid, 2], '  as sandboxd\'s user';

my $j = is_error($s->execute(script => "import socket\nsocket.socket()\nresult = 'escaped'\n"),
                 422, 'SECURITY_VIOLATION', 'a socket: the filter traps it');
is $j->{error}{details}{syscall}, 'socket', '  the denied call named';

$j = is_error($s->execute(script => "result = open('/etc/hostname').read()\n"),
              422, 'SECURITY_VIOLATION', 'opening a file');

is_error($s->execute(script => "import os\nos.fork()\nresult = 'escaped'\n"),
         422, 'SECURITY_VIOLATION', 'a fork');

# the same user as sandboxd: a signal to it is the obvious way to stop it
$j = is_error($s->execute(script => "PARAMS = {'pid': 0}\nimport os\nos.kill(PARAMS['pid'], 9)\nresult = 'escaped'\n",
                          params => { pid => $pid }),
              422, 'SECURITY_VIOLATION', 'a signal to sandboxd itself');
is $j->{error}{details}{type}, 'PermissionError', '  refused: EPERM';
ok kill(0, $pid), '  sandboxd lives';
is_success($s->execute(script => "result = 1\n"), '  and serves on');

$s->stop;
log_is_clean($s);

# seccomp = off: nothing left but the limits (and the namespaces, as root);
# the level says so
{
    my $n = QnA::Stack->new(name => 'sbx-noseccomp', nginx_http => "    qna_execute_unisolated on;\n",
                            sandboxd => { seccomp => 'off', scan => 'off' })->start;
    my $iso = $n->http(GET => '/health')->{json}{data}{components}{sandboxd}{isolation};
    is $iso->{level}, 'none', 'seccomp = off: level none';
    is_deeply $iso->{missing}, ['seccomp'], '  missing seccomp';
    is_success($n->execute(script => "import socket\nsocket.socket().close()\nresult = 1\n"),
               '  a socket() is not refused any more');

    my $r = $n->sandboxd_call(script => "result = 1\n", require_isolation => 'partial');
    is $r->{error}{code}, 'SANDBOX_UNAVAILABLE', '  require_isolation partial: SANDBOX_UNAVAILABLE';
    is $r->{error}{details}{isolation}, 'none', '  at level none';
    like $r->{error}{message}, qr/seccomp = off/, '  saying what is missing';
    $n->stop;
}

done_testing;
