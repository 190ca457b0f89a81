#!/usr/bin/perl
# The audit trail's records sent together (libpq pipeline mode): with one
# connection held by a slow record, the records behind it wait and go in
# one batch; a record PostgreSQL refuses in the middle of a batch fails
# alone (spooled, then skipped as refused), the ones after it, skipped by
# PostgreSQL up to the Sync, are sent again and all arrive; a failure of
# the moment (a deadlock) is replayed later, never skipped.  A trigger in
# the test database makes one record slow, another refused, a third fail
# twice.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'pipeline', workers => 1, postgres => 1,
                        postgres_opts => 'pool=1')->start;

# (a sequence, which no rollback undoes, counts the transient failures)
is $s->psql('qna', <<'SQL'), '', 'a trigger that slows one record, refuses another, fails a third twice as a deadlock would';
CREATE SEQUENCE qna_test_transient;
CREATE FUNCTION qna_test_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.question LIKE '%slowly%' THEN PERFORM pg_sleep(1); END IF;
    IF NEW.question LIKE '%poison%' THEN RAISE EXCEPTION 'a poisoned record'; END IF;
    IF NEW.question LIKE '%transient%' AND nextval('qna_test_transient') <= 2 THEN
        RAISE EXCEPTION 'a deadlock, as it were' USING ERRCODE = '40P01';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER qna_test BEFORE INSERT ON executions
    FOR EACH ROW EXECUTE FUNCTION qna_test_trigger();
SQL

sleep 0.1 until ($s->http(GET => '/health')->{json}{data}{components}{postgres}{status} // '') eq 'up';

sub metric {
    my ($name) = @_;
    my ($v) = $s->http(GET => '/metrics')->{body} =~ /^\Q$name\E (\d+)$/m;
    return $v // 0;
}

# the slow one holds the only connection for a second
is_error($s->analyze('slowly, tell me nothing'), 422, 'UNSUPPORTED_QUESTION', 'a question the trail writes slowly');

# meanwhile: twenty records wait, a poisoned one among them
my @ids;
for my $i (1 .. 20) {
    my $q = sprintf 'What is the %d-day volatility of AAPL?', 10 + $i;
    my $a = $s->http(POST => '/analyze', json => { question => $q }, headers => { 'Cache-Control' => 'no-cache' });
    push @ids, $a->{json}{data}{execution_id} if ($a->{status} // 0) == 200;
    is_error($s->analyze('poison this question'), 422, 'UNSUPPORTED_QUESTION', '  and a poisoned one') if $i == 8;
}
is scalar(@ids), 20, 'twenty analyses answered while the trail waited';

my $list = join ',', map { "'$_'" } @ids;
is $s->wait_psql("SELECT count(*) FROM executions WHERE id IN ($list) AND status = 'success'", 20, 20), 20,
   'all twenty recorded';
is $s->wait_psql("SELECT count(*) FROM audit_log WHERE execution_id IN ($list)", 80, 10), 80, '  with their 80 audit rows';
is $s->psql('qna', "SELECT count(*) FROM executions WHERE question LIKE '%slowly%'"), 1, 'the slow one too';
is $s->psql('qna', "SELECT count(*) FROM executions WHERE question LIKE '%poison%'"), 0, 'the poisoned one not';

my $until = time + 10;
sleep 0.2 until time > $until || $s->error_log =~ /a spooled record is refused, skipped: ERROR:  a poisoned record/;
like $s->error_log, qr/a spooled record is refused, skipped: ERROR:  a poisoned record/,
     '  refused by PostgreSQL: spooled, then skipped, said in the log';

# a failure of the moment is no refusal: the record is sent again
is_error($s->analyze('transient: tell me nothing'), 422, 'UNSUPPORTED_QUESTION', 'a record PostgreSQL fails twice with a deadlock');
is $s->wait_psql("SELECT count(*) FROM executions WHERE question LIKE 'transient%'", 1, 15), 1, '  recorded the third time';
like $s->error_log, qr/replay stopped: ERROR:  a deadlock, as it were/, '  the replay stopped, and went on later';
unlike $s->error_log, qr/refused, skipped: ERROR:  a deadlock/, '  never skipped as refused';

ok metric('qna_postgres_pipelines_total') >= 1, 'the waiting records went in pipelines: ' . metric('qna_postgres_pipelines_total');
ok metric('qna_postgres_pipelined_total') >= 20, '  ' . metric('qna_postgres_pipelined_total') . ' statements in them';
ok metric('qna_postgres_resent_total') >= 1, '  ' . metric('qna_postgres_resent_total') . ' skipped after the refusal and sent again';

is_success($s->analyze('What is the price of MSFT?'), 'PostgreSQL takes new records after it');

# the first batch of a new connection refused: the statement it prepared
# stays prepared (a session's statements are no part of its transactions)
{
    $s->stop_postgres;
    my @more;
    for my $i (1 .. 6) {
        my $a = $s->http(POST => '/analyze', json => { question => sprintf('What is the %d-day volatility of MSFT?', 10 + $i) },
                         headers => { 'Cache-Control' => 'no-cache' });
        push @more, $a->{json}{data}{execution_id} if ($a->{status} // 0) == 200;
        is_error($s->analyze('poison it again'), 422, 'UNSUPPORTED_QUESTION', '  a poisoned one among them') if $i == 2;
    }
    is scalar(@more), 6, 'PostgreSQL stopped: six analyses answered, spooled';
    $s->start_postgres;
    my $list = join ',', map { "'$_'" } @more;
    is $s->wait_psql("SELECT count(*) FROM executions WHERE id IN ($list)", 6, 20), 6,
       '  started again: all six recorded, in the batch of a new connection the poisoned one rolled back';
    unlike $s->error_log, qr/already exists/, '  the statement prepared in that batch not prepared twice';
}

$s->stop;
log_is_clean($s);

# a reload while records wait in the spools: the workers of the new
# generation take over the old ones' spools once those have exited
{
    my $r = QnA::Stack->new(name => 'pipeline-reload', workers => 2, postgres => 1)->start;
    sleep 0.1 until ($r->http(GET => '/health')->{json}{data}{components}{postgres}{status} // '') eq 'up';
    $r->stop_postgres;
    my @ids;
    for my $i (1 .. 12) {
        my $a = $r->http(POST => '/analyze', json => { question => sprintf('What is the %d-day SMA of MSFT?', 10 + $i) });
        push @ids, $a->{json}{data}{execution_id} if ($a->{status} // 0) == 200;
    }
    is scalar(@ids), 12, 'PostgreSQL down: twelve analyses answered, their records spooled';
    my @spools = grep { -s $_ } glob($r->dir . '/spool/*.spool');
    ok @spools >= 1, '  in ' . scalar(@spools) . ' spool(s)';
    like $r->http(GET => '/metrics')->{body}, qr/^qna_trail_spool_bytes [1-9]\d*$/m, '  /metrics counts them';

    # one worker now: the old generation exits, its spools left behind
    $r->{workers} = 1;
    $r->write_configs;
    $r->reload_nginx;
    sleep 1;
    $r->start_postgres;
    my $list = join ',', map { "'$_'" } @ids;
    is $r->wait_psql("SELECT count(*) FROM executions WHERE id IN ($list)", 12, 30), 12,
       'after the reload and PostgreSQL\'s return: all twelve recorded';
    my $until = time + 15;
    sleep 0.2 until time > $until || !grep { -s $_ } glob($r->dir . '/spool/*.spool');
    is scalar(grep { -s $_ } glob($r->dir . '/spool/*.spool')), 0, '  no spool left with records';
    like $r->http(GET => '/metrics')->{body}, qr/^qna_trail_spool_bytes 0$/m, '  /metrics says so';
    like $r->error_log, qr/took over the spool of worker/, '  the new generation took over the old one\'s';
    $r->stop;
    log_is_clean($r);
}

done_testing;
