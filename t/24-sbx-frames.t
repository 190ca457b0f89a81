#!/usr/bin/perl
# sandboxd's execute frame, straight on its socket: what the caller sends
# (tools, user, role) and what sandboxd makes of it.  The tool policy
# fails closed: only the tools a frame lists are relayed.

use strict;
use warnings;
use Test::More;
use IO::Socket::UNIX;
use POSIX ();
use QnA::Stack;
use QnA::Check;

# the scan off: scripts here speak the channel's protocol themselves
my $s = QnA::Stack->new(name => 'sbx-frames', sandboxd => { scan => 'off' })->start;

my $sma = "result = mcp_client.call('calculate_sma', {'prices': [1, 2, 3], 'period': 2})['latest']\n";

# the tool policy: no list, a null one and an empty one allow nothing
for my $case (['no tools', {}], ['tools null', { tools => undef }],
              ['tools empty', { tools => [] }], ['another tool listed', { tools => ['calculate_ema'] }]) {
    my ($name, $extra) = @$case;
    my $r = $s->sandboxd_call(script => $sma, %$extra);
    is $r->{success}, JSON::PP::false, "$name: refused";
    is $r->{error}{code}, 'MCP_TOOL_ERROR', '  MCP_TOOL_ERROR';
    like $r->{error}{message}, qr/may not call calculate_sma/, '  naming the tool';
    is $r->{metadata}{mcp_calls_made}[0]{error}, 'MCP_TOOL_ERROR', '  recorded as refused';
}

{
    my $r = $s->sandboxd_call(script => $sma, tools => ['calculate_sma']);
    is $r->{success}, JSON::PP::true, 'a listed tool is relayed';
    is $r->{result}{body}[0]{value}, 2.5, '  and answers';
}

# progress frames: at most 1 KB each, at most a burst of 50 then 20 a
# second (the rest dropped, and counted); and what sandboxd tells nginx is
# bounded by the call budget, whatever the child sends
{
    my $j = is_error($s->execute(script => "import _sbx, json\n"
                                         . "_sbx.send(json.dumps({'t': 'progress', 'step': 'x' * 2000}).encode())\n"
                                         . "result = 1\n"),
                     422, 'SECURITY_VIOLATION', 'a progress frame of 2 KB');
    like $j->{error}{message}, qr/progress frame over 1 KB/, '  breaks the protocol';

    my $d = is_success($s->execute(script => "mcp_client.progress('\\u2603' * 300)\nresult = 1\n"),
                       'a step that escapes past 1 KB is shortened by the runtime');
    is $d->{metadata}{progress_dropped}, 0, '  nothing dropped';

    $d = is_success($s->execute(script => "for i in range(500):\n    mcp_client.progress('step %d' % i)\n"
                                        . "result = 1\n"),
                    '500 progress frames at once');
    my $dropped = $d->{metadata}{progress_dropped};
    ok $dropped >= 1 && $dropped <= 450, "  most are dropped ($dropped), the burst passes";

    $j = is_error($s->execute(script => "import time\nfor i in range(500):\n    mcp_client.progress('step %d' % i)\n"
                                      . "while True:\n    time.sleep(0.05)\n", timeout_seconds => 1),
                  422, 'EXECUTION_TIMEOUT', '500 progress frames, then out of time');
    my $steps = $j->{error}{details}{steps_completed};
    ok $steps >= 50 && $steps < 500, "  steps completed counts those taken ($steps)";
    like $j->{error}{details}{last_step}, qr/^step \d+$/, '  the last one taken';

    my ($r, $progress) = $s->sandboxd_call(script => "while True:\n    try:\n        mcp_client.call('nope', {})\n"
                                                   . "    except mcp_client.McpError:\n        pass\n",
                                           tools => [], max_mcp_calls => 5, progress => JSON::PP::true);
    is $r->{error}{code}, 'SECURITY_VIOLATION', 'endless refused calls with progress on: ended';
    my $calls = scalar @{ $r->{metadata}{mcp_calls_made} };
    is scalar(@$progress), $calls, "  one progress frame a recorded call ($calls)";
    ok $calls <= 5 + 10, '  no more than the budget and its slack';
}

# require_isolation: a level this sandboxd has runs, one above is
# SANDBOX_UNAVAILABLE, anything else is a malformed frame
{
    my $iso = $s->sandboxd_call(op => 'ping')->{isolation};
    my %rank = (none => 0, partial => 1, full => 2);
    ok exists $rank{$iso->{level}}, "the ping says the isolation level: $iso->{level}";
    for my $need (qw(none partial full)) {
        my $r = $s->sandboxd_call(script => "result = 1\n", require_isolation => $need);
        if ($rank{$need} <= $rank{$iso->{level}}) {
            is $r->{success}, JSON::PP::true, "require_isolation $need: runs";
        } else {
            is $r->{error}{code}, 'SANDBOX_UNAVAILABLE', "require_isolation $need: SANDBOX_UNAVAILABLE";
        }
    }
    is $s->sandboxd_call(script => "result = 1\n", require_isolation => undef)->{success},
        JSON::PP::true, 'require_isolation null: runs';
    for my $bad ('FULL', 'maximum', '', 2, ['full']) {
        my $r = $s->sandboxd_call(script => "result = 1\n", require_isolation => $bad);
        is $r->{error}{message}, 'malformed execute frame',
            'require_isolation ' . QnA::Stack::json()->encode($bad) . ': a malformed frame';
    }
}

# The caller: a stand-in for nginx's relay socket answers each tools/call
# with the lines of the request's head, so a script sees what nginx would
{
    my $r = QnA::Stack->new(name => 'sbx-relay');
    my $fake = $r->dir . '/fake-mcp.sock';
    $r->{sandboxd}{mcp_socket} = $fake;
    $r->write_configs;
    fake_mcp($r, $fake);
    $r->start_sandboxd;

    my $echo = "result = mcp_client.call('echo', {})['head']\n";
    my $head = sub {
        my (%frame) = @_;
        my $a = $r->sandboxd_call(script => $echo, tools => ['echo'], %frame);
        return $a->{success} ? $a->{result}{body}[0]{value} : $a;
    };
    my $has = sub {
        my ($lines, $name) = @_;
        return [grep { /^X-QnA-\Q$name\E:/i } @$lines];
    };

    my $h = $head->(user => 'alice', role => 'admin');
    is_deeply $has->($h, 'Role'), ['X-QnA-Role: admin'], 'the relay says the role';
    is_deeply $has->($h, 'User'), ['X-QnA-User: alice'], '  and the user';
    like $h->[0], qr{^POST /mcp HTTP/1\.1$}, '  on a POST to mcp_path';

    is_deeply $has->($head->(user => 'bob', role => 'manager'), 'Role'), ['X-QnA-Role: manager'],
        'a manager';
    for my $role (undef, 'root', 'Admin', 7, ['admin']) {
        my @role = defined $role ? (role => $role) : ();
        is_deeply $has->($head->(user => 'carol', @role), 'Role'), ['X-QnA-Role: viewer'],
            'role ' . (defined $role ? QnA::Stack::json()->encode($role) : 'absent') . ' is viewer';
    }

    is_deeply $has->($head->(), 'User'), ['X-QnA-User: anonymous'], 'no user: anonymous';
    is_deeply $has->($head->(user => 'anonymous:127.0.0.1'), 'User'),
        ['X-QnA-User: anonymous:127.0.0.1'], 'an anonymous caller by address';
    my $long = 'u' x 160;
    is_deeply $has->($head->(user => $long), 'User'), ["X-QnA-User: $long"], 'a user of 160 bytes';

    for my $case (['empty', ''], ['161 bytes', 'u' x 161],
                  ['CR LF and a header', "eve\r\nX-QnA-Role: admin"], ['LF', "eve\nx"],
                  ['a tab', "eve\tx"], ['a NUL', "eve\0x"], ['not ASCII', "\x{e9}ve"],
                  ['DEL', "eve\x7f"], ['a leading space', ' eve'], ['a trailing space', 'eve '],
                  ['a number', 7], ['an object', { name => 'eve' }]) {
        my ($name, $user) = @$case;
        my $a = $r->sandboxd_call(script => $echo, tools => ['echo'], user => $user);
        is $a->{success}, JSON::PP::false, "user $name: refused";
        is $a->{error}{code}, 'INTERNAL_ERROR', '  INTERNAL_ERROR';
        # jansson refuses a NUL in a string: the frame is not even JSON
        like $a->{error}{message}, qr/^(malformed execute frame|bad frame)$/,
            '  a malformed execute frame';
    }

    is_deeply $has->($head->(user => 'dave'), 'User'), ['X-QnA-User: dave'], 'sandboxd serves on';
    $r->stop;
}

$s->stop;
log_is_clean($s);

done_testing;

sub fake_mcp {
    my ($stack, $path) = @_;
    unlink $path;
    my $l = IO::Socket::UNIX->new(Local => $path, Listen => 16) or die "listen $path: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        while (my $c = $l->accept) {
            my $buf = '';
            while ($buf !~ /\r\n\r\n/) {
                sysread($c, $buf, 4096, length $buf) or last;
            }
            my ($head, $body) = split /\r\n\r\n/, $buf, 2;
            my ($len) = $head =~ /^Content-Length: (\d+)/mi;
            $body //= '';
            while (length $body < ($len // 0)) {
                sysread($c, $body, $len - length $body, length $body) or last;
            }
            my $reply = QnA::Stack::json()->encode({ jsonrpc => '2.0', id => 1, result => {
                content => [{ type => 'text', text => '{}' }],
                structuredContent => { head => [split /\r\n/, $head] } } });
            print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   . "Content-Length: " . length($reply) . "\r\nConnection: close\r\n\r\n$reply";
            close $c;
        }
        POSIX::_exit(0);
    }
    close $l;
    $stack->{pids}{fake_mcp} = $pid;
}
