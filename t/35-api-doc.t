#!/usr/bin/perl
# For a frontend (issue 12): GET /openapi.json is a valid OpenAPI 3.1
# document (checked by an independent validator), it names every endpoint
# the configuration serves, and the answers the gateway really gives, good
# and bad, validate against what it documents; CORS (qna_cors_origin):
# off by default, allowed origins marked on every answer, errors too,
# preflights answered before authentication, others refused.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt);

my $node = "$QnA::Stack::ROOT/t/openapi";
my $key = 'o' x 40;

my $s = QnA::Stack->new(name => 'apidoc', workers => 1, postgres => 1);
$s->start;

my $doc = $s->http(GET => '/openapi.json');
is $doc->{status}, 200, 'GET /openapi.json';
like $doc->{headers}{'content-type'}, qr{^application/json}, '  as JSON';
is $doc->{json}{openapi}, '3.1.0', '  OpenAPI 3.1';

# every location of the shipped configuration is a documented path
{
    open my $in, '<', "$QnA::Stack::ROOT/conf/nginx.conf.in" or die;
    my $conf = do { local $/; <$in> };
    my @served = $conf =~ /location\s+=?\s*(\/[a-z\/.-]*[a-z])\s*\{\s*(?:#[^\n]*\n\s*)*(?:qna_debug on;\s*)?(?:qna_auth_role \w+;\s*)?(?:qna_|mcp[; ])/g;
    push @served, '/execute';
    my %doc = map { (my $p = $_) =~ s{/\{id\}.*}{}; ($p => 1) } keys %{ $doc->{json}{paths} };
    my @missing = grep { !$doc{$_} } @served;
    ok @served >= 12 && !@missing, 'every endpoint of conf/nginx.conf.in is documented (' . scalar(@served) . ')'
        or diag "missing: @missing";
}

# answers, good and bad, as the gateway gives them
my @samples;
sub sample {
    my ($method, $path, $r) = @_;
    push @samples, { method => $method, path => $path, status => $r->{status} + 0,
                     type => $r->{headers}{'content-type'} // '', body => $r->{body} };
    return $r;
}

{
    my $q = 'What is the 30-day volatility of TSLA?';
    my $a = sample(POST => '/analyze', $s->analyze($q))->{json}{data};
    sample(POST => '/analyze', $s->analyze($q, session_id => $a->{session_id}));
    sample(POST => '/analyze', $s->analyze('How volatile is it?', auto_expand => JSON::PP::true, session_id => $a->{session_id}));
    sample(POST => '/analyze', $s->http(POST => '/analyze', body => '{"question":'));
    sample(POST => '/analyze', $s->http(POST => '/analyze', body => 'x', headers => { 'Content-Type' => 'text/plain' }));
    sample(POST => '/analyze', $s->analyze('x' x 1200));
    sample(POST => '/analyze', $s->analyze('What is the weather in Paris?'));
    sample(POST => '/analyze', $s->analyze($q, session_id => 'nope'));
    is_error($s->http(GET => '/analyze'), 405, 'METHOD_NOT_ALLOWED', 'GET /analyze: 405, as the document says of every endpoint');
    for my $path ('/metrics', '/openapi.json', '/models', '/users/me', '/executions', "/conversation/$a->{session_id}",
                  '/debug/mcp-tools', '/health', '/ready') {
        my $r = $s->http(PUT => $path, body => '{}');
        is_error($r, 405, 'METHOD_NOT_ALLOWED', "PUT $path");
        like $r->{headers}{allow} // '', qr/GET/, '  Allow: GET';
    }
    sample(POST => '/execute', $s->execute(script => "result = 1\n"));
    sample(POST => '/execute', $s->execute(script => "import os\nresult = 1\n"));
    sample(POST => '/execute', $s->execute(script => "result = 1\n", timeout_seconds => 0));
    sample(POST => '/execute', $s->execute(script => "result = 1\n", execution_id => 'exec_apidoc_1'));
    $s->wait_psql("SELECT count(*) FROM executions WHERE id = 'exec_apidoc_1'", 1);
    sample(POST => '/execute', $s->execute(script => "result = 1\n", execution_id => 'exec_apidoc_1'));
    $s->wait_psql("SELECT count(*) FROM executions WHERE id = '$a->{execution_id}' AND status = 'success'", 1);
    sample(GET => "/executions/$a->{execution_id}", $s->http(GET => "/executions/$a->{execution_id}"));
    sample(GET => '/executions/exec_none', $s->http(GET => '/executions/exec_none'));
    sample(GET => "/executions?session_id=$a->{session_id}", $s->http(GET => "/executions?session_id=$a->{session_id}"));
    sample(GET => '/executions', $s->http(GET => '/executions'));
    sample(GET => '/users/me', $s->http(GET => '/users/me'));
    sample(GET => '/users/somebody', $s->http(GET => '/users/somebody'));
    sample(GET => "/conversation/$a->{session_id}", $s->http(GET => "/conversation/$a->{session_id}"));
    sample(GET => '/conversation/sessions', $s->http(GET => '/conversation/sessions'));
    sample(POST => '/conversation/confirm', $s->http(POST => '/conversation/confirm', json => { expansion_id => 'x', accept => JSON::PP::false }));
    sample(GET => '/models', $s->http(GET => '/models'));
    sample(GET => '/health', $s->http(GET => '/health'));
    sample(GET => '/ready', $s->http(GET => '/ready'));
    sample(GET => '/metrics', $s->http(GET => '/metrics'));
    sample(GET => '/debug/mcp-tools', $s->http(GET => '/debug/mcp-tools'));
    sample(POST => '/mcp', $s->http(POST => '/mcp', json => { jsonrpc => '2.0', id => 1, method => 'ping' },
                                    headers => { Accept => 'application/json, text/event-stream' }));
    $s->stop_redis;
    sample(GET => '/ready', $s->http(GET => '/ready'));
    $s->start_redis;
}

{
    my $dir = $s->dir;
    QnA::Stack::write_file("$dir/openapi.json", $doc->{body});
    QnA::Stack::write_file("$dir/samples.json", QnA::Stack::json()->encode(\@samples));
    my $out = `cd $node && node check.mjs $dir/openapi.json $dir/samples.json 2>&1`;
    my ($line) = $out =~ /^(\{.*\})$/m;
    my $r = eval { QnA::Stack::json()->decode($line // '') };
    ok $r, 'the validators ran' or diag $out;
    is $r->{document}, undef, 'the document is valid OpenAPI 3.1'
        or diag explain $r->{document};
    for my $c (@{ $r->{samples} || [] }) {
        is $c->{error}, undef, "$c->{method} $c->{path} $c->{status}: as documented";
    }
    is scalar(@{ $r->{samples} || [] }), scalar(@samples), "  all $#samples + 1 answers checked";
}

$s->stop;
log_is_clean($s);

# CORS
{
    my $c = QnA::Stack->new(name => 'cors', workers => 1, nginx_http => <<'EOF',
    qna_cors_origin https://app.example.com https://ops.example.com:8443;
    qna_auth_jwt_secret_file jwt.key;
EOF
        locations => "        location = /signed {\n            qna_auth jwt;\n            qna_analyze;\n        }\n\n"
                   . "        location = /anyone {\n            qna_cors_origin *;\n            qna_health;\n        }\n\n"
                   . "        location = /uncors {\n            qna_cors_origin off;\n            qna_health;\n        }\n\n");
    QnA::Stack::write_file($c->dir . '/jwt.key', $key);
    $c->start;

    my $app = { Origin => 'https://app.example.com' };
    my $r = $c->http(GET => '/health', headers => $app);
    is $r->{headers}{'access-control-allow-origin'}, 'https://app.example.com', 'an allowed origin: named back';
    is $r->{headers}{vary}, 'Origin', '  Vary: Origin';
    like $r->{headers}{'access-control-expose-headers'}, qr/X-Request-Id.*Retry-After/, '  the headers a page may read';
    is $c->http(GET => '/health', headers => { Origin => 'https://ops.example.com:8443' })->{headers}{'access-control-allow-origin'},
       'https://ops.example.com:8443', '  another, with its port';
    $r = $c->http(GET => '/health', headers => { Origin => 'https://evil.example.com' });
    is $r->{headers}{'access-control-allow-origin'}, undef, 'another origin: nothing';
    is $r->{headers}{vary}, 'Origin', '  but Vary: Origin, so no shared cache hands this copy to an allowed one';
    $r = $c->http(GET => '/health');
    is $r->{headers}{'access-control-allow-origin'}, undef, 'no Origin: nothing';
    is $r->{headers}{vary}, 'Origin', '  Vary: Origin too';
    $r = $c->http(POST => '/analyze', body => 'not json', headers => $app);
    is $r->{status}, 400, 'an error';
    is $r->{headers}{'access-control-allow-origin'}, 'https://app.example.com', '  a page can read it too';

    my %pre = (%$app, 'Access-Control-Request-Method' => 'POST', 'Access-Control-Request-Headers' => 'authorization, content-type');
    $r = $c->http(OPTIONS => '/signed', headers => \%pre);
    is $r->{status}, 204, 'a preflight of an authenticated endpoint: 204 without a token';
    is $r->{headers}{'access-control-allow-methods'}, 'POST', '  POST';
    like $r->{headers}{'access-control-allow-headers'}, qr/Authorization.*Content-Type/, '  Authorization and Content-Type';
    is $r->{headers}{'access-control-max-age'}, 600, '  cached 10 minutes';
    is $r->{headers}{'access-control-allow-credentials'}, undef, '  no credentials (tokens are not cookies)';
    $r = $c->http(POST => '/signed', json => { question => 'What is the price of AAPL?' }, headers => $app);
    is_error($r, 401, 'UNAUTHORIZED', 'the request itself without a token');
    is $r->{headers}{'access-control-allow-origin'}, 'https://app.example.com', '  readable by the page';
    my $tok = { %$app, Authorization => 'Bearer ' . jwt($key, { sub => 'ann', exp => time + 600 }) };
    is_success($c->http(POST => '/signed', json => { question => 'What is the price of AAPL?' }, headers => $tok), '  with one');
    is $c->http(OPTIONS => '/health', headers => \%pre)->{headers}{'access-control-allow-methods'}, 'GET, HEAD', 'a GET endpoint\'s preflight';
    is_error($c->http(OPTIONS => '/analyze', headers => { %pre, Origin => 'https://evil.example.com' }), 403, 'FORBIDDEN',
             'a preflight from another origin');
    is_error($c->http(OPTIONS => '/analyze', headers => $app), 405, 'METHOD_NOT_ALLOWED', 'OPTIONS that is no preflight: 405');
    $r = $c->http(GET => '/anyone', headers => { Origin => 'https://whoever.example' });
    is $r->{headers}{'access-control-allow-origin'}, '*', '"*": any origin';
    is $r->{headers}{vary}, undef, '  and no Vary';
    is $c->http(GET => '/uncors', headers => $app)->{headers}{'access-control-allow-origin'}, undef, '"off" below an allow-list';
    $c->stop;
    log_is_clean($c);
}

# off by default; a bad origin stops the configuration
{
    my $d = QnA::Stack->new(name => 'cors-off', workers => 1);
    $d->start;
    is $d->http(GET => '/health', headers => { Origin => 'https://app.example.com' })->{headers}{'access-control-allow-origin'},
       undef, 'without qna_cors_origin: no CORS header';
    $d->stop;
    for my $bad ('app.example.com', 'https://app.example.com/', 'ftp://x', 'https://') {
        my $t = QnA::Stack->new(name => 'cors-bad', workers => 1, nginx_http => "    qna_cors_origin $bad;\n");
        my $out = $t->nginx_test;
        like $out, qr/is not an origin/, "nginx -t refuses qna_cors_origin $bad";
    }
}

done_testing;
