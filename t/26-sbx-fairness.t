#!/usr/bin/perl
# Per-user limits: at most max_active_per_user executions of one user run
# at once; the user's others wait while other users' pass them (the oldest
# waiting execution whose user is under its limit goes next); beyond
# max_queued_per_user waiting, the user's next one is RATE_LIMIT_EXCEEDED
# at once.  Users come in sandboxd's frames; through nginx every caller
# here is one anonymous user.  No clock is asserted: the order of answers
# and sandboxd's own counts are.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

sub readable {
    my ($sock) = @_;
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    return select(my $rout = $rin, undef, undef, 0) > 0;
}

sub wait_until {
    my ($check) = @_;
    for (1 .. 500) {
        return 1 if $check->();
        select(undef, undef, undef, 0.01);
    }
    return 0;
}

my $sleep = sub { "import time\ntime.sleep($_[0])\nresult = '$_[1]'\n" };

# sandboxd's own frames: alice, carol and dave, three slots in all
{
    my $s = QnA::Stack->new(name => 'sbx-fair',
                            sandboxd => { max_active => 3, max_queued_per_user => 1 })->start;
    my $ping = sub { $s->sandboxd_call(op => 'ping') };
    my $send = sub { my ($user, $script) = @_; $s->sandboxd_send(user => $user, script => $script) };

    my $p = $ping->();
    is_deeply [@$p{qw(max_active_per_user max_queued_per_user)}], [2, 1], 'the ping says the per-user limits';

    my @a = map { $send->(alice => $sleep->(4, "a$_")) } 1 .. 2;
    ok wait_until(sub { $ping->()->{active} == 2 }), 'alice: two running';
    my $a3 = $send->(alice => "result = 'a3'\n");
    ok wait_until(sub { $ping->()->{queued} == 1 }), '  her third waits, a slot free or not';
    my $c = $send->(carol => $sleep->(0.3, 'c'));
    ok wait_until(sub { my $q = $ping->(); $q->{active} == 3 && $q->{queued} == 1 }),
        'carol\'s runs at once, alice\'s third still waits';
    is $ping->()->{users}, 2, '  two users known';

    my $r = $s->sandboxd_call(user => 'alice', script => "result = 'a4'\n");
    is $r->{error}{code}, 'RATE_LIMIT_EXCEEDED', 'alice\'s fourth: RATE_LIMIT_EXCEEDED';
    is_deeply $r->{error}{details}, { limit => 'concurrent_executions', max_active_per_user => 2,
                                      max_queued_per_user => 1 }, '  details: the limits';
    like $r->{error}{message}, qr/2 executions running and 1 waiting/, '  and the message what she has';

    # every slot taken: dave waits too, behind alice's third
    my $d = $send->(dave => "result = 'd'\n");
    ok wait_until(sub { $ping->()->{queued} == 2 }), 'dave waits behind alice\'s third';

    my $cr = QnA::Stack::sandboxd_read($c);
    is $cr->{result}{body}[0]{value}, 'c', 'carol\'s finishes';
    my $dr = QnA::Stack::sandboxd_read($d);
    is $dr->{result}{body}[0]{value}, 'd', '  and her slot goes to dave, who came later';
    ok !readable($a3), '  alice\'s third is passed: her two still run';
    ok !grep({ readable($_) } @a), '  (they do)';

    my @ar = map { QnA::Stack::sandboxd_read($_)->{result}{body}[0]{value} } @a, $a3;
    is_deeply \@ar, ['a1', 'a2', 'a3'], 'alice\'s three all finish, the third after a slot of hers freed';
    ok wait_until(sub { $ping->()->{users} == 0 }), '  and no user is kept with nothing';

    $s->stop;
    log_is_clean($s);
}

# through nginx: one caller, 2 running, 8 waiting, the 11th refused (429)
{
    my $s = QnA::Stack->new(name => 'sbx-fair-nginx', sandboxd => { max_active => 4 })->start;
    my $sbx = sub { $s->http(GET => '/health')->{json}{data}{components}{sandboxd} };

    my @socks = map {
        my $c = $s->connect;
        $s->send_request($c, POST => '/execute', json => { script => $sleep->(0.5, "r$_") });
        $c;
    } 1 .. 10;
    ok wait_until(sub { my $h = $sbx->(); ($h->{active} // 0) == 2 && ($h->{queued} // 0) == 8 }),
        'ten at once from one caller: 2 running, 8 waiting, with slots free';

    my $j = is_error($s->execute(script => "result = 1\n"), 429, 'RATE_LIMIT_EXCEEDED', 'the eleventh');
    is_deeply [@{ $j->{error}{details} }{qw(limit max_active_per_user max_queued_per_user)}],
        ['concurrent_executions', 2, 8], '  details: the limit and its values';

    my @codes = map { QnA::Stack::read_response($_)->{status} } @socks;
    is_deeply \@codes, [(200) x 10], 'the ten all finish';
    is_success($s->execute(script => "result = 1\n"), 'then the caller may run again');

    $s->stop;
    log_is_clean($s);
}

done_testing;
