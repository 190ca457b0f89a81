#!/usr/bin/perl
# The builtin planner end to end, the families of catalogue questions 1-13
# and 18, each as the catalogue asks it and in two paraphrases with other
# symbols, periods and counts: the script runs in sandboxd, its tool calls
# go through nginx's MCP endpoint, and each number in the answer, and in
# its chart, is computed again here, independently, from the same sample
# bars.  The other questions are t/36's.

use strict;
use warnings;
use Test::More;
use List::Util qw(max min);
use QnA::Stack;
use QnA::Check;
use QnA::Answer;

my $s = QnA::Stack->new(name => 'planner')->start;

sub last_date { substr($_[0][-1]{t}, 0, 10) }

# how many of a chart's last values a series that starts late has
sub defined_count { scalar grep { defined } @{ $_[0] } }

# 1: current price
for my $case (['What is the current price of AAPL?', 'AAPL'], ['price of apple', 'AAPL'],
              ['Quote for NVDA', 'NVDA'], ['What is MSFT trading at?', 'MSFT']) {
    my ($q, $sym) = @$case;
    my $d = ask($s, $q, 'price', 'alpaca_market_stocks_snapshots');
    is_deeply $d->{params}, { symbol => $sym }, "  PARAMS: $sym";
    my $b = bars_of($s, $sym, 2);
    close_to row($d, 'price'), $b->[1]{c}, '  price is the last close';
    close_to row($d, 'previous_close'), $b->[0]{c}, '  previous close';
    close_to row($d, 'change_percent'), int(($b->[1]{c} / $b->[0]{c} - 1) * 10000 + ($b->[1]{c} > $b->[0]{c} ? 0.5 : -0.5)) / 100,
             '  change in percent', 1e-6;
    ok !grep({ $_->{key} eq 'chart' } @{ $d->{result}{body} }), '  a price is no series: no chart';
}

# 2: volatility, and the same family with another symbol and period
for my $case (['What is the 30-day volatility of TSLA?', 'TSLA', 30],
              ['What is the 45-day volatility of IBM?', 'IBM', 45],
              ['volatility of nvda over the last 3 months', 'NVDA', 63]) {
    my ($q, $sym, $days) = @$case;
    my $d = ask($s, $q, 'volatility', 'alpaca_market_stocks_bars', 'calculate_volatility');
    is_deeply $d->{params}, { symbol => $sym, period_days => $days }, "  PARAMS $sym $days";
    my $b = bars_of($s, $sym, $days + 1);
    my @c = map { $_->{c} } @$b;
    my @r = returns_of(@c);
    is scalar(@r), $days, "  $days returns";
    my $sd = sample_sd(@r);
    close_to row($d, 'annualized_volatility'), $sd * sqrt(252), "  volatility of $sym matches";
    close_to row($d, 'daily_volatility'), $sd, '  daily volatility matches';
    my $v = line_chart_ok(chart($d), 'chart', series => ['close'], points => $days + 1,
                          last_x => last_date($b));
    is_deeply $v->{close}, \@c, '  the closes the returns come from';
}

# 3: top N most volatile of the most active
for my $case (['What are the top 5 most volatile stocks today?', 5, 30],
              ['Which 4 stocks are the most volatile over 60 days?', 4, 60],
              ['top 3 most volatile names this month', 3, 21]) {
    my ($q, $n, $days) = @$case;
    my $d = ask($s, $q, 'top_volatile', 'alpaca_market_screener_most_actives',
                'alpaca_market_stocks_bars', 'calculate_volatility');
    is "$d->{params}{count} $d->{params}{period_days}", "$n $days", "  PARAMS: $n stocks, $days days";
    my $u = $d->{params}{universe_size};
    my $act = $s->tool('alpaca_market_screener_most_actives', { limit => $u })->{data}{most_actives};
    my %vol = map {
        my $sym = $_->{symbol};
        ($sym => sample_sd(returns_of(closes_of($s, $sym, $days + 1))) * sqrt(252))
    } @$act;
    my @want = (sort { $vol{$b} <=> $vol{$a} || $a cmp $b } keys %vol)[0 .. $n - 1];
    is_deeply [map { $_->{value} } rows($d)], \@want, "  the $n most volatile, in order";
    bars_chart_ok(chart($d), 'chart', labels => \@want, values => [@vol{@want}]);
    is $d->{metadata}{mcp_call_count}, 1 + 2 * $u, '  every call went through the relay';
    is scalar(@{ $d->{metadata}{mcp_calls_made} }), 1 + 2 * $u, '  and is recorded';
}

# 4: SMA, over more history than the period, for the chart
for my $case (['What is the 50-day simple moving average of MSFT?', 'MSFT', 50],
              ['20 day SMA for KO', 'KO', 20],
              ['simple moving average of NVDA over 100 days', 'NVDA', 100]) {
    my ($q, $sym, $n) = @$case;
    my $d = ask($s, $q, 'sma', 'alpaca_market_stocks_bars', 'calculate_sma');
    my $h = min($n + 259, 750);
    is_deeply $d->{params}, { symbol => $sym, period => $n, history_days => $h }, "  PARAMS $sym $n, $h days";
    my $b = bars_of($s, $sym, $h);
    my @c = map { $_->{c} } @$b;
    close_to row($d, 'sma'), mean(@c[-$n .. -1]), "  SMA is the mean of the last $n closes";
    close_to row($d, 'last_close'), $c[-1], '  the last close';
    my $v = line_chart_ok(chart($d), 'chart', series => ['close', "SMA $n"], points => 260,
                          last_x => last_date($b));
    is_deeply $v->{close}, [@c[-260 .. -1]], '  the last 260 closes';
    close_to $v->{"SMA $n"}[-1], row($d, 'sma'), '  the SMA ends on the row\'s value';
    close_to $v->{"SMA $n"}[0], mean(@c[-260 - $n + 1 .. -260]), '  and starts with the mean ending 260 closes back';
}

# 5: EMA seeded by the SMA
for my $case (['Calculate the 20-day EMA for AMZN', 'AMZN', 20],
              ['exponential moving average of TSLA, 50 days', 'TSLA', 50],
              ['10-day EMA of apple', 'AAPL', 10]) {
    my ($q, $sym, $n) = @$case;
    my $d = ask($s, $q, 'ema', 'alpaca_market_stocks_bars', 'calculate_ema');
    my $h = $d->{params}{history_days};
    is_deeply $d->{params}, { symbol => $sym, period => $n, history_days => max(120, 3 * $n + 1) }, "  PARAMS $sym $n";
    my $b = bars_of($s, $sym, $h);
    my @c = map { $_->{c} } @$b;
    my @e = ema($n, @c);
    close_to row($d, 'ema'), $e[-1], "  EMA over $h closes";
    my $p = min(260, $h);
    my $v = line_chart_ok(chart($d), 'chart', series => ['close', "EMA $n"], points => $p, last_x => last_date($b));
    close_to $v->{"EMA $n"}[-1], row($d, 'ema'), '  the EMA ends on the row\'s value';
    is defined_count($v->{"EMA $n"}), min($p, $h - $n + 1), '  null before its first value';
}

# 6: RSI, Wilder
for my $case (['What is the 14-day RSI of NVDA?', 'NVDA', 14], ['10-day RSI of AAPL', 'AAPL', 10],
              ['relative strength index for META', 'META', 14]) {
    my ($q, $sym, $n) = @$case;
    my $d = ask($s, $q, 'rsi', 'alpaca_market_stocks_bars', 'calculate_rsi');
    is "$d->{params}{symbol} $d->{params}{period}", "$sym $n", "  PARAMS $sym $n";
    my $h = $d->{params}{history_days};
    my $b = bars_of($s, $sym, $h);
    my @c = map { $_->{c} } @$b;
    my @ch = map { $c[$_] - $c[$_ - 1] } 1 .. $#c;
    my $g = mean(map { $_ > 0 ? $_ : 0 } @ch[0 .. $n - 1]);
    my $l = mean(map { $_ < 0 ? -$_ : 0 } @ch[0 .. $n - 1]);
    my @rsi = (100 - 100 / (1 + $g / $l));
    for my $x (@ch[$n .. $#ch]) {
        $g = ($g * ($n - 1) + ($x > 0 ? $x : 0)) / $n;
        $l = ($l * ($n - 1) + ($x < 0 ? -$x : 0)) / $n;
        push @rsi, 100 - 100 / (1 + $g / $l);
    }
    close_to row($d, 'rsi'), $rsi[-1], "  RSI($n) of $sym";
    my $p = min(260, $h);
    my $v = line_chart_ok(chart($d), 'chart', series => ["RSI $n"], points => $p, thresholds => [30, 70],
                          last_x => last_date($b));
    is defined_count($v->{"RSI $n"}), min($p, $h - $n), "  RSI from the ${n}th change on";
    my @tail = @rsi[-defined_count($v->{"RSI $n"}) .. -1];
    close_to $v->{"RSI $n"}[-$_], $tail[-$_], "  chart RSI [-$_]" for 1, scalar(@tail);
}

# 7: MACD, default and explicit periods
for my $case (['Show the MACD for AMD', 'AMD', 12, 26, 9], ['MACD 5/35/5 for MSFT', 'MSFT', 5, 35, 5],
              ['MACD(8,21,5) of NVDA', 'NVDA', 8, 21, 5]) {
    my ($q, $sym, $f, $sl, $g) = @$case;
    my $d = ask($s, $q, 'macd', 'alpaca_market_stocks_bars', 'calculate_macd');
    is_deeply [@{ $d->{params} }{qw(symbol fast_period slow_period signal_period)}], [$sym, $f, $sl, $g], '  PARAMS';
    my $h = $d->{params}{history_days};
    my $b = bars_of($s, $sym, $h);
    my @c = map { $_->{c} } @$b;
    my @ef = ema($f, @c);
    my @es = ema($sl, @c);
    my @line = map { $ef[$_ + $sl - $f] - $es[$_] } 0 .. $#es;
    my @sig = ema($g, @line);
    close_to row($d, 'macd'), $line[-1], "  MACD line of $sym";
    close_to row($d, 'signal'), $sig[-1], '  signal line';
    close_to row($d, 'histogram'), $line[-1] - $sig[-1], '  histogram', 1e-6;
    my $v = line_chart_ok(chart($d), 'chart', series => [qw(macd signal histogram)], points => min(260, $h),
                          last_x => last_date($b));
    is defined_count($v->{macd}), scalar(@sig), '  the three from the first signal on';
    close_to $v->{macd}[-1], row($d, 'macd'), '  chart: macd ends on the row';
    close_to $v->{signal}[-1], row($d, 'signal'), '  signal too';
    close_to $v->{histogram}[-1], row($d, 'histogram'), '  histogram too';
    my $first = @{ $v->{macd} } - @sig;
    close_to $v->{macd}[$first], $line[$g - 1], '  the first macd point is the line at the first signal';
    close_to $v->{signal}[$first], $sig[0], '  with that signal';
}

# 8: Bollinger bands
for my $case (['Bollinger bands for SPY over 20 days', 'SPY', 20], ['Bollinger bands of AAPL, 10 days', 'AAPL', 10],
              ['bollinger for microsoft', 'MSFT', 20]) {
    my ($q, $sym, $n) = @$case;
    my $d = ask($s, $q, 'bollinger', 'alpaca_market_stocks_bars', 'calculate_bollinger_bands');
    is_deeply $d->{params}, { symbol => $sym, period => $n, std_dev => 2, history_days => $n + 259 }, "  PARAMS $sym $n";
    my $b = bars_of($s, $sym, $n + 259);
    my @c = map { $_->{c} } @$b;
    my @w = @c[-$n .. -1];
    my ($m, $sd) = (mean(@w), pop_sd(@w));
    close_to row($d, 'middle'), $m, '  middle band';
    close_to row($d, 'upper'), $m + 2 * $sd, '  upper band (population sd)';
    close_to row($d, 'lower'), $m - 2 * $sd, '  lower band';
    my $v = line_chart_ok(chart($d), 'chart', series => ['close', "SMA $n"], bands => ['Bollinger'], points => 260,
                          last_x => last_date($b));
    close_to $v->{"Bollinger upper"}[-1], row($d, 'upper'), '  chart: the upper band ends on the row';
    close_to $v->{"Bollinger lower"}[-1], row($d, 'lower'), '  the lower band too';
    close_to $v->{"SMA $n"}[-1], row($d, 'middle'), '  the middle too';
    my @w0 = @c[-260 - $n + 1 .. -260];
    close_to $v->{"Bollinger upper"}[0], mean(@w0) + 2 * pop_sd(@w0), '  the first point\'s band, 260 closes back', 1e-8;
}

# 9: ATR, Wilder
for my $case (['What is the average true range of GOOGL?', 'GOOGL', 14], ['7-day ATR of TSLA', 'TSLA', 7],
              ['average true range for NVDA over 21 days', 'NVDA', 21]) {
    my ($q, $sym, $n) = @$case;
    my $d = ask($s, $q, 'atr', 'alpaca_market_stocks_bars', 'calculate_atr');
    is "$d->{params}{symbol} $d->{params}{period}", "$sym $n", "  PARAMS $sym $n";
    my $b = bars_of($s, $sym, $d->{params}{history_days});
    my @tr = map {
        my ($h, $l, $pc) = ($b->[$_]{h}, $b->[$_]{l}, $b->[$_ - 1]{c});
        max($h - $l, abs($h - $pc), abs($l - $pc))
    } 1 .. $#$b;
    my $atr = mean(@tr[0 .. $n - 1]);
    $atr = ($atr * ($n - 1) + $_) / $n for @tr[$n .. $#tr];
    close_to row($d, 'atr'), $atr, "  ATR($n)";
    close_to row($d, 'atr_percent'), int($atr / $b->[-1]{c} * 10000 + 0.5) / 100, '  as a percent of the close', 1e-6;
    my $v = line_chart_ok(chart($d), 'chart', series => ["ATR $n"], last_x => last_date($b));
    close_to $v->{"ATR $n"}[-1], $atr, '  chart: ends on the ATR';
}

# 10, 11: Sharpe and Sortino
for my $case (['What is the Sharpe ratio of QQQ over the last year?', 'QQQ', 252, 0],
              ['Sharpe ratio of SPY over 6 months', 'SPY', 126, 0],
              ['Sharpe ratio of AAPL with a risk-free rate of 4%', 'AAPL', 252, 0.04]) {
    my ($q, $sym, $days, $rf) = @$case;
    my $d = ask($s, $q, 'sharpe', 'alpaca_market_stocks_bars', 'calculate_sharpe_ratio');
    is_deeply $d->{params}, { symbol => $sym, lookback_days => $days, risk_free_rate => $rf }, "  PARAMS $sym $days $rf";
    my @r = map { $_ - $rf / 252 } returns_of(closes_of($s, $sym, $days + 1));
    close_to row($d, 'sharpe_ratio'), mean(@r) / sample_sd(@r) * sqrt(252), '  Sharpe';
}
for my $case (['What is the Sortino ratio of AAPL?', 'AAPL', 252], ['Sortino ratio of MSFT over the last 6 months', 'MSFT', 126],
              ['sortino of tesla over 100 days', 'TSLA', 100]) {
    my ($q, $sym, $days) = @$case;
    my $d = ask($s, $q, 'sortino', 'alpaca_market_stocks_bars', 'calculate_sortino_ratio');
    is_deeply $d->{params}, { symbol => $sym, lookback_days => $days, target_return => 0 }, "  PARAMS $sym $days";
    my @r = returns_of(closes_of($s, $sym, $days + 1));
    my $dd = sqrt(mean(map { $_ < 0 ? $_ * $_ : 0 } @r)) * sqrt(252);
    close_to row($d, 'sortino_ratio'), mean(@r) * 252 / $dd, '  Sortino';
    close_to row($d, 'downside_deviation'), $dd, '  downside deviation';
}

# 12: maximum drawdown, and the drawdown of each day in the chart
for my $case (['What was the maximum drawdown of TSLA over the past year?', 'TSLA', 252],
              ['max drawdown of NVDA over 6 months', 'NVDA', 126],
              ['maximum draw down of apple over 2 years', 'AAPL', 504]) {
    my ($q, $sym, $days) = @$case;
    my $d = ask($s, $q, 'max_drawdown', 'alpaca_market_stocks_bars', 'calculate_max_drawdown');
    is_deeply $d->{params}, { symbol => $sym, lookback_days => $days }, "  PARAMS $sym $days";
    my $b = bars_of($s, $sym, $days);
    my @c = map { $_->{c} } @$b;
    my ($peak, $worst, @dd) = ($c[0], 0);
    for (@c) { $peak = $_ if $_ > $peak; my $x = $_ / $peak - 1; push @dd, $x; $worst = $x if $x < $worst }
    close_to row($d, 'max_drawdown'), $worst, '  max drawdown';
    my $v = line_chart_ok(chart($d), 'chart', series => ['drawdown'], points => min(260, $days), last_x => last_date($b));
    my @tail = @dd[-min(260, $days) .. -1];
    ok !grep({ abs($v->{drawdown}[$_] - $tail[$_]) > 1e-12 } 0 .. $#tail), '  each day\'s drawdown, recomputed';
    ok !grep({ $_ > 0 } @{ $v->{drawdown} }), '  never above 0';
    close_to min(@{ $v->{drawdown} }), $worst, '  its lowest is the maximum drawdown' if $days <= 260;
}

# 13: value at risk, historical, numpy's linear percentile
for my $case (['What is the 95% value at risk of SPY?', 'SPY', 0.95, 252], ['99% VaR of QQQ', 'QQQ', 0.99, 252],
              ['value at risk of AAPL at 90% over 6 months', 'AAPL', 0.9, 126]) {
    my ($q, $sym, $conf, $days) = @$case;
    my $d = ask($s, $q, 'var', 'alpaca_market_stocks_bars', 'calculate_var');
    close_to $d->{params}{confidence}, $conf, "  confidence $conf";
    is $d->{params}{lookback_days}, $days, "  $days days";
    my @r = sort { $a <=> $b } returns_of(closes_of($s, $sym, $days + 1));
    my $pos = $#r * (1 - $conf);
    my $lo = int $pos;
    close_to row($d, 'var'), $r[$lo] + ($r[$lo + 1] - $r[$lo]) * ($pos - $lo), "  VaR of $sym";
}

# 18: most active
for my $case (['Which stocks are most active today?', 10], ['top 5 most traded stocks', 5],
              ['Which 3 stocks have the highest volume?', 3]) {
    my ($q, $n) = @$case;
    my $d = ask($s, $q, 'most_active', 'alpaca_market_screener_most_actives');
    is_deeply $d->{params}, { count => $n }, "  PARAMS: $n";
    my $act = $s->tool('alpaca_market_screener_most_actives', { limit => $n })->{data}{most_actives};
    is_deeply [map { $_->{value} } rows($d)], [map { $_->{symbol} } @$act], "  $n, by volume";
    my @v = map { $_->{volume} } @$act;
    ok !grep({ $v[$_] > $v[$_ - 1] } 1 .. $#v), '  volumes descend';
    bars_chart_ok(chart($d), 'chart', labels => [map { $_->{symbol} } @$act], values => \@v);
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
    my @r = returns_of(closes_of($s, 'MSFT', 21));
    close_to row($e, 'annualized_volatility'), sample_sd(@r) * sqrt(252), '  the new PARAMS were used';
    is scalar(@{ row($e, 'chart')->{x} }), 21, '  and its chart';
}

$s->stop;
log_is_clean($s);

done_testing;

# the helpers above hold $s: let it go while Test::More can still say
# whether the run passed (a passing run removes its files)
undef $s;
