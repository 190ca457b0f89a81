#!/usr/bin/perl
# What an ops team runs the gateway with (issue 12): GET /metrics in the
# Prometheus text format, summed over the workers and kept across a
# reload, parsed strictly here; the qna_ and mcp_ variables in the JSON
# access log; GET /ready going 503 while sandboxd, Redis or PostgreSQL is
# away and 200 again when they are back.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'observe', workers => 2, postgres => 1,
                        locations => <<'EOF');
        location = /limited {
            qna_rate_limit 1r/m;
            qna_health;
        }

EOF
$s->start;

# a scrape, parsed by the exposition format's rules: every sample belongs
# to a family declared by # TYPE before it; values are numbers
sub scrape {
    my $r = $s->http(GET => '/metrics');
    my (%type, %sample, @bad);
    for my $line (split /\n/, $r->{body}) {
        if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/) {
            push @bad, "family twice: $line" if $type{$1}++;
            next;
        }
        next if $line =~ /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S/;
        if ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.]+(?:e[+-]?\d+)?)$/) {
            my ($name, $labels, $value) = ($1, $2 // '', $3);
            (my $family = $name) =~ s/_(bucket|sum|count)$// if $name =~ /_(bucket|sum|count)$/;
            $family //= $name;
            push @bad, "no TYPE before $name" unless $type{$family} || $type{$name};
            $sample{"$name$labels"} = $value;
            next;
        }
        push @bad, "not the format: $line";
    }
    return ($r, \%sample, \@bad);
}

sub metric { my ($m, $key) = @_; return $m->{$key} // 0 }

{
    my ($r, $m, $bad) = scrape();
    is $r->{status}, 200, 'GET /metrics';
    like $r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, '  in the text format 0.0.4';
    ok !@$bad, '  every line parses' or diag join "\n", @$bad[0 .. ($#$bad < 9 ? $#$bad : 9)];
    is metric($m, 'qna_sandbox_up'), 1, '  sandboxd answered the scrape';
}

# known traffic, spread over both workers
my $q = 'What is the 30-day volatility of TSLA?';
is_success($s->analyze($q), 'an analysis') for 1 .. 3;
is_success($s->analyze('What is the 14-day RSI of NVDA?'), 'another');
is_error($s->http(GET => '/nowhere'), 404, 'NOT_FOUND', 'a 404');
is_success($s->http(GET => '/limited'), 'a limited location');
is_error($s->http(GET => '/limited'), 429, 'RATE_LIMIT_EXCEEDED', '  refused the second time');

{
    my ($r, $m, $bad) = scrape();
    ok !@$bad, 'the scrape after them parses' or diag join "\n", @$bad;
    is metric($m, 'qna_http_requests_total{endpoint="analyze",status="200"}'), 4, 'four analyses answered 200 (both workers summed)';
    is metric($m, 'qna_http_requests_total{endpoint="other",status="404"}'), 1, 'one 404';
    is metric($m, 'qna_http_requests_total{endpoint="health",status="429"}'), 1, 'one 429 of the limited location';
    is metric($m, 'qna_ratelimit_refused_total'), 1, '  counted as a refusal';
    is metric($m, 'qna_result_cache_total{layer="answer"}'), 2, 'two answers given again whole from Redis';
    is metric($m, 'qna_result_cache_total{layer="redis"}'), 0, '  none planned and found in the result cache';
    is metric($m, 'qna_result_cache_total{layer="miss"}'), 2, 'two computed';
    is metric($m, 'qna_analyze_duration_seconds_count'), 4, 'the /analyze histogram counted them';
    is metric($m, 'qna_analyze_duration_seconds_bucket{le="+Inf"}'), 4, '  +Inf is the count';
    # the same question again is answered whole from Redis, never planned
    is metric($m, 'qna_plan_duration_seconds_count'), 2, 'two plans timed: the answers given again were not planned';
    is metric($m, 'qna_execution_duration_seconds_count'), 2, 'two executions timed';
    is metric($m, 'qna_mcp_tool_duration_seconds_count{tool="calculate_volatility"}'), 1,
       'the relayed tool calls timed by tool';
    is metric($m, 'qna_mcp_tool_duration_seconds_count{tool="calculate_rsi"}'), 1, '  each';
    is metric($m, 'qna_http_requests_total{endpoint="mcp",status="200"}'), 4, '  and counted as MCP requests';
    is metric($m, 'qna_trail_spool_bytes'), 0, 'nothing spooled';

    # histograms: cumulative buckets
    my @b = map { metric($m, qq{qna_analyze_duration_seconds_bucket{le="$_"}}) }
            qw(0.001 0.002 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf);
    ok !(grep { $b[$_] < $b[$_ - 1] } 1 .. $#b), '  buckets never decrease';
}

# a reload keeps the counters; the JSON log says who, what and where from
{
    $s->reload_nginx;
    sleep 1;
    my ($r, $m) = scrape();
    is metric($m, 'qna_http_requests_total{endpoint="analyze",status="200"}'), 4, 'after a reload: the same count';

    open my $log, '<', $s->dir . '/logs/access.log' or die;
    my @lines = map { QnA::Stack::json()->decode($_) } <$log>;
    my @an = grep { $_->{uri} eq '/analyze' && $_->{status} == 200 } @lines;
    is scalar(@an), 4, 'the access log: one JSON line per analysis';
    is "$an[0]{user} $an[0]{role} $an[0]{planner} $an[0]{cache}", 'anonymous viewer builtin MISS', '  who, planned by whom, computed';
    is $an[1]{cache}, 'HIT_ANSWER', '  the next given again from Redis';
    like $an[0]{execution_id}, qr/^exec_[0-9a-f]{32}$/, '  with its execution';
    my @lim = grep { $_->{uri} eq '/limited' } @lines;
    is join(' ', map { $_->{ratelimit} } @lim), 'PASSED REJECTED', '  the limiter\'s verdicts';
    open my $relay, '<', $s->dir . '/logs/relay.log' or die;
    my %tools = map { (QnA::Stack::json()->decode($_)->{mcp_tool} => 1) } <$relay>;
    ok $tools{alpaca_market_stocks_bars} && $tools{calculate_volatility}, 'the relay\'s log names each tool called';
}

# /ready: what a load balancer asks
sub ready { $s->http(GET => '/ready') }

sub wait_ready {
    my $until = time + 15;
    my $r;
    while (time < $until) {
        $r = ready();
        return $r if ($r->{status} // 0) == 200;
        sleep 0.1;
    }
    return $r;
}

{
    my $d = is_success(wait_ready(), 'GET /ready');
    is $d->{ready}, JSON::PP::true, '  ready';
    $s->stop_redis;
    my $j = is_error(ready(), 503, 'STORE_UNAVAILABLE', 'Redis stopped: 503');
    like $j->{error}{message}, qr/Redis/, '  naming it';
    is_success($s->http(GET => '/health'), '  /health still answers 200 (liveness)');
    $s->start_redis;
    is_success(wait_ready(), 'Redis back: ready again');
    $s->stop_postgres;
    $j = is_error(ready(), 503, 'STORE_UNAVAILABLE', 'PostgreSQL stopped: 503');
    like $j->{error}{message}, qr/PostgreSQL/, '  naming it';
    $s->start_postgres;
    is_success(wait_ready(), 'PostgreSQL back: ready again');
    $s->stop_sandboxd;
    is_error(ready(), 503, 'SANDBOX_UNAVAILABLE', 'sandboxd stopped: 503');
    my ($r, $m) = scrape();
    is metric($m, 'qna_sandbox_up'), 0, '  /metrics says sandboxd is down';
    $s->start_sandboxd;
    is_success(wait_ready(), 'sandboxd back: ready again');
    ($r, $m) = scrape();
    ok metric($m, 'qna_redis_errors_total') >= 1, 'Redis\'s absence counted';
    ok metric($m, 'qna_postgres_errors_total') >= 1, 'PostgreSQL\'s too';
}

$s->stop;
log_is_clean($s);

# an LLM planner: its requests and tokens, by provider
{
    my $lport = QnA::Stack::free_port();
    my $l = QnA::Stack->new(name => 'observe-llm', workers => 1, nginx_http => <<"EOF");
    qna_llm_provider gpt openai url=http://127.0.0.1:$lport/v1 model=gpt-mock key_file=llm.key timeout=5s;
    qna_planner gpt;
EOF
    QnA::Stack::write_file($l->dir . '/llm.key', "mock-llm-key\n");
    $l->start_mock(llm => $lport);
    $l->start;
    is is_success($l->analyze('what was the last close of AAPL?'), 'a question an LLM plans')->{planner}, 'gpt', '  planned by it';
    is_error($l->analyze('[401] and again?'), 502, 'LLM_UNAVAILABLE', '  one it refuses');
    my $body = $l->http(GET => '/metrics')->{body};
    like $body, qr/^qna_llm_requests_total\{provider="gpt",outcome="ok"\} 1$/m, '/metrics: one request ok';
    like $body, qr/^qna_llm_requests_total\{provider="gpt",outcome="refused"\} 1$/m, '  one refused';
    my ($tokens) = $body =~ /^qna_llm_tokens_total\{provider="gpt",kind="prompt"\} (\d+)$/m;
    ok $tokens && $tokens > 0, "  prompt tokens counted";

    # a reload that renames the provider: its slot starts again
    ($l->{nginx_http} = $l->{nginx_http}) =~ s/provider gpt /provider gpt2 /;
    $l->{nginx_http} =~ s/qna_planner gpt;/qna_planner gpt2;/;
    $l->write_configs;
    $l->reload_nginx;
    sleep 1;
    $body = $l->http(GET => '/metrics')->{body};
    like $body, qr/^qna_llm_requests_total\{provider="gpt2",outcome="ok"\} 0$/m, 'renamed by a reload: its counts start again';
    unlike $body, qr/provider="gpt"/, '  the old name is gone';
    $l->stop;
    log_is_clean($l);
}

done_testing;
