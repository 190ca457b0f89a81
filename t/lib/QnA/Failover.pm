package QnA::Failover;

# Two gateway instances of conf/production/ behind its edge, on one Redis
# and one PostgreSQL, under a bounded load; something done to an instance
# in the middle of it (killed, or rolled), and what the clients saw,
# request by request.  Shared by t/34-edge-failover.t and bench/failover.
# Perl core modules only.

use strict;
use warnings;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Edge;
use QnA::JWT qw(jwt);

our $SERVER_NAME = 'qna.example.test';
our $ISSUER = 'https://id.example.test';
our $AUDIENCE = 'qna-api';

# new(name => 'failover'): A starts Redis and PostgreSQL (migrated), B
# shares them and A's keys; each has its own sandboxd; the edge in front
sub new {
    my ($class, %o) = @_;
    my $name = $o{name} || 'failover';
    my %p = (server_name => $SERVER_NAME, issuer => $ISSUER, audience => $AUDIENCE);
    # the workers run as www-data: Redis's socket must let them in
    my $a = QnA::Stack->new(name => "$name-a", production => {%p}, postgres => 1,
                            redis_perm => '777', log_level => 'warn');
    $a->start;
    my $b = QnA::Stack->new(name => "$name-b", production => { %p, secrets => $a->{secrets} },
                            postgres_of => $a, redis_sock => $a->{redis_sock});
    $b->start;
    my $edge = QnA::Edge->new(name => "$name-edge", gateways => [$a, $b],
                              server_name => $SERVER_NAME);
    $edge->start;

    open my $in, '<', "$a->{secrets}/jwt.key" or die "jwt.key: $!";
    chomp(my $key = <$in>);
    close $in;

    my $self = bless { a => $a, b => $b, edge => $edge, key => $key }, $class;
    $self->wait_ready($_) for $a, $b;
    return $self;
}

sub a { $_[0]{a} }
sub b { $_[0]{b} }
sub edge { $_[0]{edge} }

# the edge first, then B, then A (whose Redis and PostgreSQL B uses)
sub DESTROY {
    my ($self) = @_;
    delete $self->{$_} for qw(edge b a);
}

# a token as the identity provider would write it
sub token {
    my ($self, $sub, $role) = @_;
    my $now = time;
    return jwt($self->{key}, { sub => $sub, role => $role // 'viewer', iss => $ISSUER,
                               aud => $AUDIENCE, iat => int($now), exp => int($now) + 900 });
}

# the headers of a client of the public name, with a token
sub headers {
    my ($self, $sub, %h) = @_;
    return { Host => $SERVER_NAME, ($sub ? (Authorization => 'Bearer ' . $self->token($sub, delete $h{role})) : ()), %h };
}

# an instance's internal listener (/ready, /health, /metrics)
sub internal {
    my ($self, $stack, $path) = @_;
    local $stack->{port} = $stack->internal_port;
    return $stack->http(GET => $path);
}

# /ready 200: sandboxd, Redis and PostgreSQL connected on the worker asked
# (asked a few times: each worker keeps its own connections); nginx may
# listen on the public address a moment before the internal one
sub wait_ready {
    my ($self, $stack) = @_;
    my ($until, $ok) = (time + 20, 0);
    while (time < $until && $ok < 4) {
        my $r = eval { $self->internal($stack, '/ready') } || {};
        $ok = ($r->{status} // 0) == 200 ? $ok + 1 : 0;
        sleep 0.05;
    }
    die "instance on port @{[ $stack->port ]} not ready" unless $ok >= 4;
}

# the questions of the load: planned by the builtin planner, each run
# (Cache-Control: no-cache), never twice the same in a row
my @SYMBOLS = qw(AAPL MSFT GOOGL AMZN NVDA META TSLA AMD INTC IBM ORCL NFLX JPM KO PEP SPY QQQ);
my @QUESTIONS = (
    'What is the %d-day volatility of %s?',
    'What is the %d-day RSI of %s?',
    'What is the %d-day simple moving average of %s?',
);

sub question {
    my ($n) = @_;
    my $q = $QUESTIONS[$n % @QUESTIONS];
    return sprintf($q, 10 + ($n * 7) % 40, $SYMBOLS[int($n / @QUESTIONS) % @SYMBOLS]);
}

# load(clients => 4, requests => 100, at => 200, event => sub {...}):
# each client sends its requests one after the other through the edge
# (every tenth a GET /health, the rest POST /analyze as one of 100 users);
# when "at" requests are answered, event runs (its return: a hash of what
# it measured).  Every request is recorded: client, kind, start, end,
# status, error code, request id, execution id, and the instance that
# answered (from the edge's access log).
sub load {
    my ($self, %o) = @_;
    my $clients = $o{clients} // 4;
    my $requests = $o{requests} // 100;
    my $edge = $self->{edge};
    my $dir = $edge->dir;
    my $run = ++$self->{runs};
    my $json = QnA::Stack::json();

    # the tokens are made before the clock starts
    my @tokens = map { 'Bearer ' . $self->token(sprintf('user-%02d', $_)) } 0 .. 99;

    my @kids;
    for my $c (0 .. $clients - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', "$dir/load.$run.$c" or die "load: $!";
            $out->autoflush(1);
            for my $i (0 .. $requests - 1) {
                my $n = $run * 100000 + $c * $requests + $i;
                my $health = $i % 10 == 9;
                my %rec = (client => $c, i => $i, kind => $health ? 'health' : 'analyze', start => time);
                my $r = eval {
                    $health
                        ? $edge->http(GET => '/health', headers => { Host => $SERVER_NAME }, timeout => 60)
                        : $edge->http(POST => '/analyze', timeout => 60,
                                      json => { question => question($n) },
                                      headers => { Host => $SERVER_NAME, 'Cache-Control' => 'no-cache',
                                                   Authorization => $tokens[($c * 25 + $i) % @tokens] });
                } || {};
                $rec{end} = time;
                $rec{status} = $r->{status} // 0;
                $rec{request_id} = $r->{headers}{'x-request-id'} // '';
                my $error = ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error} : {};
                $rec{code} = $error->{code} // '';
                $rec{message} = $error->{message} // '';
                $rec{execution_id} = ref $r->{json} eq 'HASH' && ref $r->{json}{data} eq 'HASH'
                                   ? $r->{json}{data}{execution_id} // '' : '';
                print $out $json->encode(\%rec), "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }

    # the clients' progress, until "at" requests are answered
    my $count = sub {
        my $n = 0;
        for my $c (0 .. $clients - 1) {
            open my $in, '<', "$dir/load.$run.$c" or next;
            $n++ while <$in>;
        }
        return $n;
    };
    my $t0 = time;
    my (%event, $error);
    if ($o{event}) {
        my $until = time + 120;
        sleep 0.005 while time < $until && $count->() < $o{at};
        %event = eval { $o{event}->() };
        $error = $@;
    }

    # bounded: clients that are still there after two minutes are ended
    my $until = time + 120;
    my %left = map { $_ => 1 } @kids;
    while (%left && time < $until) {
        for my $pid (keys %left) {
            delete $left{$pid} if waitpid($pid, WNOHANG) == $pid;
        }
        sleep 0.02;
    }
    for my $pid (keys %left) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    die $error if $error;

    # who answered: the last instance the edge tried (the edge writes a
    # line once its answer is sent: the last may come a moment later)
    my @records;
    for my $c (0 .. $clients - 1) {
        open my $in, '<', "$dir/load.$run.$c" or next;
        push @records, map { $json->decode($_) } <$in>;
    }
    my $log = $edge->access_log;
    my $wait = time + 5;
    while (time < $wait && grep { $_->{request_id} ne '' && !$log->{ $_->{request_id} } } @records) {
        sleep 0.05;
        $log = $edge->access_log;
    }
    for my $rec (@records) {
        my $line = $log->{ $rec->{request_id} } || {};
        my @tried = split /, /, $line->{upstream_addr} // '';
        $rec->{tried} = \@tried;
        $rec->{upstream} = $tried[-1] // '';
        # when the edge had sent the answer: the client reads it a little
        # later, on a loaded machine some milliseconds later
        $rec->{answered} = $line->{msec} // $rec->{end};
    }
    return { records => \@records, event => \%event, t0 => $t0,
             expected => $clients * $requests, stragglers => scalar keys %left };
}

# the figures of a run around its event (from .. to: the instance's end,
# from the signal to the moment all its processes had exited)
sub figures {
    my ($self, $run, $stack) = @_;
    my $addr = '127.0.0.1:' . $stack->port;
    my ($from, $to) = @{ $run->{event} }{qw(from to)};
    my @r = @{ $run->{records} };
    my @failed = grep { $_->{status} != 200 } @r;
    # on the instance when it ended: sent to it (the last it was tried),
    # begun before it was gone, not answered by the edge before the signal
    my @in_flight = grep { $_->{upstream} eq $addr && $_->{start} < $to && $_->{answered} > $from } @r;
    my @survivor = grep { $_->{status} == 200 && $_->{upstream} ne $addr && $_->{end} > $from } @r;
    my @after = grep { $_->{start} > $to } @r;
    my ($first) = sort { $a <=> $b } map { $_->{end} - $from } @survivor;
    my ($first_new) = sort { $a <=> $b } map { $_->{end} - $from } grep { $_->{status} == 200 } @after;
    my ($last_fail) = sort { $b <=> $a } map { $_->{end} - $from } @failed;
    my $span = (sort { $b <=> $a } map { $_->{end} } @r)[0] - $run->{t0};
    return {
        requests => scalar @r,
        analyze => scalar(grep { $_->{kind} eq 'analyze' } @r),
        health => scalar(grep { $_->{kind} eq 'health' } @r),
        failed => \@failed,
        in_flight => \@in_flight,
        after => \@after,
        first_survivor_ms => defined $first ? 1000 * $first : undef,
        first_new_ms => defined $first_new ? 1000 * $first_new : undef,
        last_failure_ms => defined $last_fail ? 1000 * $last_fail : undef,
        gone_ms => 1000 * ($to - $from),
        seconds => $span,
        answered_by => { map { my $s = $_; ($s->port => scalar grep { $_->{status} == 200 && $_->{upstream} eq '127.0.0.1:' . $s->port } @r) } $self->{a}, $self->{b} },
    };
}

# the figures in one line each, for diag and bench/failover
sub report {
    my ($self, $what, $f) = @_;
    my %by = %{ $f->{answered_by} };
    return sprintf("%s: %d requests (%d POST /analyze, %d GET /health) in %.1f s; "
                   . "%d failed; %d in flight on the instance when it went (gone %.1f ms after the signal); "
                   . "answered by A %d, B %d; first answer from the survivor %s after the signal, "
                   . "first to a request begun after it %s; last failure %s",
                   $what, $f->{requests}, $f->{analyze}, $f->{health}, $f->{seconds},
                   scalar @{ $f->{failed} }, scalar @{ $f->{in_flight} }, $f->{gone_ms},
                   $by{ $self->{a}->port } // 0, $by{ $self->{b}->port } // 0,
                   ms($f->{first_survivor_ms}), ms($f->{first_new_ms}), ms($f->{last_failure_ms}));
}

sub ms { defined $_[0] ? sprintf('%.1f ms', $_[0]) : 'none' }

# SIGKILL to an instance's nginx, master and workers
sub kill_instance {
    my ($self, $stack) = @_;
    my $from = time;
    $stack->kill_nginx;
    return (from => $from, to => time);
}

# the roll: out of the edge (reload, its old workers gone), then nginx
# -s quit and sandboxd drained.  "drain => 0" skips the edge: a plain
# SIGQUIT under load, for bench/failover to show what it costs
sub roll_instance {
    my ($self, $stack, %o) = @_;
    my $t = time;
    $self->{edge}->set_down($stack, 1) if $o{drain} // 1;
    my $from = time;
    my $status = $stack->stop_nginx;
    my $to = time;
    $stack->stop_sandboxd;
    return (drained => $from - $t, from => $from, to => $to, status => $status);
}

# an instance started again in its folder (its spool is taken over) and
# put back into the edge; true once the edge sends to it again (a failed
# one is tried after fail_timeout)
sub restart_instance {
    my ($self, $stack) = @_;
    my $edge = $self->{edge};
    # a crash leaves the relay's socket behind: nginx does not bind over it
    unlink $stack->dir . '/private/mcp.sock';
    $stack->start_sandboxd unless $stack->{pids}{sandboxd};
    $stack->start_nginx;
    $self->wait_ready($stack);
    $edge->set_down($stack, 0) if $edge->{down}{ $stack->port };
    my $addr = '127.0.0.1:' . $stack->port;
    my $until = time + 15;
    while (time < $until) {
        my $r = $edge->http(GET => '/health', headers => { Host => $SERVER_NAME });
        return 1 if (($edge->log_line($r->{headers}{'x-request-id'}) || {})->{upstream_addr} // '') eq $addr;
        sleep 0.1;
    }
    return 0;
}

1;
