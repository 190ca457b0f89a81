package QnA::JWT;

# Tokens for the tests: HS256 as any issuer would make them, and the broken
# ones an attacker would try.  Perl core modules only.

use strict;
use warnings;
use Digest::SHA qw(hmac_sha256 hmac_sha512);
use MIME::Base64 qw(encode_base64);
use JSON::PP;

use Exporter 'import';
our @EXPORT_OK = qw(jwt b64url);

my $json = JSON::PP->new->canonical;

sub b64url {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# jwt($secret, {sub => 'alice', exp => time + 60}, alg => 'HS256', header => {...})
sub jwt {
    my ($secret, $claims, %o) = @_;
    my $alg = $o{alg} // 'HS256';
    my $head = b64url($json->encode($o{header} // { alg => $alg, typ => 'JWT' }));
    my $body = b64url($json->encode($claims));
    my $input = "$head.$body";
    my $sig = $alg eq 'none' ? ''
            : $alg eq 'HS512' ? b64url(hmac_sha512($input, $secret))
            : b64url(hmac_sha256($input, $secret));
    return "$input.$sig";
}

1;
