#!/usr/bin/perl
# POST /execute and sandboxd's answers: limits checked at the door, then
# every way a script can fail gets its code, with details a user can act on.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'execute', sandboxd => { max_active => 2, max_queue => 1 })->start;

my $ok_script = "PARAMS = {\"n\": 2}\nresult = {\"description\": \"sum\", \"body\": [{\"key\": \"sum\", \"value\": PARAMS[\"n\"] + 1, \"description\": \"n + 1\"}]}\n";

# a plain run, and the contract's shape
{
    my $d = is_success($s->execute(script => $ok_script), 'a simple script');
    is $d->{result}{body}[0]{value}, 3, '  its answer';
    like $d->{execution_id}, qr/^exec_[0-9a-f]{32}$/, '  an execution_id';
    ok defined $d->{execution_time_ms}, '  execution_time_ms';
    is_deeply $d->{metadata}{mcp_calls_made}, [], '  no tool calls';

    $d = is_success($s->execute(script => $ok_script, params => { n => 41 }, execution_id => 'mine-1'),
                    'other PARAMS and a chosen execution_id');
    is $d->{result}{body}[0]{value}, 42, '  PARAMS were replaced';
    is $d->{execution_id}, 'mine-1', '  the execution_id is kept';

    $d = is_success($s->execute(script => "import numpy as np\nresult = np.arange(4) * 1.5\n"),
                    'a bare numpy value as result');
    is_deeply $d->{result}{body}[0]{value}, [0, 1.5, 3, 4.5], '  wrapped into a body row';

    $d = is_success($s->execute(script => "import pandas as pd\nprint('hello')\nresult = {'mean': pd.Series([1, 2, 3]).mean(), 'nan': float('nan')}\n"),
                    'a dict result, print() and NaN');
    is_deeply [map { $_->{key} } @{ $d->{result}{body} }], ['mean', 'nan'], '  one row per key';
    is $d->{result}{body}[1]{value}, undef, '  NaN becomes null';
    is $d->{stdout}, "hello\n", '  print() output is returned';
}

# checks at the door: 400 INVALID_REQUEST naming the field
for my $case ([{}, 'script', 'no script'],
              [{ script => '' }, 'script', 'empty script'],
              [{ script => 7 }, 'script', 'numeric script'],
              [{ script => 'x' x 262145 }, 'script', 'script over 256 KiB'],
              [{ script => $ok_script, timeout_seconds => 0 }, 'timeout_seconds', 'timeout 0'],
              [{ script => $ok_script, timeout_seconds => 121 }, 'timeout_seconds', 'timeout 121'],
              [{ script => $ok_script, timeout_seconds => '30' }, 'timeout_seconds', 'timeout as a string'],
              [{ script => $ok_script, timeout_seconds => 1.5 }, 'timeout_seconds', 'fractional timeout'],
              [{ script => $ok_script, max_memory_mb => 15 }, 'max_memory_mb', 'memory 15'],
              [{ script => $ok_script, max_memory_mb => 2049 }, 'max_memory_mb', 'memory 2049'],
              [{ script => $ok_script, params => [1] }, 'params', 'params as an array'],
              [{ script => $ok_script, execution_id => 'a b' }, 'execution_id', 'bad execution_id']) {
    my ($body, $field, $name) = @$case;
    my $r = $body->{script} && length $body->{script} > 262144
        ? $s->http(POST => '/execute', json => $body, headers => {})
        : $s->execute(%$body);
    next if $r->{status} && $r->{status} == 413;    # the body limit came first
    my $j = is_error($r, 400, 'INVALID_REQUEST', $name);
    is $j->{error}{details}{field}, $field, "  names $field";
}

# the script's own faults: 422 with the right code
{
    my $j = is_error($s->execute(script => "x = 1\ny = (\n"), 422, 'SCRIPT_VALIDATION_FAILED', 'a syntax error');
    ok $j->{error}{details}{line}, '  with its line';

    $j = is_error($s->execute(script => "a = 1\nb = 0\nresult = a / b\n"), 422, 'EXECUTION_FAILED', 'division by zero');
    is $j->{error}{details}{type}, 'ZeroDivisionError', '  the exception type';
    is $j->{error}{details}{line}, 3, '  the line';
    like $j->{error}{details}{execution_id}, qr/^exec_/, '  the execution_id';

    is_error($s->execute(script => "x = 1\n"), 422, 'EXECUTION_FAILED', 'no result');
    is_error($s->execute(script => "result = object()\n"), 422, 'EXECUTION_FAILED', 'a result that is not JSON');
    is_error($s->execute(script => $ok_script =~ s/PARAMS = /P = /r, params => { n => 1 }),
             422, 'SCRIPT_VALIDATION_FAILED', 'params for a script without PARAMS');

    $j = is_error($s->execute(script => "import time\nmcp_client.progress('step one')\nwhile True:\n    time.sleep(0.05)\n",
                              timeout_seconds => 1),
                  422, 'EXECUTION_TIMEOUT', 'an endless loop');
    is $j->{error}{details}{timeout_seconds}, 1, '  the limit';
    is $j->{error}{details}{steps_completed}, 1, '  steps completed';
    is $j->{error}{details}{last_step}, 'step one', '  the last step';

    is_error($s->execute(script => "while True:\n    pass\n", timeout_seconds => 1),
             422, 'EXECUTION_TIMEOUT', 'a busy loop is killed too');

    is_error($s->execute(script => "b = bytearray(300 * 1024 * 1024)\nresult = len(b)\n", max_memory_mb => 64),
             422, 'MEMORY_LIMIT_EXCEEDED', '300 MB under a 64 MB limit');
    is_success($s->execute(script => "b = bytearray(40 * 1024 * 1024)\nresult = len(b)\n", max_memory_mb => 64),
               '40 MB under a 64 MB limit');
}

# tool failures: the relay passes the tool's error on, with its code
{
    my $j = is_error($s->execute(script => "result = mcp_client.call('alpaca_market_stocks_bars', {'symbol': 'NOPE', 'limit': 5})\n",
                                 allowed_tools => ['alpaca_market_stocks_bars']),
                     502, 'DATA_UNAVAILABLE', 'a symbol the vendor does not have');
    is $j->{error}{details}{tool}, 'alpaca_market_stocks_bars', '  names the tool';

    $j = is_error($s->execute(script => "result = mcp_client.call('calculate_sma', {'prices': 'abc'})\n",
                              allowed_tools => ['calculate_sma']),
                  502, 'MCP_TOOL_ERROR', 'a bad argument');
    like $j->{error}{message}, qr/prices/, '  the message names the argument';

    is_error($s->execute(script => "result = mcp_client.call('no_such_tool', {})\n",
                         allowed_tools => ['no_such_tool']),
             502, 'MCP_TOOL_ERROR', 'an unknown tool');

    my $d = is_success($s->execute(script => "try:\n    mcp_client.call('no_such_tool')\nexcept mcp_client.McpError as e:\n    result = e.code\n",
                                   allowed_tools => ['no_such_tool']),
                       'a script may catch a tool error');
    is $d->{result}{body}[0]{value}, 'MCP_TOOL_ERROR', '  and read its code';
}

# the relay's policy: the tools an execution may call, and how many calls
{
    my $two = "a = mcp_client.call('calculate_sma', {'prices': [1, 2, 3], 'period': 2})\n"
            . "b = mcp_client.call('calculate_ema', {'prices': [1, 2, 3], 'period': 2})\n"
            . "result = [a['latest'], b['latest']]\n";
    my @both = (allowed_tools => ['calculate_sma', 'calculate_ema']);
    my $d = is_success($s->execute(script => $two, @both), 'two tool calls');
    my $m = $d->{metadata}{mcp_calls_made};
    is_deeply [map { $_->{tool} } @$m], ['calculate_sma', 'calculate_ema'], '  each call recorded, in order';
    ok !grep({ !defined $_->{duration_ms} || $_->{ok} ne JSON::PP::true } @$m), '  with its duration and outcome';

    my $j = is_error($s->execute(script => $two, allowed_tools => ['calculate_sma']),
                     502, 'MCP_TOOL_ERROR', 'a tool outside allowed_tools');
    like $j->{error}{message}, qr/may not call calculate_ema/, '  says which';

    $j = is_error($s->execute(script => $two, @both, max_mcp_calls => 1), 502, 'MCP_TOOL_ERROR', 'over the call budget');
    like $j->{error}{message}, qr/budget of 1 tool calls/, '  says so';

    my $r = $s->execute(script => "while True:\n    mcp_client.call('calculate_sma', {'prices': [1, 2], 'period': 1})\n",
                        @both);
    $j = is_error($r, 502, 'MCP_TOOL_ERROR', 'an endless caller meets the default budget of 50');

    is_error($s->execute(script => $two, allowed_tools => 'calculate_sma'), 400, 'INVALID_REQUEST',
             'allowed_tools as a string');
    is_error($s->execute(script => $two, max_mcp_calls => 1001), 400, 'INVALID_REQUEST', 'max_mcp_calls 1001');
}

# output is capped at 1 MiB, with a flag
{
    my $d = is_success($s->execute(script => "for i in range(40):\n    print('x' * 65535)\nresult = 1\n"),
                       '2.5 MiB of print()');
    is length($d->{stdout}), 1024 * 1024, '  1 MiB kept';
    is $d->{stdout_truncated}, JSON::PP::true, '  and the flag says so';
}

# every child has randomness of its own
{
    # numpy's generator gets a whole state of its own (624 words), no
    # normal deviate of the zygote's waiting in it
    my $script = "import random\nimport numpy\nst = numpy.random.get_state()\n"
               . "result = [random.random(), float(numpy.random.rand()), float(numpy.random.randn()),"
               . " int(st[2]), int(st[3]), len(set(int(k) for k in st[1]))]\n";
    my $a = is_success($s->execute(script => $script), 'random numbers');
    my $b = is_success($s->execute(script => $script), 'random numbers again');
    my ($va, $vb) = ($a->{result}{body}[0]{value}, $b->{result}{body}[0]{value});
    isnt $va->[0], $vb->[0], '  random differs between children';
    isnt $va->[1], $vb->[1], '  numpy.random differs too';
    isnt $va->[2], $vb->[2], '  and its normal deviates';
    is_deeply [@$va[3, 4]], [624, 0], '  a state fresh from seeding, no cached deviate';
    cmp_ok $va->[5], '>', 600, '  of 624 words that are not one number repeated';
}

# a full house: 2 running, 1 queued, the next one is told to come back
{
    my @socks;
    for (1 .. 3) {
        my $sock = $s->connect;
        $s->send_request($sock, POST => '/execute',
                         json => { script => "import time\ntime.sleep(1.5)\nresult = 1\n" });
        push @socks, $sock;
        select(undef, undef, undef, 0.2);
    }
    my $r = $s->execute(script => $ok_script);
    is_error($r, 503, 'SANDBOX_BUSY', 'slots and queue full');
    is $r->{headers}{'retry-after'}, '1', '  with Retry-After';
    my @codes = map { QnA::Stack::read_response($_)->{status} } @socks;
    is_deeply \@codes, [200, 200, 200], '  the running and the queued ones finish';
}

$s->stop;
log_is_clean($s);

done_testing;
