package QnA::MockHTTP;
# What every mock of an outside HTTP service in t/mock shares: a loopback
# listener with a process per connection, keep-alive request reading
# (libcurl reuses its connections), replies, and an append-only log that
# concurrent processes write whole lines to.  The mock stops when its
# parent (the test) is gone, or after 10 minutes.  Perl core only.

use strict;
use warnings;
use IO::Socket::INET;
use Fcntl qw(:flock);
use Exporter 'import';

our @EXPORT_OK = qw(serve_forever reply logline);

my %reason = (200 => 'OK', 401 => 'Unauthorized', 403 => 'Forbidden',
              404 => 'Not Found', 422 => 'Unprocessable Entity',
              429 => 'Too Many Requests', 500 => 'Internal Server Error',
              503 => 'Service Unavailable', 529 => 'Overloaded');

# handler($c, $method, $target, \%headers, $body): false closes the connection
sub serve_forever {
    my ($port, $backlog, $handler) = @_;
    my $parent = getppid;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                    Listen => $backlog, ReuseAddr => 1, Proto => 'tcp')
        or die "listen $port: $!";

    $SIG{CHLD} = 'IGNORE';
    $SIG{ALRM} = sub { exit 0 };
    alarm 600;

    while (1) {
        my $c = $srv->accept or next;
        exit 0 if getppid != $parent;
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $srv;
            requests($c, $handler);
            exit 0;
        }
        close $c;
    }
}

sub requests {
    my ($c, $handler) = @_;
    $c->autoflush(1);
    while (1) {
        local $/ = "\r\n";
        my $line = <$c>;
        return unless defined $line;
        $line =~ s/\r\n$//;
        my ($method, $target) = split / /, $line;
        my %h;
        while (defined(my $l = <$c>)) {
            $l =~ s/\r\n$//;
            last if $l eq '';
            my ($k, $v) = split /:\s*/, $l, 2;
            $h{lc $k} = $v;
        }
        my $body = '';
        read($c, $body, $h{'content-length'}) if $h{'content-length'};
        $handler->($c, $method, $target, \%h, $body) or return;
    }
}

sub reply {
    my ($c, $status, $body, %h) = @_;
    my $type = delete $h{type} // 'application/json; charset=utf-8';
    my $head = "HTTP/1.1 $status " . ($reason{$status} // 'X') . "\r\n"
             . "Content-Type: $type\r\nContent-Length: " . length($body) . "\r\n";
    $head .= "$_: $h{$_}\r\n" for sort keys %h;
    print $c $head, "\r\n", $body;
}

sub logline {
    my ($file, $line) = @_;
    open my $fh, '>>', $file or return;
    flock $fh, LOCK_EX;
    print $fh "$line\n";
    close $fh;
}

1;
