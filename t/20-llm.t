#!/usr/bin/perl
# LLM planners against mocks of their wire formats (t/mock/llm.pl): OpenAI
# chat completions, Anthropic messages with a forced tool, Ollama chat.
# Plans in fences or prose are read; a plan that fails a check is asked
# for again once; a script that fails is sent back with its error; 429,
# 5xx and 529 are retried (Retry-After honoured); a provider that cannot
# answer passes to the next link of qna_planner, "builtin" included; with
# none left the answer is LLM_UNAVAILABLE or LLM_TIMEOUT.  Every attempt
# and the tokens used are in the answer.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;
use Time::HiRes qw(time);

my $lport = QnA::Stack::free_port();

sub stack {
    my ($name, $chain) = @_;
    my $s = QnA::Stack->new(name => $name, workers => 1, nginx_http => <<"EOF2");
    qna_llm_provider gpt openai url=http://127.0.0.1:$lport/v1 model=gpt-mock key_file=llm.key timeout=2s;
    qna_llm_provider claude anthropic url=http://127.0.0.1:$lport model=claude-mock key_file=llm.key timeout=2s;
    qna_llm_provider local ollama url=http://127.0.0.1:$lport model=llama-mock timeout=2s;
    qna_planner $chain;
    qna_sse_heartbeat 200ms;
EOF2
    QnA::Stack::write_file($s->dir . '/llm.key', "mock-llm-key\n");
    return $s;
}

my $a = stack('llm-a', 'gpt builtin');
$a->start_mock(llm => $lport);
$a->start;

sub llm_log {
    open my $in, '<', $a->dir . '/llm.log' or return ();
    return map { QnA::Stack::json()->decode($_) } <$in>;
}

sub ask {
    my ($s, $q, %o) = @_;
    return $s->http(POST => '/analyze', json => { question => $q, %o },
                    headers => { 'Cache-Control' => 'no-cache' });
}

my $want_close;
{
    my $d = is_success(ask($a, 'What was the last close of AAPL?'), 'openai: a plan');
    is $d->{planner}, 'gpt', '  planned by gpt';
    is $d->{llm}{model}, 'gpt-mock', '  its model';
    is $d->{family}, 'llm', '  an LLM plan';
    like $d->{python_code}, qr/mcp_client\.call\("alpaca_market_stocks_bars"/, '  the script';
    is_deeply $d->{mcp_calls}, ['alpaca_market_stocks_bars'], '  its tools';
    is $d->{result}{body}[1]{value}, 5, '  run: five sessions read';
    $want_close = $d->{result}{body}[0]{value};
    ok $want_close > 0, "  the last close ($want_close)";
    is_deeply $d->{llm}{usage}, { prompt_tokens => 812, completion_tokens => 96 }, '  the tokens the provider reported';
    is_deeply [map { $_->{outcome} } @{ $d->{llm}{attempts} }], ['ok'], '  one attempt';

    my ($req) = grep { $_->{path} eq '/v1/chat/completions' } llm_log();
    my $body = QnA::Stack::json()->decode($req->{body});
    is $body->{model}, 'gpt-mock', 'the request: the model';
    is $body->{response_format}{type}, 'json_schema', '  a JSON schema for the answer';
    is_deeply $body->{response_format}{json_schema}{schema}{required}, ['python_code', 'explanation', 'mcp_calls'], '  requiring the plan\'s fields';
    like $body->{messages}[0]{content}, qr/PARAMS = \{\.\.\.\}/, '  the system prompt: the rules';
    like $body->{messages}[0]{content}, qr/- calculate_sma: .* Input: \{"type":"object"/, '  the tools with their schemas';
    like $body->{messages}[1]{content}, qr/Question: What was the last close of AAPL\?$/, '  the question';
}

for my $m (qw(fence prose)) {
    my $d = is_success(ask($a, "Last close of AAPL? [$m]"), "a plan in $m");
    is $d->{planner}, 'gpt', '  read';
}

for my $m (qw(badjson missing badtool)) {
    my $d = is_success(ask($a, "Last close of AAPL? [$m]"), "[$m]: asked again");
    is_deeply [map { $_->{outcome} } @{ $d->{llm}{attempts} }], ['malformed', 'ok'], '  malformed, then ok';
    is $d->{planner}, 'gpt', '  still planned by gpt';
}
{
    my ($last) = grep { $_->{body} =~ /badtool/ } reverse llm_log();
    like $last->{body}, qr/failed a check: the script calls \\"alpaca_market_stock_prices\\", which is not a tool/, 'the second ask says which tool does not exist';
}

{
    my $d = is_success(ask($a, 'Last close of AAPL? [crash]'), 'a script that raises: corrected');
    is $d->{llm}{corrections}, 1, '  one correction';
    is_deeply [map { $_->{outcome} } @{ $d->{llm}{attempts} }], ['ok', 'script_failed', 'ok'], '  ok, the script failed, ok';
    like $d->{llm}{attempts}[1]{error}, qr/EXECUTION_FAILED: .*ZeroDivisionError|EXECUTION_FAILED: .*division/, '  the error sent back';
    is $d->{result}{body}[0]{value}, $want_close, '  the corrected script\'s answer';
}

{
    my $d = is_success(ask($a, 'Last close of AAPL? [429]'), '429: retried');
    is_deeply [map { $_->{outcome} } @{ $d->{llm}{attempts} }], ['retry', 'ok'], '  after Retry-After';
    ok $d->{llm}{attempts}[1]{duration_ms} >= 0, '  durations recorded';
}

{
    my $d = is_success(ask($a, 'What is the price of AAPL? [500]'), '500 every time: the builtin planner answers');
    is $d->{planner}, 'builtin', '  planner: builtin';
    is $d->{llm}{fallback}, JSON::PP::true, '  said to be a fallback';
    is scalar(grep { $_->{outcome} eq 'retry' } @{ $d->{llm}{attempts} }), 3, '  after the first try and 2 retries';
    $d = is_success(ask($a, 'What is the price of AAPL? [401]'), 'a refused key: no retry, the next link');
    is_deeply [map { $_->{outcome} } @{ $d->{llm}{attempts} }], ['refused'], '  one refused attempt';
    my $t0 = time;
    $d = is_success(ask($a, 'What is the price of AAPL? [slow]'), 'a provider slower than its timeout');
    is $d->{llm}{attempts}[0]{outcome}, 'timeout', '  timed out';
    ok time - $t0 < 3.5, '  at its timeout';
}

{
    my $m = is_success($a->http(GET => '/models'), 'GET /models');
    is_deeply [map { $_->{planner} } @{ $m->{planners} }], ['gpt', 'builtin'], '  the chain in order';
    is $m->{planners}[0]{model}, 'gpt-mock', '  with the model';
    is $m->{planners}[0]{status}, 'failing', '  gpt failing after the timeout';
    like $m->{planners}[0]{last_error}, qr/timeout/, '  saying why';
    is $m->{planners}[1]{available}, JSON::PP::true, '  builtin always available';
    unlike $a->http(GET => '/models')->{body}, qr/mock-llm-key/, '  no key in it';
    ok !exists $m->{planners}[0]{url}, '  nor a URL (it may carry credentials)';
    my $p = is_success($a->http(GET => '/debug/system-prompt'), 'GET /debug/system-prompt');
    like $p->{system}, qr/^You write Python scripts/, '  the system prompt';
    like $p->{system}, qr/- alpaca_market_stocks_bars: /, '  with the tools';
    is_deeply $p->{answer_schema}{required}, ['python_code', 'explanation', 'mcp_calls'], '  and the answer\'s schema';
}

# sessions: the last turns go to the planner
{
    my $d = is_success(ask($a, 'What was the last close of AAPL?'), 'a first turn');
    ask($a, 'And its last close before that? [fence]', session_id => $d->{session_id});
    my ($last) = grep { $_->{path} eq '/v1/chat/completions' } reverse llm_log();
    my $body = QnA::Stack::json()->decode($last->{body});
    like $body->{messages}[1]{content}, qr/Earlier in this conversation:\nuser: What was the last close of AAPL\?\nassistant: Last close of AAPL: last_close = /, 'the next turn carries the previous one';
}

# live progress: server-sent events
sub events {
    my ($s, $q) = @_;
    my $r = $s->http(POST => '/analyze', json => { question => $q },
                     headers => { Accept => 'text/event-stream', 'Cache-Control' => 'no-cache' });
    my $body = $r->{body};
    my $plain = '';
    if (($r->{headers}{'transfer-encoding'} // '') =~ /chunked/) {
        while ($body =~ s/^([0-9a-f]+)\r\n//i) {
            my $n = hex $1;
            last if $n == 0;
            $plain .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
    } else {
        $plain = $body;
    }
    my @ev;
    for my $block (split /\n\n/, $plain) {
        my ($name) = $block =~ /^event: (\S+)$/m or next;
        my ($data) = $block =~ /^data: (.*)$/m;
        push @ev, [$name, QnA::Stack::json()->decode($data)];
    }
    return ($r, @ev);
}

{
    my ($r, @ev) = events($a, 'What was the last close of AAPL?');
    is $r->{status}, 200, 'Accept: text/event-stream: 200';
    like $r->{headers}{'content-type'}, qr{^text/event-stream}, '  an event stream';
    is $r->{headers}{'x-accel-buffering'}, 'no', '  unbuffered';
    my @names = map { $_->[0] } @ev;
    my @seq = grep { $_ ne 'plan' || 1 } @names;
    is $names[0], 'accepted', '  accepted first';
    ok scalar(grep { $_ eq 'plan' } @names) >= 3, '  the plan as the model streams it (' . scalar(grep { $_ eq 'plan' } @names) . ' pieces)';
    my $text = join '', map { $_->[1]{text} } grep { $_->[0] eq 'plan' } @ev;
    my $plan = QnA::Stack::json()->decode($text);
    like $plan->{python_code}, qr/mcp_client\.call/, '  the pieces make the plan';
    my @rest = grep { $_ ne 'plan' } @names;
    is_deeply \@rest, [qw(accepted validated execution_started mcp_call result done)], '  then validated, execution_started, mcp_call, result, done';
    my ($result) = map { $_->[1] } grep { $_->[0] eq 'result' } @ev;
    is $result->{success}, JSON::PP::true, '  the result is the whole envelope';
    is $result->{data}{result}{body}[0]{value}, $want_close, '  with the answer';
    is $result->{data}{llm}{usage}{prompt_tokens}, 812, '  and the tokens of the stream';
    my ($mcp) = map { $_->[1] } grep { $_->[0] eq 'mcp_call' } @ev;
    is $mcp->{tool}, 'alpaca_market_stocks_bars', '  the tool call';

    ($r, @ev) = events($a, 'What is the price of AAPL? [truncated]');
    ($result) = map { $_->[1] } grep { $_->[0] eq 'result' } @ev;
    is $result->{data}{planner}, 'builtin', 'a stream cut short, every try: the builtin planner answers';
    ok scalar(grep { $_->{outcome} eq 'retry' } @{ $result->{data}{llm}{attempts} }) >= 1, '  after retries';
}

# mcp_call is told when the call ends, not with the result
{
    my $sock = $a->connect;
    $a->send_request($sock, POST => '/analyze', json => { question => 'Last close of AAPL? [busy]' },
                     headers => { Accept => 'text/event-stream', 'Cache-Control' => 'no-cache' });
    my ($buf, %at) = ('');
    my $until = time + 30;
    while (time < $until && !$at{done}) {
        my $rin = '';
        vec($rin, fileno($sock), 1) = 1;
        next unless select(my $rout = $rin, undef, undef, 0.05);
        sysread($sock, $buf, 65536, length $buf) or last;
        for my $e (qw(mcp_call result done)) {
            $at{$e} //= time if index($buf, "event: $e\n") >= 0;
        }
    }
    close $sock;
    ok $at{mcp_call} && $at{result}, 'a script busy after its tool call: mcp_call and result both came';
    like $buf, qr/: heartbeat\n\n/, '  with heartbeats while waiting (qna_sse_heartbeat 200ms)';
    ok $at{result} - $at{mcp_call} > 0.1, sprintf('  mcp_call %.2f s before the result: as the call ended', ($at{result} // 0) - ($at{mcp_call} // 0));
}

# a client that leaves while the model thinks: everything stops
{
    my $sock = $a->connect;
    $a->send_request($sock, POST => '/analyze', json => { question => 'Last close of AAPL? [sleep2]' },
                     headers => { Accept => 'text/event-stream', 'Cache-Control' => 'no-cache' });
    sleep 0.5;
    close $sock;
    sleep 0.3;
    like $a->error_log, qr/client prematurely closed connection|client closed/, 'a client that leaves is noticed';
    is_success(ask($a, 'What was the last close of AAPL?'), '  and the worker answers the next');
}

is is_success($a->http(GET => '/models'), 'GET /models again')->{planners}[0]{status}, 'available', '  gpt available after a good answer';
is_deeply [$a->bad_log_lines], [], 'no alert, crit or emerg';
$a->stop_nginx;
$a->stop_sandboxd;

my $b = stack('llm-b', 'claude local');
$b->start;
{
    my $d = is_success(ask($b, 'Last close of AAPL?'), 'anthropic: a plan through the forced tool');
    is $d->{planner}, 'claude', '  planned by claude';
    is_deeply $d->{llm}{usage}, { prompt_tokens => 901, completion_tokens => 88 }, '  its tokens';
    $d = is_success(ask($b, 'Last close of AAPL? [529]'), '529 overloaded: retried');
    is_deeply [map { $_->{outcome} } @{ $d->{llm}{attempts} }], ['retry', 'ok'], '  then ok';
    $d = is_success(ask($b, 'Last close of AAPL? [claude401]'), 'claude refused: the next provider');
    is $d->{planner}, 'local', '  ollama answered';
    is_deeply $d->{llm}{usage}, { prompt_tokens => 700, completion_tokens => 90 }, '  with its counts';
    my ($r, @ev) = events($b, 'Last close of AAPL?');
    my $text = join '', map { $_->[1]{text} } grep { $_->[0] eq 'plan' } @ev;
    ok scalar(grep { $_->[0] eq 'plan' } @ev) >= 3, 'anthropic streams the tool input in pieces';
    like QnA::Stack::json()->decode($text)->{python_code}, qr/mcp_client/, '  which make the plan';
    my ($res) = map { $_->[1] } grep { $_->[0] eq 'result' } @ev;
    is_deeply $res->{data}{llm}{usage}, { prompt_tokens => 901, completion_tokens => 88 }, '  tokens from message_start and message_delta';
    ($r, @ev) = events($b, 'Last close of AAPL? [claude401]');
    ($res) = map { $_->[1] } grep { $_->[0] eq 'result' } @ev;
    is $res->{data}{planner}, 'local', 'ollama streams NDJSON';
    ok scalar(grep { $_->[0] eq 'plan' && $_->[1]{planner} eq 'local' } @ev) >= 3, '  in pieces';
    is_deeply $res->{data}{llm}{usage}, { prompt_tokens => 700, completion_tokens => 90 }, '  counts from the last line';

    my ($req) = grep { $_->{path} eq '/v1/messages' } llm_log();
    my $body = QnA::Stack::json()->decode($req->{body});
    is $body->{tool_choice}{name}, 'submit_plan', 'the Anthropic request forces the plan tool';
    ($req) = grep { $_->{path} eq '/api/chat' } llm_log();
    $body = QnA::Stack::json()->decode($req->{body});
    is $body->{format}{type}, 'object', 'the Ollama request gives the schema as "format"';
}
$b->stop_nginx;
$b->stop_sandboxd;

my $c = stack('llm-c', 'gpt');
$c->start;
is_error(ask($c, 'Last close of AAPL? [500]'), 502, 'LLM_UNAVAILABLE', 'no link left: LLM_UNAVAILABLE');
{
    my ($r, @ev) = events($c, 'Last close of AAPL? [500]');
    is_deeply [map { $_->[0] } @ev], [qw(accepted error done)], 'in events: accepted, error, done';
    is $ev[1][1]{error}{code}, 'LLM_UNAVAILABLE', '  the error envelope';
}
my $r = ask($c, 'Last close of AAPL? [slow]');
is_error($r, 504, 'LLM_TIMEOUT', 'no link left after a timeout: LLM_TIMEOUT');
is $r->{json}{error}{details}{attempts}[0]{outcome}, 'timeout', '  the attempts in details';
$c->stop;
$a->stop;
$b->stop;

done_testing;
