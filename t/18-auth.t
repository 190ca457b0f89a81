#!/usr/bin/perl
# qna_auth jwt: HS256 only, the MAC compared in constant time, exp required,
# nbf and exp with leeway, iss and aud when configured, the role from a
# claim.  Every refusal is 401 UNAUTHORIZED with WWW-Authenticate, or 403
# FORBIDDEN for a role too low.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt b64url);

my $key = 'k' x 40;
my $s = QnA::Stack->new(name => 'auth', workers => 1, nginx_http => <<'EOF2',
    qna_auth_jwt_secret_file jwt.key;
    qna_auth_jwt_issuer qna-tests;
    qna_auth_jwt_audience qna-api;
    qna_auth_jwt_leeway 30s;
EOF2
    locations => <<'EOF2');
        location = /secure {
            qna_auth jwt;
            qna_health;
        }

        location = /admin-only {
            qna_auth jwt;
            qna_auth_role admin;
            qna_health;
        }
EOF2
QnA::Stack::write_file($s->dir . '/jwt.key', "$key\n");
$s->start;

sub claims { return { sub => 'alice', iss => 'qna-tests', aud => 'qna-api', exp => time + 300, @_ } }

sub get {
    my ($path, $token) = @_;
    return $s->http(GET => $path, headers => { defined $token ? (Authorization => "Bearer $token") : () });
}

sub refused {
    my ($r, $status, $code, $re, $what) = @_;
    is $r->{status}, $status, "$what: $status";
    is $r->{json}{error}{code}, $code, "  $code";
    like $r->{json}{error}{message}, $re, '  saying why' if $re;
}

my $r = get('/secure');
refused($r, 401, 'UNAUTHORIZED', qr/bearer token is required/, 'no token');
is $r->{headers}{'www-authenticate'}, 'Bearer realm="qna"', '  WWW-Authenticate: Bearer';

$r = get('/secure', jwt($key, claims()));
is $r->{status}, 200, 'a good token: 200';

$r = get('/secure', jwt($key, claims(), alg => 'none'));
refused($r, 401, 'UNAUTHORIZED', qr/algorithm is not allowed/, 'alg none');
like $r->{headers}{'www-authenticate'}, qr/error="invalid_token"/, '  invalid_token';
refused(get('/secure', jwt($key, claims(), header => { alg => 'none' }) . 'x'), 401, 'UNAUTHORIZED', qr/algorithm/, 'alg none with a signature');
refused(get('/secure', jwt($key, claims(), alg => 'HS512')), 401, 'UNAUTHORIZED', qr/algorithm/, 'HS512');
refused(get('/secure', jwt($key, claims(), header => { alg => 'RS256' })), 401, 'UNAUTHORIZED', qr/algorithm/, 'RS256');
refused(get('/secure', jwt('x' x 40, claims())), 401, 'UNAUTHORIZED', qr/signature/, 'the wrong key');

{
    my ($h, $b, $sig) = split /\./, jwt($key, claims());
    my $forged = b64url(QnA::Stack::json()->encode(claims(sub => 'mallory')));
    refused(get('/secure', "$h.$forged.$sig"), 401, 'UNAUTHORIZED', qr/signature/, 'a tampered payload');
    refused(get('/secure', "$h.$b"), 401, 'UNAUTHORIZED', qr/malformed/, 'two parts');
    refused(get('/secure', "$h.$b.$sig.x"), 401, 'UNAUTHORIZED', qr/malformed/, 'four parts');
    refused(get('/secure', "$h.$b.!!!"), 401, 'UNAUTHORIZED', undef, 'a signature that is not base64url');
}

refused(get('/secure', jwt($key, claims(exp => time - 60))), 401, 'UNAUTHORIZED', qr/expired/, 'expired beyond the leeway');
is get('/secure', jwt($key, claims(exp => time - 10)))->{status}, 200, 'expired within the leeway (30 s): 200';
refused(get('/secure', jwt($key, claims(nbf => time + 120))), 401, 'UNAUTHORIZED', qr/not valid yet/, 'not yet valid');
refused(get('/secure', jwt($key, { %{ claims() }, exp => undef })), 401, 'UNAUTHORIZED', qr/expiry/, 'no exp');
{
    my $c = claims(); delete $c->{exp};
    refused(get('/secure', jwt($key, $c)), 401, 'UNAUTHORIZED', qr/expiry/, 'exp missing');
}
refused(get('/secure', jwt($key, claims(iss => 'someone-else'))), 401, 'UNAUTHORIZED', qr/issuer/, 'the wrong issuer');
refused(get('/secure', jwt($key, claims(aud => 'other-api'))), 401, 'UNAUTHORIZED', qr/audience/, 'the wrong audience');
is get('/secure', jwt($key, claims(aud => ['x', 'qna-api'])))->{status}, 200, 'the audience in a list: 200';
refused(get('/secure', jwt($key, claims(sub => 'a b'))), 401, 'UNAUTHORIZED', qr/subject/, 'a subject that is not a plain name');
refused(get('/secure', jwt($key, claims(role => 'root'))), 401, 'UNAUTHORIZED', qr/role/, 'an unknown role');
refused(get('/secure', 'x' x 5000), 401, 'UNAUTHORIZED', qr/too long/, 'a huge token');

refused(get('/admin-only', jwt($key, claims(role => 'viewer'))), 403, 'FORBIDDEN', qr/role/, 'a viewer on an admin location');
refused(get('/admin-only', jwt($key, claims())), 403, 'FORBIDDEN', undef, 'no role is a viewer');
is get('/admin-only', jwt($key, claims(role => 'admin')))->{status}, 200, 'an admin: 200';

is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg in the error log';
$s->stop;

my $t = QnA::Stack->new(name => 'auth-conf', locations => "        location = /x {\n            qna_auth jwt;\n            qna_health;\n        }\n");
my $out = `/usr/sbin/nginx -t -p @{[ $t->dir ]} -c @{[ $t->dir ]}/nginx.conf 2>&1`;
like $out, qr/"qna_auth jwt" needs "qna_auth_jwt_secret_file"/, 'qna_auth jwt without a key: nginx -t says so';

done_testing;
