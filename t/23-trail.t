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
use POSIX ();
use IO::Socket::INET;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'trail', workers => 2, postgres => 1)->start;

sub wait_sql_on { my $stack = shift; $stack->wait_psql(@_) }

sub wait_sql { wait_sql_on($s, @_) }

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

# what was written, read back
{
    my $e = is_success($s->http(GET => "/executions/$id"), 'GET /executions/{id}');
    is $e->{status}, 'success', '  its status';
    like $e->{script}, qr/calculate_volatility/, '  the script';
    is $e->{trace}{planner}, 'builtin', '  the trace: its planner';
    is_deeply [map { $_->{tool} } @{ $e->{mcp_calls} }], ['alpaca_market_stocks_bars', 'calculate_volatility'], '  the tools called';
    ok defined $e->{mcp_calls}[0]{duration_ms}, '  with their durations';
    like $e->{mcp_calls}[0]{arguments}, qr/"symbol":"TSLA"/, '  and their arguments';
    like $e->{mcp_calls}[1]{arguments}, qr/^\{"returns":\[.*\.\.\.$/, '  cut when long';
    is_deeply $e->{trace}{data_sources}, ['sample'], '  the data sources';
    is_deeply [map { $_->{event} } @{ $e->{audit} }], [qw(question_submitted script_generated execution_started execution_finished)], '  its audit events';
    is_error($s->http(GET => '/executions/exec_nope'), 404, 'NOT_FOUND', 'an unknown execution');
    is_error($s->http(GET => '/executions/a$b'), 404, 'NOT_FOUND', 'an id that cannot be one');
    my $l = is_success($s->http(GET => "/executions?session_id=$d->{session_id}"), 'GET /executions?session_id=');
    is $l->{total}, 1, '  one in that session';
    is $l->{executions}[0]{execution_id}, $id, '  this one';
    is_error($s->http(GET => "/executions?session_id=$d->{session_id}&page=0"), 400, 'INVALID_REQUEST', 'page=0');
    # anonymous callers are one user: no list of everyone's, by default
    is_error($s->http(GET => '/executions'), 403, 'FORBIDDEN', 'anonymous: no list of all executions');
    is_error($s->http(GET => '/executions?session_id=a%20b'), 400, 'INVALID_REQUEST', 'a session id that cannot be one');
}

# /execute: the client's script, in the trail too
{
    my $ok = is_success($s->execute(script => "result = {'description': 'one', 'body': [{'key': 'x', 'value': 1}]}\n",
                                    execution_id => 'exec_client_1'), '/execute');
    my $bad = $s->execute(script => "x = 1 / 0\n", execution_id => 'exec_client_2');
    is $bad->{status}, 422, '/execute of a script that fails: 422';
    is wait_sql("SELECT string_agg(id || ':' || kind || ':' || status, ',' ORDER BY id) FROM executions WHERE kind = 'execute'",
                'exec_client_1:execute:success,exec_client_2:execute:failed', 5),
       'exec_client_1:execute:success,exec_client_2:execute:failed', '  both in executions: success, failed';
    # a run still going after 250 ms: its start is written before its end
    is_success($s->execute(script => "s = 0\nfor i in range(5000000):\n    s += i\nresult = {'description': 'slow', 'body': [{'key': 's', 'value': s}]}\n",
                           execution_id => 'exec_client_3'), 'a slower script');
    is wait_sql("SELECT status || ' ' || (finished_at - started_at > interval '0.2 seconds') FROM executions WHERE id = 'exec_client_3'",
                'success true', 5), 'success true', '  started well before it finished';
    is $s->psql('qna', "SELECT count(*) FROM audit_log WHERE execution_id = 'exec_client_3'"), 4, '  four audit events';
    my $e = is_success($s->http(GET => '/executions/exec_client_2'), '  GET /executions/{id}');
    is $e->{error}{code}, 'EXECUTION_FAILED', '  with its error';
    is scalar(@{ $e->{audit} }), 4, '  and four audit events';
}

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
# truncated at the replay's next turn (a second) after its last window
my $spooled;
for (1 .. 100) {
    $spooled = 0;
    $spooled += -s $_ for glob($s->dir . '/spool/*.spool');
    last if $spooled == 0;
    sleep 0.1;
}
is $spooled, 0, '  and is empty again';

# the execution cache: a result outlives Redis
{
    my $q = { question => 'What is the Sharpe ratio of MSFT?' };
    my $first = is_success($s->http(POST => '/analyze', json => $q), 'a question');
    my $xid = $first->{execution_id};
    # daily bars: fresh until the next one is out (ngx_qna_freshness.c)
    my $bar = next_daily_bar(time);
    is wait_sql("SELECT count(*) FROM execution_cache WHERE execution_id = '$xid' AND abs(extract(epoch FROM expires_at) - $bar) < 10", 1, 5), 1,
       '  its result in the execution cache, until the next daily bar';
    is $s->psql('qna', "SELECT result = (SELECT result FROM executions WHERE id = '$xid') FROM execution_cache WHERE execution_id = '$xid'"), 't',
       '  the same result as its execution';
    my $again = is_success($s->http(POST => '/analyze', json => $q), '  asked again');
    is $again->{metadata}{cache_hit}, JSON::PP::true, '  a hit';
    is $again->{metadata}{cache}, undef, '  from Redis';
    $s->redis_cli('FLUSHALL');
    my $h = is_success($s->http(GET => "/conversation/$d->{session_id}"), 'a session Redis no longer has: GET /conversation/{id}');
    is $h->{source}, 'history', '  from the history';
    is $h->{turns}, 1, '  one turn';
    is_deeply [map { $_->{role} } @{ $h->{context}{messages} }], ['user', 'assistant'], '  its two messages';
    is $h->{context}{messages}[0]{content}, 'What is the 30-day volatility of TSLA?', '  the question';
    is $h->{context}{messages}[1]{execution_id}, $id, '  the answer\'s execution';
    like $h->{context}{messages}[0]{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '  times as Redis writes them';
    is $h->{title}, 'What is the 30-day volatility of TSLA?', '  its title';
    is_error($s->http(GET => '/conversation/sess_nope'), 404, 'NOT_FOUND', '  an unknown session: 404');
    my $durable = is_success($s->http(POST => '/analyze', json => $q), 'asked again, Redis emptied');
    is $durable->{metadata}{cache_hit}, JSON::PP::true, '  a hit';
    is $durable->{metadata}{cache}, 'postgres', '  from PostgreSQL';
    is $durable->{metadata}{cached_execution_id}, undef, '  whose execution it was is not told to anonymous callers';
    ok defined $durable->{metadata}{cache_age_s} && $durable->{metadata}{cache_age_s} >= 0, '  its age in seconds';
    is $durable->{metadata}{cache_hits}, 1, '  its first hit there';
    is_deeply $durable->{result}, $first->{result}, '  its result';
    my $fresh = is_success($s->http(POST => '/analyze', json => $q, headers => { 'Cache-Control' => 'no-cache' }), '  with no-cache');
    is $fresh->{metadata}{cache_hit}, JSON::PP::false, '  runs it';
    $s->stop_redis;
    my $noredis = is_success($s->http(POST => '/analyze', json => $q), 'asked again, Redis stopped');
    is $noredis->{metadata}{cache}, 'postgres', '  still a hit, from PostgreSQL';
    is $noredis->{metadata}{cache_hits}, 1, '  its first hit: the run with no-cache replaced the entry';
    is $s->psql('qna', "SELECT hit_count || ' ' || (last_hit_at IS NOT NULL) FROM execution_cache WHERE execution_id = '$fresh->{execution_id}'"), '1 true', '  counted in execution_cache';
    is_error($s->http(GET => '/conversation/sessions'), 403, 'FORBIDDEN', 'anonymous: no list of all sessions, Redis stopped too');
    is is_success($s->http(GET => "/conversation/$d->{session_id}"), '  GET /conversation/{id}')->{source}, 'history', '  from the history';
    is $s->psql('qna', "SELECT count(*) FROM execution_cache WHERE execution_id IN (SELECT id FROM executions WHERE question = '$q->{question}')"), 1,
       '  one entry for the question: hits write none';
    my $x = $s->execute(script => "result = {'description': 'one', 'body': [{'key': 'x', 'value': 1}]}\n", execution_id => 'exec_client_9');
    is wait_sql("SELECT status FROM executions WHERE id = 'exec_client_9'", 'success', 5), 'success', '/execute in executions';
    is $s->psql('qna', "SELECT count(*) FROM execution_cache WHERE execution_id = 'exec_client_9'"), 0, '  not in the cache: no question';
}

# a question that cannot be planned is an execution too: failed, never run
{
    my $r = $s->http(POST => '/analyze', json => { question => 'Will it rain in Paris tomorrow?' });
    ok $r->{status} >= 400, 'a question the planner cannot answer: ' . ($r->{status} // '?');
    my $xid = 'exec_' . $r->{json}{request_id};
    is wait_sql("SELECT status || ' ' || (error->>'code') || ' ' || (script IS NULL) || ' ' || (started_at IS NULL) FROM executions WHERE id = '$xid'",
                "failed $r->{json}{error}{code} true true", 5),
       "failed $r->{json}{error}{code} true true", '  in executions: failed, its error, no script, never started';
    is $s->psql('qna', "SELECT string_agg(event, ',' ORDER BY id) FROM audit_log WHERE execution_id = '$xid'"),
       'question_submitted,execution_finished', '  two audit events: asked, finished';
}
unlike $s->error_log, qr/exited on signal/, 'no worker died';
is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg';
$s->stop;

# a question an LLM takes a while to plan: pending, then running, then done
{
    my $lport = QnA::Stack::free_port();
    my $l = QnA::Stack->new(name => 'trail-llm', workers => 1, postgres => 1, postgres_opts => 'purge=1s', nginx_http => <<"EOF2");
    qna_llm_provider gpt openai url=http://127.0.0.1:$lport/v1 model=gpt-mock key_file=llm.key timeout=5s;
    qna_planner gpt;
EOF2
    QnA::Stack::write_file($l->dir . '/llm.key', "mock-llm-key\n");
    QnA::Stack::write_file($l->dir . '/spool/trail.999999999.spool', QnA::Stack::json()->encode({ s => 2, p => [
        'legacy', 'viewer', undef, 'exec_legacy_1', 'execute', undef, 'client', 'result = 1', undef, '127.0.0.1', undef,
        '2026-11-25T10:00:00Z', '{}', 'success', '{"description": "x", "body": []}', undef, undef, undef, '3',
        '2026-11-25T10:00:01Z', undef] }) . "\n");
    $l->start_mock(llm => $lport);
    $l->start;
    sleep 0.1 until ($l->http(GET => '/health')->{json}{data}{components}{postgres}{status} // '') eq 'up';
    my $q = 'What was the last close of AAPL? [slow]';
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $r = $l->http(POST => '/analyze', json => { question => $q });
        POSIX::_exit(($r->{status} // 0) == 200 ? 0 : 1);
    }
    my $sql = "SELECT status || ' ' || (script IS NULL) FROM executions WHERE question = '$q'";
    my $until = time + 2.5;
    my $seen = '';
    while (time < $until) {
        $seen = $l->psql('qna', $sql);
        last if $seen ne '';
        sleep 0.05;
    }
    is $seen, 'pending true', 'while the LLM plans: pending, no script yet';
    is $l->psql('qna', "SELECT string_agg(event, ',') FROM audit_log WHERE execution_id = (SELECT id FROM executions WHERE question = '$q')"),
       'question_submitted', '  question_submitted in the audit log';
    waitpid $pid, 0;
    is $?, 0, '  then answered';
    is wait_sql_on($l, "SELECT status || ' ' || (script IS NOT NULL) || ' ' || (started_at >= created_at) FROM executions WHERE question = '$q'", 'success true true', 5),
       'success true true', '  then success, with its script, started after it was asked';
    is $l->psql('qna', "SELECT string_agg(event, ',' ORDER BY created_at, id) FROM audit_log WHERE execution_id = (SELECT id FROM executions WHERE question = '$q')"),
       'question_submitted,script_generated,execution_started,execution_finished', '  and its four audit events';
    # a client that leaves while its question is being planned
    {
        my $gone = 'What was the last close of MSFT? [slow]';
        my $body = QnA::Stack::json()->encode({ question => $gone });
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $l->port, Proto => 'tcp') or die "connect: $!";
        print $sock "POST /analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
        is wait_sql_on($l, "SELECT status FROM executions WHERE question = '$gone'", 'pending', 3), 'pending', 'a client that leaves while the LLM plans: first pending';
        close $sock;
        is wait_sql_on($l, "SELECT status || ' ' || (error->>'code') FROM executions WHERE question = '$gone'", 'failed REQUEST_ENDED', 5),
           'failed REQUEST_ENDED', '  then failed, REQUEST_ENDED: never left pending';
    }
    # a record spooled by an older version (WHOLE with 21 parameters) by a worker that is gone
    is wait_sql_on($l, "SELECT status || ' ' || execution_ms FROM executions WHERE id = 'exec_legacy_1'", 'success 3', 5), 'success 3',
       'a spooled record of the previous format, taken over and replayed';
    # expired cache entries are deleted (purge=1s), live ones kept
    $l->psql('qna', "INSERT INTO execution_cache (question_hash, params_hash, result, created_at, expires_at) VALUES "
                  . "(repeat('a', 64), repeat('b', 64), '{}', now() - interval '2 days', now() - interval '1 day'), "
                  . "(repeat('c', 64), repeat('d', 64), '{}', now(), now() + interval '1 day')");
    is wait_sql_on($l, "SELECT string_agg(left(question_hash, 1), ',') FROM execution_cache WHERE question_hash IN (repeat('a', 64), repeat('c', 64))", 'c', 5), 'c',
       'the expired cache entry is deleted, the live one kept';
    # executions a gateway left unfinished (killed): failed after an hour
    $l->psql('qna', "INSERT INTO executions (id, user_id, kind, status, created_at) VALUES "
                  . "('exec_left_1', 'anonymous', 'analyze', 'running', now() - interval '2 hours'), "
                  . "('exec_left_2', 'anonymous', 'analyze', 'pending', now() - interval '61 minutes'), "
                  . "('exec_left_3', 'anonymous', 'analyze', 'running', now() - interval '10 minutes')");
    is wait_sql_on($l, "SELECT string_agg(id || ' ' || status || ' ' || coalesce(error->>'code', '-'), ',' ORDER BY id) FROM executions WHERE id LIKE 'exec_left_%'",
                   'exec_left_1 failed ABANDONED,exec_left_2 failed ABANDONED,exec_left_3 running -', 5),
       'exec_left_1 failed ABANDONED,exec_left_2 failed ABANDONED,exec_left_3 running -',
       'executions left running or pending for over an hour: failed, ABANDONED; a younger one left alone';
    is $l->psql('qna', "SELECT string_agg(execution_id || ' ' || (details->>'reason'), ',' ORDER BY execution_id) FROM audit_log WHERE execution_id LIKE 'exec_left_%' AND event = 'execution_finished'"),
       'exec_left_1 abandoned,exec_left_2 abandoned', '  each with its execution_finished event';
    like $l->error_log, qr/qna upkeep: 2 executions left unfinished for over 1 hour failed as ABANDONED/, '  said in the log';
    my $r = $l->http(POST => '/analyze', json => { question => 'Last close of AAPL? [500]' });
    is_error($r, 502, 'LLM_UNAVAILABLE', 'an LLM that cannot answer');
    is wait_sql_on($l, "SELECT status || ' ' || (error->>'code') FROM executions WHERE id = 'exec_$r->{json}{request_id}'", 'failed LLM_UNAVAILABLE', 5),
       'failed LLM_UNAVAILABLE', '  in executions: failed, LLM_UNAVAILABLE';
    is_deeply [$l->bad_log_lines], [], '  no alert, crit or emerg';
    $l->stop;
}

# a full spool: logged at each record lost, and with full=refuse, 503
{
    my $f = QnA::Stack->new(name => 'trail-full', workers => 1, postgres => 1, trail_spool => 'max=4k full=refuse');
    $f->start;
    sleep 0.1 until ($f->http(GET => '/health')->{json}{data}{components}{postgres}{status} // '') eq 'up';
    $f->stop_postgres;
    my ($refused, $n) = (0, 0);
    while ($n++ < 40) {
        my $r = $f->http(POST => '/analyze', json => { question => 'What is the price of AAPL?' },
                         headers => { 'Cache-Control' => 'no-cache' });
        if (($r->{json}{error}{code} // '') eq 'STORE_UNAVAILABLE') { $refused = 1; last }
    }
    ok $refused, "PostgreSQL down and the 4 KB spool full: STORE_UNAVAILABLE (after $n analyses)";
    like $f->error_log, qr/THE SPOOL .* IS FULL/, '  logged loudly';
    $f->start_postgres;
    my $until = time + 10;
    my $ok;
    while (time < $until) {
        my $r = $f->http(POST => '/analyze', json => { question => 'What is the price of AAPL?' });
        if (($r->{status} // 0) == 200) { $ok = 1; last }
        sleep 0.2;
    }
    ok $ok, 'PostgreSQL back: the spool drains and analyses are taken again';
    $f->stop;
}

# with users: one's own, or any for an admin
{
    use QnA::JWT qw(jwt);
    my $key = 'j' x 40;
    my $u = QnA::Stack->new(name => 'trail-users', workers => 1, postgres => 1,
                            nginx_http => "    qna_auth_jwt_secret_file jwt.key;\n    qna_auth jwt;\n");
    QnA::Stack::write_file($u->dir . '/jwt.key', $key);
    $u->start;
    my %h = map { my ($n, $role) = @$_; ($n => { Authorization => 'Bearer ' . jwt($key, { sub => $n, role => $role, exp => time + 600 }) }) }
            (['alice', 'viewer'], ['bob', 'viewer'], ['root', 'admin']);
    sleep 0.1 until ($u->http(GET => '/health', headers => $h{root})->{json}{data}{components}{postgres}{status} // '') eq 'up';
    my $x = is_success($u->http(POST => '/analyze', json => { question => 'What is the price of AAPL?' }, headers => $h{alice}), 'alice asks');
    my $xid = $x->{execution_id};
    my $until = time + 5;
    sleep 0.1 until time > $until || ($u->http(GET => "/executions/$xid", headers => $h{alice})->{status} // 0) == 200;
    is is_success($u->http(GET => "/executions/$xid", headers => $h{alice}), '  she reads her execution')->{user_id}, 'alice', '  hers';
    is_error($u->http(GET => "/executions/$xid", headers => $h{bob}), 404, 'NOT_FOUND', '  bob does not see it');
    is is_success($u->http(GET => "/executions/$xid", headers => $h{root}), '  an admin does')->{user_id}, 'alice', '  hers';
    is is_success($u->http(GET => '/executions', headers => $h{bob}), 'bob\'s list')->{total}, 0, '  is empty';
    is $u->psql('qna', "SELECT role FROM users WHERE id = 'alice'"), 'viewer', 'alice is a user, a viewer';
    {
        my $me = is_success($u->http(GET => '/users/me', headers => $h{alice}), 'GET /users/me');
        is "$me->{user_id} $me->{role} $me->{executions} $me->{sessions}", 'alice viewer 1 1', '  alice, a viewer, one execution, one session';
        is $me->{recorded}, JSON::PP::true, '  recorded';
        ok $me->{last_seen_at} ge $me->{created_at}, '  first and last seen';
        my $new = is_success($u->http(GET => '/users/me', headers => { Authorization => 'Bearer ' . jwt($key, { sub => 'carol', role => 'manager', exp => time + 600 }) }),
                             '  a user who has asked nothing yet');
        is "$new->{user_id} $new->{role} $new->{executions}", 'carol manager 0', '  who the token says, nothing else';
        is $new->{recorded}, JSON::PP::false, '  not recorded';
        is is_success($u->http(GET => '/users/alice', headers => $h{root}), 'an admin reads /users/alice')->{executions}, 1, '  her executions';
        is_error($u->http(GET => '/users/alice', headers => $h{bob}), 403, 'FORBIDDEN', 'bob cannot: an admin\'s endpoint');
        is_error($u->http(GET => '/users/nobody', headers => $h{root}), 404, 'NOT_FOUND', 'an unknown user: 404');
        is_error($u->http(GET => '/users/a%20b', headers => $h{root}), 404, 'NOT_FOUND', 'a name that cannot be one: 404');
        is_error($u->http(POST => '/users/me', headers => $h{alice}, json => {}), 405, 'METHOD_NOT_ALLOWED', 'POST: 405');
        is_error($u->http(GET => '/users/me'), 401, 'UNAUTHORIZED', 'no token: 401');
        # the role follows the token
        my $promoted = { Authorization => 'Bearer ' . jwt($key, { sub => 'alice', role => 'manager', exp => time + 600 }) };
        my $y = is_success($u->http(POST => '/analyze', json => { question => 'What is the price of MSFT?' }, headers => $promoted), 'alice, now a manager, asks');
        my $until2 = time + 5;
        sleep 0.1 until time > $until2 || $u->psql('qna', "SELECT role FROM users WHERE id = 'alice'") eq 'manager';
        is is_success($u->http(GET => '/users/me', headers => $promoted), '  /users/me')->{role}, 'manager', '  says manager';
    }
    my $sid = $x->{session_id};
    is_error($u->http(GET => "/conversation/$sid", headers => $h{bob}), 404, 'NOT_FOUND', 'bob cannot read her session');
    {
        # Redis away: a session id is taken on trust, but never written into
        $u->stop_redis;
        my $e = is_success($u->http(POST => '/analyze', json => { question => 'What is the price of NVDA?', session_id => $sid }, headers => $h{bob}),
                           'Redis away: bob asks in her session');
        is wait_sql_on($u, "SELECT count(*) FROM executions WHERE id = '$e->{execution_id}' AND session_id IS NULL", 1, 5), 1,
           '  his execution is recorded, in no session';
        is $u->psql('qna', "SELECT count(*) FROM chat_messages WHERE session_id = '$sid'"), 2, '  nothing added to hers';
        my $hist = is_success($u->http(GET => "/conversation/$sid", headers => $h{alice}), '  her history');
        is_deeply [map { $_->{content} } grep { $_->{role} eq 'user' } @{ $hist->{context}{messages} }], ['What is the price of AAPL?'], '  her question alone';
        is_error($u->http(GET => "/conversation/$sid", headers => $h{bob}), 404, 'NOT_FOUND', '  and he cannot read it');
        $u->start_redis;
    }
    $u->redis_cli('FLUSHALL');
    is is_success($u->http(GET => "/conversation/$sid", headers => $h{alice}), '  she can from the history')->{source}, 'history', '  (Redis emptied)';
    is_error($u->http(GET => "/conversation/$sid", headers => $h{bob}), 404, 'NOT_FOUND', '  he cannot from the history either');

    # a cached result tells whose execution it was to that user alone
    {
        my $q = { question => 'What is the Sortino ratio of KO?' };
        my $hers = is_success($u->http(POST => '/analyze', json => $q, headers => $h{alice}), 'alice asks about KO');
        is wait_sql_on($u, "SELECT count(*) FROM execution_cache WHERE execution_id = '$hers->{execution_id}'", 1, 5), 1, '  cached';
        $u->redis_cli('FLUSHALL');
        my $again = is_success($u->http(POST => '/analyze', json => $q, headers => $h{alice}), '  and again');
        is $again->{metadata}{cache}, 'postgres', '  from PostgreSQL';
        is $again->{metadata}{cached_execution_id}, $hers->{execution_id}, '  her own execution, named';
        my $his = is_success($u->http(POST => '/analyze', json => $q, headers => $h{bob}), '  bob asks the same');
        is $his->{metadata}{cache_hit}, JSON::PP::true, '  a hit for him too';
        is $his->{metadata}{cached_execution_id}, undef, '  without her execution\'s id';
    }

    # lists: hers, 50 a page, also from the history while Redis is away
    {
        for my $i (1 .. 50) {
            my $a = $u->http(POST => '/analyze', json => { question => "What is the ${\ (10 + $i)}-day volatility of AAPL?" },
                             headers => $h{alice});
            die "analysis $i: $a->{status}" unless ($a->{status} // 0) == 200;
        }
        my $total = wait_sql_on($u, "SELECT count(*) FROM executions WHERE user_id = 'alice'", 54, 10);
        is $total, 54, 'alice has 54 executions';
        my $p1 = is_success($u->http(GET => '/executions', headers => $h{alice}), 'GET /executions: the first page');
        is scalar(@{ $p1->{executions} }), 50, '  of 50';
        is $p1->{total}, 54, '  of 54';
        my $p2 = is_success($u->http(GET => '/executions?page=2', headers => $h{alice}), '  page 2');
        is scalar(@{ $p2->{executions} }), 4, '  the last four';
        is $p2->{executions}[-1]{question}, 'What is the price of AAPL?', '  her first question last';
        $u->stop_redis;
        my $l = is_success($u->http(GET => '/conversation/sessions?per_page=5&page=2', headers => $h{alice}),
                           'GET /conversation/sessions, Redis stopped');
        is $l->{source}, 'history', '  from the history';
        is scalar(@{ $l->{sessions} }), 5, '  five a page';
        is $l->{total}, $u->psql('qna', "SELECT count(*) FROM chat_sessions WHERE user_id = 'alice'"), '  of all her sessions';
        ok !(grep { $l->{sessions}[$_]{updated_at} lt $l->{sessions}[$_ + 1]{updated_at} } 0 .. 3), '  newest first';
        is $l->{sessions}[0]{turns}, 1, '  with their turns';
        is_error($u->http(GET => '/conversation/sessions?per_page=0', headers => $h{alice}), 400, 'INVALID_REQUEST', '  per_page=0: 400');
        $u->start_redis;
    }
    $u->stop;
}

done_testing;
