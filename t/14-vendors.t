#!/usr/bin/perl
# The remote vendors (Alpaca Market Data and Trading, EODHD) against mocks
# of their REST APIs: the answers in seed 000's shape, the worker's cache,
# retries of a short 429 and of a 5xx, every failure an isError
# DATA_UNAVAILABLE with the vendor's reason, and a stale answer rather than
# none when the vendor is down.  A script reaches them through sandboxd's
# relay like any other tool.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;
use Time::HiRes qw(sleep time);

my $vport = QnA::Stack::free_port();
my $base = "http://127.0.0.1:$vport";

my $s = QnA::Stack->new(name => 'vendors', workers => 1, nginx_http => <<"EOF2");
    mcp_market_data alpaca;
    mcp_trading alpaca;
    mcp_tool_role trading viewer;
    mcp_reference_data eodhd;
    mcp_alpaca_data_url $base/;
    mcp_alpaca_trading_url $base;
    mcp_alpaca_key_file alpaca.key;
    mcp_eodhd_url $base;
    mcp_eodhd_key_file eodhd.key;
    mcp_vendor_timeout 1500ms;
EOF2
QnA::Stack::write_file($s->dir . '/alpaca.key', "mock-key\nmock-secret\n");
QnA::Stack::write_file($s->dir . '/eodhd.key', "mock-token\n");
$s->start_mock(vendors => $vport);
$s->start;

sub requests {
    open my $in, '<', $s->dir . '/requests.log' or return ();
    return map { chomp; $_ } <$in>;
}

sub call_error {
    my ($name, $args) = @_;
    my $a = $s->mcp('tools/call', { name => $name, arguments => $args });
    return $a->{result}{isError} ? $a->{result}{structuredContent}{error} : undef;
}

# the mock's closes: 100 + 10 * length + i/4 + ((7i) mod 5)/2, i = 0..59
sub close_of { my ($sym, $i) = @_; 100 + length($sym) * 10 + $i * 0.25 + (($i * 7) % 5) * 0.5 }

{
    my $r = $s->tool('alpaca_market_stocks_bars', { symbol => 'aapl', limit => 30 });
    is $r->{status}, 'success', 'bars: success';
    is $r->{metadata}{source}, 'alpaca', '  labelled alpaca';
    is $r->{metadata}{endpoint}, '/v2/stocks/{symbol}/bars', '  with its endpoint';
    is $r->{metadata}{rate_limit}{remaining}, 199, '  the vendor\'s rate limit passed on';
    ok $r->{metadata}{rate_limit}{reset_at} =~ /^\d{4}-\d\d-\d\dT/, '  reset as a time';
    is $r->{metadata}{cache}{hit}, JSON::PP::false, '  not from the cache';
    my $bars = $r->{data}{bars};
    is scalar(@$bars), 30, '  30 bars';
    ok $bars->[0]{t} lt $bars->[-1]{t}, '  oldest first';
    is_deeply [map { $_->{c} } @$bars], [map { close_of('AAPL', $_) } 30 .. 59], '  the vendor\'s closes';

    my @req = grep { m{/v2/stocks/AAPL/bars} } requests();
    is scalar(@req), 1, '  one request reached the vendor';
    like $req[0], qr/timeframe=1Day&limit=30&sort=desc&adjustment=all&feed=iex&start=\d{4}-\d\d-\d\d$/, '  newest 30 daily bars asked';

    my $again = $s->tool('alpaca_market_stocks_bars', { symbol => 'AAPL', limit => 30 });
    is $again->{metadata}{cache}{hit}, JSON::PP::true, 'the same call again: from the cache';
    is_deeply $again->{data}, $r->{data}, '  the same data';
    is scalar(grep { m{/v2/stocks/AAPL/bars} } requests()), 1, '  nothing more reached the vendor';
}

# another instance on the same Redis: the answer is shared, not asked again
{
    my $other = QnA::Stack->new(name => 'vendors-other', workers => 1, redis_sock => $s->{redis_sock},
                                nginx_http => $s->{nginx_http});
    QnA::Stack::write_file($other->dir . '/alpaca.key', "mock-key\nmock-secret\n");
    QnA::Stack::write_file($other->dir . '/eodhd.key', "mock-token\n");
    $other->start_nginx;
    my $until = time + 5;
    sleep 0.05 until time > $until || $other->error_log =~ /redis .*: connected/;
    my $r = $other->tool('alpaca_market_stocks_bars', { symbol => 'AAPL', limit => 30 });
    is $r->{metadata}{cache}{hit}, JSON::PP::true, 'another instance: the answer from the shared cache (Redis)';
    is scalar(grep { m{/v2/stocks/AAPL/bars} } requests()), 1, '  the vendor asked once in all';
    is $r->{data}{bars}[-1]{c}, close_of('AAPL', 59), '  the same data';
    $other->stop;
}

{
    my $r = $s->tool('alpaca_market_stocks_snapshots', { symbols => ['AAPL', 'msft'] });
    is $r->{metadata}{source}, 'alpaca', 'snapshots: from alpaca';
    close_to $r->{data}{MSFT}{dailyBar}{c}, close_of('MSFT', 59), '  MSFT daily bar';
    close_to $r->{data}{AAPL}{change}, close_of('AAPL', 59) - close_of('AAPL', 58), '  change computed';
    close_to $r->{data}{AAPL}{change_percent},
             (close_of('AAPL', 59) / close_of('AAPL', 58) - 1) * 100, '  and change_percent';
    my ($req) = grep { m{/v2/stocks/snapshots} } requests();
    like $req, qr/symbols=AAPL,MSFT&feed=iex/, '  one request for both';

    my $e = call_error('alpaca_market_stocks_snapshots', { symbols => ['AAPL', 'NONE'] });
    is $e->{code}, 'DATA_UNAVAILABLE', 'a symbol the vendor does not know: DATA_UNAVAILABLE';
    like $e->{message}, qr/no snapshot of "NONE"/, '  naming it';
    $e = call_error('alpaca_market_stocks_snapshots', { symbols => ['AAPL', 'a b'] });
    is $e->{code}, 'INVALID_ARGUMENT', 'a bad symbol is refused before the vendor is asked';
    like $e->{message}, qr/"symbols"\[1\]/, '  naming the argument';
}

{
    my $r = $s->tool('alpaca_market_crypto_snapshots', { symbols => ['btc/usd'] });
    ok $r->{data}{'BTC/USD'}{latestTrade}{p}, 'crypto snapshots: keyed by pair';
    ok scalar(grep { m{/v1beta3/crypto/us/snapshots\?symbols=BTC%2FUSD$} } requests()), '  the pair escaped in the query';
    my $b = $s->tool('alpaca_market_stocks_bars', { symbol => 'BTC/USD', limit => 5 });
    is scalar(@{ $b->{data}{bars} }), 5, 'crypto bars through the crypto endpoint';

    my $m = $s->tool('alpaca_market_screener_most_actives', { limit => 2, by => 'trades' });
    is_deeply [map { $_->{symbol} } @{ $m->{data}{most_actives} }], ['TSLA', 'NVDA'], 'most actives: top 2 by trades';
    my $n = $s->tool('alpaca_market_news', { symbols => ['NVDA'], limit => 3 });
    is scalar(@{ $n->{data}{news} }), 3, 'news: 3 items';
    is_deeply $n->{data}{news}[0]{symbols}, ['NVDA'], '  for NVDA';
}

{
    my $a = $s->tool('alpaca_trading_account');
    is $a->{metadata}{source}, 'alpaca', 'account: from alpaca';
    is $a->{metadata}{source_label}, 'Alpaca Trading', '  the trading API';
    ok !ref($a->{data}{cash}) && $a->{data}{cash} == 10000.5 && $a->{data}{cash} !~ /"/, '  amounts as numbers';
    is $a->{data}{account_number}, 'PA3MOCK', '  other fields as given';
    my $p = $s->tool('alpaca_trading_positions');
    is $p->{data}{positions}[0]{qty}, 10, 'positions: qty a number';
    close_to $p->{data}{positions}[0]{unrealized_plpc}, 0.1295681063, '  unrealized_plpc';
    is scalar(@{ $s->tool('alpaca_trading_orders')->{data}{orders} }), 0, 'orders: nothing open';
    is $s->tool('alpaca_trading_orders', { status => 'all' })->{data}{orders}[0]{filled_avg_price}, 150.5, '  all: filled at 150.5';
}

{
    my $f = $s->tool('eodhd_fundamentals', { symbol => 'AAPL' });
    is $f->{metadata}{source}, 'eodhd', 'fundamentals: from eodhd';
    is $f->{data}{General}{Code}, 'AAPL', '  General';
    ok $f->{data}{Highlights}{PERatio}, '  Highlights';
    my ($req) = grep { m{/fundamentals/} } requests();
    like $req, qr{^GET /fundamentals/AAPL\.US\?fmt=json&filter=General,Highlights,Technicals&api_token=\*\*\*$}, '  AAPL.US, its sections, the key in the query';

    my $d = $s->tool('eodhd_dividends', { symbol => 'KO', from_date => '2025-03-01' });
    is_deeply [map { $_->{date} } @{ $d->{data}{dividends} }], ['2025-05-10', '2025-08-10'], 'dividends from a date';
    my $sp = $s->tool('eodhd_splits', { symbol => 'AAPL' });
    is $sp->{data}{splits}[1]{split}, '4.000000/1.000000', 'splits';

    my $e = call_error('eodhd_splits', { symbol => 'ZZZZ' });
    is $e->{code}, 'DATA_UNAVAILABLE', 'an unknown ticker: DATA_UNAVAILABLE';
    like $e->{message}, qr/eodhd answered 404: Ticker Not Found\./, '  with the vendor\'s words';
    $e = call_error('eodhd_dividends', { symbol => 'KO', from_date => '2025/01/01' });
    is $e->{code}, 'INVALID_ARGUMENT', 'a bad date is refused';
    like $e->{message}, qr/from_date/, '  naming it';
}

# failures
{
    my $e = call_error('alpaca_market_stocks_bars', { symbol => 'RATE' });
    is $e->{code}, 'DATA_UNAVAILABLE', 'a 429 with a long Retry-After: DATA_UNAVAILABLE';
    like $e->{message}, qr/rate limit reached \(429\); retry after 30 s/, '  saying when to retry';
    is scalar(grep { m{/RATE/} } requests()), 1, '  not retried';

    my $r = $s->tool('alpaca_market_stocks_bars', { symbol => 'RTRY', limit => 3 });
    is scalar(@{ $r->{data}{bars} }), 3, 'a 429 with Retry-After: 1 is retried once, and answers';
    is scalar(grep { m{/RTRY/} } requests()), 2, '  two requests';

    $e = call_error('alpaca_market_stocks_bars', { symbol => 'FAIL' });
    like $e->{message}, qr/alpaca answered 500: internal server error/, 'a 500: DATA_UNAVAILABLE with the reason';
    is scalar(grep { m{/FAIL/} } requests()), 2, '  after one retry';

    $e = call_error('alpaca_market_stocks_bars', { symbol => 'JUNK' });
    like $e->{message}, qr/not its API's JSON/, 'a body that is not JSON: DATA_UNAVAILABLE';

    $e = call_error('alpaca_market_stocks_bars', { symbol => 'NONE' });
    like $e->{message}, qr/no daily bars for "NONE"/, 'no bars: DATA_UNAVAILABLE';

    my $t0 = time;
    $e = call_error('alpaca_market_stocks_bars', { symbol => 'SLOW' });
    like $e->{message}, qr/could not be reached: .*(timed out|Timeout)/i, 'a vendor slower than mcp_vendor_timeout: DATA_UNAVAILABLE';
    ok time - $t0 < 3, '  answered at the timeout, not when the vendor was done';

    my $bad = $s->mcp('tools/call', { name => 'alpaca_market_stocks_bars', arguments => { symbol => 'AAPL', limit => 5000 } });
    like $bad->{result}{content}[0]{text}, qr/INVALID_ARGUMENT.*limit/, 'limit out of range: named';
}

# vendor down: a fresh answer from the cache, then a stale one (marked);
# nothing cached: an error.  Answers are fresh for a second here.
{
    my $v = QnA::Stack->new(name => 'vendors-stale', workers => 1,
                            nginx_http => $s->{nginx_http} . "    mcp_vendor_cache_valid 1s;\n");
    QnA::Stack::write_file($v->dir . '/alpaca.key', "mock-key\nmock-secret\n");
    QnA::Stack::write_file($v->dir . '/eodhd.key', "mock-token\n");
    $v->start_redis;
    $v->start_nginx;
    my $until = time + 5;
    sleep 0.05 until time > $until || $v->error_log =~ /redis .*: connected/;

    $v->tool('alpaca_market_news', { symbols => ['KO'], limit => 2 });
    QnA::Stack::write_file($s->dir . '/down', '');
    my $again = $v->tool('alpaca_market_news', { symbols => ['KO'], limit => 2 });
    is $again->{metadata}{cache}{hit}, JSON::PP::true, 'vendor down, cached and fresh: answered from the cache';
    my $e = $v->mcp('tools/call', { name => 'alpaca_market_news', arguments => { symbols => ['PEP'], limit => 2 } });
    like $e->{result}{structuredContent}{error}{message}, qr/alpaca answered 503: service unavailable/, 'vendor down, nothing cached: DATA_UNAVAILABLE';
    sleep 1.2;
    my $stale = $v->tool('alpaca_market_news', { symbols => ['KO'], limit => 2 });
    is $stale->{metadata}{cache}{stale}, JSON::PP::true, 'vendor down, cached but old: the stale answer, marked';
    like $stale->{metadata}{warning}, qr/503/, '  with what went wrong';
    is scalar(@{ $stale->{data}{news} }), 2, '  and the data';
    unlink $s->dir . '/down';
    my $back = $v->tool('alpaca_market_news', { symbols => ['KO'], limit => 2 });
    is $back->{metadata}{cache}{hit}, JSON::PP::false, 'vendor back: asked again';
    is_deeply [$v->bad_log_lines], [], '  no alert, crit or emerg';
    $v->stop;
}

# a script: planner, sandboxd, the relay and the vendor
{
    my $r = $s->analyze('What is the 20-day volatility of MSFT?');
    is $r->{status}, 200, '/analyze over the alpaca vendor' or diag $r->{body};
    my @c = map { close_of('MSFT', $_) } 0 .. 59;
    my @ret = map { $c[$_] / $c[$_ - 1] - 1 } 40 .. 59;
    my $mean = 0; $mean += $_ / @ret for @ret;
    my $var = 0; $var += ($_ - $mean) ** 2 / (@ret - 1) for @ret;
    my $text = $s->json->encode($r->{json}{data}{result} // {});
    my $want = sprintf '%.2f', sqrt($var) * sqrt(252) * 100;
    like $text, qr/\Q$want\E/, "  the volatility of the vendor's closes ($want%)";
    like $s->json->encode($r->{json}{data}{metadata}{data_sources} // []), qr/alpaca|Alpaca/i, '  and its data source named';
}

# two gateways on one Redis, one on the sample vendor, the same tool
# policy: the alpaca one is not given the sample one's answer, whole or
# its result (the vendors are part of both keys)
{
    my $p = QnA::Stack->new(name => 'vendors-sample', workers => 1, redis_sock => $s->{redis_sock},
                            nginx_http => "    mcp_tool_role trading viewer;\n")->start;
    my $q = 'What is the 35-day volatility of AAPL?';
    is_deeply is_success($p->analyze($q), 'the sample gateway')->{metadata}{data_sources}, ['sample'], '  on sample data';
    is is_success($p->analyze($q), '  asked again')->{metadata}{cache_hit}, JSON::PP::true, '  from the cache';
    my $d = is_success($s->analyze($q), 'the same question to the alpaca gateway on the same Redis');
    is $d->{metadata}{cache_hit}, JSON::PP::false, '  not the sample gateway\'s answer';
    like $s->json->encode($d->{metadata}{data_sources}), qr/alpaca/i, '  the vendor\'s data';
    is is_success($s->analyze($q), '  asked again')->{metadata}{cache_hit}, JSON::PP::true, '  then its own from the cache';
    $p->stop;
}

# an analysis made of a vendor's stale answer (the vendor down, its cached
# bars past their freshness): given, marked, and not cached as fresh
{
    my $v = QnA::Stack->new(name => 'vendors-stale-analysis', workers => 1,
                            nginx_http => $s->{nginx_http} . "    mcp_vendor_cache_valid 1s;\n");
    QnA::Stack::write_file($v->dir . '/alpaca.key', "mock-key\nmock-secret\n");
    QnA::Stack::write_file($v->dir . '/eodhd.key', "mock-token\n");
    $v->start;
    my $q = 'What is the 25-day volatility of KO?';
    # the bars the script will ask for, in the vendor cache
    $v->tool('alpaca_market_stocks_bars', { symbol => 'KO', timeframe => '1Day', limit => 26 });
    QnA::Stack::write_file($s->dir . '/down', '');
    sleep 1.2;
    my $d = is_success($v->analyze($q), 'vendor down, its cached bars past their freshness: answered');
    is $d->{metadata}{data_stale}, JSON::PP::true, '  metadata.data_stale';
    cmp_ok $d->{metadata}{data_age_s}, '>=', 1, "  metadata.data_age_s ($d->{metadata}{data_age_s})";
    my $again = is_success($v->analyze($q), '  asked again');
    is $again->{metadata}{cache_hit}, JSON::PP::false, '  not from the result cache: the stale answer was not kept';
    is $again->{metadata}{data_stale}, JSON::PP::true, '  stale again';
    unlink $s->dir . '/down';
    my $fresh = is_success($v->analyze($q), 'vendor back');
    is $fresh->{metadata}{cache_hit}, JSON::PP::false, '  run again';
    is $fresh->{metadata}{data_stale}, undef, '  fresh data: no data_stale';
    is is_success($v->analyze($q), '  asked again')->{metadata}{cache_hit}, JSON::PP::true, '  now from the cache';
    is_deeply [$v->bad_log_lines], [], '  no alert, crit or emerg';
    $v->stop;
}

# a client that leaves while the vendor is asked: the transfer is dropped,
# the worker goes on
{
    my $sock = $s->connect;
    my $body = $s->json->encode({ jsonrpc => '2.0', id => 7, method => 'tools/call',
        params => { name => 'alpaca_market_stocks_snapshots', arguments => { symbols => ['SLOW'] } } });
    $s->send_request($sock, POST => '/mcp', body => $body,
                     headers => { $s->mcp_headers, 'Content-Type' => 'application/json' });
    sleep 0.3;
    close $sock;
    sleep 0.2;
    like $s->error_log, qr/client prematurely closed connection|client closed/, 'a client that leaves mid-call is noticed';
    is $s->tool('alpaca_market_stocks_bars', { symbol => 'MSFT', limit => 2 })->{status}, 'success', '  and the worker answers the next call';
}

# wrong keys: the vendor's refusal, said plainly
{
    my $w = QnA::Stack->new(name => 'vendors-keys', workers => 1, nginx_http => <<"EOF2");
    mcp_market_data alpaca;
    mcp_trading alpaca;
    mcp_tool_role trading viewer;
    mcp_reference_data eodhd;
    mcp_alpaca_data_url $base;
    mcp_alpaca_trading_url $base;
    mcp_alpaca_key_file alpaca.key;
    mcp_eodhd_url $base;
    mcp_eodhd_key_file eodhd.key;
EOF2
    QnA::Stack::write_file($w->dir . '/alpaca.key', "mock-key wrong-secret\n");
    QnA::Stack::write_file($w->dir . '/eodhd.key', "wrong-token\n");
    $w->start_nginx;
    my $a = $w->mcp('tools/call', { name => 'alpaca_trading_account', arguments => {} });
    is $a->{result}{structuredContent}{error}{code}, 'DATA_UNAVAILABLE', 'a wrong Alpaca secret: DATA_UNAVAILABLE';
    like $a->{result}{content}[0]{text}, qr/alpaca refused the credentials \(403\)/, '  saying the credentials were refused';
    $a = $w->mcp('tools/call', { name => 'eodhd_splits', arguments => { symbol => 'AAPL' } });
    like $a->{result}{content}[0]{text}, qr/eodhd refused the credentials \(401\)/, 'a wrong EODHD token: the same';
    $w->stop;
}

is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg in the error log';
$s->stop;
unlike $s->error_log, qr/open socket .* left in connection/, 'libcurl\'s sockets all released at exit';

done_testing;
