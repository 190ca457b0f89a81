#!/usr/bin/perl
# The MCP validation tools: seed 000's validation result, computed by
# sandboxd in a sandboxed child, answered asynchronously by nginx.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'validation', workers => 1)->start;

my $good = "PARAMS = {'s': 'AAPL'}\n"
         . "b = mcp_client.call('alpaca_market_stocks_bars', {'symbol': PARAMS['s']})\n"
         . "v = mcp_client.call('calculate_volatility', {'returns': [0.1, 0.2]})\n"
         . "result = v\n";
my $bad = "import os\nx = eval('1')\nresult = 1\n";

my $tools = $s->mcp('tools/list', undef, path => '/mcp/validation')->{result}{tools};
is_deeply [sort map { $_->{name} } @$tools], [qw(check_mcp_calls estimate_runtime validate_python_script)],
    '/mcp/validation serves the three validation tools';

{
    my $r = $s->tool('validate_python_script', { code => $good });
    is $r->{valid}, JSON::PP::true, 'a good script is valid';
    is_deeply $r->{mcp_calls}, ['alpaca_market_stocks_bars', 'calculate_volatility'], '  its tools';
    ok $r->{security_score} > 90, "  security_score $r->{security_score}";
    ok defined $r->{estimated_runtime_ms}, '  estimated_runtime_ms';
    is_deeply $r->{errors}, [], '  no errors';

    $r = $s->tool('validate_python_script', { code => $bad });
    is $r->{valid}, JSON::PP::false, 'a bad script is not';
    is_deeply [map { $_->{construct} } @{ $r->{errors} }], ['import os', 'eval()'], '  both constructs named';
    ok $r->{security_score} < 50, "  security_score $r->{security_score}";

    $r = $s->tool('validate_python_script', { code => "x = (\n" });
    is $r->{errors}[0]{construct}, 'syntax', 'a syntax error';

    is_deeply $s->tool('check_mcp_calls', { code => $good })->{mcp_calls},
        ['alpaca_market_stocks_bars', 'calculate_volatility'], 'check_mcp_calls';
    ok $s->tool('estimate_runtime', { code => $good })->{estimated_runtime_ms} > 0, 'estimate_runtime';

    my $a = $s->mcp('tools/call', { name => 'validate_python_script', arguments => {} });
    like $a->{result}{content}[0]{text}, qr/code/, 'no code: isError naming it';
}

# asynchronous: the worker answers other requests meanwhile, and sandboxd
# down is a clean tool error
{
    my %h = $s->mcp_headers;
    is $s->http(POST => '/mcp', headers => \%h, json => { jsonrpc => '2.0', id => 9, method => 'tools/call',
        params => { name => 'validate_python_script', arguments => { code => $good } } })->{status}, 200,
        'an ordinary HTTP answer';

    $s->stop_sandboxd;
    my $a = $s->mcp('tools/call', { name => 'validate_python_script', arguments => { code => $good } });
    is $a->{result}{isError}, JSON::PP::true, 'sandboxd down: isError';
    like $a->{result}{content}[0]{text}, qr/not available/, '  saying so';
    $s->start_sandboxd;
    is $s->tool('check_mcp_calls', { code => $good })->{valid}, JSON::PP::true, 'and back';

    my %old = %h;
    delete $old{'MCP-Protocol-Version'};
    my $r = $s->http(POST => '/mcp', headers => \%old,
                     json => [{ jsonrpc => '2.0', id => 1, method => 'tools/call',
                                params => { name => 'check_mcp_calls', arguments => { code => $good } } }]);
    is $r->{json}[0]{error}{code}, -32600, 'not in a batch (2025-03-26)';
}

$s->stop;
log_is_clean($s);

done_testing;
