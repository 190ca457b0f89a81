#!/usr/bin/perl
# The trail's records in flight survive their worker: a record sent to
# PostgreSQL and not yet answered is in the worker's journal
# (spool/sent.PID.G); a worker killed then (SIGKILL) leaves it, and the
# worker the master starts in its place takes it over and replays it.
# PostgreSQL is made to hold the record: another session locks the
# executions table, the worker's backend waits on the lock, and is ended
# with its transaction once the worker is gone.

use strict;
use warnings;
use Test::More;
use IPC::Open2;
use Time::HiRes qw(time sleep);
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'journal', workers => 1, postgres => 1)->start;
my $spool = $s->dir . '/spool';

my $first = is_success($s->analyze('What is the 30-day volatility of TSLA?'), 'a first analysis');
is $s->wait_psql("SELECT status FROM executions WHERE id = '$first->{execution_id}'", 'success', 10), 'success',
   '  in executions';

my ($worker) = QnA::Stack::children_of($s->{pids}{nginx});
ok $worker, "the worker: $worker";
my @journal = map { "$spool/sent.$worker.$_" } 0, 1;
ok -e $journal[0] && -e $journal[1], '  its journal, two generations';
is -s $journal[0], 0, '  empty once its records are answered';

# a session that holds the executions table
my $locker_pid = open2(my $from, my $to, '/usr/bin/psql', '-X', '-q', '-A', '-t', '-h', $s->pg_dir,
                       '-p', $s->{pg_port}, '-U', 'qna', '-d', 'qna');
sub locker {
    my ($sql) = @_;
    print $to "$sql\nSELECT 'done';\n";
    $to->flush;
    my @out;
    while (my $line = <$from>) {
        chomp $line;
        last if $line eq 'done';
        push @out, $line;
    }
    return join "\n", @out;
}
locker('BEGIN; LOCK TABLE executions IN ACCESS EXCLUSIVE MODE;');

my $d = is_success($s->http(POST => '/analyze', json => { question => 'What is the 20-day volatility of MSFT?' },
                            headers => { 'Cache-Control' => 'no-cache' }),
                   'answered while PostgreSQL cannot take its record');
my $id = $d->{execution_id};

# the worker's backend waits on the lock with the record
my $backend = '';
for (1 .. 100) {
    $backend = locker("SELECT string_agg(pid::text, ',') FROM pg_stat_activity "
                      . "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid();");
    last if $backend ne '';
    sleep 0.05;
}
like $backend, qr/^\d+$/, "  its record waits in PostgreSQL (backend $backend)";
my $journaled = do { local (@ARGV, $/) = @journal; join '', <> } // '';
like $journaled, qr/\Q$id\E/, '  and is in the journal';
is locker("SELECT count(*) FROM executions WHERE id = '$id';"), '0', '  not in executions';

# the worker killed, then its backend and what it had not committed
kill 'KILL', $worker;
my $until = time + 10;
sleep 0.02 while kill(0, $worker) && time < $until;
ok !kill(0, $worker), 'the worker killed (SIGKILL)';
is locker("SELECT pg_terminate_backend($backend);"), 't', '  its backend ended, its transaction rolled back';
locker('ROLLBACK;');
close $to;
waitpid $locker_pid, 0;

# the next worker replays it
is $s->wait_psql("SELECT status FROM executions WHERE id = '$id'", 'success', 15), 'success',
   'the record the killed worker had in flight is in executions, success';
is $s->wait_psql("SELECT count(*) FROM audit_log WHERE execution_id = '$id'", 4, 5), 4, '  with its four audit events';
like $s->error_log, qr/took over the records in flight of worker $worker/, '  the new worker says it took them over';
ok !-e $journal[0] && !-e $journal[1], '  the killed worker\'s journal is gone';
my ($next) = QnA::Stack::children_of($s->{pids}{nginx});
ok $next && $next != $worker, "a new worker ($next)";
is -s "$spool/sent.$next.0", 0, '  its journal empty';

# nothing written twice: the first analysis is still one row and its events
is $s->psql('qna', "SELECT count(*) FROM audit_log WHERE execution_id = '$first->{execution_id}'"), '4',
   'the first analysis: still its four audit events';

$s->stop;
done_testing;
