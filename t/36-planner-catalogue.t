#!/usr/bin/perl
# The builtin planner answers the whole catalogue (docs/questions.md): each
# of its 25 questions as written, with the family and the tools the table
# names; the families of questions 14-17 and 19-24 in two paraphrases or
# more with other parameters, every number computed again here from the
# same sample data; question 25, a follow-up, after every family that has
# a symbol (one replaced, a list's grown by one, none refused); and what
# stays outside the catalogue refused with suggestions that name it all.
# Questions 1-13 and 18 are t/02's numbers.

use strict;
use warnings;
use Test::More;
use List::Util qw(sum max min);
use Time::HiRes qw(time);
use QnA::Stack;
use QnA::Check;
use QnA::Answer qw(:DEFAULT sr_reference);
use QnA::JWT qw(jwt);

my $s = QnA::Stack->new(name => 'catalogue')->start;

# a second stack with tokens: the trading account is a manager's
my $key = 'c' x 40;
my $m = QnA::Stack->new(name => 'catalogue-jwt', workers => 1,
                        nginx_http => "    qna_auth_jwt_secret_file jwt.key;\n    qna_auth jwt;\n");
QnA::Stack::write_file($m->dir . '/jwt.key', $key);
$m->start;
my %tok = map { my ($n, $r) = @$_; ($n => { Authorization => 'Bearer ' . jwt($key, { sub => $n, role => $r, exp => time + 900 }) }) }
          (['vera', 'viewer'], ['max', 'manager']);

sub ask_as {
    my ($who, $q, %extra) = @_;
    return $m->http(POST => '/analyze', json => { question => $q, %extra }, headers => $tok{$who});
}

sub last_date { substr($_[0][-1]{t}, 0, 10) }

sub pearson {
    my ($x, $y) = @_;
    my ($mx, $my) = (mean(@$x), mean(@$y));
    my ($sxy, $sxx, $syy) = (0, 0, 0);
    for (0 .. $#$x) {
        $sxy += ($x->[$_] - $mx) * ($y->[$_] - $my);
        $sxx += ($x->[$_] - $mx) ** 2;
        $syy += ($y->[$_] - $my) ** 2;
    }
    return $sxy / sqrt($sxx * $syy);
}

# --- the catalogue, as written ------------------------------------------------

my @catalogue;
{
    open my $f, '<', "$QnA::Stack::ROOT/docs/questions.md" or die "questions.md: $!";
    while (<$f>) {
        push @catalogue, [$1, $2, [split /,\s*/, $3]] if /^\| (\d+) \| (.+?) \| (.+?) \|$/;
    }
    is scalar(@catalogue), 25, 'docs/questions.md: 25 questions';
}

my %family_of = (1 => 'price', 2 => 'volatility', 3 => 'top_volatile', 4 => 'sma', 5 => 'ema', 6 => 'rsi',
                 7 => 'macd', 8 => 'bollinger', 9 => 'atr', 10 => 'sharpe', 11 => 'sortino', 12 => 'max_drawdown',
                 13 => 'var', 14 => 'correlation', 15 => 'portfolio', 16 => 'crossover', 17 => 'support_resistance',
                 18 => 'most_active', 19 => 'crypto', 20 => 'news', 21 => 'fundamentals', 22 => 'dividends',
                 23 => 'splits', 24 => 'account');

for my $c (@catalogue) {
    my ($n, $q, $tools) = @$c;
    next if $n == 25;
    my $r = $n == 24 ? ask_as(max => $q) : $s->analyze($q);
    my $d = is_success($r, "question $n: $q");
    is $d->{family}, $family_of{$n}, "  family $family_of{$n}";
    is_deeply $d->{mcp_calls}, $tools, "  the catalogue's tools: @$tools";
    is_deeply $d->{metadata}{data_sources}, ['sample'], '  on sample data';
    my %made = map { $_->{tool} => 1 } @{ $d->{metadata}{mcp_calls_made} };
    is_deeply [sort keys %made], [sort @$tools], '  and the script called exactly those';
}

# --- 14: correlation of returns -------------------------------------------------

for my $case (['How correlated are AAPL, MSFT and GOOGL?', [qw(AAPL MSFT GOOGL)], 252],
              ['correlation between apple and microsoft over the last 6 months', [qw(AAPL MSFT)], 126],
              ['Correlation matrix of NVDA, AMD, INTC and TSLA over 100 days', [qw(NVDA AMD INTC TSLA)], 100],
              ['correlation of aapl and msft', [qw(AAPL MSFT)], 252]) {
    my ($q, $syms, $days) = @$case;
    my $d = ask($s, $q, 'correlation', 'alpaca_market_stocks_bars', 'calculate_correlation_matrix');
    is_deeply $d->{params}, { symbols => $syms, lookback_days => $days }, "  PARAMS @$syms, $days days";
    my %r = map { ($_ => [returns_of(closes_of($s, $_, $days + 1))]) } @$syms;
    my @want = map { my $i = $_; [map { $i == $_ ? 1 : pearson($r{ $syms->[$i] }, $r{ $syms->[$_] }) } 0 .. $#$syms] }
               0 .. $#$syms;
    my @pairs;
    for my $i (0 .. $#$syms) {
        for my $j ($i + 1 .. $#$syms) {
            push @pairs, [$want[$i][$j], "$syms->[$i] vs $syms->[$j]"];
            close_to row($d, "$syms->[$i] vs $syms->[$j]"), $want[$i][$j], "  $syms->[$i] vs $syms->[$j]";
        }
    }
    @pairs = sort { $b->[0] <=> $a->[0] } @pairs;
    is_deeply [map { $_->{key} } grep { $_->{key} =~ / vs / } rows($d)], [map { $_->[1] } @pairs],
              '  the pairs, most correlated first';
    is row($d, 'most_correlated'), $pairs[0][1], "  most correlated: $pairs[0][1]";
    is row($d, 'least_correlated'), $pairs[-1][1], "  least correlated: $pairs[-1][1]";
    heatmap_chart_ok(chart($d), 'chart', labels => $syms, matrix => \@want);
}

# --- 15: portfolio weights --------------------------------------------------------

sub estimates {
    my ($syms, $days) = @_;
    my @r = map { [returns_of(closes_of($s, $_, $days + 1))] } @$syms;
    my @mu = map { mean(@$_) * 252 } @r;
    my @cov;
    for my $i (0 .. $#r) {
        for my $j (0 .. $#r) {
            my ($mi, $mj) = (mean(@{ $r[$i] }), mean(@{ $r[$j] }));
            $cov[$i][$j] = sum(map { ($r[$i][$_] - $mi) * ($r[$j][$_] - $mj) } 0 .. $#{ $r[$i] })
                           / $#{ $r[$i] } * 252;
        }
    }
    return (\@mu, \@cov);
}

sub portfolio {
    my ($w, $mu, $cov) = @_;
    my $ret = sum(map { $w->[$_] * $mu->[$_] } 0 .. $#$w);
    my $var = 0;
    for my $i (0 .. $#$w) { $var += $w->[$i] * $w->[$_] * $cov->[$i][$_] for 0 .. $#$w }
    return ($ret, sqrt $var);
}

for my $case (['Optimize a portfolio of AAPL, MSFT, NVDA and AMZN', [qw(AAPL MSFT NVDA AMZN)], 252, 'max_sharpe', 0],
              ['What is the minimum variance portfolio of KO, PEP and WMT?', [qw(KO PEP WMT)], 252, 'min_variance', 0],
              ['Optimize a portfolio of apple, microsoft and nvidia over the past 6 months with a risk-free rate of 4%',
               [qw(AAPL MSFT NVDA)], 126, 'max_sharpe', 0.04],
              ['How should I allocate between JPM, V and MA over 200 days?', [qw(JPM V MA)], 200, 'max_sharpe', 0]) {
    my ($q, $syms, $days, $obj, $rf) = @$case;
    my $d = ask($s, $q, 'portfolio', 'alpaca_market_stocks_bars', 'optimize_portfolio_weights');
    is_deeply $d->{params}, { symbols => $syms, lookback_days => $days, objective => $obj, risk_free_rate => $rf },
              "  PARAMS @$syms, $days days, $obj, rf $rf";
    my @w = map { row($d, $_) } @$syms;
    ok !grep({ !defined $_ || $_ < 0 || $_ > 1 } @w), '  long-only: every weight in [0, 1]';
    close_to sum(@w), 1, '  the weights sum to 1';
    my ($mu, $cov) = estimates($syms, $days);
    my ($ret, $vol) = portfolio(\@w, $mu, $cov);
    close_to row($d, 'expected_return'), $ret, '  expected return: w.mu, recomputed', 1e-7;
    close_to row($d, 'volatility'), $vol, '  volatility: sqrt(w\'Cw), recomputed', 1e-7;
    close_to row($d, 'sharpe_ratio'), ($ret - $rf) / $vol, '  Sharpe ratio', 1e-7;
    my @eq = (1 / @$syms) x @$syms;
    my ($eret, $evol) = portfolio(\@eq, $mu, $cov);
    close_to row($d, 'equal_weight_sharpe_ratio'), ($eret - $rf) / $evol, '  equal weights\' Sharpe, recomputed', 1e-7;
    close_to row($d, 'equal_weight_volatility'), $evol, '  and volatility', 1e-7;
    if ($obj eq 'max_sharpe') {
        ok +($ret - $rf) / $vol >= ($eret - $rf) / $evol, sprintf('  max Sharpe %.3f beats equal weights %.3f',
                                                                  ($ret - $rf) / $vol, ($eret - $rf) / $evol);
        for my $i (0 .. $#$syms) {
            ok +($ret - $rf) / $vol >= ($mu->[$i] - $rf) / sqrt($cov->[$i][$i]) - 1e-9, "  and $syms->[$i] alone";
        }
    } else {
        ok $vol <= $evol, sprintf('  min variance %.4f below equal weights %.4f', $vol, $evol);
        ok $vol <= sqrt($cov->[$_][$_]) + 1e-12, "  and $syms->[$_] alone" for 0 .. $#$syms;
    }
    bars_chart_ok(chart($d), 'chart', labels => $syms, values => \@w);
}

# --- 16: SMA crossovers ---------------------------------------------------------

sub crossovers {
    my ($c, $sw, $lw) = @_;
    my (@out, $prev, @s, @l);
    for my $i (0 .. $#$c) {
        push @s, $i + 1 >= $sw ? sum(@$c[$i - $sw + 1 .. $i]) / $sw : undef;
        push @l, $i + 1 >= $lw ? sum(@$c[$i - $lw + 1 .. $i]) / $lw : undef;
        next if $i + 1 < $lw;
        my $d = $s[-1] - $l[-1];
        push @out, { index => $i, type => $d > 0 ? 'golden_cross' : 'death_cross' }
            if $i + 1 > $lw && (($prev <= 0 && $d > 0) || ($prev >= 0 && $d < 0));
        $prev = $d;
    }
    return (\@out, \@s, \@l);
}

for my $case (['Did the 50-day SMA cross the 200-day SMA for SPY?', 'SPY', 50, 200, 252],
              ['Did the 20-day SMA cross the 100-day for AAPL over the last 6 months?', 'AAPL', 20, 100, 126],
              ['Has TSLA crossed its 50-day moving average in the past 3 months?', 'TSLA', 1, 50, 63],
              ['golden cross 10/30 for NVDA', 'NVDA', 10, 30, 252]) {
    my ($q, $sym, $sw, $lw, $days) = @$case;
    my $d = ask($s, $q, 'crossover', 'alpaca_market_stocks_bars', 'detect_sma_crossover');
    is_deeply $d->{params}, { symbol => $sym, short_window => $sw, long_window => $lw, lookback_days => $days },
              "  PARAMS $sym $sw/$lw over $days";
    my $b = bars_of($s, $sym, $lw + $days);
    my @c = map { $_->{c} } @$b;
    my ($x, $sma_s, $sma_l) = crossovers(\@c, $sw, $lw);
    my $first = @c - $days;
    my @recent = map { { date => substr($b->[$_->{index}]{t}, 0, 10), type => $_->{type} } }
                 grep { $_->{index} >= $first } @$x;
    is_deeply row($d, 'crossovers'), \@recent, '  the crossovers of the span, recomputed: ' . scalar(@recent);
    is row($d, 'crossed') ? 1 : 0, @recent ? 1 : 0, '  crossed: ' . (@recent ? 'yes' : 'no');
    my $last = $x->[-1];
    is row($d, 'last_crossover'),
       $last ? ($last->{type} eq 'golden_cross' ? 'golden cross' : 'death cross') . ' on ' . substr($b->[$last->{index}]{t}, 0, 10) : undef,
       '  the last one';
    close_to row($d, 'short_sma'), $sma_s->[-1], '  the short SMA';
    close_to row($d, 'long_sma'), $sma_l->[-1], '  the long SMA';
    is row($d, 'current'), $sma_s->[-1] > $sma_l->[-1] ? 'above' : 'below', '  where it stands';
    my $ch = chart($d);
    my @names = ('close', ($sw > 1 ? "SMA $sw" : ()), "SMA $lw");
    my $x0 = substr($b->[-min(260, scalar @c)]{t}, 0, 10);
    my @markers = map { { x => substr($b->[$_->{index}]{t}, 0, 10),
                          label => $_->{type} eq 'golden_cross' ? 'golden cross' : 'death cross' } }
                  grep { substr($b->[$_->{index}]{t}, 0, 10) ge $x0 } @$x;
    my $v = line_chart_ok($ch, 'chart', series => \@names, points => min(260, scalar @c), last_x => last_date($b),
                          markers => \@markers);
    close_to $v->{"SMA $lw"}[-1], row($d, 'long_sma'), '  chart: the long SMA ends on the row';
    close_to $v->{$sw > 1 ? "SMA $sw" : 'close'}[-1], row($d, 'short_sma'), '  the short one too';
}

# --- 17: support and resistance ---------------------------------------------------

for my $case (['Find support and resistance levels for AMD', 'AMD', 126, 5],
              ['support and resistance of MSFT over the last year with a lookback of 10', 'MSFT', 252, 10],
              ['Find support and resistance levels for TSLA using a 3-day lookback over 60 days', 'TSLA', 60, 3]) {
    my ($q, $sym, $days, $lb) = @$case;
    my $d = ask($s, $q, 'support_resistance', 'alpaca_market_stocks_bars', 'detect_support_resistance');
    is_deeply $d->{params}, { symbol => $sym, history_days => $days, lookback => $lb }, "  PARAMS $sym $days, lookback $lb";
    my $b = bars_of($s, $sym, $days);
    my @c = map { $_->{c} } @$b;
    my $want = sr_reference(\@c, $lb);
    is_deeply row($d, 'support_levels'), $want->{support}, '  supports by brute force: ' . scalar(@{ $want->{support} });
    is_deeply row($d, 'resistance_levels'), $want->{resistance}, '  resistances: ' . scalar(@{ $want->{resistance} });
    is row($d, 'nearest_support'), $want->{nearest_support}, '  the nearest support';
    is row($d, 'nearest_resistance'), $want->{nearest_resistance}, '  the nearest resistance';
    is row($d, 'last_close'), $c[-1], '  the last close';
    my $v = line_chart_ok(chart($d), 'chart', series => ['close'], points => min(260, $days), last_x => last_date($b),
                          levels => [(map { { y => $_, label => 'support' } } @{ $want->{support} }),
                                     (map { { y => $_, label => 'resistance' } } @{ $want->{resistance} })]);
    is_deeply $v->{close}, [@c[-min(260, $days) .. -1]], '  the closes';
}

# --- 19: crypto -----------------------------------------------------------------

for my $case (['What is the price of BTC/USD?', ['BTC/USD']], ['How much is bitcoin worth?', ['BTC/USD']],
              ['price of ETH/USD and SOL/USD', ['ETH/USD', 'SOL/USD']], ['ethereum price', ['ETH/USD']]) {
    my ($q, $pairs) = @$case;
    my $d = ask($s, $q, 'crypto', 'alpaca_market_crypto_snapshots');
    is_deeply $d->{params}, { symbols => $pairs }, "  PARAMS @$pairs";
    for my $p (@$pairs) {
        my $b = bars_of($s, $p, 2);
        is row($d, $p), $b->[1]{c}, "  $p: the sample's last close";
        is row($d, "$p previous_close"), $b->[0]{c}, '  the close before';
        close_to row($d, "$p change_percent"), sprintf('%.2f', ($b->[1]{c} / $b->[0]{c} - 1) * 100), '  the change', 1e-9;
    }
    ok !defined row($d, 'chart'), '  no chart: a quote is no series';
}

# --- 20: news ---------------------------------------------------------------------

for my $case (['Latest news about NVDA', ['NVDA'], 5], ['3 latest headlines about apple', ['AAPL'], 3],
              ['Show the 4 latest news items for TSLA and AMZN', ['TSLA', 'AMZN'], 4],
              ['What is the latest market news?', [], 5]) {
    my ($q, $syms, $n) = @$case;
    my $d = ask($s, $q, 'news', 'alpaca_market_news');
    is_deeply $d->{params}, { symbols => $syms, limit => $n }, "  PARAMS @$syms, $n items";
    my $items = $s->tool('alpaca_market_news', { symbols => $syms, limit => $n })->{data}{news};
    is scalar(@$items), $n, "  the sample has $n";
    my $end = last_date(bars_of($s, 'SPY', 1));
    for my $i (0 .. $n - 1) {
        my $about = @$syms ? $syms->[$i % @$syms] : 'SPY';
        is row($d, 'news_' . ($i + 1)), "Sample news item " . ($i + 1) . " about $about (synthetic)", "  news_" . ($i + 1) . ": about $about";
        my ($r) = grep { $_->{key} eq 'news_' . ($i + 1) } @{ $d->{result}{body} };
        like $r->{description}, qr/^\Q@{[ substr($items->[$i]{created_at}, 0, 10) ]}\E, sample: /, '  dated as the sample dates it';
    }
    is substr($items->[0]{created_at}, 0, 10), $end, '  the newest on the latest session';
}

# --- 21: fundamentals -----------------------------------------------------------

for my $case (['Show the fundamentals of MSFT', 'MSFT'], ['What are the fundamentals of apple?', 'AAPL'],
              ['What is the dividend yield of KO?', 'KO'], ['52-week high of NVDA', 'NVDA']) {
    my ($q, $sym) = @$case;
    my $d = ask($s, $q, 'fundamentals', 'eodhd_fundamentals');
    is_deeply $d->{params}, { symbol => $sym }, "  PARAMS $sym";
    my $f = $s->tool('eodhd_fundamentals', { symbol => $sym })->{data};
    my $b = bars_of($s, $sym, 252);
    my @c = map { $_->{c} } @$b;
    is row($d, 'name'), $f->{General}{Name}, "  name: $f->{General}{Name}";
    is row($d, 'currency'), 'USD', '  currency';
    is row($d, 'last_close'), $c[-1], '  the last close';
    is row($d, '52_week_high'), max(map { $_->{h} } @$b), '  52-week high: the highest high of 252 sessions';
    is row($d, '52_week_low'), min(map { $_->{l} } @$b), '  52-week low: the lowest low';
    close_to row($d, '50_day_ma'), mean(@c[-50 .. -1]), '  50-day average';
    close_to row($d, '200_day_ma'), mean(@c[-200 .. -1]), '  200-day average';
    is row($d, 'dividend_yield'), $f->{Highlights}{DividendYield}, "  dividend yield $f->{Highlights}{DividendYield}";
    close_to row($d, 'dividend_share'), $f->{Highlights}{DividendYield} * $c[-1], '  dividend a share: yield x close';
}

# --- 22: dividends ----------------------------------------------------------------

# the sample's: quarterly, from 21 sessions before the end back, a quarter
# of the yearly yield of that day's close
sub sample_dividends {
    my ($sym, $year) = @_;
    my $b = bars_of($s, $sym, 756);
    my $y = $s->tool('eodhd_fundamentals', { symbol => $sym })->{data}{Highlights}{DividendYield};
    my @d;
    for (my $i = $#$b - 20; $y > 0 && $i >= 0; $i -= 63) {
        unshift @d, { date => substr($b->[$i]{t}, 0, 10), value => int($y / 4 * $b->[$i]{c} * 10000 + 0.5) / 10000 };
    }
    return grep { !$year || substr($_->{date}, 0, 4) eq $year } @d;
}

for my $case (['What dividends did KO pay last year?', 'KO', 2025], ['Which dividends did PEP pay in 2024?', 'PEP', 2024],
              ['dividends of JNJ', 'JNJ', undef], ['Did TSLA pay any dividends this year?', 'TSLA', 2026]) {
    my ($q, $sym, $year) = @$case;
    my $d = ask($s, $q, 'dividends', 'eodhd_dividends');
    is_deeply $d->{params}, { symbol => $sym, year => $year }, "  PARAMS $sym " . ($year // 'every year');
    my $py = $year // 'None';
    like $d->{python_code}, qr/^PARAMS = \{"symbol": "$sym", "year": $py\}$/m,
         '  PARAMS in Python (None, not null)';
    my @want = sample_dividends($sym, $year);
    is row($d, 'count'), scalar(@want), '  ' . scalar(@want) . ' dividends';
    close_to row($d, 'total'), int(sum(0, map { $_->{value} } @want) * 10000 + 0.5) / 10000, '  their total';
    is row($d, $_->{date}), $_->{value}, "  $_->{date}: $_->{value}" for @want;
    if (@want) {
        bars_chart_ok(chart($d), 'chart', labels => [map { $_->{date} } @want], values => [map { $_->{value} } @want]);
    } else {
        ok !defined row($d, 'chart'), '  none: no chart';
    }
}
like is_success($s->analyze('What dividends did KO pay last year?'), 'last year')->{explanation},
     qr/from 2025-01-01 to 2025-12-31/, '  is 2025: the sample\'s data end in 2026';

# --- 23: splits -------------------------------------------------------------------

for my $case (['Has AAPL ever split its stock?', 'AAPL', [['2014-06-09', '7/1'], ['2020-08-31', '4/1']]],
              ['Did NVDA split its shares?', 'NVDA', [['2021-07-20', '4/1'], ['2024-06-10', '10/1']]],
              ['stock splits of KO', 'KO', []]) {
    my ($q, $sym, $want) = @$case;
    my $d = ask($s, $q, 'splits', 'eodhd_splits');
    is_deeply $d->{params}, { symbol => $sym }, "  PARAMS $sym";
    is row($d, 'has_split') ? 1 : 0, @$want ? 1 : 0, '  has split: ' . (@$want ? 'yes' : 'no');
    is row($d, 'count'), scalar(@$want), '  ' . scalar(@$want) . ' splits';
    is row($d, $_->[0]), $_->[1], "  $_->[0]: $_->[1]" for @$want;
    is_deeply [map { [$_->{date}, $_->{split}] } @{ $s->tool('eodhd_splits', { symbol => $sym })->{data}{splits} }], $want,
              '  as the sample records them';
}

# --- 24: the trading account, a manager's ------------------------------------------

{
    my $q = 'Show my account balance and open positions';
    my $j = is_error(ask_as(vera => $q), 403, 'FORBIDDEN', 'a viewer asks question 24');
    is $j->{error}{details}{tool}, 'alpaca_trading_account', '  naming the tool';
    is $j->{error}{details}{required_role}, 'manager', '  and the role it needs';

    # the sample book, valued at the sample's last closes
    my @book = (['AAPL', 50, 175.20], ['MSFT', 20, 310.50], ['NVDA', 30, 210.00], ['SPY', 10, 455.75]);
    my $cents = sub { int($_[0] * 100 + ($_[0] < 0 ? -0.5 : 0.5)) / 100 };
    for my $q2 ($q, 'What is my account balance?', 'Show my open positions', 'How much buying power do I have?') {
        my $d = is_success(ask_as(max => $q2), "a manager: $q2");
        is $d->{family}, 'account', '  family account';
        is_deeply $d->{mcp_calls}, ['alpaca_trading_account', 'alpaca_trading_positions'], '  both trading tools';
        is_deeply $d->{params}, {}, '  PARAMS: none';
        my ($value, $pl) = (0, 0);
        for my $h (@book) {
            my ($sym, $qty, $entry) = @$h;
            my $close = bars_of($s, $sym, 1)->[-1]{c};
            my $mv = $cents->($qty * $close);
            $value += $mv;
            $pl += $cents->($mv - $cents->($qty * $entry));
            is row($d, $sym), $mv, "  $sym: $qty x $close";
        }
        is row($d, 'cash'), 25000, '  cash';
        is row($d, 'positions'), 4, '  four positions';
        close_to row($d, 'long_market_value'), $cents->($value), '  their value';
        close_to row($d, 'equity'), $cents->(25000 + $value), '  equity: cash and positions';
        is row($d, 'buying_power'), 50000, '  buying power';
        close_to row($d, 'unrealized_pl'), $cents->($pl), '  unrealized P/L, summed';
    }
}

# --- the scripts re-run with other PARAMS ---------------------------------------------

{
    my $d = is_success($s->analyze('How correlated are AAPL, MSFT and GOOGL?'), 'a correlation');
    my $e = is_success($s->execute(script => $d->{python_code}, params => { symbols => ['KO', 'PEP'], lookback_days => 60 },
                                   allowed_tools => $d->{mcp_calls}), '  re-run for KO and PEP over 60 days');
    close_to row($e, 'KO vs PEP'), pearson([returns_of(closes_of($s, 'KO', 61))], [returns_of(closes_of($s, 'PEP', 61))]),
             '  the new PARAMS were used';

    $d = is_success($s->analyze('What dividends did KO pay last year?'), 'dividends');
    $e = is_success($s->execute(script => $d->{python_code}, params => { symbol => 'PEP', year => 2024 },
                                allowed_tools => $d->{mcp_calls}), '  re-run for PEP in 2024');
    is row($e, 'count'), scalar(sample_dividends('PEP', 2024)), '  PEP\'s of 2024';

    $d = is_success($s->analyze('Did the 50-day SMA cross the 200-day SMA for SPY?'), 'a crossover');
    $e = is_success($s->execute(script => $d->{python_code},
                                params => { symbol => 'QQQ', short_window => 5, long_window => 20, lookback_days => 100 },
                                allowed_tools => $d->{mcp_calls}), '  re-run for QQQ, 5/20 over 100 days');
    my $b = bars_of($s, 'QQQ', 120);
    my ($x) = crossovers([map { $_->{c} } @$b], 5, 20);
    is scalar(@{ row($e, 'crossovers') }), scalar(grep { $_->{index} >= 20 } @$x), '  its crossovers';
}

# --- 25: follow-ups ---------------------------------------------------------------

sub followup {
    my ($q, $f) = @_;
    my $first = is_success($s->analyze($q), "asked: $q");
    my $d = $s->analyze($f, session_id => $first->{session_id});
    return ($first, $d);
}

# one symbol: replaced, the rest of PARAMS kept
for my $q ('What is the current price of AAPL?', 'What is the 45-day volatility of IBM?', '20 day SMA for KO',
           'Calculate the 20-day EMA for AMZN', '10-day RSI of AAPL', 'MACD 5/35/5 for NVDA',
           'Bollinger bands for SPY over 20 days', 'What is the average true range of GOOGL?',
           'Sharpe ratio of SPY over 6 months', 'What is the Sortino ratio of AAPL?',
           'What was the maximum drawdown of TSLA over the past year?', '99% VaR of QQQ',
           'Did the 20-day SMA cross the 100-day for AAPL over the last 6 months?',
           'Find support and resistance levels for AMD', 'Show the fundamentals of NVDA',
           'Which dividends did PEP pay in 2024?', 'Has AAPL ever split its stock?') {
    my ($first, $r) = followup($q, 'And for MSFT?');
    my $d = is_success($r, "  then: And for MSFT?");
    is $d->{family}, $first->{family}, "  the same family, $first->{family}";
    is_deeply $d->{params}, { %{ $first->{params} }, symbol => 'MSFT' }, '  the same PARAMS, for MSFT';
    is $d->{context}{follow_up}{previous_question}, $q, '  following the question';
}

# some numbers of those, for MSFT
{
    my (undef, $r) = followup('20 day SMA for KO', 'And for MSFT?');
    close_to row($r->{json}{data}, 'sma'), mean((closes_of($s, 'MSFT', 20))), 'SMA follow-up: MSFT\'s 20-day SMA';
    (undef, $r) = followup('Find support and resistance levels for AMD', 'what about MSFT');
    is_deeply row($r->{json}{data}, 'support_levels'), sr_reference([closes_of($s, 'MSFT', 126)], 5)->{support},
              '"what about MSFT": MSFT\'s supports';
    (undef, $r) = followup('Which dividends did PEP pay in 2024?', 'And for KO?');
    is row($r->{json}{data}, 'count'), scalar(sample_dividends('KO', 2024)), 'dividends follow-up: KO\'s of 2024';
}

# a list: the stock is added to the question's list
{
    my ($first, $r) = followup('How correlated are AAPL, MSFT and GOOGL?', 'And for NVDA?');
    my $d = is_success($r, 'a correlation, then "And for NVDA?"');
    is $d->{family}, 'correlation', '  a correlation';
    is_deeply $d->{params}{symbols}, [qw(AAPL MSFT GOOGL NVDA)], '  of the three and NVDA';
    close_to row($d, 'GOOGL vs NVDA'), pearson([returns_of(closes_of($s, 'GOOGL', 253))], [returns_of(closes_of($s, 'NVDA', 253))]),
             '  GOOGL vs NVDA, recomputed';
    heatmap_chart_ok(chart($d), '  its chart', labels => [qw(AAPL MSFT GOOGL NVDA)]);

    $r = $s->analyze('And for AMD?', session_id => $first->{session_id});
    is_deeply is_success($r, '  then "And for AMD?"')->{params}{symbols}, [qw(AAPL MSFT GOOGL AMD)],
              '  AMD added to the question asked, not to the last follow-up';
    $r = $s->analyze('And for MSFT?', session_id => $first->{session_id});
    is_deeply is_success($r, '  then "And for MSFT?", already in it')->{params}{symbols}, [qw(AAPL MSFT GOOGL)],
              '  the list as asked';

    ($first, $r) = followup('Optimize a portfolio of AAPL, MSFT, NVDA and AMZN', 'And for TSLA?');
    $d = is_success($r, 'a portfolio, then "And for TSLA?"');
    is_deeply $d->{params}{symbols}, [qw(AAPL MSFT NVDA AMZN TSLA)], '  of the four and TSLA';
    close_to sum(map { row($d, $_) } qw(AAPL MSFT NVDA AMZN TSLA)), 1, '  five weights summing to 1';

    ($first, $r) = followup('Latest news about NVDA', 'And for AAPL?');
    $d = is_success($r, 'news, then "And for AAPL?"');
    is_deeply $d->{params}, { symbols => ['AAPL'], limit => 5 }, '  news about AAPL instead';
    is row($d, 'news_1'), 'Sample news item 1 about AAPL (synthetic)', '  AAPL\'s';
}

# a crypto pair: replaced by a pair, or the price of a stock
{
    my ($first, $r) = followup('What is the price of BTC/USD?', 'And for ETH?');
    my $d = is_success($r, 'a crypto price, then "And for ETH?"');
    is_deeply [$d->{family}, $d->{params}], ['crypto', { symbols => ['ETH/USD'] }], '  ETH/USD';
    is row($d, 'ETH/USD'), bars_of($s, 'ETH/USD', 1)->[-1]{c}, '  its last close';
    $r = $s->analyze('And for MSFT?', session_id => $first->{session_id});
    $d = is_success($r, '  then "And for MSFT?"');
    is_deeply [$d->{family}, $d->{params}], ['price', { symbol => 'MSFT' }], '  the price of the stock';
    ($first, $r) = followup('What is the current price of AAPL?', 'And for BTC/USD?');
    $d = is_success($r, 'a stock price, then "And for BTC/USD?"');
    is_deeply [$d->{family}, $d->{params}], ['crypto', { symbols => ['BTC/USD'] }], '  the pair\'s';
}

# no symbol to replace: refused, saying why
for my $q ('What are the top 5 most volatile stocks today?', 'Which stocks are most active today?') {
    my (undef, $r) = followup($q, 'And for MSFT?');
    my $j = is_error($r, 422, 'UNSUPPORTED_QUESTION', "after \"$q\": And for MSFT?");
    like $j->{error}{message}, qr/names no stock for MSFT to replace/, '  no stock to replace';
}
{
    my $first = is_success(ask_as(max => 'Show my account balance and open positions'), 'the account');
    my $j = is_error(ask_as(max => 'And for MSFT?', session_id => $first->{session_id}), 422, 'UNSUPPORTED_QUESTION',
                     '  then "And for MSFT?"');
    like $j->{error}{message}, qr/names no stock for MSFT to replace/, '  no stock to replace';
}

# --- outside the catalogue, and every refusal --------------------------------------

{
    my $j = is_error($s->analyze('What is the meaning of life?'), 422, 'UNSUPPORTED_QUESTION', 'off-topic');
    my %sugg = map { $_ => 1 } @{ $j->{recovery_suggestions} };
    ok $sugg{$_->[1]}, "  suggests: $_->[1]" for grep { $_->[0] != 25 } @catalogue;
    for my $q ('What are the earnings of AAPL?', 'What orders do I have open?') {
        $j = is_error($s->analyze($q), 422, 'UNSUPPORTED_QUESTION', $q);
        like $j->{error}{message}, qr/does not answer questions about/, '  not yet';
        ok scalar(grep { /correlated/ } @{ $j->{recovery_suggestions} }), '  with suggestions';
    }
}

for my $case (['How correlated is AAPL?', qr/two stocks or more/],
              ['How correlated are ' . join(', ', qw(AAPL MSFT GOOGL AMZN NVDA META TSLA AMD INTC IBM ORCL NFLX ADBE CRM QCOM
                                                     AVGO CSCO JPM BAC WFC GS)) . '?', qr/at most 20 stocks/],
              ['correlation of AAPL and MSFT over 10 days', qr/look-back in trading days must be between 20 and 749/],
              ['Optimize a portfolio of AAPL', qr/two stocks or more/],
              ['Optimize a portfolio of AAPL and MSFT with a risk-free rate of 150%', qr/risk-free rate/],
              ['Did the 50-day SMA cross the 600-day SMA for SPY?', qr/long window in days must be between 2 and 500/],
              ['Did the 50-day SMA cross the 50-day SMA for SPY?', qr/short window in days must be between 1 and 49/],
              ['Did the 50-day cross the 200-day for SPY over the last 3 years?', qr/span looked at in trading days must be between 20 and 550/],
              ['Did the 50-day SMA cross the 200-day SMA?', qr/Which stock\?/],
              ['support and resistance of AMD with a lookback of 60', qr/lookback in sessions must be between 1 and 50/],
              ['support and resistance of AMD over 10 days', qr/span looked at in trading days must be between 20 and 750/],
              ['What is the price of crypto?', qr/Which crypto pair\?/],
              ['What is the 30-day volatility of BTC/USD?', qr/Of a crypto pair the builtin planner answers the price/],
              ['the 60 latest headlines about NVDA', qr/number of news items must be between 1 and 50/],
              ['news about ' . join(' ', qw(AAPL MSFT GOOGL AMZN NVDA META TSLA AMD INTC IBM ORCL NFLX ADBE CRM QCOM
                                            AVGO CSCO JPM BAC WFC GS)), qr/News of at most 20 stocks/],
              ['Optimize a portfolio of ' . join(', ', qw(AAPL MSFT GOOGL AMZN NVDA META TSLA AMD INTC IBM ORCL NFLX
                                                          ADBE CRM QCOM AVGO CSCO JPM BAC WFC GS)), qr/at most 20 stocks/],
              ['Show the fundamentals', qr/Which stock\?/],
              ['What dividends were paid last year?', qr/Which stock\?/]) {
    my ($q, $re) = @$case;
    my $j = is_error($s->analyze($q), 422, 'UNSUPPORTED_QUESTION', $q);
    like $j->{error}{message}, $re, "  $re";
    is $j->{error}{details}{planner}, 'builtin', '  the builtin planner\'s';
}

# what the sample does not know: the tool's error, named
for my $case (['What is the price of FOO/USD?', 'alpaca_market_crypto_snapshots'],
              ['Show the fundamentals of ZZZZ', 'eodhd_fundamentals'],
              ['How correlated are AAPL and ZZZZ?', 'alpaca_market_stocks_bars']) {
    my ($q, $tool) = @$case;
    my $j = is_error($s->analyze($q), 502, 'DATA_UNAVAILABLE', $q);
    is $j->{error}{details}{tool}, $tool, "  from $tool";
}

$_->stop for $s, $m;
log_is_clean($_) for $s, $m;

done_testing;

undef $s;
undef $m;
