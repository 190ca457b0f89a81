package QnA::Stack;

# The whole system on loopback: sandboxd and nginx with the module, started
# from the templates in conf/, in a folder of their own under the runtime
# folder.  Used by every test and by `make run`.  Perl core modules only.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $RUNTIME = $ENV{RUNTIME} || "$ROOT/.runtime";

# QNA_SANITIZE=1 (make test-asan): the module and sandboxd of the build
# with AddressSanitizer and UndefinedBehaviorSanitizer, each stopping at
# its first report; stop() fails the test whose logs hold one
our $SANITIZE = $ENV{QNA_SANITIZE} ? 1 : 0;
our $BUILD = $SANITIZE ? "$RUNTIME/build-asan" : "$RUNTIME/build";
our $NGINX = '/usr/sbin/nginx';

# Beyond the defaults: a stack frame used after its return, a string
# function reading past the string.
my $ASAN_OPTIONS = 'halt_on_error=1:detect_stack_use_after_return=1'
                 . ':strict_string_checks=1';
my $UBSAN_OPTIONS = 'halt_on_error=1:print_stacktrace=1';

# Debian's nginx was not built with the sanitizers: their runtime, the one
# the module links, must come first in it.  Leaks are not looked for in
# nginx (its pools are freed at exit in ways LeakSanitizer misreads); in
# sandboxd they are.  A script over its memory limit must see malloc fail
# (MemoryError), not the allocator end the process.
sub sanitizer_env {
    my ($what) = @_;
    return () unless $SANITIZE;
    if ($what eq 'nginx') {
        my ($asan) = `ldd $BUILD/nginx/objs/ngx_http_qna_module.so`
            =~ m{libasan\.so\S* => (\S+)};
        die "the module of $BUILD links no libasan: make build-asan" unless $asan;
        return (LD_PRELOAD => $asan,
                ASAN_OPTIONS => "detect_leaks=0:$ASAN_OPTIONS",
                UBSAN_OPTIONS => $UBSAN_OPTIONS);
    }
    if ($what eq 'sandboxd') {
        return (ASAN_OPTIONS => "detect_leaks=1:allocator_may_return_null=1"
                                . ":$ASAN_OPTIONS",
                UBSAN_OPTIONS => $UBSAN_OPTIONS);
    }
    return ();
}

# what a sanitizer writes when it finds something, or cannot look
my $SANITIZER_REPORT = qr/^(?:==\d+==)?ERROR: \w+Sanitizer|: runtime error: |^SUMMARY: \w+Sanitizer|Sanitizer has encountered a fatal error/m;

# nginx -t on a stack's configuration: its output, $? as nginx left it (a
# sanitizer's report in the output fails the test)
sub nginx_test {
    my ($self) = @_;
    local %ENV = (%ENV, sanitizer_env('nginx'));
    my $out = `$NGINX -t -p $self->{dir} -c $self->{dir}/nginx.conf 2>&1`;
    my $status = $?;
    Test::More::unlike($out, $SANITIZER_REPORT, 'nginx -t: no sanitizer report')
        if $SANITIZE && $out =~ $SANITIZER_REPORT;
    $? = $status;
    return $out;
}

my $json = JSON::PP->new->utf8->canonical->allow_nonref;

sub json { $json }

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# new(name => 'errors', workers => 1, port => N, execute => 1,
#     sandboxd => {max_active => 1, ...}, nginx_http => '...directives...',
#     foreground => 0)
#
# Several instances share one Redis (redis_sock => $first->{redis_sock};
# redis_perm => 777 on the first lets workers of another user in) and one
# PostgreSQL (postgres_of => $first: its server and database, started and
# migrated by the first).  production => {...} runs the instance from
# conf/production/ instead (see write_production).
# and, to run other binaries than the build's (t/33 runs a package's):
# module => 'load_module's argument', nginx_user => 'www-data www-data',
# sandboxd_cmd => [wrapper ..., '/path/to/sandboxd']
sub new {
    my ($class, %o) = @_;
    my $name = $o{name} || 'test';
    my $dir = $o{dir} || "$RUNTIME/t/$name.$$";
    remove_tree($dir) unless $o{keep};
    make_path("$dir/logs", "$dir/tmp", "$dir/spool");

    my $pg_of = $o{postgres_of};
    my $self = bless {
        %o,
        name => $name,
        dir => $dir,
        # a Redis of its own, unless told to share one (redis_sock) or none
        redis => $o{redis} // 1,
        redis_sock => $o{redis_sock} // "$dir/redis.sock",
        redis_shared => defined $o{redis_sock},
        postgres => $o{postgres} || ($pg_of ? 1 : 0),
        postgres_shared => $pg_of ? 1 : 0,
        pg_dir => $pg_of ? $pg_of->pg_dir : "$dir/pg",
        pg_port => $pg_of ? $pg_of->{pg_port} : $o{postgres} ? free_port() : undef,
        port => $o{port} || free_port(),
        workers => $o{workers} || 2,
        pids => {},
        owner => $$,
    }, $class;

    $self->write_configs;
    return $self;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{port} }

sub render {
    my ($self, $file, %vars) = @_;
    open my $in, '<', "$ROOT/conf/$file" or die "$file: $!";
    local $/;
    my $text = <$in>;
    close $in;
    $text =~ s/\@([A-Z_]+)\@/exists $vars{$1} ? $vars{$1} : die "no \@$1\@ in $file"/ge;
    return $text;
}

sub write_file {
    my ($path, $text) = @_;
    open my $out, '>', $path or die "$path: $!";
    print $out $text;
    close $out;
}

sub write_configs {
    my ($self) = @_;
    return $self->write_production if $self->{production};
    my $d = $self->{dir};

    # /execute needs a manager by default; the tests run scripts as
    # anonymous viewers unless they ask for the default (execute_role => '')
    my $extra = '';
    if ($self->{execute} // 1) {
        my $role = $self->{execute_role} // 'viewer';
        $extra .= "        location = /execute {\n"
                . ($role ne '' ? "            qna_auth_role $role;\n" : '')
                . "            qna_execute;\n        }\n\n";
    }
    $extra .= $self->{locations} // '';

    my $user = $self->{nginx_user} ? "user $self->{nginx_user};"
             : $> == 0 ? 'user root root;' : '';

    write_file("$d/nginx.conf", $self->render('nginx.conf.in',
        MODULE => $self->{module} // "$BUILD/nginx/objs/ngx_http_qna_module.so",
        WORKERS => $self->{workers},
        RUN => $d,
        LOG_LEVEL => $self->{log_level} // 'info',
        USER => $user,
        PORT => $self->{port},
        UI => "$ROOT/ui",
        EXTRA_LOCATIONS => $extra,
        EXTRA_HTTP => ($self->{nginx_http} // '')
                      . ($self->{postgres}
                         ? "    qna_postgres \"" . $self->pg_conninfo . "\"" . ($self->{postgres_opts} ? " $self->{postgres_opts}" : '') . ";\n"
                           . "    qna_trail_spool $d/spool" . ($self->{trail_spool} ? " $self->{trail_spool}" : '') . ";\n"
                         : ''),
        REDIS => $self->{redis} ? "    qna_redis unix:$self->{redis_sock};" : '',
    ));

    # the MCP session key: random, per run, never in the config text
    write_secret("$d/mcp-session.secret");

    # the template's keys; any other key given is appended (a later line
    # wins in sandboxd's configuration)
    my %s = (max_active => 0, max_queue => 64, %{ $self->{sandboxd} || {} });
    my %t = (
        RUN => $d,
        MAX_ACTIVE => delete $s{max_active},
        MAX_QUEUE => delete $s{max_queue},
        NETNS => delete($s{network_namespace}) // ($> == 0 ? 'on' : 'off'),
        ISOLATION => delete($s{isolation}) // ($> == 0 ? 'on' : 'off'),
        SECCOMP => delete($s{seccomp}) // 'on',
        SCAN => delete($s{scan}) // 'on',
    );
    write_file("$d/sandboxd.conf", $self->render('sandboxd.conf.in', %t)
        . join('', map { "$_ = $s{$_}\n" } sort keys %s));
}

# The instance of conf/production/ (gateway.conf, sandboxd.conf) on
# loopback: production => {server_name, issuer, audience, edge, secrets}.
# Its keys are in "secrets" (a folder another instance shares) or made
# here; as root the workers run as www-data, as the file says, and the
# folders are made as its comments tell.
sub write_production {
    my ($self) = @_;
    my $d = $self->{dir};
    my $p = $self->{production};
    $self->{internal_port} //= free_port();
    my $secrets = $p->{secrets} // "$d/secrets";
    $self->{secrets} = $secrets;

    my ($uid, $gid) = (getpwnam('www-data'))[2, 3];
    my $root = $> == 0 && defined $uid;
    make_path("$d/private", "$d/sandboxd", $secrets);
    chmod 0700, "$d/private", $secrets;
    chmod 02750, "$d/sandboxd";
    if ($root) {
        chown 0, $gid, "$d/sandboxd";
        chown $uid, $gid, "$d/spool";
    }
    write_secret("$secrets/$_") for qw(jwt.key mcp-session.secret);

    write_file("$d/nginx.conf", $self->render('production/gateway.conf',
        MODULE => "$BUILD/nginx/objs/ngx_http_qna_module.so",
        USER => 'www-data',
        RUN => $d,
        STATE => $d,
        LOGS => "$d/logs",
        SECRETS => $secrets,
        LISTEN => "127.0.0.1:$self->{port}",
        INTERNAL_LISTEN => "127.0.0.1:$self->{internal_port}",
        EDGE => $p->{edge} // '127.0.0.1',
        SERVER_NAME => $p->{server_name},
        REDIS => "unix:$self->{redis_sock}",
        POSTGRES => $self->pg_conninfo,
        JWT_ISSUER => $p->{issuer},
        JWT_AUDIENCE => $p->{audience},
    ));

    my $sbx = $self->render('production/sandboxd.conf', RUN => $d);
    # the kernel boundary needs root: without it, sandboxd runs with none
    # (and says so); every other line stays as written
    $sbx =~ s/^(network_namespace|isolation) = on$/$1 = off/mg unless $> == 0;
    write_file("$d/sandboxd.conf", $sbx);
}

# a key of 32 random bytes (64 hex digits), mode 0600, unless there is one
sub write_secret {
    my ($path) = @_;
    return if -e $path;
    open my $rnd, '<', '/dev/urandom' or die "urandom: $!";
    read($rnd, my $bytes, 32) == 32 or die "urandom: short read";
    close $rnd;
    write_file($path, unpack('H*', $bytes) . "\n");
    chmod 0600, $path;
}

sub internal_port { $_[0]{internal_port} }

sub sandboxd_sock {
    my ($self) = @_;
    return $self->{production} ? "$self->{dir}/sandboxd/sandboxd.sock" : "$self->{dir}/sandboxd.sock";
}

sub pg_conninfo {
    my ($self) = @_;
    return "host=$self->{pg_dir} port=$self->{pg_port} dbname=qna user=qna";
}

sub spawn {
    my ($self, $what, $log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my %env = sanitizer_env($what);
        @ENV{keys %env} = values %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or die;
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    $self->{pids}{$what} = $pid;
    return $pid;
}

sub wait_for {
    my ($self, $what, $check, $seconds) = @_;
    my $until = time + ($seconds || 20);
    while (time < $until) {
        return 1 if $check->();
        my $pid = $self->{pids}{$what};
        if ($pid && waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pids}{$what};
            die "$what exited during start-up (status $?); see $self->{dir}/logs";
        }
        sleep 0.02;
    }
    die "$what did not start in time; see $self->{dir}/logs";
}

# sandboxd_user => 'nobody': as root, sandboxd itself runs as that user
# (its socket and pid file go in the stack's folder, made its own)
sub start_sandboxd {
    my ($self) = @_;
    my $sock = $self->sandboxd_sock;
    my @as;
    if ($self->{sandboxd_user} && $> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam($self->{sandboxd_user})
            or die "no user $self->{sandboxd_user}";
        chown $uid, $gid, $self->{dir} or die "chown $self->{dir}: $!";
        @as = ('/usr/bin/setpriv', "--reuid=$uid", "--regid=$gid", '--clear-groups');
    }
    $self->spawn(sandboxd => "$self->{dir}/logs/sandboxd.log",
                 @as, @{ $self->{sandboxd_cmd} || ["$BUILD/sandboxd"] },
                 '-c', "$self->{dir}/sandboxd.conf");
    $self->wait_for(sandboxd => sub {
        -S $sock && IO::Socket::UNIX->new(Peer => $sock) ? 1 : 0
    });
}

sub start_nginx {
    my ($self) = @_;
    $self->spawn(nginx => "$self->{dir}/logs/nginx.stderr",
                 $NGINX, '-p', $self->{dir}, '-c',
                 "$self->{dir}/nginx.conf", '-g', 'daemon off;');
    my $port = $self->{port};
    $self->wait_for(nginx => sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) ? 1 : 0
    });
}

sub start {
    my ($self) = @_;
    $self->start_redis if $self->{redis} && !$self->{redis_shared};
    if ($self->{postgres} && !$self->{postgres_shared}) {
        $self->start_postgres;
        my ($ok, $out) = $self->migrate;
        die "migrations failed: $out" unless $ok;
    }
    $self->start_sandboxd;
    $self->start_nginx;
    return $self;
}

# redis-server on a Unix socket in the stack's folder, nothing on disk
sub start_redis {
    my ($self) = @_;
    my $sock = $self->{redis_sock};
    unlink $sock;
    $self->spawn(redis => "$self->{dir}/logs/redis.log", '/usr/bin/redis-server',
                 '--port', '0', '--unixsocket', $sock,
                 '--unixsocketperm', $self->{redis_perm} // '700',
                 '--save', '', '--appendonly', 'no', '--dir', $self->{dir});
    $self->wait_for(redis => sub {
        -S $sock && IO::Socket::UNIX->new(Peer => $sock) ? 1 : 0
    });
}

sub stop_redis { $_[0]->signal_and_wait(redis => 'TERM') }

# PostgreSQL in the stack's folder, on a Unix socket only, migrated.  As
# root the server runs as the postgres user (it refuses root).
our $PGBIN = '/usr/lib/postgresql/15/bin';

sub pg_dir { $_[0]{pg_dir} }

sub as_pg {
    my ($self, @cmd) = @_;
    return $> == 0 ? ('/usr/sbin/runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

sub start_postgres {
    my ($self) = @_;
    my $pg = $self->pg_dir;
    $self->{pg_port} //= free_port();
    unless (-d "$pg/data") {
        make_path($pg);
        if ($> == 0) {
            my (undef, undef, $uid, $gid) = getpwnam('postgres') or die "no postgres user";
            chown $uid, $gid, $pg;
        }
        system(join(' ', $self->as_pg("$PGBIN/initdb", '-D', "$pg/data", '-U', 'qna',
                                      '--auth=trust', '-E', 'UTF8', '--no-sync',
                                      '--no-instructions'))
               . " >> $self->{dir}/logs/initdb.log 2>&1") == 0 or die "initdb failed";
    }
    # the server itself is our child (not runuser's): signals reach it
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$self->{dir}/logs/postgres.log" or die;
        open STDERR, '>&', \*STDOUT or die;
        if ($> == 0) {
            my (undef, undef, $uid, $gid) = getpwnam('postgres') or die "no postgres user";
            POSIX::setgid($gid) or die "setgid: $!";
            $) = "$gid $gid";
            POSIX::setuid($uid) or die "setuid: $!";
        }
        exec "$PGBIN/postgres", '-D', "$pg/data", '-k', $pg, '-p', $self->{pg_port},
             '-c', 'listen_addresses=', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
             '-c', 'full_page_writes=off' or die "exec postgres: $!";
    }
    $self->{pids}{postgres} = $pid;
    my $sock = "$pg/.s.PGSQL.$self->{pg_port}";
    $self->wait_for(postgres => sub {
        -S $sock && system("$PGBIN/pg_isready -q -h $pg -p $self->{pg_port}") == 0
    });
    unless ($self->{pg_created}++) {
        $self->psql('postgres', "SELECT 1 FROM pg_database WHERE datname = 'qna'") eq '1'
            or $self->psql('postgres', 'CREATE DATABASE qna');
    }
}

sub stop_postgres { $_[0]->signal_and_wait(postgres => 'INT') }

# psql -c on the stack's database; the output, trimmed
sub psql {
    my ($self, $db, $sql) = @_;
    my $pg = $self->pg_dir;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec '/usr/bin/psql', '-X', '-q', '-A', '-t', '-h', $pg, '-p', $self->{pg_port},
            '-U', 'qna', '-d', $db, '-v', 'ON_ERROR_STOP=1', '-c', $sql or die "psql: $!";
    }
    local $/;
    my $text = <$out> // '';
    close $out;
    $text =~ s/\s+$//;
    return $? ? "ERROR: $text" : $text;
}

# psql until it prints what is wanted (a record written later), or the
# time is up; what it printed last
sub wait_psql {
    my ($self, $sql, $want, $seconds) = @_;
    my $until = time + ($seconds || 5);
    my $got;
    while (time < $until) {
        $got = $self->psql('qna', $sql);
        return $got if $got eq $want;
        sleep 0.1;
    }
    return $got;
}

sub migrate {
    my ($self, @args) = @_;
    my $out = `$^X $ROOT/migrations/migrate.pl @args -h @{[ $self->pg_dir ]} -p $self->{pg_port} -U qna -d qna 2>&1`;
    return ($? == 0, $out);
}

# one command to the stack's Redis; the reply as text
sub redis_cli {
    my ($self, @args) = @_;
    my $out = `/usr/bin/redis-cli -s $self->{redis_sock} @args 2>&1`;
    chomp $out;
    return $out;
}

sub signal_and_wait {
    my ($self, $what, $sig, $seconds) = @_;
    my $pid = delete $self->{pids}{$what} or return;
    kill $sig, $pid;
    my $until = time + ($seconds || 15);
    while (time < $until) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return $?;
}

sub stop_sandboxd { $_[0]->signal_and_wait(sandboxd => $_[1] || 'TERM') }

# graceful: QUIT lets the workers finish what they hold
sub stop_nginx { $_[0]->signal_and_wait(nginx => 'QUIT') }

# nginx's master and its workers, as the kernel sees them now
sub nginx_pids {
    my ($self) = @_;
    my $master = $self->{pids}{nginx} or return ();
    return ($master, children_of($master));
}

sub children_of {
    my ($parent) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // next;
        close $in;
        # pid (comm) state ppid: comm may hold spaces and parentheses
        push @kids, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $parent;
    }
    return @kids;
}

# a process that has exited (gone, or a zombie nobody has reaped yet)
sub exited {
    my ($pid) = @_;
    open my $in, '<', "/proc/$pid/stat" or return 1;
    my $line = <$in> // return 1;
    return $line =~ /^\d+ \(.*\) [ZX] /;
}

# the instance's nginx dies at once, master and workers (SIGKILL): what
# a crash of the host's nginx looks like to its peers.  Returns when all
# of them have exited.
sub kill_nginx {
    my ($self) = @_;
    my @pids = $self->nginx_pids or return;
    my $master = delete $self->{pids}{nginx};
    # the master first: it would start a new worker for each that died
    kill 'KILL', @pids;
    waitpid($master, 0);
    my $until = time + 10;
    sleep 0.001 while time < $until && grep { !exited($_) } @pids;
}

sub reload_nginx {
    my ($self) = @_;
    kill 'HUP', $self->{pids}{nginx};
}

sub stop {
    my ($self) = @_;
    $self->stop_nginx;
    $self->stop_sandboxd;
    $self->signal_and_wait($_ => 'TERM') for keys %{ $self->{pids} };
    $self->check_sanitizer_logs if $SANITIZE;
}

# every report in the logs fails the test, once
sub check_sanitizer_logs {
    my ($self) = @_;
    for my $log (sort glob "$self->{dir}/logs/*") {
        open my $in, '<', $log or next;
        seek $in, $self->{log_seen}{$log} // 0, 0;
        local $/;
        my $text = <$in> // '';
        $self->{log_seen}{$log} = tell $in;
        close $in;
        next unless $text =~ $SANITIZER_REPORT;
        Test::More::fail("no sanitizer report in $log");
        Test::More::diag(substr($text, $-[0] > 2000 ? $-[0] - 2000 : 0, 8000));
    }
}

# a mock of an outside service (t/mock/NAME.pl PORT DIR), on PORT or a
# free one; the configuration may name PORT before the mock is started
sub start_mock {
    my ($self, $name, $port, @args) = @_;
    $port ||= free_port();
    $self->spawn($name => "$self->{dir}/logs/$name.log", $^X,
                 "$ROOT/t/mock/$name.pl", $port, $self->{dir}, @args);
    $self->wait_for($name => sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) ? 1 : 0
    });
    return $port;
}

# a passing test leaves nothing behind; a failing one keeps its logs
sub DESTROY {
    my ($self) = @_;
    local $?;

    # a forked helper's copy of the object owns nothing
    return if $self->{owner} != $$;

    $self->stop if $self->{pids} && %{ $self->{pids} };

    # in global destruction Test::More may be gone already: keep the files
    return if ${^GLOBAL_PHASE} eq 'DESTRUCT';

    if ($self->{dir} =~ m{/t/} && Test::More->can('builder')
        && Test::More->builder->is_passing)
    {
        remove_tree($self->{dir});
    }
}

sub error_log {
    my ($self) = @_;
    open my $in, '<', "$self->{dir}/logs/error.log" or return '';
    local $/;
    return <$in>;
}

# lines that must never appear: [alert] and [emerg] (and [crit] from us)
sub bad_log_lines {
    my ($self) = @_;
    return grep { /\[(alert|emerg|crit)\]/ } split /\n/, $self->error_log;
}

# one HTTP/1.1 exchange on a fresh connection; returns a hash
sub http {
    my ($self, $method, $path, %o) = @_;
    my $sock = $self->connect;
    $self->send_request($sock, $method, $path, %o);
    return read_response($sock, $o{timeout});
}

sub connect {
    my ($self) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $self->{port}, Proto => 'tcp')
        or die "connect: $!";
    return $sock;
}

sub send_request {
    my ($self, $sock, $method, $path, %o) = @_;
    my $body = $o{body};
    $body = $json->encode($o{json}) if exists $o{json};
    my %h = (Host => 'localhost', Connection => 'close', %{ $o{headers} || {} });
    $h{'Content-Type'} //= 'application/json' if defined $body && !exists $o{headers}{'Content-Type'};
    if (defined $body && !$o{chunked}) {
        $h{'Content-Length'} //= length $body;
    }
    $h{'Transfer-Encoding'} = 'chunked' if $o{chunked};
    delete $h{$_} for grep { !defined $h{$_} } keys %h;
    my $req = "$method $path HTTP/1.1\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= "\r\n";
    if (defined $body) {
        if ($o{chunked}) {
            for (my $i = 0; $i < length $body; $i += 4096) {
                my $c = substr($body, $i, 4096);
                $req .= sprintf("%x\r\n%s\r\n", length $c, $c);
            }
            $req .= "0\r\n\r\n";
        } else {
            $req .= $body;
        }
    }
    local $SIG{PIPE} = 'IGNORE';
    print $sock $req;
}

sub read_response {
    my ($sock, $timeout) = @_;
    my $buf = '';
    my $until = time + ($timeout || 60);
    $sock->blocking(1);
    while (time < $until) {
        my $rin = '';
        vec($rin, fileno($sock), 1) = 1;
        my $n = select(my $rout = $rin, undef, undef, 0.5);
        next unless $n;
        my $got = sysread($sock, $buf, 65536, length $buf);
        last unless $got;
    }
    close $sock;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my $r = { raw => $buf, body => $body // '', headers => {} };
    return $r unless defined $head && $head =~ m{^HTTP/1\.\d (\d+)};
    $r->{status} = $1;
    for my $line (split /\r\n/, $head) {
        $r->{headers}{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }
    $r->{json} = eval { $json->decode($r->{body}) } if length $r->{body};
    return $r;
}

sub analyze {
    my ($self, $question, %extra) = @_;
    return $self->http(POST => '/analyze', json => { question => $question, %extra });
}

sub execute {
    my ($self, %body) = @_;
    return $self->http(POST => '/execute', json => \%body);
}

# Straight to sandboxd's socket, as nginx talks to it: one frame out (an
# execute with workable limits unless told otherwise), frames back until
# the answer.  sandboxd_send returns the connection, sandboxd_read the
# answer (and, in list context, the progress frames before it).
sub sandboxd_send {
    my ($self, %frame) = @_;
    my $c = IO::Socket::UNIX->new(Peer => "$self->{dir}/sandboxd.sock")
        or die "connect to sandboxd: $!";
    my $op = $frame{op} // 'execute';
    %frame = (timeout_ms => 30000, max_memory_mb => 512,
              execution_id => 'direct', %frame) if $op eq 'execute';
    my $text = $json->encode({ %frame, op => $op });
    local $SIG{PIPE} = 'IGNORE';
    print $c pack('N', length $text), $text;
    return $c;
}

sub sandboxd_read {
    my ($sock, $timeout) = @_;
    my $until = time + ($timeout || 60);
    my @progress;
    my $take = sub {
        my ($n) = @_;
        my $buf = '';
        while (length $buf < $n) {
            my $rin = '';
            vec($rin, fileno($sock), 1) = 1;
            my $left = $until - time;
            return undef if $left <= 0;
            next unless select(my $rout = $rin, undef, undef, $left < 0.5 ? $left : 0.5);
            my $got = sysread($sock, $buf, $n - length $buf, length $buf);
            return undef unless $got;
        }
        return $buf;
    };
    for (;;) {
        my $hdr = $take->(4) // last;
        my $body = $take->(unpack('N', $hdr)) // last;
        my $r = $json->decode($body);
        if (($r->{op} // '') eq 'progress') {
            push @progress, $r;
            next;
        }
        close $sock;
        return wantarray ? ($r, \@progress) : $r;
    }
    close $sock;
    return wantarray ? (undef, \@progress) : undef;
}

sub sandboxd_call {
    my ($self, %frame) = @_;
    return sandboxd_read($self->sandboxd_send(%frame));
}

my $rpc_id = 0;

# the headers of an MCP client in session (initializing one if needed)
sub mcp_headers {
    my ($self, %o) = @_;
    my $path = $o{path} || '/mcp';
    unless ($self->{mcp_session}{$path}) {
        my $r = $self->http(POST => $path,
            headers => { Accept => 'application/json, text/event-stream' },
            json => { jsonrpc => '2.0', id => ++$rpc_id, method => 'initialize',
                      params => { protocolVersion => '2025-11-25', capabilities => {},
                                  clientInfo => { name => 'qna-tests', version => '1' } } });
        my $sid = $r->{headers}{'mcp-session-id'} or die "initialize gave no session: $r->{raw}";
        $self->{mcp_session}{$path} = $sid;
        $self->http(POST => $path, json => { jsonrpc => '2.0', method => 'notifications/initialized' },
                    headers => { Accept => 'application/json, text/event-stream',
                                 'MCP-Session-Id' => $sid, 'MCP-Protocol-Version' => '2025-11-25' });
    }
    return (Accept => 'application/json, text/event-stream',
            'MCP-Session-Id' => $self->{mcp_session}{$path},
            'MCP-Protocol-Version' => '2025-11-25');
}

# a JSON-RPC call to /mcp in a session; returns the decoded JSON-RPC answer
sub mcp {
    my ($self, $method, $params, %o) = @_;
    my $r = $self->http(POST => $o{path} || '/mcp',
        headers => { $self->mcp_headers(%o) },
        json => { jsonrpc => '2.0', id => ++$rpc_id, method => $method,
                  (defined $params ? (params => $params) : ()) });
    return $r->{json};
}

# a tool's structuredContent, or die with its error
sub tool {
    my ($self, $name, $args) = @_;
    my $a = $self->mcp('tools/call', { name => $name, arguments => $args || {} });
    die "tools/call $name: no result" unless $a && $a->{result};
    die "tools/call $name: $a->{result}{content}[0]{text}" if $a->{result}{isError};
    return $a->{result}{structuredContent};
}

1;
