#!/usr/bin/perl
# LLM providers on one loopback port, each in its own wire format:
#   POST /v1/chat/completions   OpenAI (and vLLM, llama.cpp): choices[0].message.content,
#                               usage; "stream": true gives data: chunks and [DONE]
#   POST /v1/messages           Anthropic: x-api-key, anthropic-version; the plan as
#                               a forced tool_use; usage; stream: message_start,
#                               content_block_delta (input_json_delta) ... message_stop
#   POST /api/chat              Ollama: message.content, prompt_eval_count, eval_count;
#                               stream: NDJSON
#
#   llm.pl PORT DIR
#
# Every request is appended to DIR/llm.log as one line of JSON {path, body,
# traceparent}.
# What it answers depends on markers in the question (the last user message):
#   [fence]     the plan inside ```json fences      [prose]  words around the JSON
#   [badjson]   not JSON the first time              [missing] no python_code the first time
#   [badtool]   a script calling a tool that does not exist, until corrected
#   [crash]     a script that raises, until corrected (the prompt carries the error)
#   [429]       429 with Retry-After: 1 the first time   [500] always 500
#   [529]       529 overloaded the first time (Anthropic's)   [401] always 401
#   [claude401] 401 from the Anthropic path only
#   [slow]      answers after 3 s                    [truncated] a stream cut short
#   [busy]      a script that computes a while after its tool call
#   [account]   a plan that reads the trading account (a manager's tool)
# A corrected request is one whose prompt says "failed".  Key: "mock-llm-key".
# Perl core only; a process per connection; stops when its parent dies.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QnA::MockHTTP qw(serve_forever reply logline);
use JSON::PP;
use Fcntl qw(:flock);

my ($port, $dir) = @ARGV;
die "usage: llm.pl PORT DIR\n" unless $port && $dir;

my $json = JSON::PP->new->canonical->utf8;

# the plan every provider answers: set before the first connection
my $good = <<'PY';
PARAMS = {"symbol": "AAPL", "days": 5}
bars = mcp_client.call("alpaca_market_stocks_bars", {"symbol": PARAMS["symbol"], "limit": PARAMS["days"]})
closes = [b["c"] for b in bars["data"]["bars"]]
result = {"description": "Last close of " + PARAMS["symbol"],
          "body": [{"key": "last_close", "value": closes[-1], "description": "close of the latest session"},
                   {"key": "sessions", "value": len(closes), "description": "sessions read"}]}
PY

serve_forever($port, 512, sub {
    my ($c, $method, $path, $h, $body) = @_;
    logline("$dir/llm.log", $json->encode({ path => $path, body => $body,
                                            traceparent => $h->{traceparent} }));
    my $req = eval { $json->decode($body) } || {};
    return answer($c, $path, $req, $h);
});

sub once {
    # true the first time a marker is seen in this run
    my ($name) = @_;
    (my $safe = $name) =~ s/[^A-Za-z0-9]/_/g;
    my $f = "$dir/llm.once.$safe";
    open my $fh, '>>', $f or return 1;
    flock $fh, LOCK_EX;
    my $first = -s $f ? 0 : 1;
    print $fh "x";
    close $fh;
    return $first;
}

sub plan_for {
    my ($question, $prompt) = @_;
    my $corrected = $prompt =~ /failed/i;
    my $code = $good;
    if ($question =~ /\[badtool\]/ && !$corrected) {
        $code =~ s/alpaca_market_stocks_bars/alpaca_market_stock_prices/;
    }
    if ($question =~ /\[crash\]/ && !$corrected) {
        $code .= "x = 1 / 0\n";
    }
    if ($question =~ /\[busy\]/) {
        $code .= "s = 0\nfor i in range(4000000):\n    s += i\n";
    }
    my %plan = (python_code => $code,
                explanation => 'Reads the last 5 daily bars of AAPL and reports the latest close.',
                mcp_calls => ['alpaca_market_stocks_bars']);
    if ($question =~ /\[account\]/) {
        %plan = (python_code => "a = mcp_client.call(\"alpaca_trading_account\", {})\n"
                                . "result = {\"description\": \"Cash\", \"body\": [{\"key\": \"cash\", "
                                . "\"value\": a[\"data\"][\"cash\"], \"description\": \"cash\"}]}\n",
                 explanation => 'Reads the trading account.',
                 mcp_calls => ['alpaca_trading_account']);
    }
    if ($question =~ /\[missing\]/ && once('missing')) {
        delete $plan{python_code};
    }
    my $text = $json->encode(\%plan);
    $text = "```json\n$text\n```" if $question =~ /\[fence\]/;
    $text = "Here is the plan you asked for:\n$text\nGood luck." if $question =~ /\[prose\]/;
    $text = '{"python_code": "x = ' if $question =~ /\[badjson\]/ && once('badjson');
    return ($text, \%plan);
}

sub last_user {
    my ($req) = @_;
    my @m = @{ $req->{messages} || [] };
    my ($u) = grep { $_->{role} eq 'user' } reverse @m;
    return '' unless $u;
    my $c = $u->{content};
    $c = join ' ', map { ref $_ ? ($_->{text} // '') : $_ } @$c if ref $c;
    return $c;
}

sub answer {
    my ($c, $path, $req, $h) = @_;
    my $q = last_user($req);
    my $prompt = $json->encode($req);
    my ($question) = $q =~ /Question:\s*(.*)/;
    $question //= $q;

    if (($h->{authorization} // '') !~ /mock-llm-key/ && ($h->{'x-api-key'} // '') ne 'mock-llm-key'
        && $path ne '/api/chat') {
        reply($c, 401, '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}');
        return 1;
    }
    if ($question =~ /\[401\]/ || ($question =~ /\[claude401\]/ && $path eq '/v1/messages')) {
        reply($c, 401, '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}');
        return 1;
    }
    if ($question =~ /\[500\]/) {
        reply($c, 500, '{"error":{"message":"The server had an error","type":"server_error"}}');
        return 1;
    }
    if ($question =~ /\[429\]/ && once("429$path")) {
        reply($c, 429, '{"error":{"message":"Rate limit reached","type":"rate_limit_exceeded"}}', 'Retry-After' => 1);
        return 1;
    }
    if ($question =~ /\[529\]/ && once("529$path")) {
        reply($c, 529, '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
        return 1;
    }
    sleep 3 if $question =~ /\[slow\]/;
    sleep $1 if $question =~ /\[sleep(\d+)\]/;

    my ($text, $plan) = plan_for($question, $prompt);
    my $stream = $req->{stream} ? 1 : 0;

    if ($path eq '/v1/chat/completions') {
        my $usage = { prompt_tokens => 812, completion_tokens => 96, total_tokens => 908 };
        if ($stream) {
            my @chunks = ($text =~ /(.{1,16})/gs);
            my $out = '';
            for my $ch (@chunks) {
                $out .= 'data: ' . $json->encode({ choices => [{ index => 0, delta => { content => $ch } }] }) . "\n\n";
            }
            if ($question =~ /\[truncated\]/) {
                $out = substr($out, 0, length($out) / 2);
                return print_stream($c, $out, 'text/event-stream', 1);
            }
            $out .= 'data: ' . $json->encode({ choices => [{ index => 0, delta => {}, finish_reason => 'stop' }], usage => $usage }) . "\n\n";
            $out .= "data: [DONE]\n\n";
            return print_stream($c, $out, 'text/event-stream');
        }
        reply($c, 200, $json->encode({ id => 'chatcmpl-mock', object => 'chat.completion', model => $req->{model},
            choices => [{ index => 0, message => { role => 'assistant', content => $text }, finish_reason => 'stop' }],
            usage => $usage }));
        return 1;
    }

    if ($path eq '/v1/messages') {
        my $usage = { input_tokens => 901, output_tokens => 88 };
        my $input = $plan;
        if ($question =~ /\[badjson\]/ && $text =~ /^\{"python_code": "x = $/) {
            $input = { explanation => 'broken' };
        }
        if ($stream) {
            # the tool's input as input_json_delta pieces, between the
            # message's start (input tokens) and its delta (output tokens)
            my $json_text = $json->encode($input);
            my $ev = sub { my ($t, $d) = @_; "event: $t\ndata: " . $json->encode({ type => $t, %$d }) . "\n\n" };
            my $out = $ev->('message_start', { message => { id => 'msg_mock', role => 'assistant',
                                                             usage => { input_tokens => 901, output_tokens => 1 } } });
            $out .= $ev->('content_block_start', { index => 0, content_block => { type => 'tool_use', id => 'toolu_1',
                                                                                 name => 'submit_plan', input => {} } });
            $out .= $ev->('ping', {});
            $out .= $ev->('content_block_delta', { index => 0, delta => { type => 'input_json_delta', partial_json => $_ } })
                for ($json_text =~ /(.{1,16})/gs);
            $out .= $ev->('content_block_stop', { index => 0 });
            $out .= $ev->('message_delta', { delta => { stop_reason => 'tool_use' }, usage => { output_tokens => 88 } });
            $out .= $ev->('message_stop', {});
            return print_stream($c, $out, 'text/event-stream');
        }
        reply($c, 200, $json->encode({ id => 'msg_mock', type => 'message', role => 'assistant', model => $req->{model},
            content => [{ type => 'tool_use', id => 'toolu_1', name => 'submit_plan', input => $input }],
            stop_reason => 'tool_use', usage => $usage }));
        return 1;
    }

    if ($path eq '/api/chat') {
        if ($stream) {
            my $out = '';
            $out .= $json->encode({ model => $req->{model}, message => { role => 'assistant', content => $_ }, done => JSON::PP::false }) . "\n"
                for ($text =~ /(.{1,16})/gs);
            $out .= $json->encode({ model => $req->{model}, message => { role => 'assistant', content => '' }, done => JSON::PP::true,
                                    prompt_eval_count => 700, eval_count => 90 }) . "\n";
            return print_stream($c, $out, 'application/x-ndjson');
        }
        reply($c, 200, $json->encode({ model => $req->{model}, message => { role => 'assistant', content => $text },
            done => JSON::PP::true, prompt_eval_count => 700, eval_count => 90 }));
        return 1;
    }

    reply($c, 404, '{"error":"not found"}');
    return 1;
}

# a chunked response written piece by piece, as a streaming server does
sub print_stream {
    my ($c, $out, $type, $cut) = @_;
    print $c "HTTP/1.1 200 OK\r\nContent-Type: $type\r\nTransfer-Encoding: chunked\r\n\r\n";
    for my $piece ($out =~ /(.{1,64})/gs) {
        printf $c "%x\r\n%s\r\n", length $piece, $piece;
        select(undef, undef, undef, 0.002);
    }
    return 0 if $cut;     # the connection ends without the last chunk
    print $c "0\r\n\r\n";
    return 1;
}
