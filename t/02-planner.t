#!/usr/bin/perl
# The builtin planner end to end, one question of each family (and variants
# with other symbols, periods and counts): the script runs in sandboxd, its
# tool calls go through nginx's MCP endpoint, and each number in the answer
# is computed again here, independently, from the same sample bars.

use strict;
use warnings;
use Test::More;
use List::Util qw(sum max min);
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'planner')->start;

sub closes_of {
    my ($sym, $n) = @_;
    my $bars = $s->tool('alpaca_market_stocks_bars',
                        { symbol => $sym, limit => $n })->{data}{bars};
    return $bars;
}

sub returns_of {
    my @c = @_;
    return map { $c[$_] / $c[$_ - 1] - 1 } 1 .. $#c;
}

sub mean { sum(@_) / @_ }

sub sample_sd {
    my $m = mean(@_);
    return sqrt(sum(map { ($_ - $m) ** 2 } @_) / (@_ - 1));
}

sub pop_sd {
    my $m = mean(@_);
    return sqrt(sum(map { ($_ - $m) ** 2 } @_) / @_);
}

sub ema {
    my ($n, @v) = @_;
    my $k = 2 / ($n + 1);
    my @out = (mean(@v[0 .. $n - 1]));
    push @out, $v[$_] * $k + $out[-1] * (1 - $k) for $n .. $#v;
    return @out;
}

sub row {
    my ($d, $key) = @_;
    my ($r) = grep { $_->{key} eq $key } @{ $d->{result}{body} };
    return $r ? $r->{value} : undef;
}

sub ask {
    my ($q, $family, @tools) = @_;
    my $d = is_success($s->analyze($q), $q);
    is $d->{family}, $family, "  family $family";
    is_deeply $d->{mcp_calls}, \@tools, '  mcp_calls';
    like $d->{python_code}, qr/^PARAMS = \{.*\}$/m, '  the script has a top-level PARAMS';
    ok length($d->{explanation}) > 40, '  an explanation';
    is_deeply $d->{metadata}{data_sources}, ['sample'], '  labelled as sample data';
    ok !grep({ !defined $_->{duration_ms} } @{ $d->{metadata}{mcp_calls_made} }), '  tool calls with durations';
    ok $d->{execution_time_ms} >= 0, '  execution_time_ms';
    return $d;
}

# 1: current price
{
    my $d = ask('What is the current price of AAPL?', 'price', 'alpaca_market_stocks_snapshots');
    my $b = closes_of('AAPL', 2);
    close_to row($d, 'price'), $b->[1]{c}, '  price is the last close';
    close_to row($d, 'previous_close'), $b->[0]{c}, '  previous close';
    is $d->{params}{symbol}, 'AAPL', '  symbol in PARAMS';

    $d = is_success($s->analyze('price of apple'), 'a company name');
    is $d->{params}{symbol}, 'AAPL', '  apple is AAPL';
}

# 2: volatility, and the same family with another symbol and period
for my $case (['What is the 30-day volatility of TSLA?', 'TSLA', 30],
              ['What is the 45-day volatility of IBM?', 'IBM', 45],
              ['volatility of nvda over the last 3 months', 'NVDA', 63]) {
    my ($q, $sym, $days) = @$case;
    my $d = ask($q, 'volatility', 'alpaca_market_stocks_bars', 'calculate_volatility');
    is_deeply $d->{params}, { symbol => $sym, period_days => $days }, "  PARAMS $sym $days";
    my @r = returns_of(map { $_->{c} } @{ closes_of($sym, $days + 1) });
    is scalar(@r), $days, "  $days returns";
    my $sd = sample_sd(@r);
    close_to row($d, 'annualized_volatility'), $sd * sqrt(252), "  volatility of $sym matches";
    close_to row($d, 'daily_volatility'), $sd, '  daily volatility matches';
}

# 3: top N most volatile of the most active
for my $n (5, 3) {
    my $d = ask("What are the top $n most volatile stocks today?", 'top_volatile',
                'alpaca_market_screener_most_actives', 'alpaca_market_stocks_bars',
                'calculate_volatility');
    my $u = $d->{params}{universe_size};
    my $act = $s->tool('alpaca_market_screener_most_actives', { limit => $u })->{data}{most_actives};
    my %vol = map {
        my $sym = $_->{symbol};
        ($sym => sample_sd(returns_of(map { $_->{c} } @{ closes_of($sym, 31) })))
    } @$act;
    my @want = (sort { $vol{$b} <=> $vol{$a} || $a cmp $b } keys %vol)[0 .. $n - 1];
    is_deeply [map { $_->{value} } @{ $d->{result}{body} }], \@want, "  the $n most volatile, in order";
    is $d->{metadata}{mcp_call_count}, 1 + 2 * $u, '  every call went through the relay';
    is scalar(@{ $d->{metadata}{mcp_calls_made} }), 1 + 2 * $u, '  and is recorded';
}

# 4: SMA
{
    my $d = ask('What is the 50-day simple moving average of MSFT?', 'sma',
                'alpaca_market_stocks_bars', 'calculate_sma');
    my @c = map { $_->{c} } @{ closes_of('MSFT', 50) };
    close_to row($d, 'sma'), mean(@c), '  SMA is the mean of 50 closes';
    $d = is_success($s->analyze('20 day SMA for KO'), 'SMA with another period');
    @c = map { $_->{c} } @{ closes_of('KO', 20) };
    close_to row($d, 'sma'), mean(@c), '  20-day SMA of KO';
}

# 5: EMA seeded by the SMA
{
    my $d = ask('Calculate the 20-day EMA for AMZN', 'ema', 'alpaca_market_stocks_bars', 'calculate_ema');
    my $h = $d->{params}{history_days};
    my @e = ema(20, map { $_->{c} } @{ closes_of('AMZN', $h) });
    close_to row($d, 'ema'), $e[-1], "  EMA over $h closes";
}

# 6: RSI, Wilder
for my $case (['What is the 14-day RSI of NVDA?', 'NVDA', 14], ['10-day RSI of AAPL', 'AAPL', 10]) {
    my ($q, $sym, $n) = @$case;
    my $d = ask($q, 'rsi', 'alpaca_market_stocks_bars', 'calculate_rsi');
    my @c = map { $_->{c} } @{ closes_of($sym, $d->{params}{history_days}) };
    my @ch = map { $c[$_] - $c[$_ - 1] } 1 .. $#c;
    my $g = mean(map { $_ > 0 ? $_ : 0 } @ch[0 .. $n - 1]);
    my $l = mean(map { $_ < 0 ? -$_ : 0 } @ch[0 .. $n - 1]);
    for my $x (@ch[$n .. $#ch]) {
        $g = ($g * ($n - 1) + ($x > 0 ? $x : 0)) / $n;
        $l = ($l * ($n - 1) + ($x < 0 ? -$x : 0)) / $n;
    }
    close_to row($d, 'rsi'), 100 - 100 / (1 + $g / $l), "  RSI($n) of $sym";
}

# 7: MACD, default and explicit periods
for my $case (['Show the MACD for AMD', 'AMD', 12, 26, 9], ['MACD 5/35/5 for MSFT', 'MSFT', 5, 35, 5]) {
    my ($q, $sym, $f, $sl, $g) = @$case;
    my $d = ask($q, 'macd', 'alpaca_market_stocks_bars', 'calculate_macd');
    is_deeply [@{ $d->{params} }{qw(fast_period slow_period signal_period)}], [$f, $sl, $g], '  periods';
    my @c = map { $_->{c} } @{ closes_of($sym, $d->{params}{history_days}) };
    my @ef = ema($f, @c);
    my @es = ema($sl, @c);
    my @line = map { $ef[$_ + $sl - $f] - $es[$_] } 0 .. $#es;
    my @sig = ema($g, @line);
    close_to row($d, 'macd'), $line[-1], "  MACD line of $sym";
    close_to row($d, 'signal'), $sig[-1], '  signal line';
    close_to row($d, 'histogram'), $line[-1] - $sig[-1], '  histogram', 1e-6;
}

# 8: Bollinger bands
{
    my $d = ask('Bollinger bands for SPY over 20 days', 'bollinger', 'alpaca_market_stocks_bars',
                'calculate_bollinger_bands');
    my @c = map { $_->{c} } @{ closes_of('SPY', 20) };
    my ($m, $sd) = (mean(@c), pop_sd(@c));
    close_to row($d, 'middle'), $m, '  middle band';
    close_to row($d, 'upper'), $m + 2 * $sd, '  upper band (population sd)';
    close_to row($d, 'lower'), $m - 2 * $sd, '  lower band';
}

# 9: ATR, Wilder
{
    my $d = ask('What is the average true range of GOOGL?', 'atr', 'alpaca_market_stocks_bars', 'calculate_atr');
    my $b = closes_of('GOOGL', $d->{params}{history_days});
    my @tr = map {
        my ($h, $l, $pc) = ($b->[$_]{h}, $b->[$_]{l}, $b->[$_ - 1]{c});
        max($h - $l, abs($h - $pc), abs($l - $pc))
    } 1 .. $#$b;
    my $atr = mean(@tr[0 .. 13]);
    $atr = ($atr * 13 + $_) / 14 for @tr[14 .. $#tr];
    close_to row($d, 'atr'), $atr, '  ATR(14)';
}

# 10, 11: Sharpe and Sortino
{
    my $d = ask('What is the Sharpe ratio of QQQ over the last year?', 'sharpe', 'alpaca_market_stocks_bars',
                'calculate_sharpe_ratio');
    is $d->{params}{lookback_days}, 252, '  a year is 252 trading days';
    my @r = returns_of(map { $_->{c} } @{ closes_of('QQQ', 253) });
    close_to row($d, 'sharpe_ratio'), mean(@r) / sample_sd(@r) * sqrt(252), '  Sharpe';

    $d = is_success($s->analyze('Sharpe ratio of SPY over 6 months'), 'Sharpe over 6 months');
    is $d->{params}{lookback_days}, 126, '  6 months is 126 trading days';

    $d = ask('What is the Sortino ratio of AAPL?', 'sortino', 'alpaca_market_stocks_bars',
             'calculate_sortino_ratio');
    @r = returns_of(map { $_->{c} } @{ closes_of('AAPL', 253) });
    my $dd = sqrt(mean(map { $_ < 0 ? $_ * $_ : 0 } @r)) * sqrt(252);
    close_to row($d, 'sortino_ratio'), mean(@r) * 252 / $dd, '  Sortino';
}

# 12: maximum drawdown
{
    my $d = ask('What was the maximum drawdown of TSLA over the past year?', 'max_drawdown',
                'alpaca_market_stocks_bars', 'calculate_max_drawdown');
    my @c = map { $_->{c} } @{ closes_of('TSLA', 252) };
    my ($peak, $worst) = ($c[0], 0);
    for (@c) { $peak = $_ if $_ > $peak; my $x = $_ / $peak - 1; $worst = $x if $x < $worst }
    close_to row($d, 'max_drawdown'), $worst, '  max drawdown';
}

# 13: value at risk, historical, numpy's linear percentile
for my $case (['What is the 95% value at risk of SPY?', 'SPY', 0.95], ['99% VaR of QQQ', 'QQQ', 0.99]) {
    my ($q, $sym, $conf) = @$case;
    my $d = ask($q, 'var', 'alpaca_market_stocks_bars', 'calculate_var');
    close_to $d->{params}{confidence}, $conf, "  confidence $conf";
    my @r = sort { $a <=> $b } returns_of(map { $_->{c} } @{ closes_of($sym, 253) });
    my $pos = $#r * (1 - $conf);
    my $lo = int $pos;
    close_to row($d, 'var'), $r[$lo] + ($r[$lo + 1] - $r[$lo]) * ($pos - $lo), "  VaR of $sym";
}

# 18: most active
{
    my $d = ask('Which stocks are most active today?', 'most_active', 'alpaca_market_screener_most_actives');
    my $act = $s->tool('alpaca_market_screener_most_actives', { limit => 10 })->{data}{most_actives};
    is_deeply [map { $_->{value} } @{ $d->{result}{body} }], [map { $_->{symbol} } @$act],
        '  ten, by volume';
    my @v = map { $_->{volume} } @$act;
    ok !grep({ $v[$_] > $v[$_ - 1] } 1 .. $#v), '  volumes descend';
}

# the same question twice: the same script, the same numbers
{
    my $a = $s->analyze('What is the 30-day volatility of TSLA?')->{json}{data};
    my $b = $s->analyze('What is the 30-day volatility of TSLA?')->{json}{data};
    is $a->{python_code}, $b->{python_code}, 'deterministic script';
    is_deeply $a->{result}, $b->{result}, 'deterministic result';
    isnt $a->{execution_id}, $b->{execution_id}, 'each run its own execution_id';
}

# the generated script re-runs through /execute with other PARAMS
{
    my $d = $s->analyze('What is the 30-day volatility of TSLA?')->{json}{data};
    my $e = is_success($s->execute(script => $d->{python_code},
                                   params => { symbol => 'MSFT', period_days => 20 },
                                   allowed_tools => $d->{mcp_calls}),
                       'POST /execute with other PARAMS');
    my @r = returns_of(map { $_->{c} } @{ closes_of('MSFT', 21) });
    close_to row($e, 'annualized_volatility'), sample_sd(@r) * sqrt(252), '  the new PARAMS were used';
}

$s->stop;
log_is_clean($s);

done_testing;

# the helpers above hold $s: let it go while Test::More can still say
# whether the run passed (a passing run removes its files)
undef $s;
