#!/usr/bin/perl
# A request's identity across systems (issue 12): an incoming X-Request-Id
# is kept (execution ids stay nginx's own); a W3C traceparent is continued,
# or a trace begun, and sent on to LLM providers, vendors, upstream MCP
# servers and, through sandboxd's relay, with the script's tool calls.
# The JSON access log says the trace and this request's span.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;

my $lport = QnA::Stack::free_port();
my $vport = QnA::Stack::free_port();

my $peer = QnA::Stack->new(name => 'trace-peer', workers => 1);
$peer->start;

my $s = QnA::Stack->new(name => 'trace', workers => 1, nginx_http => <<"EOF");
    qna_llm_provider gpt openai url=http://127.0.0.1:$lport/v1 model=gpt-mock key_file=llm.key timeout=5s;
    qna_planner gpt builtin;
    mcp_market_data alpaca;
    mcp_alpaca_data_url http://127.0.0.1:$vport;
    mcp_alpaca_key_file alpaca.key;
    mcp_upstream peer http://127.0.0.1:@{[ $peer->port ]}/mcp/analytics;
    mcp_tool_role upstream viewer;
EOF
QnA::Stack::write_file($s->dir . '/llm.key', "mock-llm-key\n");
QnA::Stack::write_file($s->dir . '/alpaca.key', "mock-key\nmock-secret\n");
$s->start_mock(llm => $lport);
$s->start_mock(vendors => $vport);
$s->start;

my $trace = '4bf92f3577b34da6a3ce929d0e0e4736';
my $parent = '00f067aa0ba902b7';
my $tp = "00-$trace-$parent-01";

# the lines of a JSON log that "want" picks: nginx writes a request's line
# after its answer is sent, so they are waited for
sub log_lines {
    my ($stack, $file, $want) = @_;
    my $until = time + 5;
    my @got;
    while (time < $until) {
        if (open my $in, '<', $stack->dir . "/logs/$file") {
            @got = grep { $want->($_) } map { QnA::Stack::json()->decode($_) } <$in>;
        }
        return @got if @got;
        sleep 0.05;
    }
    return @got;
}

sub lines_of {
    my ($file) = @_;
    open my $in, '<', $file or return ();
    return map { chomp; $_ } <$in>;
}

# the request id: kept when it is a plain token, nginx's own otherwise
{
    my $r = $s->http(GET => '/health', headers => { 'X-Request-Id' => 'edge-7f3a.42' });
    is $r->{headers}{'x-request-id'}, 'edge-7f3a.42', 'an incoming X-Request-Id is kept';
    is $r->{json}{request_id}, 'edge-7f3a.42', '  in the body too';
    $r = $s->http(GET => '/health', headers => { 'X-Request-Id' => 'not a token; ' . ('x' x 80) });
    like $r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, '  one that is not a token is replaced';
    my $e = is_success($s->execute(script => "result = 1\n", execution_id => undef), 'an /execute');
    my $x = $s->http(POST => '/execute', json => { script => "result = 1\n" },
                     headers => { 'X-Request-Id' => 'exec_chosen' });
    is $x->{json}{request_id}, 'exec_chosen', '  with a kept id';
    like $x->{json}{data}{execution_id}, qr/^exec_[0-9a-f]{32}$/, '  whose execution id is still nginx\'s own';
    my ($kept) = log_lines($s, 'access.log', sub { $_[0]{request_id} eq 'exec_chosen' });
    is "exec_$kept->{nginx_request_id}", $x->{json}{data}{execution_id}, '  and the log has both ids';
}

# an LLM planner is sent the trace, with this request as its parent
{
    my $a = is_success($s->http(POST => '/analyze', json => { question => 'what was the last close of AAPL?' },
                                headers => { traceparent => $tp }), 'an analysis with a traceparent');
    is $a->{planner}, 'gpt', '  planned by the LLM';
    my ($line) = log_lines($s, 'access.log', sub { $_[0]{uri} eq '/analyze' });
    is $line->{trace_id}, $trace, 'the access log: the incoming trace';
    like $line->{span_id}, qr/^[0-9a-f]{16}$/, '  and this request\'s own span';
    isnt $line->{span_id}, $parent, '  not the caller\'s';
    my ($llm) = map { QnA::Stack::json()->decode($_) } lines_of($s->dir . '/llm.log');
    is $llm->{traceparent}, "00-$trace-$line->{span_id}-01", 'the LLM provider got the trace, this span its parent';

    # the script's tool call went sandboxd -> relay -> vendor: same trace
    my ($relayed) = log_lines($s, 'relay.log', sub { ($_[0]{mcp_tool} // '') eq 'alpaca_market_stocks_bars' });
    is $relayed->{trace_id}, $trace, 'the relay\'s request (the script\'s tool call) is in the trace';
    my ($bars) = grep { m{^/v2/stocks/AAPL/bars} } lines_of($s->dir . '/traces.log');
    is((split / /, $bars // '')[1], "00-$trace-$relayed->{span_id}-01", '  and so is the vendor call it made');
}

# a vendor and an upstream MCP server, from a tools/call
{
    my %h = ($s->mcp_headers, traceparent => "00-$trace-$parent-00");
    my $r = $s->http(POST => '/mcp', headers => \%h,
                     json => { jsonrpc => '2.0', id => 9, method => 'tools/call',
                               params => { name => 'alpaca_market_stocks_snapshots', arguments => { symbols => 'AAPL' } } });
    ok !$r->{json}{result}{isError}, 'a vendor\'s tool';
    my ($mcp) = log_lines($s, 'access.log', sub { ($_[0]{mcp_tool} // '') eq 'alpaca_market_stocks_snapshots' });
    my @traced = grep { m{^/v2/stocks/snapshots} } lines_of($s->dir . '/traces.log');
    is scalar(@traced), 1, '  the vendor got a traceparent';
    is((split / /, $traced[0])[1], "00-$trace-$mcp->{span_id}-00", '  the trace, this span, the caller\'s flags');

    my $until = time + 10;
    my $up;
    while (time < $until) {
        $up = $s->http(POST => '/mcp', headers => \%h,
                       json => { jsonrpc => '2.0', id => 10, method => 'tools/call',
                                 params => { name => 'peer_calculate_sma', arguments => { prices => [1, 2, 3], period => 2 } } });
        last if $up->{json}{result} && !$up->{json}{result}{isError};
        sleep 0.2;
    }
    is $up->{json}{result}{structuredContent}{latest}, 2.5, 'an upstream server\'s tool';
    my ($call) = log_lines($peer, 'access.log', sub { ($_[0]{mcp_tool} // '') eq 'calculate_sma' });
    is $call->{trace_id}, $trace, '  the upstream nginx logged the same trace';
}

# no traceparent, or a malformed one: a trace begins here
{
    my $r = $s->http(GET => '/health', headers => { traceparent => '00-zzzz-bad-01' });
    my $id = $r->{json}{request_id};
    my ($line) = log_lines($s, 'access.log', sub { $_[0]{request_id} eq $id });
    is $line->{trace_id}, $id, 'a malformed traceparent: a new trace, named by the request id';
    $r = $s->http(GET => '/health', headers => { traceparent => "00-$trace-0000000000000000-01" });
    ($line) = log_lines($s, 'access.log', sub { $_[0]{request_id} eq $r->{json}{request_id} });
    is $line->{trace_id}, $r->{json}{request_id}, '  a parent of zeros is not one either';
}

$s->stop;
log_is_clean($s);
$peer->stop;
log_is_clean($peer);

done_testing;
