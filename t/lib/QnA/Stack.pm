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
# and, to run other binaries than the build's (t/33 runs a package's):
# module => 'load_module's argument', nginx_user => 'www-data www-data',
# sandboxd_cmd => [wrapper ..., '/path/to/sandboxd']
sub new {
    my ($class, %o) = @_;
    my $name = $o{name} || 'test';
    my $dir = $o{dir} || "$RUNTIME/t/$name.$$";
    remove_tree($dir) unless $o{keep};
    make_path("$dir/logs", "$dir/tmp", "$dir/spool");

    my $self = bless {
        %o,
        name => $name,
        dir => $dir,
        # a Redis of its own, unless told to share one (redis_sock) or none
        redis => $o{redis} // 1,
        redis_sock => $o{redis_sock} // "$dir/redis.sock",
        redis_shared => defined $o{redis_sock},
        pg_port => $o{postgres} ? free_port() : undef,
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
        EXTRA_LOCATIONS => $extra,
        EXTRA_HTTP => ($self->{nginx_http} // '')
                      . ($self->{postgres}
                         ? "    qna_postgres \"host=$d/pg port=$self->{pg_port} dbname=qna user=qna\"" . ($self->{postgres_opts} ? " $self->{postgres_opts}" : '') . ";\n"
                           . "    qna_trail_spool $d/spool" . ($self->{trail_spool} ? " $self->{trail_spool}" : '') . ";\n"
                         : ''),
        REDIS => $self->{redis} ? "    qna_redis unix:$self->{redis_sock};" : '',
    ));

    # the MCP session key: random, per run, never in the config text
    unless (-e "$d/mcp-session.secret") {
        open my $rnd, '<', '/dev/urandom' or die "urandom: $!";
        read($rnd, my $bytes, 32) == 32 or die "urandom: short read";
        close $rnd;
        write_file("$d/mcp-session.secret", unpack('H*', $bytes) . "\n");
        chmod 0600, "$d/mcp-session.secret";
    }

    my %s = (max_active => 0, max_queue => 64, %{ $self->{sandboxd} || {} });
    write_file("$d/sandboxd.conf", $self->render('sandboxd.conf.in',
        RUN => $d,
        MAX_ACTIVE => $s{max_active},
        MAX_QUEUE => $s{max_queue},
        NETNS => $s{network_namespace} // ($> == 0 ? 'on' : 'off'),
        ISOLATION => $s{isolation} // ($> == 0 ? 'on' : 'off'),
        SCAN => $s{scan} // 'on',
    ));
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

sub start_sandboxd {
    my ($self) = @_;
    my $sock = "$self->{dir}/sandboxd.sock";
    $self->spawn(sandboxd => "$self->{dir}/logs/sandboxd.log",
                 @{ $self->{sandboxd_cmd} || ["$BUILD/sandboxd"] },
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
    if ($self->{postgres}) {
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
                 '--port', '0', '--unixsocket', $sock, '--unixsocketperm', '700',
                 '--save', '', '--appendonly', 'no', '--dir', $self->{dir});
    $self->wait_for(redis => sub {
        -S $sock && IO::Socket::UNIX->new(Peer => $sock) ? 1 : 0
    });
}

sub stop_redis { $_[0]->signal_and_wait(redis => 'TERM') }

# PostgreSQL in the stack's folder, on a Unix socket only, migrated.  As
# root the server runs as the postgres user (it refuses root).
our $PGBIN = '/usr/lib/postgresql/15/bin';

sub pg_dir { "$_[0]{dir}/pg" }

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
