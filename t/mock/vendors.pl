#!/usr/bin/perl
# Alpaca (Market Data and Trading) and EODHD on one loopback port, speaking
# their REST shapes: the JSON bodies, the X-RateLimit-* headers, 401/403
# for wrong keys, 404 text for unknown tickers, 429 with Retry-After.
#
#   vendors.pl PORT DIR
#
# Every request is appended to DIR/requests.log ("GET /path?query"), so a
# test can count what reached the vendor, and one that carries a W3C trace
# to DIR/traces.log ("/path?query traceparent").  Behaviour by symbol:
#   RATE  429, Retry-After: 30        RTRY  429 (Retry-After: 1), then 200
#   FAIL  500                         JUNK  200 with a body that is not JSON
#   SLOW  answers after 3 s           NONE  no bars / no snapshot
# and DIR/down present: every answer is 503.  Keys: APCA-API-KEY-ID
# "mock-key" with secret "mock-secret"; EODHD api_token "mock-token".
# Perl core only; one process per connection; stops when its parent dies
# or after 10 minutes.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QnA::MockHTTP qw(serve_forever reply logline);
use JSON::PP;
use POSIX qw(floor strftime);

my ($port, $dir) = @ARGV;
die "usage: vendors.pl PORT DIR\n" unless $port && $dir;

my $json = JSON::PP->new->canonical;
my %rl = ('X-RateLimit-Limit' => 200, 'X-RateLimit-Remaining' => 199,
          'X-RateLimit-Reset' => 1798761600);

serve_forever($port, 64, sub {
    my ($c, $method, $target, $h) = @_;
    (my $logged = $target) =~ s/api_token=[^&]*/api_token=***/;
    logline("$dir/requests.log", "$method $logged");
    logline("$dir/traces.log", "$logged $h->{traceparent}") if $h->{traceparent};

    my ($path, $query) = split /\?/, $target, 2;
    my %q = map { my ($k, $v) = split /=/, $_, 2; ($k, unescape($v // '')) }
            split /&/, $query // '';

    answer($c, $path, \%q, $h);
    return 1;    # keep-alive: libcurl reuses its connections
});

sub unescape {
    my ($s) = @_;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

sub symbol_behaviour {
    my ($c, @symbols) = @_;
    for my $s (@symbols) {
        if ($s eq 'RATE') {
            reply($c, 429, '{"message":"too many requests."}',
                  'Retry-After' => 30);
            return 1;
        }
        if ($s eq 'RTRY') {
            my $n = -e "$dir/rtry" ? 1 : 0;
            if (!$n) {
                open my $fh, '>', "$dir/rtry"; close $fh;
                reply($c, 429, '{"message":"too many requests."}',
                      'Retry-After' => 1);
                return 1;
            }
        }
        if ($s eq 'FAIL') {
            reply($c, 500, '{"message":"internal server error"}');
            return 1;
        }
        if ($s eq 'JUNK') {
            reply($c, 200, '{"bars": [ {"t": ', %rl);
            return 1;
        }
        if ($s eq 'SLOW') {
            sleep 3;
        }
    }
    return 0;
}

# a daily bar of a symbol, the same for every run: close 100 + i/4 + sym
sub bar {
    my ($sym, $i) = @_;
    my $base = 100 + length($sym) * 10;
    my $c = $base + $i * 0.25 + (($i * 7) % 5) * 0.5;
    my $day = 1767225600 - (60 - $i) * 86400;    # ... 2026-01-01
    return { t => strftime('%Y-%m-%dT05:00:00Z', gmtime $day),
             o => $c - 0.5, h => $c + 1, l => $c - 1, c => $c,
             v => 1000000 + $i * 1000, n => 5000 + $i, vw => $c - 0.1 };
}

sub snapshot {
    my ($sym) = @_;
    my ($prev, $last) = (bar($sym, 58), bar($sym, 59));
    return { latestTrade => { p => $last->{c}, s => 100,
                              t => $last->{t} },
             latestQuote => { bp => $last->{c} - 0.01,
                              ap => $last->{c} + 0.01, bs => 1, as => 2 },
             minuteBar => $last, dailyBar => $last, prevDailyBar => $prev };
}

sub answer {
    my ($c, $path, $q, $h) = @_;

    if (-e "$dir/down") {
        return reply($c, 503, '{"message":"service unavailable"}');
    }

    # EODHD
    if ($path =~ m{^/(fundamentals|div|splits)/([^/]+)$}) {
        my ($what, $code) = ($1, $2);
        if (($q->{api_token} // '') ne 'mock-token') {
            return reply($c, 401, 'Unauthenticated', type => 'text/plain');
        }
        my ($sym) = $code =~ /^([^.]+)/;
        return if symbol_behaviour($c, $sym);
        if ($sym !~ /^(AAPL|MSFT|KO)$/) {
            return reply($c, 404, 'Ticker Not Found.', type => 'text/plain');
        }
        if ($what eq 'fundamentals') {
            return reply($c, 200, $json->encode({
                General => { Code => $sym, Name => "$sym Mock Inc.",
                             Exchange => 'NASDAQ', CurrencyCode => 'USD' },
                Highlights => { MarketCapitalization => 3.1e12,
                                PERatio => 31.5, DividendYield => 0.0044 },
                Technicals => { Beta => 1.2, '52WeekHigh' => 260.1,
                                '52WeekLow' => 164.08 } }), %rl);
        }
        if ($what eq 'div') {
            my @d = map { { date => "2025-0$_-10", value => 0.25 + $_ / 100,
                            unadjustedValue => 0.25 + $_ / 100,
                            currency => 'USD', period => 'Quarterly' } }
                    (2, 5, 8);
            @d = grep { $_->{date} ge $q->{from} } @d if $q->{from};
            @d = grep { $_->{date} le $q->{to} } @d if $q->{to};
            return reply($c, 200, $json->encode(\@d), %rl);
        }
        return reply($c, 200, $json->encode([
            { date => '2014-06-09', split => '7.000000/1.000000' },
            { date => '2020-08-31', split => '4.000000/1.000000' } ]), %rl);
    }

    # Alpaca: both APIs check the same keys
    if (($h->{'apca-api-key-id'} // '') ne 'mock-key'
        || ($h->{'apca-api-secret-key'} // '') ne 'mock-secret')
    {
        return reply($c, 403, '{"message": "forbidden."}');
    }

    if ($path =~ m{^/v2/stocks/([^/]+)/bars$}) {
        my $sym = $1;
        return if symbol_behaviour($c, $sym);
        return reply($c, 422, '{"code":42210000,"message":"invalid timeframe"}')
            if ($q->{timeframe} // '') ne '1Day';
        if ($sym eq 'NONE') {
            return reply($c, 200, $json->encode({ bars => undef,
                symbol => $sym, next_page_token => undef }), %rl);
        }
        my $limit = $q->{limit} || 1000;
        my @bars = map { bar($sym, $_) } 0 .. 59;
        @bars = reverse @bars if ($q->{sort} // 'asc') eq 'desc';
        splice @bars, $limit if @bars > $limit;
        return reply($c, 200, $json->encode({ bars => \@bars,
            symbol => $sym, next_page_token => undef }), %rl);
    }

    if ($path eq '/v2/stocks/snapshots') {
        my @s = split /,/, $q->{symbols} // '';
        return if symbol_behaviour($c, @s);
        return reply($c, 200, $json->encode({ map { $_ => snapshot($_) }
                                              grep { $_ ne 'NONE' } @s }),
                     %rl);
    }

    if ($path eq '/v1beta3/crypto/us/snapshots') {
        my @s = split /,/, $q->{symbols} // '';
        return reply($c, 200, $json->encode({ snapshots =>
            { map { $_ => snapshot($_) } @s } }), %rl);
    }

    if ($path eq '/v1beta3/crypto/us/bars') {
        my $sym = $q->{symbols};
        my @bars = reverse map { bar($sym, $_) } 0 .. 59;
        splice @bars, $q->{limit} if @bars > $q->{limit};
        return reply($c, 200, $json->encode({ bars => { $sym => \@bars },
                                              next_page_token => undef }), %rl);
    }

    if ($path eq '/v1beta1/screener/stocks/most-actives') {
        my @all = map { { symbol => $_->[0], volume => $_->[1],
                          trade_count => $_->[2] } }
                  (['TSLA', 90e6, 900e3], ['NVDA', 80e6, 700e3],
                   ['AAPL', 60e6, 500e3], ['AMD', 50e6, 450e3]);
        @all = sort { $b->{trade_count} <=> $a->{trade_count} } @all
            if $q->{by} eq 'trades';
        splice @all, $q->{top} if @all > $q->{top};
        return reply($c, 200, $json->encode({ most_actives => \@all,
            last_updated => '2026-01-01T21:00:00.123Z' }), %rl);
    }

    if ($path eq '/v1beta1/news') {
        my @s = split /,/, $q->{symbols} // 'AAPL';
        my @news = map { { id => 1000 + $_, headline => "Mock headline $_",
                           author => 'Mock Wire', source => 'benzinga',
                           created_at => '2026-01-01T12:00:00Z',
                           updated_at => '2026-01-01T12:00:00Z',
                           summary => 'Mock summary.', url => undef,
                           symbols => \@s } } 1 .. $q->{limit};
        return reply($c, 200, $json->encode({ news => \@news,
                                              next_page_token => undef }), %rl);
    }

    if ($path eq '/v2/account') {
        return reply($c, 200, $json->encode({
            id => 'a1b2c3', account_number => 'PA3MOCK', status => 'ACTIVE',
            currency => 'USD', cash => '10000.50', equity => '25000.75',
            buying_power => '20001', portfolio_value => '25000.75',
            long_market_value => '15000.25', pattern_day_trader => JSON::PP::false,
            daytrade_count => 0 }), %rl);
    }

    if ($path eq '/v2/positions') {
        return reply($c, 200, $json->encode([
            { asset_id => 'x1', symbol => 'AAPL', qty => '10',
              avg_entry_price => '150.5', market_value => '1700',
              cost_basis => '1505', unrealized_pl => '195',
              unrealized_plpc => '0.1295681063', current_price => '170',
              side => 'long', exchange => 'NASDAQ' } ]), %rl);
    }

    if ($path eq '/v2/orders') {
        my @o = ({ id => 'o1', symbol => 'AAPL', qty => '10',
                   filled_qty => '10', filled_avg_price => '150.5',
                   limit_price => undef, side => 'buy', type => 'market',
                   status => 'filled' });
        @o = () if ($q->{status} // 'open') eq 'open';
        return reply($c, 200, $json->encode(\@o), %rl);
    }

    return reply($c, 404, '{"code":40410000,"message":"endpoint not found"}');
}
