#!/usr/bin/perl
# The portfolio and signal tools against values computed independently
# here, with numpy (Debian's, the one sandboxd embeds), at 1e-9 relative
# where the answer is exact and at the optimiser's tolerance where it is not.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use QnA::Stack;
use QnA::Check;
use QnA::Answer qw(sr_reference);

my $s = QnA::Stack->new(name => 'analytics')->start;
my $json = JSON::PP->new->canonical;

# numpy's answer to a small program that prints JSON
sub numpy {
    my ($code, $input) = @_;
    my $in = $s->dir . '/numpy-in.json';
    open my $f, '>', $in or die;
    print $f $json->encode($input);
    close $f;
    my $out = `/usr/bin/python3.11 -c 'import json, sys, numpy as np
x = json.load(open(sys.argv[1]))
$code' $in`;
    return decode_json($out);
}

my @p1 = map { 100 + 8 * sin($_ / 7) + $_ / 5 } 0 .. 119;
my @p2 = map { 50 + 3 * cos($_ / 5) + $_ / 9 } 0 .. 119;
my @p3 = map { 20 + 2 * sin($_ / 3 + 1) - $_ / 50 } 0 .. 119;

# correlation of returns
{
    my $r = $s->tool('calculate_correlation_matrix',
                     { price_series => { A => \@p1, B => \@p2, C => \@p3 } });
    my $want = numpy(<<'PY', [\@p1, \@p2, \@p3]);
r = [np.diff(p) / np.array(p[:-1]) for p in x]
print(json.dumps(np.corrcoef(r).tolist()))
PY
    is_deeply $r->{symbols}, [qw(A B C)], 'correlation: symbols in order';
    for my $i (0 .. 2) {
        for my $j (0 .. 2) {
            close_to $r->{matrix}[$i][$j], $want->[$i][$j], "  [$i][$j] matches numpy";
        }
    }
}

# the list form: the same matrix as the object form, in the list's order
{
    my $obj = $s->tool('calculate_correlation_matrix',
                       { price_series => { A => \@p1, B => \@p2, C => \@p3 } });
    my $list = $s->tool('calculate_correlation_matrix',
                        { series => [{ symbol => 'A', prices => \@p1 }, { symbol => 'B', prices => \@p2 },
                                     { symbol => 'C', prices => \@p3 }] });
    is_deeply $list, $obj, 'correlation, "series" list: the same answer as "price_series"';
    my $rev = $s->tool('calculate_correlation_matrix',
                       { series => [{ symbol => 'C', prices => \@p3 }, { symbol => 'A', prices => \@p1 }] });
    is_deeply $rev->{symbols}, [qw(C A)], '  symbols in the list\'s order';
    close_to $rev->{matrix}[0][1], $obj->{matrix}[0][2], '  the pair C, A as A, C';
    is $rev->{observations}, 119, '  observations: the returns of 120 prices';

    my %t = map { $_->{name} => $_ } @{ $s->mcp('tools/list')->{result}{tools} };
    my $cm = $t{calculate_correlation_matrix};
    is $cm->{inputSchema}{properties}{series}{maxItems}, 50, '  the schema: series, at most 50';
    is_deeply $cm->{inputSchema}{properties}{series}{items}{required}, [qw(symbol prices)], '  of {symbol, prices}';
    like $cm->{description}, qr/exactly one of two forms/, '  the description says both forms';

    my $err = sub {
        my ($args, $re, $name) = @_;
        my $a = $s->mcp('tools/call', { name => 'calculate_correlation_matrix', arguments => $args });
        my $e = $a->{result}{isError} ? $a->{result}{structuredContent}{error} : { code => 'none', message => '' };
        is $e->{code}, 'INVALID_ARGUMENT', "$name: INVALID_ARGUMENT";
        like $e->{message}, $re, '  ' . $re;
    };
    my @two = ({ symbol => 'A', prices => \@p1 }, { symbol => 'B', prices => \@p2 });
    $err->({}, qr/argument "series" \(or "price_series"\) is required/, 'neither form');
    $err->({ series => \@two, price_series => { A => \@p1, B => \@p2 } },
           qr/either argument "price_series" or "series", not both/, 'both forms');
    $err->({ series => { A => \@p1 } }, qr/"series" must be a list of 2 to 50/, 'series an object');
    $err->({ series => [$two[0]] }, qr/"series" must be a list of 2 to 50/, 'one series');
    $err->({ series => [(@two) x 26] }, qr/"series" must be a list of 2 to 50/, '52 series');
    $err->({ series => [$two[0], \@p2] }, qr/"series"\[1\] must be an object \{"symbol"/, 'an item not an object');
    $err->({ series => [$two[0], { prices => \@p2 }] }, qr/"series"\[1\]\.symbol must be a string/, 'no symbol');
    $err->({ series => [$two[0], { symbol => 7, prices => \@p2 }] }, qr/"series"\[1\]\.symbol must be a string/,
           'a symbol not a string');
    $err->({ series => [$two[0], { symbol => '', prices => \@p2 }] }, qr/"series"\[1\]\.symbol must be a string/,
           'an empty symbol');
    $err->({ series => [$two[0], { symbol => 'A', prices => \@p2 }] }, qr/"series"\[1\]\.symbol "A" repeats "series"\[0\]/,
           'a symbol twice');
    $err->({ series => [$two[0], { symbol => 'B', prices => \@p2, name => 'x' }] },
           qr/"series"\[1\] has an unknown key "name"/, 'an unknown key');
    $err->({ series => [$two[0], { symbol => 'B' }] }, qr/argument "series\[1\]\.prices" is required/, 'no prices');
    $err->({ series => [$two[0], { symbol => 'B', prices => 'x' }] },
           qr/argument "series\[1\]\.prices" must be an array of numbers/, 'prices not an array');
    $err->({ series => [$two[0], { symbol => 'B', prices => [1, 'x', 3] }] },
           qr/argument "series\[1\]\.prices"\[1\] is not a number/, 'a price not a number');
    $err->({ series => [$two[0], { symbol => 'B', prices => [1, 2] }] },
           qr/argument "series\[1\]\.prices" needs at least 3 values/, 'two prices');
    $err->({ series => [$two[0], { symbol => 'B', prices => [@p2[0 .. 99]] }] },
           qr/argument "series"\[1\] \("B"\) has 100 prices, the others 120/, 'lengths differ');
    $err->({ series => [$two[0], { symbol => 'B', prices => [@p2[0 .. 118], 0] }] },
           qr/argument "series"\[1\] \("B"\) has a price that is not positive/, 'a last price of 0');
    $err->({ price_series => { A => \@p1, B => [@p2[0 .. 118], -1] } },
           qr/argument "price_series": "B" has a price that is not positive/, '  the object form too');
    my @long = map { 100 + $_ % 7 } 1 .. 70_000;
    $err->({ series => [map { { symbol => "S$_", prices => \@long } } 1 .. 3] },
           qr/argument "series" holds more than 200000 prices in all/, '3 x 70000 prices');
}

# each tool says its convention, and the alignment it states holds: the
# first value of a series is the last one of the shortest prefix it needs
{
    my %t = map { $_->{name} => $_->{description} } @{ $s->mcp('tools/list')->{result}{tools} };
    like $t{calculate_macd}, qr/element 0 of macd, signal and histogram belongs to prices\[slow_period \+ signal_period - 2\]/,
         'MACD: its alignment';
    like $t{calculate_volatility}, qr/ddof=1.*`period` is a number of returns.*sqrt\(252\)/s, 'volatility: period, ddof, annualisation';
    like $t{calculate_rsi}, qr/Wilder.*values\[0\] belongs to prices\[period\]/s, 'RSI: Wilder, its first value';
    like $t{calculate_atr}, qr/first ATR.*belongs to bar `period`/s, 'ATR: its first value';
    like $t{calculate_bollinger_bands}, qr/population standard deviation \(ddof=0/, 'Bollinger: population deviation';
    like $t{calculate_sharpe_ratio}, qr/annual rate as a fraction \(0\.04 for 4%\)/, 'Sharpe: the rate\'s units';
    like $t{calculate_sortino_ratio}, qr/target_return t is per period/, 'Sortino: the target\'s units';
    like $t{calculate_var}, qr/linear interpolation \(position \(n - 1\) \* \(1 - confidence\)/, 'VaR: its interpolation';
    like $t{calculate_max_drawdown}, qr/negative\s+fraction/, 'drawdown: its sign';

    my $m = $s->tool('calculate_macd', { prices => \@p1 });
    is scalar(@{ $m->{macd} }), 120 - 26 - 9 + 2, 'MACD: 120 - 26 - 9 + 2 values';
    is scalar(@{ $m->{signal} }) . ' ' . scalar(@{ $m->{histogram} }), '87 87', '  signal and histogram as many';
    my $first = $s->tool('calculate_macd', { prices => [@p1[0 .. 26 + 9 - 2]] });
    close_to $m->{macd}[0], $first->{latest}{macd}, '  macd[0] is the MACD at prices[33]';
    close_to $m->{signal}[0], $first->{latest}{signal}, '  signal[0] too';
    close_to $m->{histogram}[0], $m->{macd}[0] - $m->{signal}[0], '  histogram[0] = macd[0] - signal[0]', 1e-6;
    my $r = $s->tool('calculate_rsi', { prices => \@p1, period => 14 });
    close_to $r->{values}[0], $s->tool('calculate_rsi', { prices => [@p1[0 .. 14]], period => 14 })->{latest},
             'RSI: values[0] belongs to prices[14]';
    my @h = map { $_ + 1 } @p1;
    my @l = map { $_ - 1 } @p1;
    my $a = $s->tool('calculate_atr', { high => \@h, low => \@l, close => \@p1, period => 14 });
    is scalar(@{ $a->{values} }), 120 - 14, 'ATR: 120 - 14 values';
    close_to $a->{values}[0], $s->tool('calculate_atr', { high => [@h[0 .. 14]], low => [@l[0 .. 14]],
                                                          close => [@p1[0 .. 14]], period => 14 })->{latest},
             '  values[0] belongs to bar 14';
}

# optimisation: interior solutions have closed forms to compare with
{
    my $cov = [[0.04, 0.006, 0.002], [0.006, 0.09, 0.009], [0.002, 0.009, 0.0625]];
    my $mu = [0.08, 0.12, 0.10];
    my $want = numpy(<<'PY', { cov => $cov, mu => $mu });
c = np.array(x["cov"]); mu = np.array(x["mu"]); one = np.ones(3)
mv = np.linalg.solve(c, one); mv = mv / mv.sum()
ms = np.linalg.solve(c, mu); ms = ms / ms.sum()
print(json.dumps({"mv": mv.tolist(), "ms": ms.tolist()}))
PY
    my $r = $s->tool('optimize_portfolio_weights',
                     { expected_returns => $mu, cov_matrix => $cov, objective => 'min_variance' });
    is $r->{objective}, 'min_variance', 'min variance';
    close_to $r->{weights}[$_], $want->{mv}[$_], "  weight $_ matches the closed form", 1e-6 for 0 .. 2;

    $r = $s->tool('optimize_portfolio_weights', { expected_returns => $mu, cov_matrix => $cov });
    is $r->{objective}, 'max_sharpe', 'max Sharpe is the default';
    close_to $r->{weights}[$_], $want->{ms}[$_], "  weight $_ matches the tangency portfolio", 1e-5 for 0 .. 2;
    my $sum = 0;
    $sum += $_ for @{ $r->{weights} };
    close_to $sum, 1, '  weights sum to 1';

    # a corner: one asset far worse; long-only keeps it at zero
    $r = $s->tool('optimize_portfolio_weights',
                  { expected_returns => [0.10, 0.10, -0.50], cov_matrix => $cov });
    is $r->{weights}[2], 0, '  a losing asset gets no weight';

    my $a = $s->mcp('tools/call', { name => 'optimize_portfolio_weights',
                                    arguments => { expected_returns => $mu, cov_matrix => [[1, 2], [3, 4]] } });
    like $a->{result}{content}[0]{text}, qr/cov_matrix/, 'a covariance of the wrong shape names the argument';
}

# portfolio metrics
{
    my @r1 = map { $p1[$_] / $p1[$_ - 1] - 1 } 1 .. $#p1;
    my @r2 = map { $p2[$_] / $p2[$_ - 1] - 1 } 1 .. $#p2;
    my $r = $s->tool('calculate_portfolio_metrics', { weights => [0.6, 0.4], returns => [\@r1, \@r2] });
    my $want = numpy(<<'PY', [\@r1, \@r2]);
p = 0.6 * np.array(x[0]) + 0.4 * np.array(x[1])
v = np.cumprod(1 + p); peak = np.maximum.accumulate(v)
print(json.dumps({"ar": p.mean() * 252, "av": p.std(ddof=1) * np.sqrt(252),
                  "sr": p.mean() / p.std(ddof=1) * np.sqrt(252),
                  "dd": float((v / peak - 1).min()), "tr": float(v[-1] - 1)}))
PY
    close_to $r->{annual_return}, $want->{ar}, 'portfolio: annual return';
    close_to $r->{annual_volatility}, $want->{av}, '  annual volatility';
    close_to $r->{sharpe_ratio}, $want->{sr}, '  Sharpe';
    close_to $r->{max_drawdown}, $want->{dd}, '  max drawdown';
    close_to $r->{total_return}, $want->{tr}, '  total return';

    my $a = $s->mcp('tools/call', { name => 'calculate_portfolio_metrics',
                                    arguments => { weights => [0.6, 0.6], returns => [\@r1, \@r2] } });
    like $a->{result}{content}[0]{text}, qr/weights.*sum to 1/, 'weights that do not sum to 1 are refused';
}

# SMA crossovers
{
    my $r = $s->tool('detect_sma_crossover', { prices => \@p1, short_window => 5, long_window => 20 });
    my $want = numpy(<<'PY', \@p1);
p = np.array(x)
s = np.convolve(p, np.ones(5) / 5, "valid")[15:]
l = np.convolve(p, np.ones(20) / 20, "valid")
d = s - l
out = [{"index": i + 19, "type": "golden_cross" if d[i] > 0 else "death_cross"}
       for i in range(1, len(d)) if (d[i - 1] <= 0 < d[i]) or (d[i - 1] >= 0 > d[i])]
print(json.dumps(out))
PY
    is_deeply $r->{crossovers}, $want, 'crossovers match numpy: ' . scalar(@$want);
    ok @$want > 2, '  the series crosses more than twice';
}

# support and resistance
{
    my $r = $s->tool('detect_support_resistance', { prices => \@p1, lookback => 5 });
    my $want = numpy(<<'PY', \@p1);
p = x; lb = 5
lo = [p[i] for i in range(lb, len(p) - lb) if p[i] == min(p[i - lb:i + lb + 1]) and p[i] != max(p[i - lb:i + lb + 1])]
hi = [p[i] for i in range(lb, len(p) - lb) if p[i] == max(p[i - lb:i + lb + 1]) and p[i] != min(p[i - lb:i + lb + 1])]
last = p[-1]
print(json.dumps({"ns": max([v for v in lo if v <= last], default=None),
                  "nr": min([v for v in hi if v >= last], default=None),
                  "nlo": len(lo), "nhi": len(hi)}))
PY
    ok $want->{nlo} > 0 && $want->{nhi} > 0, 'the series has lows and highs';
    close_to $r->{nearest_support}, $want->{ns}, 'nearest support' if defined $want->{ns};
    close_to $r->{nearest_resistance}, $want->{nr}, 'nearest resistance' if defined $want->{nr};
    ok @{ $r->{support} } >= 1 && @{ $r->{support} } <= $want->{nlo}, 'support levels, merged';
}

# support and resistance against a brute-force reference, window by
# window, on series made to trip a sliding-window minimum: ties, flat
# stretches, monotone runs, plateaus as wide as the window.  Every price is
# a multiple of 1/100 or an integer, so Perl and C read the same doubles
# and the levels compare exactly.
{
    sub same_numbers {
        my ($got, $want) = @_;
        return 0 unless ref $got eq 'ARRAY' && @$got == @$want;
        for (0 .. $#$want) { return 0 unless $got->[$_] == $want->[$_] }
        return 1;
    }

    srand(24);
    my @runs;
    push @runs, [map { 1 + $_ % 3 } 0 .. 40];
    push @runs, [map { int(rand 1000000) / 100 } 1 .. 2000];     # random
    push @runs, [map { 1 + int(rand 5) } 1 .. 2000];             # ties everywhere
    push @runs, [map { ((5) x 30, (3) x 10, (8) x 25, (3) x 7, (5) x 40) } 1 .. 6];
    push @runs, [1 .. 300];                                      # rising
    push @runs, [reverse 1 .. 300];                              # falling
    push @runs, [(7) x 200];                                     # flat
    push @runs, [map { ($_ % 40 < 20 ? $_ % 40 : 40 - $_ % 40) } 0 .. 999];  # sawtooth
    push @runs, [map { (2) x 11, 1, (2) x 11 } 1 .. 20];        # lone dips
    push @runs, [map { int(rand 21) - 10 } 1 .. 1500];           # negatives, zero
    push @runs, [map { int(10000 + 1000 * sin($_ / 9) + rand 300) / 100 } 0 .. 2999];

    my $n = 0;
    for my $p (@runs) {
        for my $lb (1, 2, 5, 11, 30, 150) {
            next if @$p < 2 * $lb + 1;
            my $r = $s->tool('detect_support_resistance', { prices => $p, lookback => $lb });
            my $want = sr_reference($p, $lb);
            my $ok = same_numbers($r->{support}, $want->{support})
                && same_numbers($r->{resistance}, $want->{resistance})
                && (defined $r->{nearest_support} ? defined $want->{nearest_support}
                        && $r->{nearest_support} == $want->{nearest_support}
                    : !defined $want->{nearest_support})
                && (defined $r->{nearest_resistance} ? defined $want->{nearest_resistance}
                        && $r->{nearest_resistance} == $want->{nearest_resistance}
                    : !defined $want->{nearest_resistance});
            $n++;
            ok $ok, sprintf('support and resistance: %d prices, lookback %d, as the reference',
                            scalar @$p, $lb)
                or diag explain { got => $r, want => $want };
        }
    }
    ok $n >= 50, "  $n series and lookbacks compared";

    # the largest lookback the arguments allow, on the fewest prices it needs
    my @p = map { abs($_ - 10000) } 0 .. 20000;
    my $r = $s->tool('detect_support_resistance', { prices => \@p, lookback => 10000 });
    is_deeply [$r->{support}, $r->{resistance}], [[0], []],
        'lookback 10000 on 20001 prices: the one window there is';
    my $a = $s->mcp('tools/call', { name => 'detect_support_resistance',
                                    arguments => { prices => \@p, lookback => 10001 } });
    ok $a->{result}{isError}, 'lookback 10001: an error';
    like $a->{result}{structuredContent}{error}{message}, qr/"lookback" must be between 1 and 10000/,
        '  naming the argument and its bounds';
}

$s->stop;
log_is_clean($s);

done_testing;
