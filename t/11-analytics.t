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

$s->stop;
log_is_clean($s);

done_testing;
