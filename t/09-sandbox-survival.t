#!/usr/bin/perl
# No child can stop sandboxd serving others: crashes, protocol abuse and a
# dead zygote are answered and survived; SIGTERM drains what was accepted.

use strict;
use warnings;
use Test::More;
use POSIX qw(:sys_wait_h);
use QnA::Stack;
use QnA::Check;

plan skip_all => 'the kernel boundary needs root (CI runs as root)' unless $> == 0;

# a variable of sandboxd's own, that no script may see
$ENV{QNA_TEST_SECRET} = 'not for scripts';

my $s = QnA::Stack->new(name => 'survive', sandboxd => { scan => 'off' })->start;

sub proc_state {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/stat" or return undef;
    my $line = <$f>;
    return $line =~ /\)\s+(\S)/ ? $1 : undef;
}

sub sandboxd_health { $s->http(GET => '/health')->{json}{data}{components}{sandboxd} }

# a child that crashes, one that lies about frames, one that floods them
{
    my $j = is_error($s->execute(script => "import ctypes\nctypes.string_at(0)\nresult = 1\n"),
                     422, 'EXECUTION_FAILED', 'a segmentation fault');
    like $j->{error}{message}, qr/signal 11/, '  named by its signal';

    $j = is_error($s->execute(script => "import _sbx\n_sbx.send(b'not json at all')\nresult = 1\n"),
                  422, 'SECURITY_VIOLATION', 'a frame that is not JSON ends the child');
    like $j->{error}{message}, qr/protocol/, '  as a protocol violation';

    is_error($s->execute(script => "import os\nos.write(3, b'\\xff\\xff\\xff\\xff')\nimport time\ntime.sleep(5)\n"),
             422, 'SECURITY_VIOLATION', 'a frame length of 4 GiB ends the child');

    is_error($s->execute(script => "import _sbx\n_sbx.send(b'{\"t\": \"call\", \"name\": 7}')\nresult = 1\n"),
             422, 'SECURITY_VIOLATION', 'a malformed tool call ends the child');

    is_success($s->execute(script => "result = 1\n"), 'sandboxd serves on');
}

# a zygote dies: running executions are answered, a new zygote comes up;
# each of the three: the base one (scripts that name neither numpy nor
# pandas), the lite one (numpy) and the full one
sub zygote_of {
    my ($kind) = @_;
    my ($z) = grep { $_->{kind} eq $kind } @{ sandboxd_health()->{zygotes} || [] };
    return $z;
}

for my $case ([base => ''], [lite => "import numpy\n"], [full => "import pandas\n"]) {
    my ($kind, $head) = @$case;
    my $z = zygote_of($kind);
    my $old = $z ? $z->{pid} : 0;
    ok $old > 0, "the $kind zygote is pid $old";
    is sandboxd_health()->{zygote_pid}, zygote_of('full')->{pid}, '  zygote_pid names the full one'
        if $kind eq 'full';

    my $sock = $s->connect;
    $s->send_request($sock, POST => '/execute',
                     json => { script => "${head}import time\ntime.sleep(100)\nresult = 1\n",
                               timeout_seconds => 110 });
    select(undef, undef, undef, 0.5);

    # the zygote's children: the spares and the one running the script
    my @children = grep { /^\d+$/ } split /\s+/, `pgrep -P $old`;
    ok @children >= 1, "  the $kind zygote has children: " . join(',', @children);

    kill 'KILL', $old;

    my $r = QnA::Stack::read_response($sock, 10);
    my $j = is_error($r, 422, 'EXECUTION_FAILED', '  the execution in flight is answered');
    like $j->{error}{message}, qr/restarted/, '  saying why';

    my $ok;
    for (1 .. 100) {
        $r = $s->execute(script => "${head}result = 2\n");
        last if ($ok = ($r->{status} // 0) == 200) && (zygote_of($kind) || {})->{ready};
        select(undef, undef, undef, 0.1);
    }
    ok $ok, '  executions work again';
    my $new = (zygote_of($kind) || {})->{pid} // 0;
    ok $new > 0 && $new != $old, "  the new $kind zygote is pid $new";
    # gone, or a zombie no one reaps (this machine's init may not)
    my @alive = grep { (proc_state($_) // 'Z') ne 'Z' } @children;
    ok !@alive, "  no child of the old $kind zygote outlived it" or diag "alive: @alive";
}

# nothing of sandboxd's environment reaches a script
{
    my $d = is_success($s->execute(script => "import os\nresult = sorted(os.environ)\n"), 'the environment');
    my @names = @{ $d->{result}{body}[0]{value} };
    ok !grep({ $_ eq 'QNA_TEST_SECRET' || $_ eq 'HOME' || $_ eq 'LD_BIND_NOW' } @names),
        '  sandboxd\'s own variables are not there, nor the zygote\'s: ' . join(',', @names);
}

# a script that keeps calling past its budget is ended, not recorded for ever
{
    my $j = is_error($s->execute(script => "while True:\n    try:\n        mcp_client.call('nope')\n"
                                         . "    except mcp_client.McpError:\n        pass\n",
                                 allowed_tools => [], max_mcp_calls => 5),
                     422, 'SECURITY_VIOLATION', 'calls far past the budget');
    like $j->{error}{message}, qr/budget/, '  said so';
}

# the kernel reads "int sig" as 32 bits: so does the filter
{
    my $j = is_error($s->execute(script => "import ctypes\nlibc = ctypes.CDLL(None)\n"
                                         . "libc.syscall(13, (1 << 32) | 31, 0, 0, 8)\nresult = 1\n"),
                     422, 'SECURITY_VIOLATION', 'a SIGSYS handler through the upper 32 bits');
    is $j->{error}{details}{syscall}, 'rt_sigaction', '  the denied call';
}

# SIGTERM: what was accepted finishes, nothing new is taken, then it exits
{
    my $sock = $s->connect;
    $s->send_request($sock, POST => '/execute',
                     json => { script => "import time\ntime.sleep(1.5)\nresult = 'finished'\n" });
    select(undef, undef, undef, 0.5);

    my $pid = $s->{pids}{sandboxd};
    kill 'TERM', $pid;
    select(undef, undef, undef, 0.2);

    is_error($s->execute(script => "result = 1\n"), 503, 'SANDBOX_UNAVAILABLE', 'draining: nothing new');

    my $d = is_success(QnA::Stack::read_response($sock, 10), 'draining: the running one finishes');
    is $d->{result}{body}[0]{value}, 'finished', '  with its answer';

    my $gone;
    for (1 .. 100) {
        last if $gone = waitpid($pid, WNOHANG) == $pid;
        select(undef, undef, undef, 0.05);
    }
    ok $gone, 'then sandboxd exits by itself';
    is $? >> 8, 0, '  with status 0';
    delete $s->{pids}{sandboxd};
}

$s->stop;
log_is_clean($s);

done_testing;
