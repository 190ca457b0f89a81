#!/usr/bin/perl
# migrations/: plain SQL files applied in order by migrations/migrate.pl,
# each with its row in schema_migrations, in one transaction; a re-run
# changes nothing; the schema holds seed 000's entities with their
# constraints.

use strict;
use warnings;
use Test::More;
use File::Path qw(make_path);
use QnA::Stack;

my $s = QnA::Stack->new(name => 'migrations', redis => 0);
$s->start_postgres;

my ($ok, $out) = $s->migrate;
ok $ok, 'the migrations apply' or diag $out;
like $out, qr/applied 0001_initial\.sql\napplied 0002_trail_idempotence\.sql\napplied 0003_cache_hits_and_audit_actions\.sql\napplied 0004_cache_expiry\.sql\napplied 0005_lz4_compression\.sql/, '  0001_initial.sql, then 0002 to 0005';
my $tables = $s->psql('qna', "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'");
is $tables, 'audit_log,chat_messages,chat_sessions,execution_cache,executions,schema_migrations,users', '  the tables';

my $schema = $s->psql('qna', q{SELECT md5(string_agg(table_name || column_name || data_type, ',' ORDER BY table_name, column_name)) FROM information_schema.columns WHERE table_schema = 'public'});
($ok, $out) = $s->migrate;
ok $ok, 'a re-run succeeds';
like $out, qr/nothing to apply/, '  and applies nothing';
is $s->psql('qna', 'SELECT count(*) FROM schema_migrations'), 5, '  a row a migration in schema_migrations';
is $s->psql('qna', q{SELECT md5(string_agg(table_name || column_name || data_type, ',' ORDER BY table_name, column_name)) FROM information_schema.columns WHERE table_schema = 'public'}), $schema, '  the schema unchanged';

# what must hold, holds
is $s->psql('qna', "INSERT INTO users (id, role) VALUES ('alice', 'admin')"), '', 'a user';
like $s->psql('qna', "INSERT INTO users (id, role) VALUES ('bob', 'root')"), qr/ERROR:.*users_role_check/, 'a role that is not one: refused';
like $s->psql('qna', "INSERT INTO users (id) VALUES ('a b')"), qr/ERROR:.*users_id_check/, 'a user name with a space: refused';
is $s->psql('qna', "INSERT INTO executions (id, user_id, kind, status) VALUES ('exec_1', 'alice', 'analyze', 'running')"), '', 'an execution';
like $s->psql('qna', "INSERT INTO executions (id, user_id, kind, status) VALUES ('exec_2', 'alice', 'analyze', 'lost')"), qr/ERROR:.*executions_status_check/, 'a status that is not one: refused';
like $s->psql('qna', "INSERT INTO executions (id, user_id, kind) VALUES ('exec_3', 'nobody', 'analyze')"), qr/ERROR:.*foreign key/, 'an unknown user: refused';
is $s->psql('qna', "INSERT INTO audit_log (execution_id, user_id, event, client_addr) VALUES ('exec_1', 'alice', 'execution_started', '127.0.0.1')"), '', 'an audit row';
like $s->psql('qna', "INSERT INTO audit_log (execution_id, user_id, event) VALUES ('exec_1', 'alice', 'execution_started')"), qr/ERROR:.*duplicate key/, '  the same event of the same execution: refused (a replay is not a second record)';
like $s->psql('qna', "INSERT INTO audit_log (execution_id, event) VALUES ('exec_1', 'rumour')"), qr/ERROR:.*audit_log_event_check/, '  an unknown event: refused';
is $s->psql('qna', "SELECT count(*) FROM pg_indexes WHERE tablename = 'executions'"), 4, 'executions: its key and three indexes';
is $s->psql('qna', "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'audit_log'"),
   'audit_log_event_created,audit_log_execution_id_event_key,audit_log_pkey,audit_log_user_created', 'audit_log: by user, by event';
is $s->psql('qna', "SELECT string_agg(attrelid::regclass || '.' || attname, ',' ORDER BY attrelid::regclass::text, attname) FROM pg_attribute WHERE attcompression = 'l'"),
   'execution_cache.result,executions.error,executions.mcp_calls,executions.params,executions.result,executions.script,executions.trace',
   'the large values of executions and of the cache compressed with LZ4';
like $s->psql('qna', "INSERT INTO execution_cache (question_hash, params_hash, result, expires_at, hit_count) VALUES (repeat('a', 64), repeat('b', 64), '{}', now() + interval '1 day', -1)"),
   qr/ERROR:.*hit_count_check/, 'execution_cache: a negative hit count refused';

# a migration that is not named as one, or out of order, is refused
my $bad = $s->dir . '/bad-migrations';
make_path($bad);
QnA::Stack::write_file("$bad/0001_first.sql", "SELECT 1;\n");
QnA::Stack::write_file("$bad/0003_third.sql", "SELECT 1;\n");
($ok, $out) = $s->migrate('--dir', $bad);
ok !$ok, 'a gap in the numbers: refused';
like $out, qr/expected migration 0002/, '  saying which is missing';
unlink "$bad/0003_third.sql";
QnA::Stack::write_file("$bad/2_second.sql", "SELECT 1;\n");
($ok, $out) = $s->migrate('--dir', $bad);
like $out, qr/named NNNN_description\.sql/, 'a badly named file: refused';

# a failing migration leaves no trace
unlink "$bad/2_second.sql";
my $m = $s->dir . '/m2';
make_path($m);
system("cp $QnA::Stack::ROOT/migrations/*.sql $m") == 0 or die;
my $next = sprintf '%04d', 1 + scalar(() = glob("$m/*.sql"));
QnA::Stack::write_file("$m/${next}_broken.sql", "CREATE TABLE half (x int);\nSELECT no_such_function();\n");
($ok, $out) = $s->migrate('--dir', $m);
ok !$ok, 'a migration that fails: the runner fails';
is $s->psql('qna', "SELECT count(*) FROM pg_tables WHERE tablename = 'half'"), 0, '  its table is not there';
is $s->psql('qna', 'SELECT count(*) FROM schema_migrations'), 5, '  nor its record';

$s->stop_postgres;
done_testing;
