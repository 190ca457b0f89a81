#!/usr/bin/perl
# The web UI (ui/), served by nginx at /: its files and headers (a CSP of
# its own origin, revalidated caching, the contract's 404 and 405 around
# them), then headless Chromium driven by t/ui-tests/ui.mjs: ask by
# keyboard and watch the progress, the rows, charts from edited scripts,
# PARAMS edited and re-run, an error and its suggestions, the history and
# traces, axe-core and our own accessibility checks; and, with qna_auth
# jwt, the sign-in, 401 and 403; with an LLM planner, its plan as it
# streams.  Screenshots of each step are kept in
# $RUNTIME/ui-screenshots/.

use strict;
use warnings;
use Test::More;
use File::Path qw(remove_tree make_path);
use File::Find;
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt);

my $root = $QnA::Stack::ROOT;
my $tests = "$root/t/ui-tests";
my $shots = "$QnA::Stack::RUNTIME/ui-screenshots";
my $chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';

# what this test needs is installed by make (deps: chromium; clients:
# t/ui-tests): missing, it fails, saying so
ok -x $chromium, "Chromium at $chromium (make deps)" or diag 'apt-get install chromium (make deps does)';
ok -e "$tests/node_modules/playwright-core/package.json" && -e "$tests/node_modules/axe-core/axe.min.js",
   'playwright-core and axe-core in t/ui-tests (make clients)';

# --- the files themselves ---------------------------------------------------

my @files;
find({ no_chdir => 1, wanted => sub { push @files, $File::Find::name if -f } }, "$root/ui");
my %text = map {
    open my $in, '<', $_ or die "$_: $!";
    local $/;
    (substr($_, length "$root/ui") => scalar <$in>)
} @files;
ok exists $text{'/index.html'} && exists $text{'/app.css'} && exists $text{'/js/main.js'}, 'ui/: index.html, app.css, js/main.js';
{
    my $html = $text{'/index.html'};
    my @inline = $html =~ /<script(?![^>]*\bsrc=)[^>]*>/g;
    is_deeply \@inline, [], 'no inline script in index.html';
    my @handlers = map { /\son[a-z]+\s*=/gi } values %text;
    is_deeply \@handlers, [], 'no event handler attributes';
    my @styles = $html =~ /\sstyle\s*=/gi;
    is_deeply \@styles, [], 'no style attributes';
    # nothing from anywhere else: the only absolute URL is SVG's namespace
    my @urls = grep { $_ ne 'http://www.w3.org/2000/svg' } map { m{\b(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s'"`)]*}gi } values %text;
    is_deeply \@urls, [], 'no URL of another origin in ui/';
    # every file the page names is there
    my @refs = ($html =~ /(?:src|href)="(\/[^"#]*)"/g, map { m{from '\./([\w.]+)'}g } @text{grep { m{^/js/} } keys %text});
    my @missing = grep { my $r = $_; $r =~ m{^/} ? !exists $text{$r} && $r ne '/openapi.json' : !exists $text{"/js/$r"} } @refs;
    is_deeply \@missing, [], 'every file the page and its modules name exists (' . scalar(@refs) . ')';
    my @innerhtml = grep { $text{$_} =~ /\.innerHTML\s*=|insertAdjacentHTML|document\.write/ } keys %text;
    is_deeply \@innerhtml, [], 'no HTML strings: answers become text nodes only';
}

# --- as nginx serves them ---------------------------------------------------

my $s = QnA::Stack->new(name => 'ui', workers => 1, postgres => 1);
$s->start;
sleep 0.1 until ($s->http(GET => '/health')->{json}{data}{components}{postgres}{status} // '') eq 'up';

{
    my $r = $s->http(GET => '/');
    is $r->{status}, 200, 'GET /: the page';
    like $r->{headers}{'content-type'}, qr{^text/html; charset=utf-8$}, '  as HTML, UTF-8';
    is $r->{body}, $text{'/index.html'}, '  ui/index.html';
    my $csp = $r->{headers}{'content-security-policy'} // '';
    like $csp, qr/(^|; )default-src 'self'(;|$)/, "  CSP default-src 'self'";
    like $csp, qr/(^|; )script-src 'self'(;|$)/, "  script-src 'self': no inline script";
    like $csp, qr/(^|; )style-src 'self'(;|$)/, "  style-src 'self': no inline style";
    like $csp, qr/(^|; )connect-src 'self'(;|$)/, '  fetch() to the gateway only';
    like $csp, qr/frame-ancestors 'none'/, '  never framed';
    unlike $csp, qr/unsafe|https?:|\*/, '  no unsafe-, no other origin, no wildcard';
    is $r->{headers}{'cache-control'}, 'no-cache', '  revalidated at each load';
    is $r->{headers}{'x-content-type-options'}, 'nosniff', '  nosniff';
    ok $r->{headers}{etag}, '  with an ETag';
    my $again = $s->http(GET => '/', headers => { 'If-None-Match' => $r->{headers}{etag} });
    is $again->{status}, 304, '  unchanged: 304';

    for my $f (['/js/main.js', qr{^text/javascript; charset=utf-8$}], ['/app.css', qr{^text/css; charset=utf-8$}],
               ['/favicon.svg', qr{^image/svg\+xml}], ['/index.html', qr{^text/html}]) {
        my $x = $s->http(GET => $f->[0]);
        ok $x->{status} == 200 && $x->{headers}{'content-type'} =~ $f->[1] && $x->{body} eq $text{$f->[0]},
           "GET $f->[0]: $x->{headers}{'content-type'}";
    }
    is_error($s->http(GET => '/nothing-here'), 404, 'NOT_FOUND', 'a path that is no file: the contract\'s 404');
    is_error($s->http(GET => '/js/'), 404, 'NOT_FOUND', 'a folder: 404 too (no listing)');
    my $x = is_error($s->http(POST => '/', json => { question => 'x' }), 405, 'METHOD_NOT_ALLOWED', 'POST /: 405');
    is $s->http(POST => '/index.html', body => '{}')->{headers}{allow}, 'GET, HEAD', '  with Allow: GET, HEAD';
    is_success($s->http(GET => '/health'), 'the API beside it');
}

# --- in the browser ------------------------------------------------------------

remove_tree($shots);
make_path($shots);
my @shots;

sub browse {
    my ($mode, $stack, $least, %env) = @_;
    local @ENV{keys %env} = values %env;
    my $url = 'http://127.0.0.1:' . $stack->port;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        chdir $tests or die "$tests: $!";
        exec 'timeout', '300', 'node', 'ui.mjs', $mode, $url, $shots or die "node: $!";
    }
    my ($checks, $end, @diag) = (0, 0);
    while (my $line = <$out>) {
        chomp $line;
        if ($line =~ /^(not )?ok - (.*)$/) {
            my ($failed, $name) = ($1, $2);
            $checks++;
            # a failure's "# " lines follow it: read them first
            ok !$failed, "$mode: $name" or push @diag, "$mode: $name";
        } elsif ($line =~ /^# (.*)$/) {
            diag $1;
        } elsif ($line =~ /^screenshot (.*)$/) {
            push @shots, $1;
        } elsif ($line eq 'end') {
            $end = 1;
        } else {
            diag "$mode: $line";
        }
    }
    close $out;
    is $? >> 8, 0, "$mode: the browser run exited 0";
    ok $end, "$mode: every step ran";
    ok $checks >= $least, "$mode: $checks checks (at least $least)";
}

browse(main => $s, 90);

$s->stop;
log_is_clean($s);

# --- qna_auth jwt: sign-in, 401, 403 --------------------------------------------

my $key = 'u' x 40;
my $a = QnA::Stack->new(name => 'ui-auth', workers => 1, postgres => 1, execute_role => '',
                        nginx_http => "    qna_auth_jwt_secret_file jwt.key;\n    qna_auth jwt;\n");
QnA::Stack::write_file($a->dir . '/jwt.key', $key);
$a->start;
my %tok = map { ($_ => jwt($key, { sub => 'alice', role => $_, exp => time + 3600 })) } qw(viewer manager);
my $admin = { Authorization => 'Bearer ' . jwt($key, { sub => 'root', role => 'admin', exp => time + 600 }) };
sleep 0.1 until ($a->http(GET => '/health', headers => $admin)->{json}{data}{components}{postgres}{status} // '') eq 'up';

{
    my $r = $a->http(GET => '/');
    is $r->{status}, 200, 'qna_auth jwt: GET / needs no token';
    is_error($a->http(GET => '/users/me'), 401, 'UNAUTHORIZED', '  the API does');
    # as before the UI: a path that is no file is the API's, and asks a token
    is_error($a->http(GET => '/nothing-here'), 401, 'UNAUTHORIZED', '  a path that is no file: 401 without a token');
    is_error($a->http(GET => '/nothing-here', headers => $admin), 404, 'NOT_FOUND', '  404 with one');
}

browse(auth => $a, 25, UI_TOKEN_VIEWER => $tok{viewer}, UI_TOKEN_MANAGER => $tok{manager});

$a->stop;
log_is_clean($a);

# --- an LLM planner: its plan as it streams ------------------------------------

my $lport = QnA::Stack::free_port();
my $l = QnA::Stack->new(name => 'ui-llm', workers => 1, nginx_http => <<"EOF");
    qna_llm_provider gpt openai url=http://127.0.0.1:$lport/v1 model=gpt-mock key_file=llm.key timeout=5s;
    qna_planner gpt builtin;
EOF
QnA::Stack::write_file($l->dir . '/llm.key', "mock-llm-key\n");
$l->start_mock(llm => $lport);
$l->start;

browse(llm => $l, 10);

$l->stop;
log_is_clean($l);

ok @shots >= 12, scalar(@shots) . ' screenshots';
ok !grep({ !-s $_ } @shots), '  each one written';
diag "screenshot: $_" for @shots;

done_testing;
