#!/usr/bin/perl
# ngx_mcp_module v1: JSON-RPC 2.0 over POST /mcp, the tools the planner
# needs, their argument checks, and the errors of the protocol.

use strict;
use warnings;
use Test::More;
use Digest::SHA ();
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'mcp', locations => <<'CONF')->start;
        location = /mcp-paged {
            mcp_page_size 5;
            mcp;
        }

        location = /debug-off {
            qna_debug_mcp_tools;
        }

CONF

# the handshake
{
    my $a = $s->mcp('initialize', { protocolVersion => '2025-06-18', capabilities => {},
                                    clientInfo => { name => 't', version => '1' } });
    is $a->{jsonrpc}, '2.0', 'initialize: JSON-RPC 2.0';
    is $a->{result}{protocolVersion}, '2025-06-18', '  a version we speak is echoed';
    ok $a->{result}{capabilities}{tools}, '  tools capability';
    is $a->{result}{serverInfo}{name}, 'qna-mcp', '  serverInfo';

    $a = $s->mcp('initialize', { protocolVersion => '1999-01-01' });
    is $a->{result}{protocolVersion}, '2025-11-25', '  an unknown version gets the latest';

    my $r = $s->http(POST => '/mcp', json => { jsonrpc => '2.0', method => 'notifications/initialized' },
                     headers => { $s->mcp_headers });
    is $r->{status}, 202, 'a notification: 202';
    is $r->{body}, '', '  with no body';

    is_deeply $s->mcp('ping')->{result}, {}, 'ping';
}

# tools/list
{
    my $tools = $s->mcp('tools/list')->{result}{tools};
    my %t = map { $_->{name} => $_ } @$tools;
    for my $n (qw(alpaca_market_stocks_bars alpaca_market_stocks_snapshots
                  alpaca_market_screener_most_actives calculate_volatility calculate_sma
                  calculate_ema calculate_rsi calculate_macd calculate_bollinger_bands
                  calculate_atr calculate_sharpe_ratio calculate_sortino_ratio
                  calculate_max_drawdown calculate_var calculate_correlation_matrix
                  optimize_portfolio_weights calculate_portfolio_metrics
                  detect_sma_crossover detect_support_resistance)) {
        ok $t{$n}, "tool $n";
        is $t{$n}{inputSchema}{type}, 'object', "  $n has an object schema" if $t{$n};
        ok $t{$n}{annotations}{readOnlyHint}, "  $n is read-only" if $t{$n};
    }

    ok !grep({ ref $_->{outputSchema} ne 'HASH' } @$tools), 'every tool has an outputSchema';
    ok !exists $s->mcp('tools/list')->{result}{nextCursor}, 'one page holds them all by default';

    # pages of 5: the cursors lead through all of them, once each
    my (@all, $cursor, $pages);
    do {
        my $a = $s->mcp('tools/list', defined $cursor ? { cursor => $cursor } : undef, path => '/mcp-paged');
        push @all, map { $_->{name} } @{ $a->{result}{tools} };
        $cursor = $a->{result}{nextCursor};
        $pages++;
    } while (defined $cursor && $pages < 10);
    is $pages, 6, 'tools/list in pages of 5: 6 pages for 30 tools';
    is_deeply [sort @all], [sort keys %t], '  every tool once';
    is $s->mcp('tools/list', { cursor => 'bogus' }, path => '/mcp-paged')->{error}{code}, -32602,
        'an unknown cursor: -32602';

    my $fin = $s->mcp('tools/list', undef, path => '/mcp/financial')->{result}{tools};
    ok @$fin && !grep({ $_->{name} !~ /^(alpaca|eodhd)_/ } @$fin), '/mcp/financial serves only financial tools';
    my $ana = $s->mcp('tools/list', undef, path => '/mcp/analytics')->{result}{tools};
    ok @$ana && !grep({ $_->{name} =~ /^(alpaca|eodhd)_/ } @$ana), '/mcp/analytics serves only analytics tools';
}

# tools/call: text and structured content, the sample label, determinism
{
    my $a = $s->mcp('tools/call', { name => 'alpaca_market_stocks_bars',
                                    arguments => { symbol => 'aapl', limit => 5 } });
    my $sc = $a->{result}{structuredContent};
    is $a->{result}{isError}, JSON::PP::false, 'bars: not an error';
    is $sc->{status}, 'success', '  standard shape: status';
    is $sc->{metadata}{source}, 'sample', '  labelled sample';
    is $sc->{data}{symbol}, 'AAPL', '  the symbol upper-cased';
    is scalar(@{ $sc->{data}{bars} }), 5, '  5 bars';
    is $sc->{data}{bars}[-1]{t}, '2026-10-30T05:00:00Z', '  the sample ends on its fixed date';
    is_deeply(JSON::PP->new->decode($a->{result}{content}[0]{text}), $sc, '  text content is the same JSON');

    my $again = $s->tool('alpaca_market_stocks_bars', { symbol => 'AAPL', limit => 5 });
    is_deeply $again->{data}, $sc->{data}, '  the same numbers every time';
    my $longer = $s->tool('alpaca_market_stocks_bars', { symbol => 'AAPL', limit => 50 });
    is_deeply [@{ $longer->{data}{bars} }[45 .. 49]], $sc->{data}{bars}, '  and whatever the limit';

    my $snap = $s->tool('alpaca_market_stocks_snapshots', { symbols => ['MSFT', 'KO'] });
    ok $snap->{data}{MSFT}{latestTrade}{p} && $snap->{data}{KO}{latestTrade}{p}, 'snapshots of two symbols';

    my $act = $s->tool('alpaca_market_screener_most_actives', { limit => 30 });
    is scalar(@{ $act->{data}{most_actives} }), 30, 'a universe of at least 30 symbols';

    my $vol = $s->tool('calculate_volatility', { returns => [0.01, -0.02, 0.015, 0.003] });
    close_to $vol->{daily_volatility}, 0.0154704018478297, 'volatility: sample standard deviation';
    close_to $vol->{volatility}, 0.0154704018478297 * sqrt(252), '  annualized with sqrt(252)';

    my $sma = $s->tool('calculate_sma', { prices => [1, 2, 3, 4, 5], period => 2 });
    is_deeply $sma->{values}, [1.5, 2.5, 3.5, 4.5], 'SMA values';

    # numbers are written with 15 significant digits, whatever their size
    for my $case ([1e-4, '0.0001'], [0.000123456789012345, '0.000123456789012345'], [1, '1.0'],
                  [2.5, '2.5'], [-3.75, '-3.75'], [123456789.123456, '123456789.123456'],
                  [99999999999999.9, '99999999999999.9'], [1e15, '1e+15'], [0.1, '0.1'],
                  [1 / 3, '0.333333333333333'], [-1e-3, '-0.001'], [4.2e-7, '4.2e-07'],
                  [7, '7.0'], [1e14, '100000000000000.0'], [0.30000000000000004, '0.3'],
                  [123.456, '123.456'], [-0.5, '-0.5'], [9.99999999999999e-5, '9.99999999999999e-05']) {
        my ($x, $text) = @$case;
        my $r = $s->http(POST => '/mcp', headers => { $s->mcp_headers },
                         json => { jsonrpc => '2.0', id => 77, method => 'tools/call',
                                   params => { name => 'calculate_sma',
                                               arguments => { prices => [$x, $x], period => 1 } } });
        like $r->{body}, qr/"latest":\Q$text\E,/, "$x is written $text";
        close_to $r->{json}{result}{structuredContent}{latest}, $x, '  and read back', 1e-14;
    }

    # a sliding sum must not keep the rounding of what left the window
    $sma = $s->tool('calculate_sma', { prices => [1e15, 1, 1, 1], period => 2 });
    is_deeply [@{ $sma->{values} }[1, 2]], [1, 1], 'SMA after a huge value has left the window';
    my $bb = $s->tool('calculate_bollinger_bands', { prices => [1e15, 1, 1, 1], period => 2 });
    is_deeply [@{ $bb->{upper} }[1, 2]], [1, 1], 'Bollinger bands likewise';

    # O(n), whatever the period: 100,000 prices with a period of 10,000
    my @p = map { 0 + sprintf("%.2f", 100 + 10 * sin($_ / 50)) } 1 .. 100000;
    $bb = $s->tool('calculate_bollinger_bands', { prices => \@p, period => 10000 });
    is scalar(@{ $bb->{middle} }), 90001, 'Bollinger bands over 100,000 prices';
    my @w = @p[-10000 .. -1];
    my $m = 0; $m += $_ for @w; $m /= @w;
    close_to $bb->{latest}{middle}, $m, '  the last middle band', 1e-9;
}

# /debug/mcp-tools: behind qna_debug, off by default
{
    my $d = is_success($s->http(GET => '/debug/mcp-tools'), '/debug/mcp-tools with qna_debug on');
    is $d->{count}, scalar(@{ $d->{tools} }), '  count and list agree';
    ok $d->{count} >= 30, "  $d->{count} tools";
    ok !grep({ !$_->{server} || ref $_->{inputSchema} ne 'HASH' } @{ $d->{tools} }), '  each with server and schema';
    is_error($s->http(GET => '/debug-off'), 404, 'NOT_FOUND', 'off by default: 404');
}

# bad arguments: isError, and the message names the argument
for my $case (['calculate_sma', { prices => [1, 2, 3], period => 0 }, qr/period/],
              ['calculate_sma', { prices => [1, 2, 'x'], period => 2 }, qr/prices/],
              ['calculate_sma', { period => 2 }, qr/prices/],
              ['calculate_sma', { prices => [1, 2], period => 5 }, qr/prices.*at least/],
              ['calculate_volatility', { returns => [0.1] }, qr/returns/],
              ['calculate_var', { returns => [0.1, 0.2, 0.3], confidence => 1.5 }, qr/confidence/],
              ['calculate_atr', { high => [1, 2, 3], low => [1, 2], close => [1, 2, 3], period => 1 }, qr/same length/],
              ['alpaca_market_stocks_bars', { symbol => 'AAPL', limit => 5000 }, qr/limit/],
              ['alpaca_market_stocks_bars', { symbol => 'A;B' }, qr/symbol/],
              ['alpaca_market_stocks_bars', { symbol => 'NOPE' }, qr/DATA_UNAVAILABLE/],
              ['calculate_var', { returns => [-1.7e308, 1.7e308] }, qr/returns.*out of range/]) {
    my ($tool, $args, $re) = @$case;
    my $a = $s->mcp('tools/call', { name => $tool, arguments => $args });
    is $a->{result}{isError}, JSON::PP::true, "$tool with bad arguments: isError";
    like $a->{result}{content}[0]{text}, $re, "  the message: $a->{result}{content}[0]{text}";
}

# protocol errors
{
    my $a = $s->mcp('tools/call', { name => 'no_such_tool', arguments => {} });
    is $a->{error}{code}, -32602, 'unknown tool: -32602';
    is $s->mcp('no/such/method')->{error}{code}, -32601, 'unknown method: -32601';

    my %h = $s->mcp_headers;
    my $r = $s->http(POST => '/mcp', body => '{"jsonrpc": "2.0", "id": 1, "method": ', headers => \%h);
    is $r->{status}, 400, 'parse error: 400';
    is $r->{json}{error}{code}, -32700, '  -32700';

    $r = $s->http(POST => '/mcp', body => '{"jsonrpc": "1.0", "id": 1, "method": "ping"}', headers => \%h);
    is $r->{json}{error}{code}, -32600, 'wrong jsonrpc version: -32600';
    $r = $s->http(POST => '/mcp', body => '{"jsonrpc": "2.0", "id": {}, "method": "ping"}', headers => \%h);
    is $r->{json}{error}{code}, -32600, 'an object as id: -32600';

    $r = $s->http(GET => '/mcp', headers => \%h);
    is $r->{status}, 405, 'GET: 405';
    like $r->{headers}{allow}, qr/POST/, '  Allow: POST, DELETE';
    $r = $s->http(POST => '/mcp', body => '{}', headers => { %h, 'Content-Type' => 'text/plain' });
    is $r->{status}, 415, 'text/plain: 415';
}

# Streamable HTTP: sessions, headers, batches
{
    my $init = { jsonrpc => '2.0', id => 1, method => 'initialize',
                 params => { protocolVersion => '2025-11-25', capabilities => {},
                             clientInfo => { name => 't', version => '1' } } };
    my $accept = 'application/json, text/event-stream';
    my $ping = { jsonrpc => '2.0', id => 2, method => 'ping' };

    my $r = $s->http(POST => '/mcp', json => $init, headers => { Accept => $accept });
    my $sid = $r->{headers}{'mcp-session-id'};
    like $sid, qr/^v1\.[0-9a-f]{32}\.[0-9a-f]{8}\.[0-9a-f]{32}$/, 'initialize issues a session id';
    {
        # its mac is HMAC-SHA256 under the file's key (the keyed context
        # made at configuration computes what any instance computes)
        open my $f, '<', $s->dir . '/mcp-session.secret' or die;
        (my $key = do { local $/; <$f> }) =~ s/\s+$//;
        my ($msg, $mac) = ($sid // '') =~ /^(.*\.)([0-9a-f]{32})$/;
        is substr(Digest::SHA::hmac_sha256_hex($msg // '', $key), 0, 32), $mac // '',
            '  its mac: HMAC-SHA256 of the rest under the secret';
    }

    $r = $s->http(POST => '/mcp', json => $ping, headers => { Accept => $accept });
    is $r->{status}, 400, 'no session id after initialize: 400';
    like $r->{json}{error}{message}, qr/Mcp-Session-Id header is required/, '  says so';

    (my $forged = $sid) =~ s/[0-9a-f](?=[0-9a-f]{31}$)/$& eq '0' ? '1' : '0'/e;
    $r = $s->http(POST => '/mcp', json => $ping, headers => { Accept => $accept, 'MCP-Session-Id' => $forged });
    is $r->{status}, 404, 'a forged session id: 404';
    $r = $s->http(POST => '/mcp', json => $ping, headers => { Accept => $accept, 'MCP-Session-Id' => 'nope' });
    is $r->{status}, 404, 'a malformed session id: 404';

    my %h = (Accept => $accept, 'MCP-Session-Id' => $sid);
    is $s->http(POST => '/mcp', json => $ping, headers => \%h)->{status}, 200, 'the session works';

    $r = $s->http(POST => '/mcp', json => $ping, headers => { %h, Accept => 'application/json' });
    is $r->{status}, 406, 'Accept without text/event-stream: 406';
    $r = $s->http(POST => '/mcp', json => $ping, headers => { %h, 'MCP-Protocol-Version' => '2024-01-01' });
    is $r->{status}, 400, 'an unknown MCP-Protocol-Version: 400';
    $r = $s->http(POST => '/mcp', json => $ping, headers => { %h, Origin => 'http://evil.example' });
    is $r->{status}, 403, 'a foreign Origin: 403 (DNS rebinding)';
    $r = $s->http(POST => '/mcp', json => $ping, headers => { %h, Origin => 'http://localhost' });
    is $r->{status}, 200, 'a loopback Origin: 200';
    $r = $s->http(POST => '/mcp', json => $ping, headers => { %h, Host => 'evil.example:' . $s->port });
    is $r->{status}, 403, 'a foreign Host: 403';
    $r = $s->http(POST => '/mcp', json => $ping, headers => { %h, Host => '127.0.0.1:' . $s->port });
    is $r->{status}, 200, 'a loopback Host: 200';

    # batches: 2025-03-26 only (which sent no version header)
    $r = $s->http(POST => '/mcp', json => [$ping, { %$ping, id => 3 }, { jsonrpc => '2.0', method => 'notifications/x' }],
                  headers => \%h);
    is $r->{status}, 200, 'a batch of 2025-03-26';
    is_deeply [sort map { $_->{id} } @{ $r->{json} }], [2, 3], '  two answers, none for the notification';
    $r = $s->http(POST => '/mcp', json => [$ping], headers => { %h, 'MCP-Protocol-Version' => '2025-11-25' });
    is $r->{json}{error}{code}, -32600, 'a batch in 2025-11-25: -32600';

    # any instance sharing the secret accepts the id: a second nginx
    my $b = QnA::Stack->new(name => 'mcp-b');
    system('cp', $s->dir . '/mcp-session.secret', $b->dir . '/mcp-session.secret') == 0 or die;
    $b->start;
    is $b->http(POST => '/mcp', json => $ping, headers => \%h)->{status}, 200,
        'another instance with the same secret accepts the session';
    $b->stop;

    $r = $s->http(DELETE => '/mcp', headers => \%h);
    is $r->{status}, 200, 'DELETE ends the session';
    my @after = map { $s->http(POST => '/mcp', json => $ping, headers => \%h)->{status} } 1 .. 6;
    is_deeply \@after, [(404) x 6], '  then no worker knows it';
}

$s->stop;
log_is_clean($s);

done_testing;
