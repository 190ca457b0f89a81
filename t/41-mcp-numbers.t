#!/usr/bin/perl
# Arrays of numbers read straight into doubles (issue 14, ngx_mcp_scan.c)
# are exactly as strict as jansson: every body below is sent to /mcp and
# to a location with "mcp_read_numbers off" (jansson reads it all), and
# the two answers must be the same, byte for byte: the same status, the
# same error (JSON-RPC or isError naming the argument), the same numbers.
# The bodies: each analytics tool, numbers of every shape, every malformed
# token and structure around them, caps and batches, and mutations of a
# valid call.  $mcp_numbers shows which were read so.  And token by token,
# ngx_mcp_decimal() against jansson (t/numbers/decimal.c): the same
# accept or refuse and the same double, bit for bit.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use QnA::Stack;
use QnA::Check;

my $s = QnA::Stack->new(name => 'numbers', workers => 1,
    nginx_http => "    log_format numbers '\$request_uri \$mcp_numbers';\n",
    locations => <<'CONF')->start;
        location = /mcp-jansson {
            client_max_body_size 1m;
            client_body_buffer_size 1m;
            mcp;
            mcp_read_numbers off;
            access_log logs/numbers.log numbers;
        }

        location = /mcp-read {
            client_max_body_size 1m;
            client_body_buffer_size 1m;
            mcp;
            access_log logs/numbers.log numbers;
        }

CONF
my %h = $s->mcp_headers;

# the token by token comparison, in C: the module's own file against libjansson
{
    my $b = "$QnA::Stack::BUILD/nginx";
    my $exe = $s->dir . '/decimal';
    my $cc = join ' ', 'cc -O2 -Wall -Werror', map({ "-I$b/$_" } qw(src/core src/event
        src/event/modules src/os/unix objs)), "-I$QnA::Stack::ROOT/ngx_mcp_module",
        "$QnA::Stack::ROOT/t/numbers/decimal.c -ljansson -lm -o $exe 2>&1";
    my $out = `$cc`;
    is $?, 0, 't/numbers/decimal.c builds' or diag $out;
    $out = `$exe 3000000`;
    like $out, qr/^ok: 3000000 tokens, \d+ numbers read/, 'ngx_mcp_decimal and jansson agree on 3000000 tokens'
        or diag $out;
}

# one exchange on a kept-alive connection per location
my %conn;
sub exchange {
    my ($path, $body) = @_;
    for my $try (1, 2) {
        my $c = $conn{$path} //= $s->connect;
        my %all = (Host => 'localhost', 'Content-Type' => 'application/json', %h,
                   'Content-Length' => length $body);
        local $SIG{PIPE} = 'IGNORE';
        print $c "POST $path HTTP/1.1\r\n", map({ "$_: $all{$_}\r\n" } sort keys %all),
                 "\r\n", $body;
        my $buf = '';
        while ($buf !~ /\r\n\r\n/) {
            last unless sysread($c, $buf, 65536, length $buf);
        }
        my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
        unless (defined $rest) {
            delete $conn{$path};
            next;
        }
        my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
        my ($len) = $head =~ /Content-Length: (\d+)/i;
        while (length $rest < ($len // 0)) {
            last unless sysread($c, $rest, 1 << 20, length $rest);
        }
        delete $conn{$path} if $head =~ /Connection: close/i;
        return ($status, $rest);
    }
    return (0, '');
}

my ($same, $differ, $cases) = (0, 0, 0);
sub same {
    my ($what, $body, $quiet) = @_;
    my ($s1, $b1) = exchange('/mcp-read', $body);
    my ($s2, $b2) = exchange('/mcp-jansson', $body);
    $cases++;
    if ($s1 eq $s2 && $b1 eq $b2) {
        $same++;
        pass($what) unless $quiet;
        return $b1;
    }
    $differ++;
    fail($what);
    diag("body: " . substr($body, 0, 300));
    diag("read: $s1 " . substr($b1, 0, 300));
    diag("jansson: $s2 " . substr($b2, 0, 300));
    return undef;
}

my $id = 0;
sub call {
    my ($tool, $args) = @_;
    $id++;
    return qq({"jsonrpc":"2.0","id":$id,"method":"tools/call","params":{"name":"$tool","arguments":$args}});
}

my @p = map { sprintf('%.2f', 100 + 10 * sin($_ / 7) + $_ / 10) } 1 .. 300;
my $prices = '[' . join(',', @p) . ']';
my @r = map { sprintf('%.5f', sin($_ / 3) / 50) } 1 .. 300;
my $returns = '[' . join(',', @r) . ']';
my $hi = '[' . join(',', map { $_ + 1 } @p) . ']';
my $lo = '[' . join(',', map { $_ - 1 } @p) . ']';

# every tool that reads arrays of numbers, on good arguments
my @good = (
    [calculate_sma => qq({"prices":$prices,"period":20})],
    [calculate_ema => qq({"prices":$prices,"period":12})],
    [calculate_rsi => qq({"prices":$prices})],
    [calculate_macd => qq({"prices":$prices})],
    [calculate_bollinger_bands => qq({"prices":$prices,"period":20,"std_dev":2})],
    [calculate_atr => qq({"high":$hi,"low":$lo,"close":$prices})],
    [calculate_volatility => qq({"returns":$returns})],
    [calculate_sharpe_ratio => qq({"returns":$returns,"risk_free_rate":0.02})],
    [calculate_sortino_ratio => qq({"returns":$returns})],
    [calculate_max_drawdown => qq({"prices":$prices})],
    [calculate_var => qq({"returns":$returns,"confidence":0.99})],
    [calculate_correlation_matrix => qq({"series":[{"symbol":"A","prices":$prices},{"symbol":"B","prices":$hi},{"prices":$lo,"symbol":"C"}]})],
    [calculate_correlation_matrix => qq({"price_series":{"A":$prices,"B":$hi,"S\\u00e9":$lo}})],
    [optimize_portfolio_weights => qq({"expected_returns":[0.1,0.12,0.08],"cov_matrix":[[0.04,0.01,0.0],[0.01,0.09,0.02],[0.0,0.02,0.0625]]})],
    [optimize_portfolio_weights => qq({"expected_returns":[0.1,0.12],"cov_matrix":[[0.04,0.01],[0.01,"x"]]})],
    [calculate_portfolio_metrics => qq({"weights":[0.5,0.3,0.2],"returns":[$returns,$returns,$returns]})],
    [detect_sma_crossover => qq({"prices":$prices,"short_window":5,"long_window":20})],
    [detect_support_resistance => qq({"prices":$prices,"lookback":5})],
);
for (@good) {
    my $b = same("$_->[0]: the same answer", call(@$_));
    ok $b && $b =~ /"isError":false/, "  answered" unless $_->[1] =~ /"x"/;
}

# numbers of every shape JSON allows, and what jansson refuses
my @numbers = qw(0 -0 0.0 -0.0 1 -1 1.5 -1.5 1e2 1E2 1e+2 1e-2 1.25e-3 0.1 0.3
    104.91 100.00 1e15 -1e15 1e16 1000000000000001 9007199254740993
    9223372036854775807 -9223372036854775808 9223372036854775808
    -9223372036854775809 1e400 -1e400 1e-400 4.9e-324 1.7976931348623157e308
    123456789012345678901234567890 0.000000000000000000000000000001
    3.141592653589793238462643383279 01 -01 00 1. .5 -.5 +1 - 1e 1e+ 0x10
    NaN Infinity -Infinity nan inf true false null 1.5.5 1e5e5 --1 1-1);
for my $n (@numbers) {
    same("a price of $n", call(calculate_sma => qq({"prices":[1,2,$n,4,5],"period":2})));
}

# what surrounds the numbers
my @around = (
    '[1,2,3,]', '[,1,2,3]', '[1 2 3]', '[1,,2]', '[1,2,3', '[]', '[1,"2",3]',
    '[1,null,3]', '[1,true,3]', '[1,[2],3]', '[1,{},3]', '[[1,2,3]]', '"1,2,3"',
    '{"a":1}', '3', 'null', "[1,\t2,\n3,\r4 ]", "[ 1 , 2 , 3 , 4 ]", "[1,\f2,3]",
    "[1,\x{a0}2,3]", "[1,2\x003]", "[1,2,3]\x00", '[1,2,3]]', '[1,2,3}',
);
for my $a (@around) {
    (my $shown = $a) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    same("prices $shown", call(calculate_sma => qq({"prices":$a,"period":2})));
}

# the message around the arguments
my $args = '{"prices":[1,2,3,4,5],"period":2}';
my @messages = (
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"prices":[4,5,6]}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"pri\\u0063es":[1,2,3,4]}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"pri\\u0063es":[4,5,6]}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":$args,"name":"calculate_sma"}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate\\u005fsma","arguments":$args}}),
    qq({"jsonrpc":"2.0","id":1,"params":{"name":"calculate_sma","arguments":$args},"method":"tools/call"}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"calculate_sma","arguments":$args}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"calculate_sma","arguments":$args}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args},"params":{}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args,"arguments":{}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","name":"x","arguments":$args}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","method":"ping","params":{"name":"calculate_sma","arguments":$args}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":[1,2,3]}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}} ),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}}x),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}}{}),
    qq(\x{ef}\x{bb}\x{bf}{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"note":"\x{ff}"}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"n\x{ff}":1}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"note":"\\ud800"}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"note":"a\\u0000b"}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"note\\u0000":1}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"note":"\x01"}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"deep":) . ('[' x 2046) . (']' x 2046) . '}}}',
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3],"deep":) . ('[' x 2047) . (']' x 2047) . '}}}',
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"deep":) . ('[' x 3000) . (']' x 3000) . qq(,"prices":[1,2,3]}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":{"prices":[1,2,3),
    '"just a string"', '42', '', ' ', '[]', '{}',
    qq([{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"calculate_ema","arguments":$args}}]),
    qq([{"jsonrpc":"2.0","id":1,"method":"ping","params":{"name":"calculate_sma","arguments":$args}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"calculate_rsi","arguments":{"prices":[1,2,1e400]}}}]),
    qq([{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}},{"jsonrpc":"2.0","id":2,"method":"initialize","params":{}}]),
    qq([{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate_sma","arguments":$args}}},1]),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"alpaca_market_stocks_snapshots","arguments":{"symbol":"AAPL","prices":[1,2]}}}),
    qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"no_such_tool","arguments":$args}}),
);
my $k = 0;
for my $m (@messages) {
    $k++;
    (my $shown = substr($m, 0, 120)) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    same("message $k: $shown", $m);
    next unless $m =~ /^\[/;
    # and as a batch of 2025-03-26, which sent no version header
    my $version = delete $h{'MCP-Protocol-Version'};
    same("message $k without a version header", $m);
    $h{'MCP-Protocol-Version'} = $version;
}

# the caps: values of an array, of all series, a batch's work
{
    my $many = '[' . join(',', map { 100 + $_ % 7 } 1 .. 100_001) . ']';
    same('100001 prices: over the cap', call(calculate_sma => qq({"prices":$many})));
    my $long = '[' . join(',', map { 100 + $_ % 7 } 1 .. 70_000) . ']';
    same('3 x 70000 prices in all: over the cap',
         call(calculate_correlation_matrix => qq({"price_series":{"A":$long,"B":$long,"C":$long}})));
    my $r = '[' . join(',', map { ($_ % 5 - 2) / 100 } 1 .. 70_000) . ']';
    same('3 x 70000 returns in all: over the cap',
         call(calculate_portfolio_metrics => qq({"weights":[0.25,0.25,0.5],"returns":[$r,$r,$r]})));
    my $p = '[' . join(',', map { 10 + $_ % 13 } 1 .. 9500) . ']';
    my $batch = '[' . join(',', map { call(calculate_sma => qq({"prices":$p})) } 1 .. 32) . ']';
    # batches are 2025-03-26's, which sent no version header
    my $version = delete $h{'MCP-Protocol-Version'};
    same('a batch of 32 calls of 9500 prices: over the work of one request', $batch);
    $p = '[' . join(',', map { 10 + $_ % 13 } 1 .. 9000) . ']';
    $batch = '[' . join(',', map { call(calculate_sma => qq({"prices":$p})) } 1 .. 32) . ']';
    same('a batch of 32 calls of 9000 prices: within it', $batch);
    $h{'MCP-Protocol-Version'} = $version;
    same('out of range: 1e16', call(calculate_sma => '{"prices":[1,2,1e16,4]}'));
    same('an ATR of 3 x 100000', call(calculate_atr => '{"high":[' . join(',', (2) x 100_000)
         . '],"low":[' . join(',', (1) x 100_000) . '],"close":[' . join(',', (1.5) x 100_000) . ']}'));
}

# an exponent too long to keep, after a fraction long enough to cancel
# what was kept of it: 10^900000 is no number jansson takes, and it must
# not come out as 1 (the exponent's first digits against the fraction's)
{
    my $tiny = '0.' . ('0' x 99999) . '1';
    for my $e ('1000000', '1000001', '1234567', '100000', '99999', '9999999999') {
        same("prices [1, 0.(99999 zeros)1e$e]",
             call(calculate_sma => qq({"prices":[1,${tiny}e$e],"period":1})));
    }
    same('prices [1, 0.(99990 zeros)1e99995]',
         call(calculate_sma => '{"prices":[1,0.' . ('0' x 99990) . '1e99995],"period":1}'));
}

# mutations of a valid call, byte by byte
{
    srand(41);
    my $base = call(calculate_sma => '{"prices":[104.91,-2.5e1,0.001,17,3E+2,0,-0.0,88.125],"period":3}');
    my @alphabet = (split(//, '0123456789-+.eE,[]{}":\\ ntrufalsx'), "\t", "\n", "\x00", "\xff", "\x{c3}");
    my $bad = 0;
    for my $i (1 .. 1500) {
        my $m = $base;
        for (1 .. 1 + int rand 3) {
            my $at = 60 + int rand(length($m) - 60);
            my $c = $alphabet[rand @alphabet];
            my $op = int rand 3;
            substr($m, $at, 1) = $c if $op == 0;
            substr($m, $at, 0) = $c if $op == 1;
            substr($m, $at, 1) = '' if $op == 2;
        }
        defined same("mutation $i", $m, 1) or $bad++;
        last if $bad > 5;
    }
    is $bad, 0, '1500 mutations of a call: the same answers';
}

# the arrays were read as numbers where they could be, and never where jansson was asked
{
    my @log = split /\n/, do { local (@ARGV, $/) = ($s->dir . '/logs/numbers.log'); <> };
    my @read = grep { m{^/mcp-read (\d+)} && $1 > 0 } @log;
    my @jansson = grep { m{^/mcp-jansson (\d+)} && $1 > 0 } @log;
    cmp_ok scalar @read, '>', 40, 'arrays read as numbers in ' . scalar(@read) . ' of the calls';
    is scalar @jansson, 0, '  none with mcp_read_numbers off';
    my ($sma) = grep { m{^/mcp-read } } @log;
    like $sma, qr{^/mcp-read 300$}, '  300 prices for the first SMA';
}

note "$cases bodies, $same answered alike, $differ not";
close $_ for values %conn;
$s->stop;
log_is_clean($s);

done_testing;
