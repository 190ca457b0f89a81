#!/usr/bin/perl
# The migration runner: applies migrations/NNNN_description.sql in order,
# each in one transaction with its row in schema_migrations, and only those
# not applied yet (re-running is a no-op).  A file whose name does not
# follow NNNN_description.sql is refused; so is a gap or a repeated number.
#
#   perl migrations/migrate.pl [--dir DIR] [psql connection options...]
#   e.g. perl migrations/migrate.pl -h /path/to/socket/dir -p 5432 -d qna
#
# Perl core and psql (postgresql-client) only.

use strict;
use warnings;
use FindBin;

my $dir = $FindBin::Bin;
if (@ARGV >= 2 && $ARGV[0] eq '--dir') {
    (undef, $dir) = splice @ARGV, 0, 2;
}
my @conn = @ARGV;

sub psql {
    my (@args) = @_;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-A', '-t', @conn, @args
            or die "exec psql: $!";
    }
    local $/;
    my $text = <$out> // '';
    close $out;
    die "psql failed: $text" if $?;
    return $text;
}

opendir my $dh, $dir or die "$dir: $!";
my @files = sort grep { /\.sql$/ } readdir $dh;
closedir $dh;

my (%seen, $expect);
$expect = 1;
for my $f (@files) {
    my ($n) = $f =~ /^(\d{4})_[a-z0-9_]+\.sql$/
        or die "$f: a migration is named NNNN_description.sql\n";
    die "$f: migration $n is repeated\n" if $seen{$n}++;
    die "$f: expected migration " . sprintf('%04d', $expect) . " first\n" if $n != $expect;
    $expect++;
}

psql('-c', 'CREATE TABLE IF NOT EXISTS schema_migrations ('
         . 'version integer PRIMARY KEY, name text NOT NULL, '
         . 'applied_at timestamptz NOT NULL DEFAULT now())');

my %done = map { $_ => 1 } split /\s+/, psql('-c', 'SELECT version FROM schema_migrations');

my $applied = 0;
for my $f (@files) {
    my ($n) = $f =~ /^(\d{4})/;
    next if $done{$n + 0};
    # the file and its record, together or not at all
    psql('-1', '-f', "$dir/$f", '-c',
         sprintf("INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')", $n, $f));
    print "applied $f\n";
    $applied++;
}

print $applied ? "$applied migration(s) applied\n" : "nothing to apply: the schema is current\n";
