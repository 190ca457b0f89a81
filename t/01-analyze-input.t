#!/usr/bin/perl
# POST /analyze input checks: every way a body can be wrong gets its status
# and error code, and a good body still works afterwards.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'input')->start;

my $q = 'What is the 30-day volatility of TSLA?';

# method and media type
{
    my $r = $s->http(GET => '/analyze');
    is_error($r, 405, 'METHOD_NOT_ALLOWED', 'GET /analyze');
    is $r->{headers}{allow}, 'POST', 'Allow: POST';

    is_error($s->http(POST => '/analyze', body => '{"question":"x"}',
                      headers => { 'Content-Type' => 'text/plain' }),
             415, 'UNSUPPORTED_MEDIA_TYPE', 'text/plain');
    is_error($s->http(POST => '/analyze', body => '{"question":"x"}',
                      headers => { 'Content-Type' => undef }),
             415, 'UNSUPPORTED_MEDIA_TYPE', 'no Content-Type');
    is_error($s->http(POST => '/analyze', body => '{"question":"x"}',
                      headers => { 'Content-Type' => 'application/json; charset=latin1' }),
             415, 'UNSUPPORTED_MEDIA_TYPE', 'a charset that is not UTF-8');
    is_error($s->http(POST => '/analyze', body => '{"question":"x"}',
                      headers => { 'Content-Type' => 'application/jsonx' }),
             415, 'UNSUPPORTED_MEDIA_TYPE', 'application/jsonx');
    my $ok = $s->http(POST => '/analyze', json => { question => $q },
                      headers => { 'Content-Type' => 'Application/JSON; Charset="UTF-8"' });
    is_success($ok, 'media type and charset in any case');
}

# size
{
    my $big = '{"question":"' . ('a' x 70000) . '"}';
    my $r = $s->http(POST => '/analyze', body => $big);
    my $j = is_error($r, 413, 'PAYLOAD_TOO_LARGE', 'body over the limit');
    is $j->{error}{details}{max_bytes}, 65536, 'the limit is in details';

    is_error($s->http(POST => '/analyze', body => $big, chunked => 1),
             413, 'PAYLOAD_TOO_LARGE', 'chunked body over the limit');
}

# JSON itself
{
    my $j = is_error($s->http(POST => '/analyze', body => '{"question": '),
                     400, 'INVALID_REQUEST', 'truncated JSON');
    ok defined $j->{error}{details}{line}, 'the parse error has a position';

    is_error($s->http(POST => '/analyze', body => ''), 400, 'INVALID_REQUEST', 'empty body');
    is_error($s->http(POST => '/analyze', body => '["question"]'), 400, 'INVALID_REQUEST', 'an array');
    is_error($s->http(POST => '/analyze', body => '"question"'), 400, 'INVALID_REQUEST', 'a string');
    is_error($s->http(POST => '/analyze', body => qq({"question":"a\xff\xfe"})),
             400, 'INVALID_REQUEST', 'not UTF-8');
    is_error($s->http(POST => '/analyze', body => qq({"question":"$q","question":"x"})),
             400, 'INVALID_REQUEST', 'a repeated field');
    is_error($s->http(POST => '/analyze', body => '{"question":"a\u0000b"}'),
             400, 'INVALID_REQUEST', 'a NUL character');
}

# question
{
    my $j = is_error($s->http(POST => '/analyze', json => {}), 400, 'INVALID_REQUEST', 'no question');
    is $j->{error}{details}{field}, 'question', 'names the field';
    is_error($s->http(POST => '/analyze', json => { question => undef }), 400, 'INVALID_REQUEST', 'null question');
    is_error($s->http(POST => '/analyze', body => '{"question": 42}'), 400, 'INVALID_REQUEST', 'a number');
    is_error($s->http(POST => '/analyze', body => '{"question": ["a"]}'), 400, 'INVALID_REQUEST', 'an array question');
    is_error($s->http(POST => '/analyze', json => { question => " \t\n " }), 400, 'INVALID_REQUEST', 'blank');
    is_error($s->http(POST => '/analyze', json => { question => "price of\x07 AAPL" }),
             400, 'INVALID_REQUEST', 'a control character');

    $j = is_error($s->http(POST => '/analyze', json => { question => 'a' x 1001 }),
                  400, 'QUESTION_TOO_LONG', '1001 characters');
    is $j->{error}{details}{max_length}, 1000, 'the limit is in details';

    # characters, not bytes: 994 of them in nearly 3000 bytes pass
    my $long = "\x{20AC}" x 980 . ' price of AAPL';
    my $r = $s->http(POST => '/analyze', body => JSON::PP->new->utf8->encode({ question => $long }));
    is_success($r, '994 multi-byte characters are within the limit');

    is_error($s->http(POST => '/analyze', body => JSON::PP->new->utf8->encode({ question => "\x{20AC}" x 1001 })),
             400, 'QUESTION_TOO_LONG', '1001 multi-byte characters');

    is_success($s->analyze("  \n$q\t "), 'white space around the question is trimmed');
}

# session_id and auto_expand
{
    my $j = is_error($s->analyze($q, session_id => 'has space'), 400, 'INVALID_REQUEST', 'session_id with a space');
    is $j->{error}{details}{field}, 'session_id', 'names session_id';
    is_error($s->analyze($q, session_id => 'x' x 65), 400, 'INVALID_REQUEST', 'session_id of 65');
    is_error($s->analyze($q, session_id => ''), 400, 'INVALID_REQUEST', 'empty session_id');
    is_error($s->http(POST => '/analyze', body => qq({"question":"$q","session_id":7})),
             400, 'INVALID_REQUEST', 'numeric session_id');
    $j = is_error($s->http(POST => '/analyze', body => qq({"question":"$q","auto_expand":"yes"})),
                  400, 'INVALID_REQUEST', 'auto_expand as a string');
    is $j->{error}{details}{field}, 'auto_expand', 'names auto_expand';

    my $d = is_success($s->analyze($q, session_id => 'sess_A-1' . ('z' x 56), auto_expand => JSON::PP::true),
                       'valid session_id and auto_expand');
    is $d->{session_id}, 'sess_A-1' . ('z' x 56), 'session_id is echoed';
}

# the planner's own refusal
{
    my $j = is_error($s->analyze('What is the meaning of life?'), 422, 'UNSUPPORTED_QUESTION', 'off-topic');
    ok scalar(grep { /volatility/ } @{ $j->{recovery_suggestions} }), 'suggestions say what can be asked';
    is_error($s->analyze('What is the volatility?'), 422, 'UNSUPPORTED_QUESTION', 'no symbol');
    is_error($s->analyze('What are the earnings of AAPL?'), 422, 'UNSUPPORTED_QUESTION', 'what the planner does not answer yet');
    is_error($s->analyze('What is the 1-day volatility of TSLA?'), 422, 'UNSUPPORTED_QUESTION', 'a period out of range');
    is_error($s->analyze('What is the 5000-day volatility of TSLA?'), 422, 'UNSUPPORTED_QUESTION', 'a period too long');
    is_error($s->analyze('Sharpe ratio of AAPL with a risk-free rate of 150%'), 422, 'UNSUPPORTED_QUESTION',
             'a risk-free rate out of range');
}

# a symbol the sample vendor does not know: the tool's error, with its code
is_error($s->analyze('What is the 30-day volatility of ZZZZ?'), 502, 'DATA_UNAVAILABLE', 'unknown symbol');

# any other path answers the contract too
is_error($s->http(GET => '/nothing-here'), 404, 'NOT_FOUND', 'unknown path');

# request ids differ between requests, and one request has one id: in the
# body, the header, the execution id and the access log
{
    my $a = $s->http(GET => '/health');
    my $b = $s->http(GET => '/health');
    isnt $a->{json}{request_id}, $b->{json}{request_id}, 'a new request_id for each request';

    my $r = $s->analyze($q);
    my $id = $r->{json}{request_id};
    is $r->{json}{data}{execution_id}, "exec_$id", 'the execution id is made from the request id';
    my $m = $s->http(POST => '/mcp', json => { jsonrpc => '2.0', id => 1, method => 'ping' });
    like $m->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, '/mcp answers carry X-Request-Id too';
    select(undef, undef, undef, 0.2);
    open my $log, '<', $s->dir . '/logs/access.log' or die;
    my @lines = grep { $_->{request_id} eq $id } map { QnA::Stack::json()->decode($_) } <$log>;
    is scalar(@lines), 1, 'the access log (JSON lines) shows the same id';
    is "$lines[0]{uri} $lines[0]{status} $lines[0]{execution_id}", "/analyze 200 exec_$id", '  with its path, status and execution';
}

# after all that, everything still works
is_success($s->analyze($q), 'a good question still works');

$s->stop;
log_is_clean($s);

done_testing;
