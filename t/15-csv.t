#!/usr/bin/perl
# The csv vendor: a folder of the user's own daily OHLCV files, read with
# the configuration.  Yahoo-style exports (BOM, CRLF, "Adj Close", null
# rows) and files with columns in any order are read; a file that is not
# OHLCV stops nginx -t with its name and line.

use strict;
use warnings;
use Test::More;
use File::Path qw(make_path);
use QnA::Stack;
use QnA::Check;

sub folder {
    my ($dir, %files) = @_;
    make_path($dir);
    QnA::Stack::write_file("$dir/$_", $files{$_}) for keys %files;
}

my $yahoo = "\xef\xbb\xbfDate,Open,High,Low,Close,Adj Close,Volume\r\n"
          . join('', map { my $c = 150 + $_; "2026-10-" . sprintf('%02d', $_)
                           . ",$c,@{[ $c + 2 ]},@{[ $c - 1 ]},$c.5,1.0,"
                           . (1000000 * $_) . "\r\n" } 1 .. 20)
          . "2026-10-21,null,null,null,null,null,null\r\n";
my $own = "volume,close,low,high,open,date,vwap,trades\n"
        . join('', map { "5000000,@{[ 300 + $_ ]},@{[ 299 + $_ ]},@{[ 302 + $_ ]},@{[ 300 + $_ ]},2026-10-@{[ sprintf('%02d', $_) ]},@{[ 300.5 + $_ ]},42\n" } reverse 1 .. 20);
my $btc = "date,open,high,low,close,volume\n"
        . join('', map { "2026-10-" . sprintf('%02d', $_) . ",6000$_,6100$_,5900$_,6050$_,12\n" } 1 .. 20);

my $s = QnA::Stack->new(name => 'csv', workers => 1,
                        nginx_http => "    mcp_market_data csv;\n    mcp_csv_folder data;\n"
                                      . "    mcp_tool_role trading viewer;\n");
folder($s->dir . '/data', 'AAPL.csv' => $yahoo, 'msft.csv' => $own, 'BTC-USD.csv' => $btc,
       'notes.txt' => 'not a CSV file');
$s->start;

{
    my $r = $s->tool('alpaca_market_stocks_bars', { symbol => 'AAPL', limit => 3 });
    is $r->{metadata}{source}, 'csv', 'bars from the csv vendor, labelled csv';
    is_deeply [map { $_->{c} } @{ $r->{data}{bars} }], [168.5, 169.5, 170.5], '  the last three closes, the null row skipped';
    is $r->{data}{bars}[-1]{t}, '2026-10-20T05:00:00Z', '  dated by session';
    is $r->{data}{bars}[-1]{v}, 20000000, '  volume';

    my $m = $s->tool('alpaca_market_stocks_bars', { symbol => 'MSFT', limit => 20 });
    is scalar(@{ $m->{data}{bars} }), 20, 'columns in any order, rows in any order: 20 bars';
    is $m->{data}{bars}[0]{t}, '2026-10-01T05:00:00Z', '  sorted oldest first';
    is $m->{data}{bars}[0]{vw}, 301.5, '  vwap read';
    is $m->{data}{bars}[0]{n}, 42, '  trades read';

    my $c = $s->tool('alpaca_market_crypto_snapshots', { symbols => ['BTC/USD'] });
    is $c->{data}{'BTC/USD'}{dailyBar}{c}, 605020, 'BTC-USD.csv is the pair BTC/USD';

    my $a = $s->tool('alpaca_market_screener_most_actives', { limit => 5 });
    is_deeply [map { $_->{symbol} } @{ $a->{data}{most_actives} }], ['AAPL', 'MSFT'], 'most actives: the stocks only, by volume';

    my $e = $s->mcp('tools/call', { name => 'alpaca_market_stocks_bars', arguments => { symbol => 'TSLA' } });
    is $e->{result}{structuredContent}{error}{code}, 'DATA_UNAVAILABLE', 'a symbol without a file: DATA_UNAVAILABLE';
    like $e->{result}{structuredContent}{error}{message}, qr/"TSLA" has no file/, '  saying so';

    my $t = $s->tool('alpaca_trading_account');
    is $t->{metadata}{source}, 'sample', 'the trading tools stay on the sample book';

    open my $in, '<', $s->dir . '/logs/nginx.stderr';
    my $start = do { local $/; <$in> };
    like $start, qr/AAPL\.csv": 1 rows with empty or null fields skipped/, 'the skipped row is said at start';
}

{
    my $r = $s->analyze('What is the 10-day volatility of MSFT?');
    is $r->{status}, 200, '/analyze on the csv vendor' or diag $r->{body};
    is $r->{json}{data}{metadata}{data_sources}[0], 'csv', '  its data source is csv';
}

is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg in the error log';
$s->stop;

# what nginx -t says about files that are not OHLCV
my $n = 0;
sub refused {
    my ($files, $re, $what, $http) = @_;
    my $t = QnA::Stack->new(name => 'csv-bad' . ++$n,
        nginx_http => $http // "    mcp_market_data csv;\n    mcp_csv_folder data;\n");
    folder($t->dir . '/data', %$files);
    my $out = $t->nginx_test;
    ok $? != 0, "refused: $what";
    like $out, $re, '  saying why' or diag $out;
}

refused({ 'AAPL.csv' => "Date,Open,High,Low,Close\n2026-10-01,1,2,0.5,1.5\n2026-10-02,1,2,zero,1.5\n" },
        qr/AAPL\.csv", line 3: not a row/, 'a value that is not a number');
refused({ 'AAPL.csv' => "Date,Open,High,Low\n2026-10-01,1,2,0.5\n" },
        qr/the header has no "close" column/, 'no close column');
refused({ 'AAPL.csv' => "Date,Open,High,Low,Close\n2026-10-01,1,2,0.5,1.5\n2026-10-01,1,2,0.5,1.5\n" },
        qr/holds one date twice/, 'a date twice');
refused({ 'AAPL.csv' => "Date,Open,High,Low,Close\n10/01/2026,1,2,0.5,1.5\n" },
        qr/line 2/, 'a date that is not YYYY-MM-DD');
refused({ 'A B.csv' => "Date,Open,High,Low,Close\n2026-10-01,1,2,0.5,1.5\n" },
        qr/not a ticker symbol/, 'a file name that is not a symbol');
refused({ 'README' => "nothing" }, qr/holds no \*\.csv file/, 'an empty folder');
refused({}, qr/needs "mcp_csv_folder"/, 'csv without a folder', "    mcp_market_data csv;\n");

done_testing;
