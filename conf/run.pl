#!/usr/bin/perl
# `make run`: the whole system on 127.0.0.1:$QNA_PORT (default 8010), in the
# foreground, until Ctrl-C or SIGTERM; then everything it started stops.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use QnA::Stack;
use POSIX ();

$| = 1;

my $port = $ENV{QNA_PORT} || 8010;
die "QNA_PORT must be a port number\n" unless $port =~ /^\d+$/ && $port > 0 && $port < 65536;

# an LLM planner from the environment, the builtin planner behind it
my $http = '';
if (my $type = $ENV{QNA_LLM_PROVIDER}) {
    die "QNA_LLM_PROVIDER must be openai, anthropic, ollama or builtin\n"
        unless $type =~ /^(openai|anthropic|ollama|builtin)$/;
    if ($type ne 'builtin') {
        my %base = (openai => 'https://api.openai.com/v1', anthropic => 'https://api.anthropic.com',
                    ollama => 'http://127.0.0.1:11434');
        my $url = $ENV{QNA_LLM_BASE_URL} || $base{$type};
        my $model = $ENV{QNA_LLM_MODEL} or die "QNA_LLM_MODEL is required with QNA_LLM_PROVIDER\n";
        die "QNA_LLM_BASE_URL must be an http(s) URL\n" unless $url =~ m{^https?://[^\s;'"]+$};
        die "QNA_LLM_MODEL must be a model name\n" unless $model =~ /^[\w.:\/-]+$/;
        my $key = '';
        if (my $f = $ENV{QNA_LLM_API_KEY_FILE}) {
            die "QNA_LLM_API_KEY_FILE: $f is not readable\n" unless -r $f && $f !~ /[\s;'"]/;
            $key = " key_file=$f";
        }
        $http = "    qna_llm_provider llm $type url=$url model=$model$key;\n"
              . "    qna_planner llm builtin;\n";
    }
}

my $stack = QnA::Stack->new(
    name => 'run',
    dir => "$QnA::Stack::RUNTIME/run",
    port => $port,
    workers => $ENV{QNA_WORKERS} || 'auto',
    execute => 1,
    nginx_http => $http,
    postgres => 1,
);

my $stop = 0;
$SIG{INT} = $SIG{TERM} = sub { $stop = 1 };

# Redis, PostgreSQL (migrated), sandboxd, nginx
$stack->start;

print "QnA gateway on http://127.0.0.1:$port (logs: ", $stack->dir, "/logs)\n",
      "  the web UI: http://127.0.0.1:$port/\n",
      "  curl -s localhost:$port/analyze -H 'Content-Type: application/json' \\\n",
      "       -d '{\"question\":\"What is the 30-day volatility of TSLA?\"}'\n",
      "Ctrl-C stops it.\n";

my $parent = getppid();

until ($stop) {
    # make was killed (SIGTERM to make itself): do not outlive it
    if (getppid() != $parent) {
        warn "parent exited; stopping\n";
        $stop = 1;
    }

    # a part that dies takes the whole run down, loudly
    for my $what (qw(nginx sandboxd redis postgres)) {
        my $pid = $stack->{pids}{$what} or next;
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $stack->{pids}{$what};
            warn "$what exited (status $?); stopping\n";
            $stop = 1;
        }
    }
    select(undef, undef, undef, 0.5);
}

print "stopping\n";
$stack->stop;
