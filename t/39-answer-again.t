#!/usr/bin/perl
# A question asked again is answered whole from Redis (ngx_qna_hit.c): the
# first answer's plan and result, with what is the turn's own (its ids,
# its context, the result's age), nothing planned or run; the turn is in
# its session and the trail has it as a hit.  Only what may be given
# again is: no follow-up, no other role's answer, nobody's session but
# the caller's; Cache-Control: no-cache and event streams go the whole
# way; an entry half there is a miss; the user's earlier questions kept
# as JSON before are still read.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt);

my $key = 'j' x 40;
my $s = QnA::Stack->new(name => 'again', workers => 2, postgres => 1, nginx_http => <<"EOF");
    qna_auth_jwt_secret_file jwt.key;
    qna_auth jwt;
EOF
QnA::Stack::write_file($s->dir . '/jwt.key', $key);
$s->start;

my %h = map { my ($n, $role) = @$_; ($n => { Authorization => 'Bearer ' . jwt($key, { sub => $n, role => $role, exp => time + 600 }) }) }
        (['alice', 'viewer'], ['bob', 'viewer'], ['mgr', 'manager']);
sleep 0.1 until ($s->http(GET => '/health', headers => $h{mgr})->{json}{data}{components}{postgres}{status} // '') eq 'up';

sub ask {
    my ($who, $q, %extra) = @_;
    my $hd = delete $extra{headers} || {};
    return $s->http(POST => '/analyze', json => { question => $q, %extra }, headers => { %{ $h{$who} }, %$hd });
}

sub metrics { $s->http(GET => '/metrics', headers => $h{mgr})->{body} }
sub plans { (metrics()  =~ /^qna_plan_duration_seconds_count (\d+)/m)[0] }
sub layer { my $l = shift; (metrics() =~ /^qna_result_cache_total\{layer="$l"\} (\d+)/m)[0] }
sub keys_of { grep { length } split /\n/, $s->redis_cli('KEYS', "'qna:$_[0]:*'") }
sub conv { $s->http(GET => "/conversation/$_[1]", headers => $h{$_[0]})->{json}{data} }

my $q = 'What is the 30-day volatility of TSLA?';
my $first = is_success(ask(alice => $q), 'alice asks');
is $first->{metadata}{cache_hit}, JSON::PP::false, '  computed';
my $sid = $first->{session_id};

my @answers = keys_of('answer');
is scalar(@answers), 1, '  its whole answer kept';
my @results = keys_of('result');
my ($ta, $tr) = map { $s->redis_cli('TTL', $_) } $answers[0], $results[0];
ok $ta > 0 && abs($ta - $tr) <= 2, "  as long as its result ($ta s, the result $tr s)";

# asked again in her session: the same answer, given again
my $plans = plans();
my $again = is_success(ask(alice => $q, session_id => $sid), 'asked again in her session');
is plans(), $plans, '  nothing planned';
is layer('answer'), 1, '  counted as an answer given again';
is $again->{metadata}{cache_hit}, JSON::PP::true, '  cache_hit';
ok defined $again->{metadata}{cache_age_s} && $again->{metadata}{cache_age_s} >= 0, "  its age ($again->{metadata}{cache_age_s} s)";
is $again->{metadata}{cached_at} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/ ? 1 : 0, 1, '  when it was made';
for my $k (qw(question python_code explanation mcp_calls params planner family result execution_time_ms)) {
    is_deeply $again->{$k}, $first->{$k}, "  $k as the first time";
}
my %m1 = %{ $first->{metadata} };
my %m2 = %{ $again->{metadata} };
delete @m1{qw(cache_hit)};
delete @m2{qw(cache_hit cached_at cache_age_s)};
is_deeply \%m2, \%m1, '  the same metadata, but for the cache';
isnt $again->{execution_id}, $first->{execution_id}, '  an execution of its own';
is $again->{session_id}, $sid, '  in her session';
is $again->{new_session}, JSON::PP::false, '  not a new one';
is $again->{context}{duplicate_of}{execution_id}, $first->{execution_id}, '  a duplicate of the first';
is $again->{context}{similar_previous_questions}[0]{similarity_score}, 1, '  score 1';
is $again->{context}{similar_previous_questions}[0]{question}, $q, '  the question as asked';

my $c = conv(alice => $sid);
is $c->{turns}, 2, 'her session: two turns';
is scalar(@{ $c->{context}{messages} }), 4, '  four messages';
is $c->{context}{messages}[3]{execution_id}, $again->{execution_id}, '  the last one the answer given again';
is $c->{context}{messages}[3]{content}, $c->{context}{messages}[1]{content}, '  summarised as the first';
is $c->{context}{messages}[3]{cache_hit}, JSON::PP::true, '  from the cache';
is $c->{context}{messages}[2]{content}, $q, '  after her question';

# the trail: an execution of its own, as a hit
my $id = $again->{execution_id};
is $s->wait_psql("SELECT status FROM executions WHERE id = '$id'", 'success', 5), 'success', 'its execution row: success';
is $s->psql('qna', "SELECT user_id || ' ' || session_id || ' ' || planner || ' ' || (trace->>'cache_hit') FROM executions WHERE id = '$id'"),
   "alice $sid builtin true", '  by alice, in her session, a hit';
is $s->psql('qna', "SELECT result = (SELECT result FROM executions WHERE id = '$first->{execution_id}') FROM executions WHERE id = '$id'"),
   't', '  the same result';
like $s->psql('qna', "SELECT script FROM executions WHERE id = '$id'"), qr/calculate_volatility/, '  the script';
is $s->wait_psql("SELECT count(*) FROM audit_log WHERE execution_id = '$id'", 4, 5), 4, '  four audit events';
is $s->psql('qna', "SELECT count(*) FROM chat_messages WHERE execution_id = '$id'"), 2, '  two messages';
is $s->psql('qna', "SELECT details->>'request_id' FROM audit_log WHERE execution_id = '$id' AND event = 'question_submitted'"),
   substr($id, 5), '  its request id';

# another user: his own answer from the same entry, never her session
is_error(ask(bob => $q, session_id => $sid), 404, 'NOT_FOUND', 'bob asks it in her session');
is conv(alice => $sid)->{turns}, 2, '  her session is unchanged';
my $bob = is_success(ask(bob => $q), 'bob asks it in a session of his own');
is $bob->{metadata}{cache_hit}, JSON::PP::true, '  given again';
is $bob->{context}{duplicate_of}, undef, '  not a duplicate of anything of his';
is_deeply $bob->{context}{similar_previous_questions}, [], '  nor related';

# another role: not the viewer's answer; made again from the result cache
$plans = plans();
my $m = is_success(ask(mgr => $q), 'a manager asks it');
is plans(), $plans + 1, '  planned for the manager';
is $m->{metadata}{cache_hit}, JSON::PP::true, '  its result from the result cache';
is scalar(keys_of('answer')), 2, '  and the manager\'s answer kept';
($ta) = map { $s->redis_cli('TTL', $_) } grep { $_ ne $answers[0] } keys_of('answer');
$tr = $s->redis_cli('TTL', $results[0]);
ok $ta > 0 && $ta <= $tr + 1, "  no longer than the result it holds ($ta s, the result $tr s)";
$plans = plans();
is_success(ask(mgr => $q), '  asked again');
is plans(), $plans, '  given again';

# what goes the whole way
$plans = plans();
my $nc = is_success(ask(alice => $q, headers => { 'Cache-Control' => 'no-cache' }), 'Cache-Control: no-cache');
is $nc->{metadata}{cache_hit}, JSON::PP::false, '  run again';
is plans(), $plans + 1, '  planned';

my $sse = $s->http(POST => '/analyze', json => { question => $q },
                   headers => { %{ $h{alice} }, Accept => 'text/event-stream' });
is $sse->{status}, 200, 'an event stream: 200';
like $sse->{body}, qr/^event: validated$/m, '  planned, its events told';
like $sse->{body}, qr/^event: result$/m, '  and its result';

# a follow-up is the session's: planned each time
my $f1 = is_success(ask(alice => 'And for MSFT?', session_id => $sid), 'a follow-up');
is $f1->{context}{follow_up}{previous_question}, $q, '  follows her question';
my $f2 = is_success(ask(alice => 'And for MSFT?', session_id => $f1->{session_id}), '  asked again');
is $f2->{params}{symbol}, 'MSFT', '  still about MSFT';
ok $f2->{context}{follow_up}, '  still a follow-up, planned';

# an entry half there is a miss, never an answer
for my $a (keys_of('answer')) { $s->redis_cli('HDEL', $a, 'result') }
$plans = plans();
my $half = is_success(ask(alice => $q), 'an entry without its result');
is plans(), $plans + 1, '  planned';
is_deeply $half->{result}, $first->{result}, '  the same answer all the same';

# the user's questions as JSON, as they were kept before
{
    my $old = QnA::Stack::json()->encode({ question => 'How volatile was TSLA over 30 days?', normalized => 'how volatile was tsla over 30 days',
                                           session_id => 'old-session', timestamp => '2026-01-01T00:00:00.000Z', execution_id => 'exec_old' });
    $old =~ s/'/'"'"'/g;
    $s->redis_cli('LPUSH', 'qna:user:carol:questions', "'$old'");
    my $tok = { Authorization => 'Bearer ' . jwt($key, { sub => 'carol', role => 'viewer', exp => time + 600 }) };
    my $d = is_success($s->http(POST => '/analyze', json => { question => 'How volatile was TSLA over 30 days?' }, headers => $tok),
                       'an earlier question kept as JSON');
    is $d->{context}{duplicate_of}{execution_id}, 'exec_old', '  read: the duplicate';
    $d = is_success($s->http(POST => '/analyze', json => { question => 'How volatile was TSLA over 30 days?' }, headers => $tok),
                    '  and asked again');
    is scalar(@{ $d->{context}{similar_previous_questions} }), 2, '  both earlier ones, the new line and the old JSON';
    is $d->{context}{similar_previous_questions}[1]{execution_id}, 'exec_old', '  the old one last';
}

# a question with a tab and a new line in it: kept whole in the line
{
    my $odd = "What is the 30-day\tvolatility of\nTSLA?";
    my $one = is_success(ask(bob => $odd), 'a question with a tab and a new line');
    my $two = is_success(ask(bob => $odd, session_id => $one->{session_id}), '  asked again');
    is $two->{context}{duplicate_of}{question}, $odd, '  its earlier self, whole';
    is $two->{question}, $odd, '  and itself';
}

$s->stop;
log_is_clean($s);
done_testing;
