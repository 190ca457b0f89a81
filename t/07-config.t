#!/usr/bin/perl
# Configuration mistakes stop nginx at start (nginx -t), with a message that
# says what to change, instead of misbehaving at run time.

use strict;
use warnings;
use Test::More;
use QnA::Stack;

sub nginx_t {
    my (%o) = @_;
    my $s = QnA::Stack->new(name => 'config', %o);
    my $out = $s->nginx_test;
    return ($? == 0, $out);
}

my ($ok, $out) = nginx_t();
ok $ok, 'the shipped configuration passes nginx -t' or diag $out;

($ok, $out) = nginx_t(locations => "        location = /small {\n            client_body_buffer_size 8k;\n            qna_analyze;\n        }\n");
ok !$ok, 'a body buffer smaller than the body limit is refused';
like $out, qr/client_body_buffer_size .* must be at least client_max_body_size/, '  and says why';

($ok, $out) = nginx_t(locations => "        location = /zero {\n            qna_sandbox_timeout 0;\n            qna_health;\n        }\n");
ok !$ok, 'qna_sandbox_timeout 0 is refused';
like $out, qr/qna_sandbox_timeout/, '  and named';

($ok, $out) = nginx_t(locations => "        location = /net {\n            qna_sandbox 127.0.0.1:9;\n            qna_health;\n        }\n");
ok !$ok, 'a TCP address for sandboxd is refused';
like $out, qr/unix: socket/, '  sandboxd is local, over a Unix socket';

($ok, $out) = nginx_t(locations => "        location = /bad {\n            qna_error NO_SUCH_CODE;\n        }\n");
ok !$ok, 'an unknown error code is refused';

($ok, $out) = nginx_t(locations => "        location = /mcp-x {\n            mcp everything;\n        }\n");
ok !$ok, 'an unknown MCP server is refused';

# sandboxd refuses a configuration it does not understand
{
    my $s = QnA::Stack->new(name => 'config-sbx');
    open my $f, '>>', $s->dir . '/sandboxd.conf' or die;
    print $f "max_activ = 3\n";
    close $f;
    my $out = `$QnA::Stack::BUILD/sandboxd -c @{[ $s->dir ]}/sandboxd.conf 2>&1`;
    isnt $?, 0, 'sandboxd: an unknown key is an error';
    like $out, qr/unknown key "max_activ"/, '  named';
}

done_testing;
