#!/usr/bin/perl
# Escapes: each known way out of a Python sandbox, run three times: with
# the AST scan on, with it off, and with it off at the "partial" isolation
# level (no namespaces, no network namespace: the seccomp allow-list and
# the limits alone).  With the scan on most end early as a
# SECURITY_VIOLATION that names the construct; with it off the kernel must
# stop them (seccomp, namespaces, read-only file system, limits).  Either
# way each ends in its error code, nothing leaks, and sandboxd keeps serving.

use strict;
use warnings;
use Test::More;
use POSIX ();
use QnA::Stack;
use QnA::Check;

plan skip_all => 'the kernel boundary needs root (CI runs as root)' unless $> == 0;

my $canary = "/tmp/qna-escape-canary.$$";
unlink $canary;

my %stack = (
    on => QnA::Stack->new(name => 'esc-on', sandboxd => { scan => 'on' })->start,
    off => QnA::Stack->new(name => 'esc-off', sandboxd => { scan => 'off' })->start,
    # below full isolation /execute refuses unless told (t/27 checks that)
    partial => QnA::Stack->new(name => 'esc-partial',
                               nginx_http => "    qna_execute_unisolated on;\n",
                               sandboxd => { scan => 'off', isolation => 'off',
                                             network_namespace => 'off' })->start,
);
my $port = $stack{off}->port;

my $SV = 'SECURITY_VIOLATION';
my $EF = 'EXECUTION_FAILED';
my $TO = 'EXECUTION_TIMEOUT';
my $ML = 'MEMORY_LIMIT_EXCEEDED';

# [name, script, codes with the scan on, codes with it off, extra limits]
my @cases = (
    ['subclass walk to os._wrap_close', <<'PY', [$SV], [$SV]],
w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]
w.__init__.__globals__['system']('touch CANARY')
result = 'escaped'
PY
    ['subclass walk to subprocess.Popen', <<'PY', [$SV], [$SV, $EF]],
p = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]
p(['touch', 'CANARY']).wait()
result = 'escaped'
PY
    ['subclass walk to catch_warnings', <<'PY', [$SV], [$SV]],
cw = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'catch_warnings'][0]
b = cw()._module.__builtins__
b['__import__']('os').system('touch CANARY')
result = 'escaped'
PY
    ['builtins through a function\'s __globals__', <<'PY', [$SV], [$SV]],
f = lambda: 0
f.__globals__['__builtins__'].__import__('os').system('touch CANARY')
result = 'escaped'
PY
    ['builtins through a generator frame', <<'PY', [$SV], [$SV]],
g = (x for x in [1])
g.gi_frame.f_globals['__builtins__'].__import__('os').system('touch CANARY')
result = 'escaped'
PY
    ['builtins through a traceback frame', <<'PY', [$SV], [$SV]],
try:
    1 / 0
except Exception as e:
    fr = e.__traceback__.tb_frame
fr.f_globals['__builtins__'].__import__('os').system('touch CANARY')
result = 'escaped'
PY
    ['str.format attribute access', <<'PY', [$SV], [$SV]],
s = '{0.__class__.__base__.__subclasses__}'.format(())
import os
os.system('touch CANARY')
result = s
PY
    ['computed getattr', <<'PY', [$SV], [$SV]],
cls = getattr((), '__cl' + 'ass__')
base = getattr(cls, '__ba' + 'se__')
subs = getattr(base, '__subcl' + 'asses__')()
w = [c for c in subs if c.__name__ == '_wrap_close'][0]
getattr(w.__init__, '__glo' + 'bals__')['system']('touch CANARY')
result = 'escaped'
PY
    ['types.CodeType', <<'PY', [$SV], [$SV, $EF]],
import types
code = (lambda: 0).__code__.replace(co_code=b'\x00' * 4)
types.FunctionType(code, {})()
result = 'escaped'
PY
    ['marshal', <<'PY', [$SV], [$SV, $EF]],
import marshal
exec(marshal.loads(marshal.dumps(compile("__import__('os').system('touch CANARY')", 'x', 'exec'))))
result = 'escaped'
PY
    ['pickle __reduce__', <<'PY', [$SV], [$SV, $EF]],
import pickle, os
class E:
    def __reduce__(self):
        return (os.system, ('touch CANARY',))
pickle.loads(pickle.dumps(E()))
result = 'escaped'
PY
    ['numpy.load(allow_pickle=True)', <<'PY', [$SV], [$SV, $EF]],
import io, pickle, os, numpy as np
class E:
    def __reduce__(self):
        return (os.system, ('touch CANARY',))
buf = io.BytesIO()
np.save(buf, np.array([E()], dtype=object), allow_pickle=True)
buf.seek(0)
np.load(buf, allow_pickle=True)
result = 'escaped'
PY
    ['numpy.fromfile', <<'PY', [$SV], [$SV]],
import numpy as np
result = np.fromfile('/etc/passwd', dtype='uint8').tobytes().decode()
PY
    ['pandas.read_csv on a path', <<'PY', [$SV, $EF], [$SV]],
import pandas as pd
result = pd.read_csv('/etc/passwd', sep=':', header=None).to_dict()
PY
    ['DataFrame.to_csv to a path', <<'PY', [$SV, $EF], [$SV]],
import pandas as pd
pd.DataFrame({'a': [1]}).to_csv('CANARY')
result = 'escaped'
PY
    ['DataFrame.eval with @', <<'PY', [$SV], [$SV]],
import pandas as pd
df = pd.DataFrame({'a': [1]})
df.eval("@pd.io.common.os.system('touch CANARY')")
result = 'escaped'
PY
    ['ctypes: system()', <<'PY', [$SV], [$SV, $EF]],
import ctypes
ctypes.CDLL(None).system(b'touch CANARY')
result = 'escaped'
PY
    ['ctypes: raw syscall socket()', <<'PY', [$SV], [$SV, $EF]],
import ctypes
result = ctypes.CDLL(None).syscall(41, 2, 1, 0)
PY
    ['reading /etc/passwd', <<'PY', [$SV], [$SV]],
result = open('/etc/passwd').read()
PY
    ['writing a file', <<'PY', [$SV], [$SV]],
with open('CANARY', 'w') as f:
    f.write('escaped')
result = 'escaped'
PY
    ['connecting to nginx on 127.0.0.1', <<"PY", [$SV], [$SV]],
import socket
s = socket.socket()
s.connect(('127.0.0.1', $port))
result = 'escaped'
PY
    ['fork bomb', <<'PY', [$SV], [$SV]],
import os
while True:
    os.fork()
PY
    ['exec a program', <<'PY', [$SV], [$SV]],
import os
os.execv('/bin/sh', ['sh', '-c', 'touch CANARY'])
PY
    ['memory bomb', <<'PY', [$ML], [$ML], { max_memory_mb => 64 }],
blocks = []
while True:
    blocks.append(bytearray(16 * 1024 * 1024))
PY
    ['CPU spin that ignores signals', <<'PY', [$SV], [$TO], { timeout_seconds => 1 }],
import signal
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU):
    signal.signal(s, signal.SIG_IGN)
while True:
    pass
PY
    ['output flood', <<'PY', [$TO], [$TO], { timeout_seconds => 1 }],
while True:
    print('x' * 65536)
PY
    ['/proc/self/mem', <<'PY', [$SV], [$SV]],
with open('/proc/self/mem', 'rb') as f:
    result = f.read(16).hex()
PY
    ['setuid(0)', <<'PY', [$SV], [$SV]],
import os
os.setuid(0)
result = 'escaped'
PY
    ['kill every process it can see', <<'PY', [$SV], [$EF]],
import os
os.kill(-1, 9)
result = 'escaped'
PY
    ['ptrace through ctypes', <<'PY', [$SV], [$SV, $EF]],
import ctypes
ctypes.CDLL(None).ptrace(16, 1, 0, 0)
result = 'escaped'
PY
    ['io_uring through ctypes', <<'PY', [$SV], [$SV, $EF]],
import ctypes
ctypes.CDLL(None).syscall(425, 8, ctypes.create_string_buffer(120))
result = 'escaped'
PY
    ['keyctl through ctypes', <<'PY', [$SV], [$SV, $EF]],
import ctypes
ctypes.CDLL(None).syscall(250, 0, 0, 0)
result = 'escaped'
PY
    ['clone3 answers ENOSYS', <<'PY', [$SV], [$SV]],
import ctypes
r = ctypes.CDLL(None).syscall(435, 0, 0)
if r == -1:
    raise PermissionError('clone3 refused: %d' % ctypes.get_errno())
result = 'escaped'
PY
    ['ignoring SIGSYS does not help', <<'PY', [$SV], [$SV]],
import signal, socket
signal.signal(signal.SIGSYS, signal.SIG_IGN)
socket.socket()
result = 'escaped'
PY
    ['a handler for SIGSYS does not help', <<'PY', [$SV], [$SV]],
import signal, socket
signal.signal(signal.SIGSYS, lambda *a: None)
socket.socket()
result = 'escaped'
PY
    ['mount through ctypes', <<'PY', [$SV], [$SV, $EF]],
import ctypes
ctypes.CDLL(None).mount(b'none', b'/tmp', b'tmpfs', 0, None)
result = 'escaped'
PY
);

ok @cases >= 30, scalar(@cases) . ' escape cases';

# at the partial level, where the answer differs from the scan off's: no
# pid namespace, so a signal to anyone else is refused (EPERM), where in a
# namespace of its own there was no one else to reach
my %partial = ('kill every process it can see' => [$SV]);

for my $mode (qw(on off partial)) {
    my $s = $stack{$mode};
    for my $c (@cases) {
        my ($name, $script, $on, $off, $limits) = @$c;
        $script =~ s/CANARY/$canary/g;
        my $want = $mode eq 'on' ? $on : $mode eq 'off' ? $off : $partial{$name} // $off;
        my $r = $s->execute(script => $script, %{ $limits || {} });
        my $code = $r->{json}{error}{code} // '';
        ok((grep { $_ eq $code } @$want) && $r->{status} == 422,
           "scan $mode: $name: 422 " . join('|', @$want))
            or diag(substr($r->{body} // '', 0, 500));
        unlike $r->{body} // '', qr/root:x:0:0|"escaped"/, '  nothing leaked';
        ok !-e $canary, '  no file appeared on the host' or unlink $canary;
    }

    my $d = is_success($s->execute(script => "result = 1\n"), "scan $mode: sandboxd still serves");
    is $d->{result}{body}[0]{value}, 1, '  and answers right';
}

# what a child is, seen from inside (scan off, so it may look)
{
    my $d = is_success($stack{off}->execute(script => <<'PY'), 'what a child holds');
import os, socket
fds = []
for fd in range(64):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
result = {'fds': fds, 'uid': os.getuid(), 'pid': os.getpid(),
          'host': socket.gethostname()}
PY
    my %v = map { $_->{key} => $_->{value} } @{ $d->{result}{body} };
    is_deeply $v{fds}, [0, 1, 2, 3], '  only stdio and its channel';
    is $v{uid}, 65534, '  nobody, in a user namespace of its own';
    is $v{pid}, 1, '  pid 1 of a pid namespace of its own';
    is $v{host}, 'sandbox', '  a UTS namespace of its own';
}

# the partial level: what is missing is said, and what a child holds
{
    my $iso = $stack{partial}->http(GET => '/health')->{json}{data}{components}{sandboxd}{isolation};
    is $iso->{level}, 'partial', 'isolation off: the level is partial';
    is_deeply $iso->{missing}, ['namespaces', 'network_namespace'], '  missing the namespaces';
    ok $iso->{seccomp} && !$iso->{namespaces} && !$iso->{network_namespace}, '  seccomp on, namespaces off';
    is $iso->{user}, 'nobody', '  scripts run as nobody';
    open my $log, '<', $stack{partial}->dir . '/logs/sandboxd.log' or die;
    ok scalar(grep { /WARNING: isolation level partial, not full: isolation = off/ } <$log>),
        '  and sandboxd said so at start';

    $iso = $stack{off}->http(GET => '/health')->{json}{data}{components}{sandboxd}{isolation};
    is_deeply [$iso->{level}, $iso->{missing}], ['full', []], 'as root, by default: full';

    my $d = is_success($stack{partial}->execute(script => <<'PY'), 'what a child holds at partial');
import os
result = {'uid': os.getuid(), 'pid': os.getpid(), 'own': os.kill(os.getpid(), 0),
          'cpus': len(os.sched_getaffinity(0))}
PY
    my %v = map { $_->{key} => $_->{value} } @{ $d->{result}{body} };
    is $v{uid}, 65534, '  nobody';
    isnt $v{pid}, 1, '  in the host\'s pid namespace';
    ok $v{cpus} >= 1, '  its own CPUs and signals are its own';

    # another process of the scripts' user, for them to try to reach
    my $victim = fork // die "fork: $!";
    if ($victim == 0) {
        exec '/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
             '/bin/sleep', '60' or POSIX::_exit(1);
    }
    select(undef, undef, undef, 0.2);
    for my $c (['kill', "import os\nos.kill(PARAMS['pid'], 9)\n", 'PermissionError'],
               ['tgkill', "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                          . "if libc.syscall(234, PARAMS['pid'], PARAMS['pid'], 9) != 0:\n"
                          . "    raise PermissionError(ctypes.get_errno(), 'tgkill')\n", 'PermissionError'],
               ['prlimit64', "import ctypes\nb = ctypes.create_string_buffer(16)\n"
                             . "ctypes.CDLL(None).syscall(302, PARAMS['pid'], 7, 0, b)\n", undef]) {
        my ($call, $body, $type) = @$c;
        my $j = is_error($stack{partial}->execute(script => "PARAMS = {'pid': 0}\n$body" . "result = 'reached'\n",
                                                  params => { pid => $victim }),
                         422, $SV, "partial: $call on another process of nobody");
        if ($type) {
            is $j->{error}{details}{type}, $type, '  refused: EPERM';
        } else {
            is $j->{error}{details}{syscall}, $call, '  refused: the call traps';
        }
        is waitpid($victim, POSIX::WNOHANG()), 0, '  the other process lives';
    }
    kill 'KILL', $victim;
    waitpid($victim, 0);

    # a caller that needs more than this sandboxd has is told at once
    my $r = $stack{partial}->sandboxd_call(script => "result = 1\n", require_isolation => 'full');
    is $r->{error}{code}, 'SANDBOX_UNAVAILABLE', 'require_isolation full at partial: SANDBOX_UNAVAILABLE';
    is $r->{error}{details}{isolation}, 'partial', '  details say the level';
    like $r->{error}{message}, qr/isolation is partial, not the full required: isolation = off/,
        '  and the message what is missing';
    $r = $stack{partial}->sandboxd_call(script => "result = 1\n", require_isolation => 'partial');
    is $r->{success}, JSON::PP::true, 'require_isolation partial at partial: runs';
}

# the validation result, seed 000's shape
{
    my $r = $stack{on}->execute(script => "import os\nx = eval('1')\nresult = mcp_client.call('calculate_sma', {})\n");
    my $j = is_error($r, 422, 'SECURITY_VIOLATION', 'two blocked constructs');
    is $j->{error}{details}{line}, 1, '  the first one\'s line';
    is $j->{error}{details}{construct}, 'import os', '  and construct';
    is scalar(@{ $j->{error}{details}{errors} }), 2, '  every finding listed';
}

$_->stop for values %stack;
log_is_clean($_) for values %stack;

done_testing;
