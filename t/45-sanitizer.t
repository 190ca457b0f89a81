#!/usr/bin/perl
# make test-asan (QNA_SANITIZE=1).  The harness: a sanitizer's report in a
# stack's logs or in nginx -t's output fails the test that ran it, once,
# and a module built without the sanitizers is refused rather than run
# unchecked (each case a test script of its own, whose TAP is read here).
# sandboxd: what its sanitized build does differently, and that the
# ordinary build does none of it.

use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use QnA::Stack;

my $dir = "$QnA::Stack::RUNTIME/t/sanitizer-harness.$$";
remove_tree($dir);
make_path($dir);

sub run_script {
    my ($script, %env) = @_;
    QnA::Stack::write_file("$dir/case.t", $script);
    local %ENV = (%ENV, %env);
    my $out = `$^X -I $QnA::Stack::ROOT/t/lib $dir/case.t 2>&1`;
    return ($? >> 8, $out);
}

# a stack's logs: an nginx notice, a sandboxd line, then a report in one
my $case = <<'PL';
use strict;
use warnings;
use Test::More;
use QnA::Stack;
$QnA::Stack::SANITIZE = 1;
my $s = QnA::Stack->new(name => 'reports', dir => "DIR/stack");
sub add {
    my ($log, $text) = @_;
    open my $f, '>>', $s->dir . "/logs/$log" or die;
    print $f $text;
    close $f;
}
add('error.log', "2026/01/01 00:00:00 [notice] 1#1: start worker processes\n");
add('sandboxd.log', "sandboxd[2]: ready\n");
$s->check_sanitizer_logs;
ok 1, 'clean logs: nothing failed';
add('sandboxd.log', "=================\n==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020\n");
$s->check_sanitizer_logs;
add('error.log', "ngx_qna_json.c:10:5: runtime error: signed integer overflow\n");
$s->check_sanitizer_logs;
$s->check_sanitizer_logs;
done_testing;
PL
$case =~ s/DIR/$dir/g;
my ($rc, $out) = run_script($case);
like $out, qr/^ok 1 - clean logs/m, 'logs without a report pass';
like $out, qr/^not ok 2 - no sanitizer report in \S+\/sandboxd\.log$/m,
    'an AddressSanitizer report in sandboxd.log fails';
like $out, qr/heap-buffer-overflow/, '  and is quoted';
like $out, qr/^not ok 3 - no sanitizer report in \S+\/error\.log$/m,
    'an UndefinedBehaviorSanitizer report in error.log fails';
unlike $out, qr/^not ok 4/m, 'a report fails once, not at every look';
is $rc, 2, 'the script fails: 2 tests' or diag $out;

# nginx -t's own output (its runtime is preloaded: sanitizer_env stands in)
QnA::Stack::write_file("$dir/fake-nginx", "#!/bin/sh\necho 'nginx: the configuration file syntax is ok'\n"
           . "echo '==9==ERROR: AddressSanitizer: stack-use-after-return'\nexit 3\n");
chmod 0755, "$dir/fake-nginx";
$case = <<'PL';
use strict;
use warnings;
use Test::More;
use QnA::Stack;
no warnings 'redefine';
$QnA::Stack::SANITIZE = 1;
$QnA::Stack::NGINX = "DIR/fake-nginx";
*QnA::Stack::sanitizer_env = sub { () };
my $s = QnA::Stack->new(name => 'nginx-t', dir => "DIR/nginx-t");
my $out = $s->nginx_test;
is $? >> 8, 3, 'nginx -t: its status kept';
like $out, qr/syntax is ok/, 'nginx -t: its output returned';
done_testing;
PL
$case =~ s/DIR/$dir/g;
($rc, $out) = run_script($case);
like $out, qr/^not ok 1 - nginx -t: no sanitizer report$/m,
    'a report in the output of nginx -t fails';
like $out, qr/^ok 2 - nginx -t: its status kept$/m, '  its status is kept for the test';
like $out, qr/^ok 3 - nginx -t: its output returned$/m, '  and its output';

# QNA_SANITIZE=1 with a module that does not link the sanitizers
make_path("$dir/runtime/build-asan/nginx/objs");
chomp(my $lib = `$^X -e 'print((grep { -f } glob("/usr/lib/*-linux-gnu/libjansson.so.4"))[0] // "")'`);
copy($lib, "$dir/runtime/build-asan/nginx/objs/ngx_http_qna_module.so") or die "copy $lib: $!";
($rc, $out) = run_script(<<'PL', QNA_SANITIZE => 1, RUNTIME => "$dir/runtime");
use strict;
use warnings;
use QnA::Stack;
my %env = QnA::Stack::sanitizer_env('nginx');
print "ran with: @{[ %env ]}\n";
PL
isnt $rc, 0, 'a module without the sanitizers: refused';
like $out, qr/links no libasan: make build-asan/, '  saying what to build';

# What differs in the sanitized build of sandboxd, and only there: a
# child's stderr is sandboxd's log (with no file size limit), it has the
# sanitizers' options, and the calls their reports make are refused with
# an error, not the trap.  In the ordinary build none of it.
SKIP: {
    skip 'the seccomp filter needs root (CI runs as root)', 5 unless $> == 0;
    my $s = QnA::Stack->new(name => 'sanitized-child', sandboxd => { scan => 'off' })->start;
    my $r = $s->execute(script => <<'PY');
import os
os.write(2, b'a line from a child on its stderr\n')
result = {'options': 'ASAN_OPTIONS' in os.environ}
PY
    my %v = map { $_->{key} => $_->{value} } @{ $r->{json}{data}{result}{body} || [] };
    is $r->{status}, 200, 'a child writes on its stderr';
    my $log = do { local (@ARGV, $/) = ($s->dir . '/logs/sandboxd.log'); <> };
    if ($QnA::Stack::SANITIZE) {
        like $log, qr/a line from a child/, '  sanitized: it reaches sandboxd\'s log';
        ok $v{options}, '  the child has ASAN_OPTIONS';
    } else {
        unlike $log, qr/a line from a child/, '  it does not reach sandboxd\'s log';
        ok !$v{options}, '  the child has no ASAN_OPTIONS';
    }
    $r = $s->execute(script => <<'PY');
import os
try:
    os.readlink('/etc/alternatives')
    result = 'read'
except OSError as e:
    result = e.errno
PY
    if ($QnA::Stack::SANITIZE) {
        is $r->{status}, 200, 'sanitized: readlink() is refused with an error';
        is $r->{json}{data}{result}{body}[0]{value}, 1, '  EPERM';
    } else {
        is $r->{json}{error}{code}, 'SECURITY_VIOLATION', 'readlink() is a security violation';
        is $r->{json}{error}{details}{syscall}, 'readlink', '  named';
    }
    $s->stop;
}

remove_tree($dir) if Test::More->builder->is_passing;

done_testing;
