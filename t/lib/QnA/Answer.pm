package QnA::Answer;

# What the planner tests share: asking a question and checking the plan's
# contract, reading an answer's rows and its chart, and the arithmetic the
# tests compute again, independently, from the same sample bars.

use strict;
use warnings;
use Test::More;
use List::Util qw(sum);
use Exporter 'import';
use QnA::Check;

our @EXPORT = qw(ask bars_of closes_of returns_of mean sample_sd pop_sd ema
                 row rows chart line_chart_ok bars_chart_ok heatmap_chart_ok);
our @EXPORT_OK = qw(sr_reference);

# the plan's contract: family, tools, a top-level PARAMS, an explanation,
# sample data, recorded calls
sub ask {
    my ($s, $q, $family, @tools) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $d = is_success($s->analyze($q), $q);
    is $d->{family}, $family, "  family $family";
    is_deeply $d->{mcp_calls}, \@tools, '  mcp_calls';
    like $d->{python_code}, qr/^PARAMS = \{.*\}$/m, '  the script has a top-level PARAMS';
    ok length($d->{explanation} // '') > 40, '  an explanation';
    like $d->{explanation} // '', qr/\Q$_\E/, "  naming $_" for @tools;
    is_deeply $d->{metadata}{data_sources}, ['sample'], '  labelled as sample data';
    ok !grep({ !defined $_->{duration_ms} } @{ $d->{metadata}{mcp_calls_made} }), '  tool calls with durations';
    ok $d->{execution_time_ms} >= 0, '  execution_time_ms';
    return $d;
}

sub bars_of {
    my ($s, $sym, $n) = @_;
    return $s->tool('alpaca_market_stocks_bars', { symbol => $sym, limit => $n })->{data}{bars};
}

sub closes_of { return map { $_->{c} } @{ bars_of(@_) } }

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

# seeded by the SMA of the first n values; out[0] belongs to v[n - 1]
sub ema {
    my ($n, @v) = @_;
    my $k = 2 / ($n + 1);
    my @out = (mean(@v[0 .. $n - 1]));
    push @out, $v[$_] * $k + $out[-1] * (1 - $k) for $n .. $#v;
    return @out;
}

# support and resistance by brute force, window by window: prices[i] is a
# support when it is the lowest of the lb prices on each side and they are
# not all equal; levels within 0.5% merge, the first of a cluster stays
sub sr_reference {
    my ($p, $lb) = @_;
    my (@lo, @hi);
    for my $i ($lb .. $#$p - $lb) {
        my ($min, $max) = ($p->[$i], $p->[$i]);
        for my $j ($i - $lb .. $i + $lb) {
            $min = $p->[$j] if $p->[$j] < $min;
            $max = $p->[$j] if $p->[$j] > $max;
        }
        push @lo, $p->[$i] if $p->[$i] == $min && $max > $min;
        push @hi, $p->[$i] if $p->[$i] == $max && $min < $max;
    }
    my $last = $p->[-1];
    my ($ns, $nr);
    for (@lo) { $ns = $_ if $_ <= $last && (!defined $ns || $_ > $ns) }
    for (@hi) { $nr = $_ if $_ >= $last && (!defined $nr || $_ < $nr) }
    my $merge = sub {
        my (@kept, $k);
        for my $v (sort { $a <=> $b } @_) {
            next if defined $k && !($v > $k * 1.005);
            push @kept, $v;
            $k = $v;
        }
        return \@kept;
    };
    return { support => $merge->(@lo), resistance => $merge->(@hi),
             nearest_support => $ns, nearest_resistance => $nr };
}

sub row {
    my ($d, $key) = @_;
    my ($r) = grep { $_->{key} eq $key } @{ $d->{result}{body} || [] };
    return $r ? $r->{value} : undef;
}

# the rows but the chart
sub rows {
    my ($d) = @_;
    return grep { $_->{key} ne 'chart' } @{ $d->{result}{body} || [] };
}

# the one chart row, last
sub chart {
    my ($d) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @c = grep { $_->{key} eq 'chart' } @{ $d->{result}{body} || [] };
    is scalar(@c), 1, '  one chart row';
    my $body = $d->{result}{body} || [];
    is @$body ? $body->[-1]{key} : undef, 'chart', '  the last one';
    ok length($c[0]{description} // '') > 10, '  described' if @c;
    return @c ? $c[0]{value} : {};
}

sub _numbers_or_null {
    my ($v) = @_;
    return ref $v eq 'ARRAY' && !grep { defined $_ && (ref $_ || !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/) } @$v;
}

# line(chart, name, series => [names], points => n, bands => [names],
#      thresholds => [...], markers => [...], levels => [...]): the series
# by name
sub line_chart_ok {
    my ($c, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is $c->{type}, 'line', "$name: a line chart";
    my $x = $c->{x} || [];
    ok @$x > 0 && @$x <= 260, '  1 to 260 points (' . scalar(@$x) . ')';
    is scalar(@$x), $o{points}, "  $o{points} points" if defined $o{points};
    ok !grep({ !/^\d{4}-\d\d-\d\d$/ } @$x), '  x: ISO dates';
    ok !grep({ $x->[$_] le $x->[$_ - 1] } 1 .. $#$x), '  ascending';
    is $x->[-1], $o{last_x}, "  ending on $o{last_x}" if $o{last_x};
    is_deeply [map { $_->{name} } @{ $c->{series} || [] }], $o{series}, "  series @{ $o{series} }";
    my %v;
    for my $s (@{ $c->{series} || [] }) {
        ok _numbers_or_null($s->{values}) && @{ $s->{values} } == @$x,
           "  $s->{name}: as many numbers (or nulls) as dates";
        $v{ $s->{name} } = $s->{values};
    }
    if ($o{bands}) {
        is_deeply [map { $_->{name} } @{ $c->{bands} || [] }], $o{bands}, "  bands @{ $o{bands} }";
        for my $b (@{ $c->{bands} || [] }) {
            ok _numbers_or_null($b->{$_}) && @{ $b->{$_} } == @$x, "  $b->{name} $_: one a date"
                for qw(upper lower);
            $v{"$b->{name} $_"} = $b->{$_} for qw(upper lower);
        }
    } else {
        ok !exists $c->{bands}, '  no bands';
    }
    is_deeply $c->{thresholds}, $o{thresholds}, "  thresholds @{ $o{thresholds} }" if $o{thresholds};
    is_deeply $c->{markers}, $o{markers}, '  markers: ' . scalar(@{ $o{markers} }) if $o{markers};
    is_deeply $c->{levels}, $o{levels}, '  levels: ' . scalar(@{ $o{levels} }) if $o{levels};
    return \%v;
}

sub bars_chart_ok {
    my ($c, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is $c->{type}, 'bars', "$name: a bar chart";
    is_deeply $c->{labels}, $o{labels}, '  labels';
    ok _numbers_or_null($c->{values}) && @{ $c->{values} || [] } == @{ $o{labels} }, '  a number a label';
    if ($o{values}) {
        close_to $c->{values}[$_], $o{values}[$_], "  $o{labels}[$_]: $o{values}[$_]" for 0 .. $#{ $o{values} };
    }
    ok length($c->{y_label} // ''), '  y_label';
}

sub heatmap_chart_ok {
    my ($c, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is $c->{type}, 'heatmap', "$name: a heatmap";
    is_deeply $c->{labels}, $o{labels}, '  labels';
    my $n = @{ $o{labels} };
    ok ref $c->{matrix} eq 'ARRAY' && @{ $c->{matrix} } == $n
       && !grep({ !_numbers_or_null($_) || @$_ != $n } @{ $c->{matrix} }), "  $n x $n numbers";
    if ($o{matrix}) {
        for my $i (0 .. $n - 1) {
            close_to $c->{matrix}[$i][$_], $o{matrix}[$i][$_], "  [$i][$_]" for 0 .. $n - 1;
        }
    }
}

1;
