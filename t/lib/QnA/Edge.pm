package QnA::Edge;

# The edge of conf/production/edge.conf on loopback: a plain nginx (no
# module of ours) in front of gateway instances (QnA::Stack objects run
# with production => {...}).  A QnA::Stack in all but what it starts: its
# http() goes through the edge.  Perl core modules only.

use strict;
use warnings;
use Time::HiRes qw(sleep time);
use QnA::Stack;

our @ISA = ('QnA::Stack');

# new(name => 'edge', gateways => [$a, $b], server_name => 'qna.test',
#     trusted_proxy => '127.0.0.1')
sub new {
    my ($class, %o) = @_;
    return $class->SUPER::new(%o, redis => 0, down => {});
}

sub write_configs {
    my ($self) = @_;
    my $d = $self->{dir};
    my @gw = @{ $self->{gateways} };
    die "edge.conf names two instances" unless @gw == 2;
    my %addr;
    for my $i (0, 1) {
        my $port = $gw[$i]->port;
        $addr{ ('GATEWAY_A', 'GATEWAY_B')[$i] } = "127.0.0.1:$port" . ($self->{down}{$port} ? ' down' : '');
    }
    QnA::Stack::write_file("$d/nginx.conf", $self->render('production/edge.conf',
        RUN => $d,
        LOGS => "$d/logs",
        LISTEN => "127.0.0.1:$self->{port}",
        SERVER_NAME => $self->{server_name},
        TRUSTED_PROXY => $self->{trusted_proxy} // '127.0.0.1',
        %addr,
    ));
}

sub start {
    my ($self) = @_;
    $self->start_nginx;
    return $self;
}

# an instance marked "down" (or back), and the edge reloaded: returns
# once every worker of the old configuration has exited, so that no
# request is on its way to that instance any more
sub set_down {
    my ($self, $stack, $down) = @_;
    $self->{down}{ $stack->port } = $down;
    $self->write_configs;
    my ($master, @old) = $self->nginx_pids;
    $self->reload_nginx;
    my $until = time + 30;
    sleep 0.01 while time < $until && grep { !QnA::Stack::exited($_) } @old;
    die "the edge's old workers did not exit" if grep { !QnA::Stack::exited($_) } @old;
}

# a request's line in the edge's access log: nginx writes it once the
# answer is sent, so the client may be quicker; waits for it a little
sub log_line {
    my ($self, $id) = @_;
    my $until = time + 5;
    while (1) {
        my $line = $self->access_log->{ $id // '' };
        return $line if $line || time > $until;
        sleep 0.02;
    }
}

# the edge's access log: one hash a request, by request id
sub access_log {
    my ($self) = @_;
    my %by;
    open my $in, '<', "$self->{dir}/logs/access.log" or return {};
    while (my $line = <$in>) {
        my $j = eval { QnA::Stack::json()->decode($line) } or next;
        $by{ $j->{request_id} } = $j;
    }
    return \%by;
}

1;
