#!/usr/bin/perl
# Secure by default (issue 11), from the nginx side: anonymous callers are
# viewers; /execute needs a manager and debug endpoints an admin; the tool
# policy (trading and upstream tools need a manager) in tools/list, in
# tools/call, on sandboxd's relay (X-QnA-Role believed from root only), in
# /analyze's plans and /execute's tool lists; an execution id is recorded
# once and its row stays its owner's; no answer names another caller's
# executions or sessions; cached answers live as long as their data.

use strict;
use warnings;
use Test::More;
use IO::Socket::UNIX;
use POSIX ();
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt);

sub wait_sql { my $stack = shift; $stack->wait_psql(@_) }

sub tool_names {
    my ($answer) = @_;
    return { map { $_->{name} => 1 } @{ $answer->{result}{tools} || [] } };
}

# --- auth off: the module's own defaults ------------------------------------

my $a = QnA::Stack->new(name => 'secure-anon', workers => 1, postgres => 1,
                        execute_role => '',
                        locations => "        location = /debug/default {\n"
                                   . "            qna_debug on;\n"
                                   . "            qna_debug_mcp_tools;\n"
                                   . "        }\n\n");
$a->start;

{
    my $j = is_error($a->execute(script => "result = 1\n"), 403, 'FORBIDDEN', 'anonymous: /execute refused');
    is "$j->{error}{details}{role} $j->{error}{details}{required_role}", 'viewer manager',
       '  a viewer, where a manager is needed';
    like $j->{error}{message}, qr/anonymous/i, '  saying why';
    is_error($a->http(GET => '/debug/default'), 403, 'FORBIDDEN', 'a debug endpoint switched on: an admin\'s');
    is_error($a->http(GET => '/users/someone'), 403, 'FORBIDDEN', '/users/{id}: an admin\'s');
    my $me = is_success($a->http(GET => '/users/me'), '/users/me');
    is "$me->{user_id} $me->{role}", 'anonymous viewer', '  anonymous, a viewer';
    is_error($a->http(GET => '/executions'), 403, 'FORBIDDEN', 'no list of every anonymous execution');
    is_error($a->http(GET => '/conversation/sessions'), 403, 'FORBIDDEN', 'no list of every anonymous session');
}

# other sessions' questions are other people's: their ids are not shown
{
    my $q = 'What is the 30-day volatility of TSLA?';
    my $one = is_success($a->analyze($q), 'a question');
    my $same = is_success($a->analyze($q, session_id => $one->{session_id}), '  again, in its session');
    is $same->{context}{duplicate_of}{execution_id}, $one->{execution_id}, '  a duplicate of the first, named';
    my $other = is_success($a->analyze($q), 'the same question in a new session');
    is $other->{context}{duplicate_of}, undef, '  is nobody\'s duplicate';
    is_deeply $other->{context}{similar_previous_questions}, [], '  and resembles nothing';
    unlike $a->http(POST => '/analyze', json => { question => 'What is the 40-day volatility of TSLA?' })->{body},
           qr/$one->{session_id}|$one->{execution_id}/, '  no answer carries the first session\'s ids';
    my $c = is_success($a->http(GET => "/conversation/$other->{session_id}"), 'GET /conversation/{id}');
    is_deeply $c->{context}{similar_previous_questions}, [], '  shows no other session';
}

# tools: what a viewer may not call, it neither sees nor calls
{
    my $names = tool_names($a->mcp('tools/list'));
    ok $names->{calculate_volatility} && $names->{alpaca_market_stocks_bars}, 'tools/list: analytics and market data';
    ok !(grep { /^alpaca_trading_/ } keys %$names), '  no trading tool for a viewer';
    my $r = $a->mcp('tools/call', { name => 'alpaca_trading_account', arguments => {} });
    is $r->{result}{isError}, JSON::PP::true, 'tools/call alpaca_trading_account: isError';
    is $r->{result}{structuredContent}{error}{code}, 'FORBIDDEN', '  FORBIDDEN';
    like $r->{result}{content}[0]{text}, qr/viewer may not call alpaca_trading_account: it needs the manager role/, '  saying why';
}

# a cached answer lives as long as its data: seconds for a price, until
# the next daily bar for analytics of daily bars
{
    $a->redis_cli('FLUSHALL');
    my $p = is_success($a->analyze('What is the current price of AAPL?'), 'a price');
    my @keys = grep { length } split /\n/, $a->redis_cli('KEYS', "'qna:result:*'");
    is scalar(@keys), 1, '  cached once';
    my $ttl = $a->redis_cli('TTL', $keys[0]);
    ok $ttl > 0 && $ttl <= 15, "  for the vendor's 15 seconds (TTL $ttl)";
    is wait_sql($a, "SELECT round(extract(epoch FROM expires_at - created_at)) FROM execution_cache WHERE execution_id = '$p->{execution_id}'", 15), 15,
       '  the execution cache too';
    my $hit = is_success($a->analyze('What is the current price of AAPL?'), '  asked again');
    is $hit->{metadata}{cache_hit}, JSON::PP::true, '  a hit';
    ok defined $hit->{metadata}{cache_age_s} && $hit->{metadata}{cache_age_s} >= 0 && $hit->{metadata}{cache_age_s} <= 15,
       "  $hit->{metadata}{cache_age_s} s old";

    $a->redis_cli('FLUSHALL');
    my $now = time;
    is_success($a->analyze('What is the 14-day RSI of NVDA?'), 'an RSI');
    @keys = grep { length } split /\n/, $a->redis_cli('KEYS', "'qna:result:*'");
    $ttl = $a->redis_cli('TTL', $keys[0] // 'none');
    my $want = next_daily_bar($now) - $now;
    ok abs($ttl - $want) <= 5, "  cached until the next daily bar ($ttl s, want $want)";
}

$a->stop;
log_is_clean($a);

# qna_auth_role above a location raises its handler's default, never
# lowers it: "viewer" for the whole http block keeps /execute a manager's
{
    my $v = QnA::Stack->new(name => 'secure-above', workers => 1, execute_role => '',
                            nginx_http => "    qna_auth_role viewer;\n",
                            locations => "        location = /debug/default {\n"
                                       . "            qna_debug on;\n"
                                       . "            qna_debug_mcp_tools;\n"
                                       . "        }\n\n");
    $v->start;
    is_error($v->execute(script => "result = 1\n"), 403, 'FORBIDDEN', 'qna_auth_role viewer in http: /execute still a manager\'s');
    is_error($v->http(GET => '/debug/default'), 403, 'FORBIDDEN', '  a debug endpoint still an admin\'s');
    is_success($v->analyze('What is the price of AAPL?'), '  /analyze still a viewer\'s');
    $v->stop;
}

# --- signed in: roles from tokens ---------------------------------------------

my $key = 'k' x 40;
my $lport = QnA::Stack::free_port();
my $b = QnA::Stack->new(name => 'secure-users', workers => 1, postgres => 1,
                        execute_role => 'viewer', nginx_http => <<"EOF");
    qna_auth_jwt_secret_file jwt.key;
    qna_auth jwt;
    qna_llm_provider gpt openai url=http://127.0.0.1:$lport/v1 model=gpt-mock key_file=llm.key timeout=5s;
    qna_planner gpt builtin;
EOF
QnA::Stack::write_file($b->dir . '/jwt.key', $key);
QnA::Stack::write_file($b->dir . '/llm.key', "mock-llm-key\n");
$b->start_mock(llm => $lport);
$b->start;

my %h = map { my ($n, $role) = @$_; ($n => { Authorization => 'Bearer ' . jwt($key, { sub => $n, role => $role, exp => time + 600 }) }) }
        (['alice', 'viewer'], ['mgr', 'manager'], ['mgr2', 'manager'], ['root', 'admin']);
sleep 0.1 until ($b->http(GET => '/health', headers => $h{root})->{json}{data}{components}{postgres}{status} // '') eq 'up';

sub bexec {
    my ($who, %body) = @_;
    return $b->http(POST => '/execute', json => \%body, headers => $h{$who});
}

my $account = "a = mcp_client.call('alpaca_trading_account', {})\n"
            . "result = {'description': 'cash', 'body': [{'key': 'cash', 'value': a['data']['cash']}]}\n";

# /execute's tools: the role's, or the fewer named if the role may
{
    my $j = is_error(bexec(alice => script => $account, allowed_tools => ['alpaca_trading_account']),
                     403, 'FORBIDDEN', 'a viewer naming a trading tool in allowed_tools');
    is "$j->{error}{details}{tool} $j->{error}{details}{required_role}", 'alpaca_trading_account manager', '  the tool and the role it needs';
    $j = is_error(bexec(alice => script => $account), 502, 'MCP_TOOL_ERROR', 'a viewer\'s script calling it anyway');
    like $j->{error}{message}, qr/may not call alpaca_trading_account/, '  refused before it left sandboxd';
    my $d = is_success(bexec(mgr => script => $account), 'a manager\'s script');
    ok $d->{result}{body}[0]{value} > 0, '  reads the account';
    $d = is_success(bexec(alice => script => "b = mcp_client.call('calculate_sma', {'prices': [1, 2, 3], 'period': 2})\n"
                                            . "result = b['latest']\n"), 'a viewer\'s analytics');
    is $d->{result}{body}[0]{value}, 2.5, '  answered';
}

# /analyze: a plan that needs a manager's tool
{
    my $j = is_error($b->http(POST => '/analyze', json => { question => '[account] how much cash do I have?' }, headers => $h{alice}),
                     403, 'FORBIDDEN', 'a viewer whose question needs the trading account');
    is $j->{error}{details}{tool}, 'alpaca_trading_account', '  names the tool';
    my $d = is_success($b->http(POST => '/analyze', json => { question => '[account] how much cash do I have?' }, headers => $h{mgr}),
                       'a manager asks it');
    ok $d->{result}{body}[0]{value} > 0, '  the cash';
    $d = is_success($b->http(POST => '/analyze', json => { question => '[account] how much cash do I have?' }, headers => $h{mgr}),
                    '  asked again');
    is $d->{metadata}{cache_hit}, JSON::PP::false, '  computed again: an account is never cached';
}

# the MCP module enforces the role itself, on /mcp and on the relay
{
    my $sid;
    my $mcp = sub {
        my ($who, $method, $params) = @_;
        my %hd = (%{ $h{$who} }, Accept => 'application/json, text/event-stream');
        unless ($sid->{$who}) {
            my $r = $b->http(POST => '/mcp', headers => \%hd,
                             json => { jsonrpc => '2.0', id => 1, method => 'initialize',
                                       params => { protocolVersion => '2025-11-25', capabilities => {},
                                                   clientInfo => { name => 't', version => '1' } } });
            $sid->{$who} = $r->{headers}{'mcp-session-id'};
        }
        my $r = $b->http(POST => '/mcp', json => { jsonrpc => '2.0', id => 2, method => $method, params => $params },
                         headers => { %hd, 'MCP-Session-Id' => $sid->{$who}, 'MCP-Protocol-Version' => '2025-11-25' });
        return $r->{json};
    };
    ok !tool_names($mcp->(alice => 'tools/list', {}))->{alpaca_trading_account}, '/mcp: a viewer is not shown the account';
    ok tool_names($mcp->(mgr => 'tools/list', {}))->{alpaca_trading_account}, '  a manager is';
    is $mcp->(mgr => 'tools/call', { name => 'alpaca_trading_account', arguments => {} })->{result}{isError}, JSON::PP::false,
       '  and may call it';

    my $relay = sub {
        my ($role, $as_nobody) = @_;
        my $body = QnA::Stack::json()->encode({ jsonrpc => '2.0', id => 1, method => 'tools/call',
                                                params => { name => 'alpaca_trading_account', arguments => {} } });
        my $req = "POST /mcp HTTP/1.1\r\nHost: sandboxd\r\nContent-Type: application/json\r\n"
                . "Accept: application/json, text/event-stream\r\n"
                . (defined $role ? "X-QnA-Role: $role\r\n" : '')
                . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $rd;
            if ($as_nobody) {
                my (undef, undef, $uid, $gid) = getpwnam('nobody');
                POSIX::setgid($gid);
                POSIX::setuid($uid) or POSIX::_exit(2);
            }
            my $s = IO::Socket::UNIX->new(Peer => $b->dir . '/mcp.sock') or POSIX::_exit(3);
            print $s $req;
            local $/;
            print $wr (<$s> // '');
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        local $/;
        my $out = <$rd> // '';
        waitpid $pid, 0;
        my ($json) = $out =~ /\r\n\r\n(.*)$/s;
        return eval { QnA::Stack::json()->decode($json // '') } || {};
    };
    my $code = sub { $_[0]{result}{structuredContent}{error}{code} // ($_[0]{result} ? 'ok' : 'none') };
    is $code->($relay->('manager')), 'ok', 'the relay: sandboxd says manager, the call goes through';
    is $code->($relay->('viewer')), 'FORBIDDEN', '  viewer: FORBIDDEN';
    is $code->($relay->(undef)), 'FORBIDDEN', '  no role said: a viewer';
    is $code->($relay->('root')), 'FORBIDDEN', '  a role that is not one: a viewer';
  SKIP: {
        skip 'needs root to connect as another user', 1 unless $> == 0;
        is $code->($relay->('admin', 1)), 'FORBIDDEN', '  anyone but root or nginx\'s user claiming admin: a viewer';
    }
}

# an execution id is recorded once, and its row stays its owner's
{
    my $script = "PARAMS = {'who': 'nobody'}\nresult = {'description': 'x', 'body': [{'key': 'who', 'value': PARAMS['who']}]}\n";
    is_success(bexec(mgr => script => $script, params => { who => 'mgr' }, execution_id => 'exec_owned_1'), 'a manager\'s /execute with its own id');
    is wait_sql($b, "SELECT user_id FROM executions WHERE id = 'exec_owned_1' AND status = 'success'", 'mgr'), 'mgr', '  recorded as hers';
    my $j = is_error(bexec(mgr2 => script => $script, params => { who => 'mgr2' }, execution_id => 'exec_owned_1'),
                     409, 'CONFLICT', 'another manager taking the id');
    is $j->{error}{details}{field}, 'execution_id', '  names the field';
    is_error(bexec(mgr => script => $script, params => { who => 'mgr' }, execution_id => 'exec_owned_1'),
             409, 'CONFLICT', '  and its owner reusing it: a record is written once');

    # two at once naming one new id: one is claimed and runs, the other
    # is refused; the row is the one that ran
    {
        my %body = (script => "import time\ntime.sleep(0.3)\n" . $script, execution_id => 'exec_raced_1');
        my @socks = map {
            my $sock = $b->connect;
            $b->send_request($sock, POST => '/execute', headers => $h{$_},
                             json => { %body, params => { who => $_ } });
            [$_, $sock];
        } qw(mgr mgr2);
        my %got = map { ($_->[0] => QnA::Stack::read_response($_->[1])) } @socks;
        my @won = grep { ($got{$_}{status} // 0) == 200 } keys %got;
        my @lost = grep { ($got{$_}{status} // 0) == 409 } keys %got;
        is scalar(@won) . ' ' . scalar(@lost), '1 1', 'two requests naming one new id: one runs, one is 409';
        is $b->wait_psql("SELECT user_id || ' ' || (result->'body'->0->>'value') FROM executions WHERE id = 'exec_raced_1' AND status = 'success'",
                         "$won[0] $won[0]"), "$won[0] $won[0]", '  the row is the one that ran';
    }

    # PostgreSQL down: no id can be claimed, so none is taken
    $b->stop_postgres;
    is_error(bexec(mgr2 => script => $script, params => { who => 'mgr2' }, execution_id => 'exec_owned_2'),
             503, 'STORE_UNAVAILABLE', 'PostgreSQL down: a chosen id is refused, it cannot be claimed');
    is_success(bexec(mgr2 => script => $script, params => { who => 'mgr2' }), '  a run without one still goes');
    $b->start_postgres;
    is $b->psql('qna', "SELECT user_id || ' ' || (result->'body'->0->>'value') FROM executions WHERE id = 'exec_owned_1'"),
       'mgr mgr', 'the first row is still its owner\'s, with her result';
}

{
    sleep 0.1 until ($b->http(GET => '/health', headers => $h{root})->{json}{data}{components}{postgres}{status} // '') eq 'up';
    is_error($b->http(GET => '/users/alice', headers => $h{mgr}), 403, 'FORBIDDEN', 'a manager reading /users/alice');
    is is_success($b->http(GET => '/users/alice', headers => $h{root}), 'an admin reading /users/alice')->{user_id}, 'alice', '  hers';
}

$b->stop;
log_is_clean($b);

done_testing;
