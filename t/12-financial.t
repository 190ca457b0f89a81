#!/usr/bin/perl
# The financial tools beyond bars: crypto, news, trading account, positions,
# orders, fundamentals, dividends, splits - seed 000's standard shape, the
# sample label, and numbers that agree with the sample bars.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

# the trading tools need a manager by default; this test is about the
# tools, t/30-secure-defaults.t about who may call them
my $s = QnA::Stack->new(name => 'financial',
                        nginx_http => "    mcp_tool_role trading viewer;\n")->start;

sub shape {
    my ($r, $name) = @_;
    ok $r->{status} eq 'success' && ref $r->{data} && $r->{metadata}{source} eq 'sample'
       && $r->{metadata}{endpoint}, "$name: standard shape, labelled sample";
}

sub last_bar { $s->tool('alpaca_market_stocks_bars', { symbol => $_[0], limit => $_[1] || 1 })->{data}{bars} }

# the sample's sessions: the weekdays back from Friday 2026-10-30, each
# one after the other (a weekend between Friday and Monday)
{
    use Time::Local qw(timegm);
    my $bars = last_bar('AAPL', 1000);
    is scalar @$bars, 756, 'sample bars: three years of sessions';
    is substr($bars->[-1]{t}, 0, 10), '2026-10-30', '  the last on Friday 2026-10-30';
    my ($bad, $prev) = (0);
    for (@$bars) {
        my ($y, $m, $d) = $_->{t} =~ /^(\d{4})-(\d\d)-(\d\d)T05:00:00Z$/ or $bad++, next;
        my $day = timegm(0, 0, 0, $d, $m - 1, $y) / 86400;
        my $wday = (gmtime($day * 86400))[6];
        $bad++ if $wday == 0 || $wday == 6;
        $bad++ if defined $prev && $day - $prev != ($wday == 1 ? 3 : 1);
        $prev = $day;
    }
    is $bad, 0, '  every one a weekday, the next weekday after the one before';
    is substr($bars->[0]{t}, 0, 10), '2023-12-08', '  the first 755 weekdays earlier';
}

{
    my $r = $s->tool('alpaca_market_crypto_snapshots', { symbols => ['BTC/USD', 'eth/usd'] });
    shape($r, 'crypto snapshots');
    my $b = last_bar('BTC/USD');
    close_to $r->{data}{'BTC/USD'}{latestTrade}{p}, $b->[-1]{c}, '  BTC/USD at its last close';
    ok $r->{data}{'ETH/USD'}, '  pairs upper-cased';
    my $a = $s->mcp('tools/call', { name => 'alpaca_market_crypto_snapshots', arguments => { symbols => ['AAPL'] } });
    like $a->{result}{content}[0]{text}, qr/crypto pair/, '  a stock is not a pair';
}

{
    my $r = $s->tool('alpaca_market_news', { symbols => ['NVDA'], limit => 3 });
    shape($r, 'news');
    is scalar(@{ $r->{data}{news} }), 3, '  3 items';
    like $r->{data}{news}[0]{headline}, qr/NVDA.*synthetic/, '  about NVDA, and saying it is synthetic';
}

{
    my $p = $s->tool('alpaca_trading_positions');
    shape($p, 'positions');
    my $sum = 0;
    for my $pos (@{ $p->{data}{positions} }) {
        my $b = last_bar($pos->{symbol});
        close_to $pos->{current_price}, $b->[-1]{c}, "  $pos->{symbol} at its last close";
        close_to $pos->{market_value}, $pos->{qty} * $b->[-1]{c}, "  market value", 1e-6;
        $sum += $pos->{market_value};
    }
    my $a = $s->tool('alpaca_trading_account');
    shape($a, 'account');
    close_to $a->{data}{equity}, $a->{data}{cash} + $sum, '  equity is cash plus positions', 1e-6;
    is $a->{data}{paper}, JSON::PP::true, '  a paper account';

    is scalar(@{ $s->tool('alpaca_trading_orders')->{data}{orders} }), 0, 'orders: nothing open';
    my $o = $s->tool('alpaca_trading_orders', { status => 'closed', limit => 2 });
    is scalar(@{ $o->{data}{orders} }), 2, '  closed, limited to 2';
    is $o->{data}{orders}[0]{status}, 'filled', '  filled';
    my $bad = $s->mcp('tools/call', { name => 'alpaca_trading_orders', arguments => { status => 'x' } });
    like $bad->{result}{content}[0]{text}, qr/status/, '  a bad status names the argument';
}

{
    my $f = $s->tool('eodhd_fundamentals', { symbol => 'MSFT' });
    shape($f, 'fundamentals');
    is $f->{data}{General}{Name}, 'Microsoft Corporation', '  the name';
    my $b = last_bar('MSFT', 252);
    my ($hi, $lo) = ($b->[0]{h}, $b->[0]{l});
    for (@$b) { $hi = $_->{h} if $_->{h} > $hi; $lo = $_->{l} if $_->{l} < $lo }
    close_to $f->{data}{Technicals}{'52WeekHigh'}, $hi, '  52-week high from the bars';
    close_to $f->{data}{Technicals}{'52WeekLow'}, $lo, '  52-week low';
    is $s->tool('eodhd_fundamentals', { symbol => 'SPY' })->{data}{General}{Type}, 'ETF', '  SPY is an ETF';

    my $d = $s->tool('eodhd_dividends', { symbol => 'KO' });
    shape($d, 'dividends');
    my @dates = map { $_->{date} } @{ $d->{data}{dividends} };
    ok @dates >= 10, '  KO pays quarterly: ' . scalar(@dates);
    is_deeply [sort @dates], \@dates, '  oldest first';
    my $y = $s->tool('eodhd_dividends', { symbol => 'KO', from_date => '2025-11-01', to_date => '2026-10-31' });
    ok !grep({ $_->{date} lt '2025-11-01' || $_->{date} gt '2026-10-31' } @{ $y->{data}{dividends} }),
        '  from_date and to_date hold';
    is scalar(@{ $s->tool('eodhd_dividends', { symbol => 'TSLA' })->{data}{dividends} }), 0, '  TSLA pays none';
    my $bad = $s->mcp('tools/call', { name => 'eodhd_dividends', arguments => { symbol => 'KO', from_date => '11/01/2025' } });
    like $bad->{result}{content}[0]{text}, qr/from_date/, '  a bad date names the argument';

    my $sp = $s->tool('eodhd_splits', { symbol => 'AAPL' });
    shape($sp, 'splits');
    is_deeply [map { $_->{split} } @{ $sp->{data}{splits} }], ['7/1', '4/1'], '  AAPL: 7/1 and 4/1';
    $bad = $s->mcp('tools/call', { name => 'eodhd_splits', arguments => { symbol => 'ZZZZ' } });
    like $bad->{result}{content}[0]{text}, qr/DATA_UNAVAILABLE/, '  an unknown symbol: DATA_UNAVAILABLE';
}

$s->stop;
log_is_clean($s);

done_testing;
