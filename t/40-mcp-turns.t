#!/usr/bin/perl
# Connections take turns on /mcp (issue 14): with one worker, a connection
# that pipelines 20 heavy tool calls (the optimiser at its iteration bound,
# ~15 ms of CPU each) does not hold up a request sent on another
# connection just after them.  nginx runs a keep-alive connection's next
# request in the same pass of its event loop as the one before, so before
# each message waited for a look at epoll (ngx_mcp_body.c) the other
# request was answered after all 20.  What is asserted is the order of the
# answers, never a time.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'turns', workers => 1)->start;
my $json = QnA::Stack::json();
my %h = (Host => 'localhost', 'Content-Type' => 'application/json', $s->mcp_headers);

sub request {
    my ($msg, %more) = @_;
    my $body = $json->encode($msg);
    my %all = (%h, %more, 'Content-Length' => length $body);
    return "POST /mcp HTTP/1.1\r\n" . join('', map { "$_: $all{$_}\r\n" } sort keys %all)
         . "\r\n" . $body;
}

# as t/24: C = diag(v) + 11' keeps the optimiser to its iteration bound
my $n = 50;
my @v = map { 0.01 * (1 + $_ / ($n - 1)) } 0 .. $n - 1;
my $cov = [map { my $i = $_; [map { ($_ == $i ? $v[$i] : 0) + 1 } 0 .. $n - 1] } 0 .. $n - 1];
my $heavy = sub {
    { jsonrpc => '2.0', id => $_[0], method => 'tools/call',
      params => { name => 'optimize_portfolio_weights',
                  arguments => { expected_returns => [map { 0.05 + $_ / 1000 } 1 .. $n],
                                 cov_matrix => $cov, objective => 'min_variance' } } }
};

# the count of whole responses in what was read
sub answers {
    my ($raw) = @_;
    my $count = 0;
    while ($raw =~ /\r\n\r\n/g) {
        my $head_end = pos $raw;
        my $head = substr($raw, 0, $head_end);
        my ($len) = $head =~ /Content-Length: (\d+)/i or last;
        last if length($raw) < $head_end + $len;
        $count++;
        $raw = substr($raw, $head_end + $len);
        pos($raw) = 0;
    }
    return $count;
}

my $busy = $s->connect;
print $busy join('', map { request($heavy->($_)) } 1 .. 20);

my $other = $s->connect;
print $other request({ jsonrpc => '2.0', id => 99, method => 'tools/call',
                       params => { name => 'calculate_sma',
                                   arguments => { prices => [1 .. 30], period => 5 } } },
                     Connection => 'close');
my $r = QnA::Stack::read_response($other);
is $r->{status}, 200, 'the other connection: answered';
is_deeply $r->{json}{result}{structuredContent}{values}, [map { $_ + 2 } 1 .. 26], '  rightly';

# what the pipelining connection had been sent by then
my $got = '';
$busy->blocking(0);
{
    my $rin = '';
    vec($rin, fileno($busy), 1) = 1;
    while (select(my $rout = $rin, undef, undef, 0) > 0) {
        my $k = sysread($busy, $got, 1 << 20, length $got);
        last unless $k;
    }
}
my $before = answers($got);
cmp_ok $before, '<', 20, "it did not wait for the pipelined 20 calls ($before were answered before it)";

# and every one of the 20 is answered, in order
$busy->blocking(1);
{
    my $rin = '';
    vec($rin, fileno($busy), 1) = 1;
    while (answers($got) < 20 && select(my $rout = $rin, undef, undef, 60) > 0) {
        last unless sysread($busy, $got, 1 << 20, length $got);
    }
}
is answers($got), 20, 'the pipelined calls: 20 answers';
my @ids = $got =~ /"id":(\d+)/g;
is_deeply \@ids, [1 .. 20], '  in order';
close $busy;

$s->stop;
log_is_clean($s);

done_testing;
