#!/usr/bin/perl
# Real MCP clients against /mcp: the official conformance suite (every
# scenario that applies to a tools-only server) and the official TypeScript
# SDK client, which lists the tools and calls each one.  The SDK client
# runs on Debian bookworm's Node.js 18; the conformance suite needs 20.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use QnA::Stack;
use QnA::Check;

my $clients = "$QnA::Stack::ROOT/t/mcp-clients";
plan skip_all => 'npm clients missing: make clients' unless -x "$clients/node_modules/.bin/conformance";

my $s = QnA::Stack->new(name => 'mcp-clients')->start;
my $url = 'http://127.0.0.1:' . $s->port . '/mcp';

# Every release of the conformance suite requires commander 14 (Node.js
# >= 20), and from 0.1.11 on undici 7, which uses Node.js 20's global File:
# on 18 it dies as it loads.  Debian bookworm's nodejs is 18.
my @scenarios = qw(server-initialize ping tools-list dns-rebinding-protection);
my ($node) = `node --version 2>&1` =~ /^v(\d+)\./;
SKIP: {
    skip "the MCP conformance suite (\@modelcontextprotocol/conformance 0.1.13)"
        . " needs Node.js 20 or later and this is " . `node --version 2>&1` =~ s/\s+$//r
        . " (Debian bookworm's nodejs is 18): install Node.js 20 or later"
        . " (Debian trixie's nodejs, or NodeSource's nodejs 20.x for bookworm),"
        . " then make clients", scalar @scenarios
        unless ($node // 0) >= 20;

    for my $scenario (@scenarios) {
        my $out = `cd $clients && timeout 60 ./node_modules/.bin/conformance server --url $url --scenario $scenario 2>&1`;
        $out =~ s/\e\[[0-9;]*m//g;
        my ($passed, $total, $failed) = $out =~ /Passed: (\d+)\/(\d+), (\d+) failed/;
        ok defined $passed && $passed == $total && $failed == 0, "conformance: $scenario"
            or diag $out;
    }
}

{
    my $out = `cd $clients && timeout 60 node sdk-client.mjs $url 2>&1`;
    my ($line) = $out =~ /^(\{.*\})$/m;
    my $r = eval { decode_json($line // '') };
    ok $r, 'the TypeScript SDK client connects and lists the tools' or diag $out;
    # an anonymous viewer: the three trading tools are not listed
    is $r->{tools}, 27, '  27 tools (the trading ones are a manager\'s)';
    for my $c (@{ $r->{calls} || [] }) {
        ok !$c->{isError} && $c->{structured}, "  calls $c->{name}";
    }
}

$s->stop;
log_is_clean($s);

done_testing;
