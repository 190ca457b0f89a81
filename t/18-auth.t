#!/usr/bin/perl
# qna_auth jwt: HS256 only, the MAC compared in constant time, exp required,
# nbf and exp with leeway, iss and aud when configured, the role from a
# claim, each part canonical base64url, a lifetime of at most
# qna_auth_jwt_max_lifetime.  Every refusal is 401 UNAUTHORIZED with
# WWW-Authenticate, or 403 FORBIDDEN for a role too low.

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;
use QnA::JWT qw(jwt b64url);
use Digest::SHA qw(hmac_sha256);

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
refused(get('/secure', jwt($key, claims(sub => 'anonymous'))), 401, 'UNAUTHORIZED', qr/reserved/, 'the subject "anonymous" (everyone without a token)');
refused(get('/secure', jwt($key, claims(role => 'root'))), 401, 'UNAUTHORIZED', qr/role/, 'an unknown role');
refused(get('/secure', 'x' x 5000), 401, 'UNAUTHORIZED', qr/too long/, 'a huge token');

refused(get('/admin-only', jwt($key, claims(role => 'viewer'))), 403, 'FORBIDDEN', qr/role/, 'a viewer on an admin location');
refused(get('/admin-only', jwt($key, claims())), 403, 'FORBIDDEN', undef, 'no role is a viewer');
is get('/admin-only', jwt($key, claims(role => 'admin')))->{status}, 200, 'an admin: 200';

# a refusal of the token itself: 401, UNAUTHORIZED, and the challenge
sub invalid {
    my ($r, $re, $what) = @_;
    refused($r, 401, 'UNAUTHORIZED', $re, $what);
    is $r->{headers}{'www-authenticate'}, 'Bearer realm="qna", error="invalid_token"',
        '  WWW-Authenticate: invalid_token';
}

# header and payload as given, signed: only their spelling is at fault
sub signed {
    my ($k, $h, $b) = @_;
    return "$h.$b." . b64url(hmac_sha256("$h.$b", $k));
}

# strict base64url: a token has one spelling, and it is the only one taken
{
    my $alphabet = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';
    my ($h, $b, $sig) = split /\./, jwt($key, claims());

    # a payload whose base64url is not a multiple of 4 long, to be padded
    my $text = QnA::Stack::json()->encode(claims());
    $text .= ' ' while length(b64url($text)) % 4 == 0;
    my $p = b64url($text);
    is get('/secure', signed($key, $h, $p))->{status}, 200, 'a payload of 4k + ' . length($p) % 4 . ' characters: 200';
    invalid(get('/secure', signed($key, $h, $p . '=' x (4 - length($p) % 4))), qr/malformed/,
            'the same payload padded with "="');
    invalid(get('/secure', signed($key, $h . '=', $b)), qr/malformed/, 'a header with a "=" after it');
    invalid(get('/secure', "$h.$b.$sig="), qr/malformed/, 'a padded signature');
    invalid(get('/secure', "$h.$b.$sig=junk"), qr/malformed/, 'a signature, "=" and junk after it');
    invalid(get('/secure', "$h.$b.${sig}AA"), qr/malformed/, 'a signature of 4k + 1 characters');

    # base64, not base64url: "+" and "/" for "-" and "_"
    my ($t) = grep { (split /\./)[2] =~ /[-_]/ } map { jwt($key, claims(sub => "user$_")) } 1 .. 100;
    ok defined $t, '  a signature with "-" or "_" in it';
    my ($th, $tb, $ts) = split /\./, $t;
    invalid(get('/secure', "$th.$tb." . ($ts =~ tr{-_}{+/}r)), qr/malformed/,
            'a signature with "+" or "/" in it');
    # "?" (0x3f) and "~" (0x7e) are the bytes that make "_" and "-" come up
    my ($pb) = grep { /[-_]/ } map { b64url(QnA::Stack::json()->encode(claims(note => '?~' x $_))) }
               1 .. 8;
    ok defined $pb, '  a payload with "-" or "_" in its base64url';
    is get('/secure', signed($key, $h, $pb))->{status}, 200, '  which passes';
    invalid(get('/secure', signed($key, $h, $pb =~ tr{-_}{+/}r)), qr/malformed/,
            'the same payload with "+" or "/" for them');

    # the last character's unused low bits must be zero
    my $v = index($alphabet, substr($sig, -1));
    is $v & 3, 0, "  the signature's last character leaves two bits unused";
    invalid(get('/secure', "$h.$b." . substr($sig, 0, -1) . substr($alphabet, $v | 1, 1)), qr/malformed/,
            'a signature whose last character has an unused bit set');
    $v = index($alphabet, substr($p, -1));
    invalid(get('/secure', signed($key, $h, substr($p, 0, -1) . substr($alphabet, $v | 1, 1))), qr/malformed/,
            'a payload whose last character has an unused bit set');

    # no white space, anywhere
    invalid(get('/secure', signed($key, $h, substr($b, 0, 10) . ' ' . substr($b, 10))), qr/malformed/,
            'a space inside the payload');
    invalid(get('/secure', "$h.$b." . substr($sig, 0, 20) . "\t" . substr($sig, 20)), qr/malformed/,
            'a tab inside the signature');
}

# a lifetime of at most qna_auth_jwt_max_lifetime (24 h by default), from
# now to exp (with the leeway, 30 s here), and from iat to exp
{
    my $now = time;
    invalid(get('/secure', jwt($key, claims(exp => $now + 2 * 86400))), qr/lives too long/,
            'exp 2 days ahead');
    is get('/secure', jwt($key, claims(exp => $now + 86400 + 10)))->{status}, 200,
        'exp 24 h ahead and within the leeway: 200';
    invalid(get('/secure', jwt($key, claims(exp => $now + 86400 + 120))), qr/lives too long/,
            'exp 24 h and 2 minutes ahead');
    is get('/secure', jwt($key, claims(iat => $now - 60)))->{status}, 200, 'an iat a minute ago: 200';
    is get('/secure', jwt($key, claims(iat => $now + 10)))->{status}, 200,
        'an iat 10 s ahead, within the leeway: 200';
    invalid(get('/secure', jwt($key, claims(iat => $now + 120))), qr/issued in the future/,
            'an iat 2 minutes ahead');
    invalid(get('/secure', jwt($key, claims(iat => $now - 23 * 3600, exp => $now + 2 * 3600))),
            qr/lives too long/, 'exp 2 h ahead, but 25 h after iat');
    invalid(get('/secure', jwt($key, claims(iat => 'yesterday'))), qr/iat\) is not a number/,
            'an iat that is not a number');
}

is_deeply [$s->bad_log_lines], [], 'no alert, crit or emerg in the error log';
$s->stop;

# qna_auth_jwt_max_lifetime set: 1 hour
{
    my $l = QnA::Stack->new(name => 'auth-life', workers => 1, nginx_http => <<'EOF2',
    qna_auth_jwt_secret_file jwt.key;
    qna_auth_jwt_max_lifetime 1h;
EOF2
        locations => "        location = /secure {\n            qna_auth jwt;\n            qna_health;\n        }\n");
    QnA::Stack::write_file($l->dir . '/jwt.key', "$key\n");
    $l->start;
    my $now = time;
    my $get = sub { $l->http(GET => '/secure', headers => { Authorization => "Bearer $_[0]" }) };
    is $get->(jwt($key, { sub => 'alice', exp => $now + 50 * 60 }))->{status}, 200,
        'max lifetime 1h: exp in 50 minutes, 200';
    my $r = $get->(jwt($key, { sub => 'alice', exp => $now + 2 * 3600 }));
    is $r->{status}, 401, '  exp in 2 hours: 401';
    is $r->{json}{error}{code}, 'UNAUTHORIZED', '  UNAUTHORIZED';
    like $r->{json}{error}{message}, qr/lives too long/, '  saying it lives too long';
    like $r->{headers}{'www-authenticate'}, qr/error="invalid_token"/, '  invalid_token';
    $r = $get->(jwt($key, { sub => 'alice', iat => $now - 50 * 60, exp => $now + 20 * 60 }));
    is $r->{status}, 401, '  70 minutes from iat to exp: 401';
    like $r->{json}{error}{message}, qr/lives too long/, '  saying it lives too long';
    like $r->{headers}{'www-authenticate'}, qr/error="invalid_token"/, '  invalid_token';
    $l->stop;
    is_deeply [$l->bad_log_lines], [], '  no alert, crit or emerg in the error log';
}

my $t = QnA::Stack->new(name => 'auth-conf', locations => "        location = /x {\n            qna_auth jwt;\n            qna_health;\n        }\n");
my $out = $t->nginx_test;
like $out, qr/"qna_auth jwt" needs "qna_auth_jwt_secret_file"/, 'qna_auth jwt without a key: nginx -t says so';

for my $bad (['0', qr/"qna_auth_jwt_max_lifetime" directive must be more than 0/],
             ['0s', qr/"qna_auth_jwt_max_lifetime" directive must be more than 0/],
             ['forever', qr/"qna_auth_jwt_max_lifetime" directive invalid value/]) {
    my $c = QnA::Stack->new(name => 'auth-conf-life',
                            nginx_http => "    qna_auth_jwt_max_lifetime $bad->[0];\n");
    my $o = $c->nginx_test;
    like $o, $bad->[1], "qna_auth_jwt_max_lifetime $bad->[0]: refused by nginx -t";
}

done_testing;
