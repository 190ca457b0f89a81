#!/usr/bin/perl
# Sessions in Redis across two instances: made by /analyze, read on the
# other instance, never shown to another user; follow-ups, duplicates and
# related questions; the result cache; query expansion and its
# confirmation; paginated listing; Redis down degrades, never fails.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt);

my $key = 's' x 40;
my $http = "    qna_auth_jwt_secret_file jwt.key;\n    qna_auth jwt;\n";

my $a = QnA::Stack->new(name => 'sess-a', workers => 1, nginx_http => $http);
QnA::Stack::write_file($a->dir . '/jwt.key', $key);
$a->start;
my $b = QnA::Stack->new(name => 'sess-b', workers => 1, nginx_http => $http, redis_sock => $a->{redis_sock});
QnA::Stack::write_file($b->dir . '/jwt.key', $key);
$b->start;

my %tok = map { $_ => 'Bearer ' . jwt($key, { sub => $_, exp => time + 600 }) } qw(alice bob);

sub ask {
    my ($s, $who, $q, %extra) = @_;
    my $h = delete $extra{headers} || {};
    return $s->http(POST => '/analyze', json => { question => $q, %extra },
                    headers => { Authorization => $tok{$who}, %$h });
}

sub conv {
    my ($s, $who, $path) = @_;
    return $s->http(GET => "/conversation/$path", headers => { Authorization => $tok{$who} });
}

# both connected to Redis
for my $s ($a, $b) {
    my $until = time + 5;
    sleep 0.05 until time > $until || $s->error_log =~ /redis .*: connected/;
}

my $q1 = 'What is the 30-day volatility of TSLA?';
my $r = ask($a, alice => $q1);
my $d = is_success($r, 'alice asks on A');
like $d->{session_id}, qr/^[0-9a-f]{32}$/, '  a session is made: 32 hex digits';
is $d->{new_session}, JSON::PP::true, '  new_session';
is_deeply $d->{context}{similar_previous_questions}, [], '  nothing earlier to compare';
my $sid = $d->{session_id};
my $exec1 = $d->{execution_id};

my $c = is_success(conv($b, alice => $sid), 'her session read on B');
is $c->{session_id}, $sid, '  the same id';
is $c->{turns}, 1, '  one turn';
is $c->{title}, $q1, '  titled by its first question';
is scalar(@{ $c->{context}{messages} }), 2, '  two messages';
is $c->{context}{messages}[0]{role}, 'user', '  the question';
is $c->{context}{messages}[0]{content}, $q1, '  as asked';
is $c->{context}{messages}[1]{role}, 'assistant', '  and the answer';
like $c->{context}{messages}[1]{content}, qr/30-day volatility of TSLA: annualized_volatility = 0\.\d+/, '  summarised';
is $c->{context}{messages}[1]{execution_id}, $exec1, '  with its execution id';
like $c->{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '  created_at';
my $ttl = $a->redis_cli('TTL', "qna:session:$sid");
ok $ttl > 604000 && $ttl <= 604800, "  kept 7 days from its last turn (TTL $ttl s)";
is_deeply conv($b, alice => "$sid/context")->{json}{data}, $c, '  /conversation/{id}/context is the same';

is_error(conv($a, bob => $sid), 404, 'NOT_FOUND', 'bob reads her session');
is_error(ask($b, bob => 'What is the price of AAPL?', session_id => $sid), 404, 'NOT_FOUND', 'bob asks in her session');
is conv($a, alice => $sid)->{json}{data}{turns}, 1, '  and it is unchanged';
is_error(conv($a, alice => 'no-such-session'), 404, 'NOT_FOUND', 'an unknown session');
is_error(conv($a, alice => 'bad$id'), 404, 'NOT_FOUND', 'an id that cannot be one');

# a follow-up, on the other instance
$d = is_success(ask($b, alice => 'And for MSFT?', session_id => $sid), 'alice: "And for MSFT?" on B');
is $d->{family}, 'volatility', '  the same analysis';
is $d->{params}{symbol}, 'MSFT', '  for MSFT';
is $d->{params}{period_days}, 30, '  the same period';
is $d->{context}{follow_up}{previous_question}, $q1, '  following the previous question';
is $d->{new_session}, JSON::PP::false, '  in her session';

# the same question again, in a new session: a duplicate, from the cache
$d = is_success(ask($a, alice => "what is the 30 day volatility of tsla"), 'alice asks the first question again');
is $d->{context}{duplicate_of}{question}, $q1, '  reported as a duplicate';
is $d->{context}{duplicate_of}{execution_id}, $exec1, '  of that execution';
is $d->{context}{similar_previous_questions}[0]{similarity_score}, 1, '  score 1';
is $d->{metadata}{cache_hit}, JSON::PP::true, '  answered from the result cache';
my $sid2 = $d->{session_id};
isnt $sid2, $sid, '  in a new session';
$d = is_success(ask($a, alice => $q1, headers => { 'Cache-Control' => 'no-cache' }, session_id => $sid2), 'again with Cache-Control: no-cache');
is $d->{metadata}{cache_hit}, JSON::PP::false, '  run, not cached';

$d = is_success(ask($b, alice => 'Show me the TSLA volatility over 30 days'), 'a related question');
my ($rel) = grep { $_->{question} eq $q1 } @{ $d->{context}{similar_previous_questions} };
ok $rel && $rel->{similarity_score} >= 0.5 && $rel->{similarity_score} < 1, "  related to the first (score @{[ $rel ? $rel->{similarity_score} : 'none' ]})";

# listing, newest first
my $l = is_success(conv($a, alice => 'sessions'), 'alice lists her sessions');
is $l->{total}, 3, '  three';
is $l->{sessions}[0]{session_id}, $d->{session_id}, '  newest first';
my $p2 = is_success(conv($b, alice => 'sessions?per_page=1&page=3'), '  page 3 of 1');
is $p2->{sessions}[0]{session_id}, $sid, '  the oldest';
is $p2->{sessions}[0]{turns}, 2, '  two turns';
is_error(conv($a, alice => 'sessions?per_page=0'), 400, 'INVALID_REQUEST', 'per_page=0');
is_error(conv($a, alice => 'sessions?page=x'), 400, 'INVALID_REQUEST', 'page=x');
is is_success(conv($a, bob => 'sessions'), 'bob lists his')->{total}, 0, '  none: her sessions are not his, the refused ask made none';

# query expansion
$d = is_success(ask($a, alice => 'How volatile is it?', session_id => $sid, auto_expand => JSON::PP::true), 'a question without its symbol, auto_expand');
is $d->{needs_confirmation}, JSON::PP::true, '  needs confirmation';
is $d->{expansion}{expanded}, 'How volatile is it for MSFT?', '  about the session\'s last symbol';
is $d->{expansion}{confidence}, 0.8, '  confidence 0.8';
my $eid = $d->{expansion}{expansion_id};
is_error(ask($a, alice => 'How volatile is it?', session_id => $sid), 422, 'UNSUPPORTED_QUESTION', 'without auto_expand: unsupported');

sub confirm {
    my ($s, $who, %body) = @_;
    return $s->http(POST => '/conversation/confirm', json => \%body, headers => { Authorization => $tok{$who} });
}
is_error(confirm($b, bob => expansion_id => $eid, accept => JSON::PP::true), 404, 'NOT_FOUND', 'bob confirms her proposal');
is_error(confirm($b, alice => expansion_id => $eid), 400, 'INVALID_REQUEST', 'accept missing');
is_error(confirm($b, alice => expansion_id => 5, accept => JSON::PP::true), 400, 'INVALID_REQUEST', 'expansion_id not a string');
$d = is_success(confirm($b, alice => expansion_id => $eid, accept => JSON::PP::true), 'alice accepts it on B');
is $d->{params}{symbol}, 'MSFT', '  the expanded question runs';
is $d->{session_id}, $sid, '  in her session';
ok $d->{result}{body}, '  with its result';
is_error(confirm($a, alice => expansion_id => $eid, accept => JSON::PP::true), 404, 'NOT_FOUND', 'a proposal answered once');
$c = is_success(conv($a, alice => $sid), 'her session');
is $c->{turns}, 3, '  three turns now';
is $c->{context}{expanded_queries}[0]{expanded}, 'How volatile is it for MSFT?', '  the expansion in expanded_queries';

$d = is_success(ask($a, alice => 'What is the RSI?', auto_expand => JSON::PP::true), 'no session to lean on');
is $d->{expansion}{expanded}, 'What is the RSI for SPY?', '  proposes the market';
is $d->{expansion}{confidence}, 0.4, '  with less confidence';
$d = is_success(confirm($a, alice => expansion_id => $d->{expansion}{expansion_id}, accept => JSON::PP::false), 'rejected');
is $d->{accepted}, JSON::PP::false, '  accepted: false';

# Redis down: answers go on, sessions are unavailable
$a->stop_redis;
$d = is_success(ask($a, alice => 'What is the price of AAPL?'), 'Redis down: /analyze still answers');
is $d->{session_stored}, JSON::PP::false, '  saying the session was not stored';
is_error(conv($b, alice => 'sessions'), 503, 'STORE_UNAVAILABLE', '  /conversation: STORE_UNAVAILABLE');

unlike $a->error_log . $b->error_log, qr/exited on signal/, 'no worker died';
is_deeply [$a->bad_log_lines, $b->bad_log_lines], [], 'no alert, crit or emerg in the error logs';
$b->stop;
$a->stop;

done_testing;
