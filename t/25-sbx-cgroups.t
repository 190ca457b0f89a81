#!/usr/bin/perl
# cgroups: every child in a cgroup of its own (memory, pids, CPU), under
# one subtree per sandboxd.  The limits are really set, the kernel really
# enforces them (a script past the scripts' memory is MEMORY_LIMIT_EXCEEDED
# and sandboxd serves on), the OOM killer prefers children, nothing is left
# when sandboxd stops, a dead sandboxd's subtree is swept, and cgroup = on
# without a usable cgroup refuses to start.  Without root no cgroup can be
# made: then only that is checked (the ping says why).

use strict;
use warnings;
use Test::More;
use POSIX ();
use QnA::Stack;
use QnA::Check;

sub slurp {
    my ($path) = @_;
    open my $f, '<', $path or return undef;
    local $/;
    my $text = <$f>;
    close $f;
    $text =~ s/\s+$// if defined $text;
    return $text;
}

sub log_of {
    my ($stack) = @_;
    return slurp($stack->dir . '/logs/sandboxd.log') // '';
}

if ($> != 0) {
    my $s = QnA::Stack->new(name => 'sbx-cg-user')->start;
    my $cg = $s->http(GET => '/health')->{json}{data}{components}{sandboxd}{cgroups};
    is $cg->{mode}, 'off', 'not root: no cgroups';
    like $cg->{reason}, qr/cannot|no cgroup/, '  and the ping says why';
    $s->stop;
    done_testing;
    exit;
}

# what this host has: a v2 hierarchy with the controllers, or v1 ones
my ($v2mnt) = map { (split ' ')[1] } grep { (split ' ')[2] eq 'cgroup2' } split /\n/, slurp('/proc/mounts');
my ($v2path) = slurp('/proc/self/cgroup') =~ /^0::(\S*)$/m;
my $v2ctl = $v2mnt && defined $v2path ? slurp("$v2mnt$v2path/cgroup.controllers") // '' : '';
my $want = (grep { $v2ctl =~ /\b$_\b/ } qw(memory pids cpu)) == 3 ? 'v2' : 'v1';

my $headroom = 32;
my $s = QnA::Stack->new(name => 'sbx-cg',
                        sandboxd => { scan => 'off', memory_total_mb => 200, pids_max => 6,
                                      cpu_percent => 50, max_active => 4 })->start;

my $cg = $s->http(GET => '/health')->{json}{data}{components}{sandboxd}{cgroups};
is $cg->{mode}, $want, "/health: cgroups $want";
is $cg->{reason}, undef, '  no reason given: it works';
is_deeply [@$cg{qw(memory_total_mb pids_max cpu_percent memory_headroom_mb)}], [200, 6, 50, $headroom],
    '  with the limits configured';
like log_of($s), qr/cgroup $want: scripts under \S+\/sandboxd-\d+ \(memory 200 MB in all/,
    'sandboxd said so at start';

# where its subtree is, from the kernel, not from sandboxd: sandboxd-PID
# in the cgroup sandboxd started in (or holding it, in a supervisor leaf),
# under each controller's mount
my %base;
{
    my %mount;
    for (split /\n/, slurp('/proc/mounts')) {
        my (undef, $dir, $type, $opts) = split ' ';
        if ($type eq 'cgroup2') { $mount{unified} = $dir; next }
        next unless $type eq 'cgroup';
        $mount{$_} = $dir for grep { /^(memory|pids|cpu)$/ } split /,/, $opts;
    }
    for (split /\n/, slurp("/proc/$s->{pids}{sandboxd}/cgroup")) {
        my (undef, $ctls, $path) = split /:/, $_, 3;
        $path =~ s{/sandboxd-\d+/supervisor$}{};
        $path = '' if $path eq '/';
        for my $ctl ($ctls eq '' ? ('unified') : split /,/, $ctls) {
            next unless $mount{$ctl};
            $base{$ctl} = "$mount{$ctl}$path/sandboxd-$s->{pids}{sandboxd}";
        }
    }
    %base = (unified => $base{unified}) if $want eq 'v2';
    delete $base{unified} if $want eq 'v1';
}
ok !exists $cg->{paths}, '/health shows no host paths';
my $mem = $base{memory} // $base{unified};
ok -d "$mem/scripts", "the scripts' subtree: $mem/scripts";

# a script that sleeps: its cgroup holds what was set, from the outside
{
    my $sock = $s->connect;
    $s->send_request($sock, POST => '/execute',
                     json => { script => "import time\ntime.sleep(3)\nresult = 'slept'\n",
                               max_memory_mb => 100 });
    my $limit = (100 + $headroom) * 1024 * 1024;
    my $file = $want eq 'v1' ? 'memory.limit_in_bytes' : 'memory.max';
    my ($dir, $id);
    for (1 .. 100) {
        ($dir) = grep { (slurp("$_/$file") // '') eq $limit } glob("$mem/scripts/[0-9]*");
        last if $dir;
        select(undef, undef, undef, 0.02);
    }
    ok $dir, "the running child's cgroup: memory limit 100 + $headroom MB";
    ($id) = ($dir // '') =~ m{/(\d+)$};
    my @pids = split /\s+/, slurp("$dir/cgroup.procs") // '';
    is scalar(@pids), 1, '  one process in it';
    my $pid = $pids[0] // 0;

    if ($want eq 'v1') {
        my $memsw = slurp("$dir/memory.memsw.limit_in_bytes");
        is $memsw, $limit, '  memory and swap together: the same (no swap)' if defined $memsw;
        is slurp("$base{pids}/scripts/$id/pids.max"), 6, '  pids.max 6';
        is slurp("$base{cpu}/scripts/$id/cpu.cfs_quota_us"), 50000, '  cpu.cfs_quota_us 50% of 100000';
        is slurp("$base{cpu}/scripts/$id/cpu.cfs_period_us"), 100000, '  cpu.cfs_period_us 100000';
        ok scalar(grep { $_ eq $pid } split /\s+/, slurp("$base{$_}/scripts/$id/cgroup.procs") // ''),
            "  in the $_ hierarchy too" for qw(pids cpu);
        is slurp("$mem/scripts/memory.limit_in_bytes"), 200 * 1024 * 1024, '  the subtree: 200 MB';
    } else {
        is slurp("$dir/pids.max"), 6, '  pids.max 6';
        is slurp("$dir/cpu.max"), '50000 100000', '  cpu.max 50%';
        my $swap = slurp("$dir/memory.swap.max");
        is $swap, 0, '  no swap' if defined $swap;
        is slurp("$mem/scripts/memory.max"), 200 * 1024 * 1024, '  the subtree: 200 MB';
    }
    is slurp("/proc/$pid/oom_score_adj"), 1000, '  the OOM killer takes it first';
    like slurp("/proc/$pid/status"), qr/^Uid:\s+65534\b/m, '  and it runs as nobody';
    isnt slurp("/proc/$s->{pids}{sandboxd}/oom_score_adj"), 1000, '  sandboxd itself is not preferred';

    my $d = is_success(QnA::Stack::read_response($sock), '  the sleeping script finishes');
    is $d->{result}{body}[0]{value}, 'slept', '  with its answer';

    my $gone;
    for (1 .. 100) {
        last if $gone = !-e $dir;
        select(undef, undef, undef, 0.02);
    }
    ok $gone, '  its cgroup is removed once it is reaped';
}

# past the memory: the kernel ends it, and sandboxd knows why.  rlimits
# allow 250 MB under max_memory_mb 256; the scripts' 200 MB does not.
my $touch = sub {
    my ($mb, $sleep) = @_;
    return "b = bytearray($mb * 1024 * 1024)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n"
         . ($sleep ? "import time\ntime.sleep($sleep)\n" : '') . "result = len(b)\n";
};
{
    my $j = is_error($s->execute(script => $touch->(250), max_memory_mb => 256),
                     422, 'MEMORY_LIMIT_EXCEEDED', '250 MB touched where the scripts may have 200');
    is $j->{error}{details}{limit_mb}, 200, '  details: the limit it met';
    is $j->{error}{details}{memory_total_mb}, 200, '  the scripts\' memory';
    is $j->{error}{details}{max_memory_mb}, 256, '  and the execution\'s max_memory_mb';
    like $j->{error}{message}, qr/ran out of memory/, '  said plainly';

    is_success($s->execute(script => $touch->(120), max_memory_mb => 256), '120 MB touched: fits');

    # two at once, 120 MB each: one of them is past the scripts' 200 MB
    my @socks = map {
        my $c = $s->connect;
        $s->send_request($c, POST => '/execute',
                         json => { script => $touch->(120, 1), max_memory_mb => 256 });
        $c;
    } 1 .. 2;
    my @r = map { QnA::Stack::read_response($_) } @socks;
    my @codes = sort map { $_->{status} == 200 ? 'ok' : $_->{json}{error}{code} // '?' } @r;
    ok((grep { $_ eq 'MEMORY_LIMIT_EXCEEDED' } @codes) && !grep({ !/^(ok|MEMORY_LIMIT_EXCEEDED)$/ } @codes),
       'two scripts of 120 MB at once under 200 MB: MEMORY_LIMIT_EXCEEDED for the one killed')
        or diag "@codes";

    my $d = is_success($s->execute(script => "result = 6 * 7\n"), 'sandboxd serves on');
    is $d->{result}{body}[0]{value}, 42, '  and answers right';

    is_error($s->execute(script => "while True:\n    pass\n", timeout_seconds => 1),
             422, 'EXECUTION_TIMEOUT', 'a SIGKILL of ours is no OOM: a timeout stays a timeout');
}

# a child that cannot be put in its cgroup never runs a script: the
# directories it would get are taken, so spares fail to be confined
{
    my ($max) = sort { $b <=> $a } map { m{/(\d+)$} ? $1 : () } glob("$mem/scripts/[0-9]*");
    my @block = map { "$mem/scripts/$_" } ($max // 0) + 1 .. ($max // 0) + 40;
    mkdir $_ or die "mkdir $_: $!" for @block;
    my $j;
    for (1 .. 4) {
        my $r = $s->execute(script => "result = 1\n");
        next if ($r->{status} // 0) == 200;
        $j = is_error($r, 422, 'EXECUTION_FAILED', 'no cgroup for a child: the execution fails');
        last;
    }
    like $j->{error}{message} // '', qr/cannot confine a process/, '  saying why';
    like log_of($s), qr/cgroup: cannot confine \d+ in \S+\/scripts\/\d+: File exists/, '  and the log';
    rmdir $_ for @block;
    my $ok;
    for (1 .. 50) {
        last if $ok = ($s->execute(script => "result = 1\n")->{status} // 0) == 200;
        select(undef, undef, undef, 0.1);
    }
    ok $ok, 'once they are free again, children are confined and run';
}

# stopped: nothing of it is left in any hierarchy
{
    $s->stop_sandboxd;
    my @left = grep { -e $_ } values %base;
    ok !@left, 'no cgroup directory is left after sandboxd stops' or diag "@left";
    $s->stop;
}

# the subtree of a sandboxd that is gone is swept at start; a live one's stays
{
    my $dead = fork // die;
    POSIX::_exit(0) if $dead == 0;
    waitpid($dead, 0);
    my @parents = map { s{/sandboxd-\d+$}{}r } values %base;
    for my $p (@parents) {
        mkdir "$p/sandboxd-$dead" or die "mkdir $p/sandboxd-$dead: $!";
        mkdir "$p/sandboxd-$dead/scripts" or die;
        mkdir "$p/sandboxd-$dead/scripts/7" or die;
        mkdir "$p/sandboxd-$$" or die;
    }
    my $n = QnA::Stack->new(name => 'sbx-cg-sweep', sandboxd => { max_active => 1 });
    $n->start_sandboxd;
    my @stale = grep { -e "$_/sandboxd-$dead" } @parents;
    ok !@stale, "a dead sandboxd's subtree (sandboxd-$dead) is swept at start" or diag "@stale";
    ok !grep({ !-e "$_/sandboxd-$$" } @parents), '  a live process\'s is not';
    like log_of($n), qr/removed \S+sandboxd-$dead, left by a sandboxd that is gone/, '  and the log says so';
    rmdir "$_/sandboxd-$$" for @parents;
    is $n->sandboxd_call(script => "result = 1\n")->{success}, JSON::PP::true, '  it serves';
    $n->stop;
}

# cgroup = on without a usable parent: no start; auto: a start without
{
    my $n = QnA::Stack->new(name => 'sbx-cg-on',
                            sandboxd => { cgroup => 'on', cgroup_parent => '/qna-no-such-parent' });
    ok !eval { $n->start_sandboxd; 1 }, 'cgroup = on, an unusable cgroup_parent: sandboxd refuses to start';
    like log_of($n), qr/cgroup = on, but no cgroup can be had: .*qna-no-such-parent/, '  saying why';
    $n->stop;

    $n = QnA::Stack->new(name => 'sbx-cg-auto',
                         sandboxd => { cgroup => 'auto', cgroup_parent => '/qna-no-such-parent' });
    $n->start_sandboxd;
    my $c = $n->sandboxd_call(op => 'ping')->{cgroups};
    is $c->{mode}, 'off', 'cgroup = auto, an unusable cgroup_parent: no cgroups';
    like $c->{reason}, qr/qna-no-such-parent/, '  the ping says why';
    like log_of($n), qr/WARNING: no cgroups, scripts are bound by rlimits alone: .*qna-no-such-parent/,
        '  and the log';
    is $n->sandboxd_call(script => "result = 1\n")->{success}, JSON::PP::true, '  scripts run';
    $n->stop;

    $n = QnA::Stack->new(name => 'sbx-cg-off', sandboxd => { cgroup => 'off' });
    $n->start_sandboxd;
    $c = $n->sandboxd_call(op => 'ping')->{cgroups};
    is_deeply [$c->{mode}, $c->{reason}], ['off', 'cgroup = off'], 'cgroup = off: off, and why';
    $n->stop;
}

done_testing;
