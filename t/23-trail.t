#!/usr/bin/perl
# The audit trail: every /analyze is an execution row (running, then its
# outcome), four audit events with the client's address and agent, and the
# session's messages.  PostgreSQL stopped in the middle of 200 analyses and
# started again: all 200 executions and their 800 audit rows are there
# afterwards, none twice (the records waited in the spool, in order).

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'trail', workers => 2, postgres => 1)->start;

sub wait_sql {
    my ($sql, $want, $seconds) = @_;
    my $until = time + $seconds;
    my $got;
    while (time < $until) {
        $got = $s->psql('qna', $sql);
        return $got if $got eq $want;
        sleep 0.1;
    }
    return $got;
}

# both workers connected
sleep 0.1 until ($s->http(GET => '/health')->{json}{data}{components}{postgres}{status} // '') eq 'up';

my $r = $s->http(POST => '/analyze', json => { question => 'What is the 30-day volatility of TSLA?' },
                 headers => { 'User-Agent' => 'trail-test/1.0' });
my $d = is_success($r, 'an analysis');
my $id = $d->{execution_id};

is wait_sql("SELECT status FROM executions WHERE id = '$id'", 'success', 5), 'success', 'its execution row: success';
is $s->psql('qna', "SELECT user_id || ' ' || kind || ' ' || session_id FROM executions WHERE id = '$id'"),
   "anonymous analyze $d->{session_id}", '  by anonymous, of its session';
like $s->psql('qna', "SELECT script FROM executions WHERE id = '$id'"), qr/calculate_volatility/, '  the script';
is $s->psql('qna', "SELECT result->'body'->0->>'key' FROM executions WHERE id = '$id'"), 'annualized_volatility', '  the result';
is $s->psql('qna', "SELECT jsonb_array_length(mcp_calls) FROM executions WHERE id = '$id'"), 2, '  the two tool calls';
ok $s->psql('qna', "SELECT finished_at >= started_at FROM executions WHERE id = '$id'") eq 't', '  started, then finished';
is wait_sql("SELECT string_agg(event, ',' ORDER BY id) FROM audit_log WHERE execution_id = '$id'",
            'question_submitted,script_generated,execution_started,execution_finished', 5),
   'question_submitted,script_generated,execution_started,execution_finished', 'four audit events, in order';
is $s->psql('qna', "SELECT DISTINCT host(client_addr) || ' ' || user_agent FROM audit_log WHERE execution_id = '$id'"),
   '127.0.0.1 trail-test/1.0', '  with the client\'s address and agent';
is $s->psql('qna', "SELECT string_agg(role, ',' ORDER BY id) FROM chat_messages WHERE execution_id = '$id'"),
   'user,assistant', 'the session\'s two messages mirrored';

# 200 analyses; PostgreSQL away in the middle
my @ids;
my $t0 = time;
for my $i (1 .. 200) {
    $s->stop_postgres if $i == 60;
    $s->start_postgres if $i == 150;
    my $q = sprintf 'What is the %d-day volatility of %s?', 10 + $i % 40, (qw(AAPL MSFT NVDA TSLA))[$i % 4];
    my $a = $s->http(POST => '/analyze', json => { question => $q }, headers => { 'Cache-Control' => 'no-cache' });
    push @ids, $a->{json}{data}{execution_id} if ($a->{status} // 0) == 200;
}
is scalar(@ids), 200, '200 analyses answered, PostgreSQL down for 90 of them';
my $list = join ',', map { "'$_'" } @ids;
is wait_sql("SELECT count(*) FROM executions WHERE id IN ($list) AND status = 'success'", 200, 20), 200,
   'all 200 executions in the database, finished';
is wait_sql("SELECT count(*) FROM audit_log WHERE execution_id IN ($list)", 800, 20), 800, '  and their 800 audit rows';
is $s->psql('qna', "SELECT count(*) FROM (SELECT execution_id, event FROM audit_log GROUP BY 1, 2 HAVING count(*) > 1) d"), 0, '  none twice';
is $s->psql('qna', "SELECT count(*) FROM chat_messages WHERE execution_id IN ($list)"), 400, '  and their 400 messages';
like $s->error_log, qr/qna trail: the spool is replayed/, 'the spool was replayed';
my $spooled = 0;
$spooled += -s $_ for glob($s->dir . '/spool/*.spool');
is $spooled, 0, '  and is empty again';
unlike $s->error_log, qr/exited on signal/, 'no worker died';
is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg';
$s->stop;

done_testing;
