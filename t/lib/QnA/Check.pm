package QnA::Check;

# Assertions on the contract of DESIGN.md, shared by the tests.

use strict;
use warnings;
use Test::More;
use Exporter 'import';

use Time::Local qw(timegm);

our @EXPORT = qw(is_error is_success close_to log_is_clean next_daily_bar);

# the error envelope, with status and code, and the request id in the
# header and the body alike
sub is_error {
    my ($r, $status, $code, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $j = $r->{json};
    my $ok = defined $r->{status} && $r->{status} == $status
        && ref $j eq 'HASH' && $j->{success} eq JSON::PP::false
        && ref $j->{error} eq 'HASH' && ($j->{error}{code} // '') eq $code
        && defined $j->{error}{message} && length $j->{error}{message}
        && ref $j->{error}{details} eq 'HASH'
        && ref $j->{recovery_suggestions} eq 'ARRAY'
        && @{ $j->{recovery_suggestions} }
        && ($j->{timestamp} // '') =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
        && ($j->{request_id} // '') =~ /^[0-9a-f]{32}$/
        && ($r->{headers}{'x-request-id'} // '') eq $j->{request_id};
    ok($ok, "$name: $status $code")
        or diag("got status " . ($r->{status} // 'none') . ": " . substr($r->{body} // '', 0, 600));
    return $j;
}

sub is_success {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $j = $r->{json};
    my $ok = defined $r->{status} && $r->{status} == 200
        && ref $j eq 'HASH' && $j->{success} eq JSON::PP::true
        && ref $j->{data} eq 'HASH'
        && ($j->{request_id} // '') =~ /^[0-9a-f]{32}$/
        && ($r->{headers}{'x-request-id'} // '') eq $j->{request_id};
    ok($ok, "$name: 200 success")
        or diag("got status " . ($r->{status} // 'none') . ": " . substr($r->{body} // '', 0, 800));
    return $ok ? $j->{data} : {};
}

# relative tolerance, for numbers that crossed JSON at 15 digits
sub close_to {
    my ($got, $want, $name, $tol) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $tol //= 1e-9;
    my $ok = defined $got && defined $want
        && abs($got - $want) <= $tol * (abs($want) > 1 ? abs($want) : 1);
    ok($ok, $name) or diag("got " . ($got // 'undef') . ", want " . ($want // 'undef'));
}

# when the next daily bar is out, as the result cache counts it: 16:15 in
# New York on the next weekday (daylight time from the second Sunday of
# March to the first of November), or 00:05 UTC for crypto
sub _sunday {
    my ($y, $m, $n) = @_;
    my $first = timegm(0, 0, 0, 1, $m - 1, $y);
    return $first + (((7 - (gmtime $first)[6]) % 7) + 7 * ($n - 1)) * 86400;
}

sub _new_york {
    my ($t) = @_;
    my $y = (gmtime $t)[5] + 1900;
    return $t >= _sunday($y, 3, 2) + 7 * 3600 && $t < _sunday($y, 11, 1) + 6 * 3600
        ? -4 * 3600 : -5 * 3600;
}

sub next_daily_bar {
    my ($now, $crypto) = @_;
    if ($crypto) {
        my $close = int($now / 86400) * 86400 + 300;
        return $close > $now ? $close : $close + 86400;
    }
    my $midnight = int(($now + _new_york($now)) / 86400) * 86400;
    for my $d (0 .. 7) {
        my $day = $midnight + $d * 86400;
        my $wday = (gmtime $day)[6];
        next if $wday == 0 || $wday == 6;
        my $close = $day + 16 * 3600 + 15 * 60 - _new_york($day + 12 * 3600);
        return $close if $close > $now;
    }
    return $now + 86400;
}

# after a graceful stop: nothing at [alert], [emerg] or [crit]
sub log_is_clean {
    my ($stack, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @bad = $stack->bad_log_lines;
    ok(!@bad, $name // 'error log has no [alert], [emerg] or [crit]')
        or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

1;
