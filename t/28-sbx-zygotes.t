#!/usr/bin/perl
# Three zygotes: the full one (numpy and pandas), the lite one (numpy),
# which runs the scripts that do not name pandas, and the base one
# (neither), which runs those that name neither.  A script in a lighter
# child that imports what its zygote has not loaded is sent on to a full
# child before any of it runs, once; a reroute a script sends itself is a
# protocol violation in a full child, and after any other frame.
# lite_zygote = off leaves the full one alone.  Where each script ran is
# read from sandboxd's ping (each zygote's executions and reroutes).

use strict;
use warnings;
use Test::More;
use QnA::Stack;
use QnA::Check;

sub zygotes {
    my ($s) = @_;
    return { map { $_->{kind} => $_ } @{ $s->sandboxd_call(op => 'ping')->{zygotes} } };
}

sub counts {
    my ($s) = @_;
    my $z = zygotes($s);
    return [map { ($z->{$_}{executions} // 0, $z->{$_}{rerouted} // 0) } qw(base lite full)];
}

# what a script adds to [base executions, base reroutes, lite executions,
# lite reroutes, full executions, full reroutes]
sub ran {
    my ($s, $script, @frame) = @_;
    my $before = counts($s);
    my $r = $s->sandboxd_call(script => $script, @frame);
    my $after = counts($s);
    return ($r, [map { $after->[$_] - $before->[$_] } 0 .. 5]);
}

my $s = QnA::Stack->new(name => 'sbx-zygotes', sandboxd => { scan => 'off' })->start;

{
    my $z = zygotes($s);
    is_deeply [sort keys %$z], [qw(base full lite)], 'three zygotes';
    my %pids = map { $z->{$_}{pid} => 1 } keys %$z;
    ok keys %pids == 3 && !grep({ $_ <= 0 } keys %pids),
        "  of their own: base $z->{base}{pid}, lite $z->{lite}{pid}, full $z->{full}{pid}";
    ok $z->{base}{ready} && $z->{lite}{ready} && $z->{full}{ready}, '  all ready';
    like $s->sandboxd_call(op => 'ping')->{runtime}, qr/pandas \d/, '  the runtime named is the full one\'s';
}

{
    my ($r, $d) = ran($s, "import math\nresult = math.sqrt(16)\n");
    is $r->{result}{body}[0]{value}, 4, 'a script naming neither numpy nor pandas';
    is_deeply $d, [1, 0, 0, 0, 0, 0], '  ran in the base zygote';

    # the words spelt so that the script names neither
    my $which = "import sys\nresult = sorted(m for m in ('num' + 'py', 'pan' + 'das') if m in sys.modules)\n";
    ($r, $d) = ran($s, $which);
    is_deeply [$r->{result}{body}[0]{value}, $d], [[], [1, 0, 0, 0, 0, 0]], '  which has neither';

    ($r, $d) = ran($s, "import numpy as np\nresult = float(np.arange(5).sum())\n");
    is $r->{result}{body}[0]{value}, 10, 'a script naming numpy';
    is_deeply $d, [0, 0, 1, 0, 0, 0], '  ran in the lite zygote';

    ($r, $d) = ran($s, "$which# numpy\n");
    is_deeply [$r->{result}{body}[0]{value}, $d], [['numpy'], [0, 0, 1, 0, 0, 0]],
        '  which has numpy, not pandas (a mention is enough: a cheap first guess)';

    ($r, $d) = ran($s, "import pandas as pd\nresult = pd.Series([1, 2, 3]).sum()\n");
    is $r->{result}{body}[0]{value}, 6, 'a script naming pandas';
    is_deeply $d, [0, 0, 0, 0, 1, 0], '  ran in the full zygote';
}

# what only the full zygote has loaded: sent on before the script runs
{
    my ($r, $d) = ran($s, "import time\nfrom dateutil import parser\n"
                        . "result = parser.parse('2024-01-02').isoformat()\n");
    is $r->{result}{body}[0]{value}, '2024-01-02T00:00:00', 'dateutil (pandas brought it)';
    is_deeply $d, [1, 1, 0, 0, 1, 0], '  the base child sent it on to a full one';

    ($r, $d) = ran($s, "import numpy\nimport pytz\nresult = str(pytz.utc)\n");
    is $r->{result}{body}[0]{value}, 'UTC', 'pytz, beside numpy';
    is_deeply $d, [0, 0, 1, 1, 1, 0], '  the lite child sent it on';

    # the child sends its reroute and exits at once: sandboxd may hear of
    # the exit first, and must still not take it for the script's end
    my @bad = grep { ($_->{result}{body}[0]{value} // '') ne 'UTC' }
              map { scalar $s->sandboxd_call(script => "import pytz\nresult = str(pytz.utc)\n") } 1 .. 40;
    ok !@bad, '  every time, however the exit and the reroute cross' or diag explain $bad[0];

    ($r, $d) = ran($s, "from fractions import Fraction\nfrom collections import abc\nimport os.path\n"
                     . "result = str(Fraction(1, 3))\n");
    is_deeply [$r->{result}{body}[0]{value}, $d], ['1/3', [1, 0, 0, 0, 0, 0]],
        'what the base zygote has (names, submodules) stays there';

    # nothing of it ran twice: its one tool call was made once
    ($r, $d) = ran($s, "import pytz\ntry:\n    mcp_client.call('nope', {})\nexcept mcp_client.McpError:\n    pass\n"
                     . "result = 1\n", tools => []);
    is_deeply [$r->{result}{body}[0]{value}, $d], [1, [1, 1, 0, 0, 1, 0]], 'a script with a tool call, sent on';
    is scalar @{ $r->{metadata}{mcp_calls_made} // [] }, 1, '  made its call once';

    ($r, $d) = ran($s, "import no_such_module\nresult = 1\n");
    is $r->{error}{code}, 'EXECUTION_FAILED', 'a module no zygote has';
    like $r->{error}{message}, qr/No module named 'no_such_module'/, '  is missing in the full one too';
    is_deeply $d, [1, 1, 0, 0, 1, 0], '  where it was sent';
}

# a reroute of the script's own (the scan is off here)
{
    my $forge = "import _sbx\n_sbx.send(b'{\"t\": \"reroute\"}')\nimport time\ntime.sleep(5)\nresult = 1\n";
    my ($r, $d) = ran($s, $forge);
    is $r->{error}{code}, 'SECURITY_VIOLATION', 'a script that sends a reroute';
    like $r->{error}{message}, qr/reroute out of turn/, '  breaks the protocol in the full child';
    is_deeply $d, [1, 1, 0, 0, 1, 0], '  after one trip from the base one, where it was a first word';

    ($r, $d) = ran($s, "mcp_client.progress('one')\n$forge");
    is $r->{error}{code}, 'SECURITY_VIOLATION', 'a reroute after another frame';
    is_deeply $d, [1, 0, 0, 0, 0, 0], '  is refused in the base child';

    ($r, $d) = ran($s, "import pandas\n$forge");
    is $r->{error}{code}, 'SECURITY_VIOLATION', 'a reroute from a full child';
    is_deeply $d, [0, 0, 0, 0, 1, 0], '  goes nowhere';
}

# validation runs where the script would
{
    my ($r, $d) = ran($s, "import os\nresult = 1\n", mode => 'validate');
    ok !$r->{result}{valid}, 'validate: os is refused';
    is_deeply $d, [1, 0, 0, 0, 0, 0], '  in the base zygote';
}

# what a child costs: the pages it copies or maps, summed by the zygote
# that reaps it (cminflt); about 340 for a trivial run in a base child
# (spares pre-fault what a run writes), 1200 before the zygotes' heaps
# were plugged and their paths rehearsed
{
    my $pid = zygotes($s)->{base}{pid};
    my $faults = sub {
        open my $f, '<', "/proc/$pid/stat" or return undef;
        my @f = split ' ', (<$f> =~ s/^.*\) //r);
        return $f[8];
    };
    $s->sandboxd_call(script => "result = 1\n") for 1 .. 5;
    my $before = $faults->();
    $s->sandboxd_call(script => "result = 1\n") for 1 .. 30;
    my $per = ($faults->() - $before) / 30;
    cmp_ok $per, '<', 600, sprintf('a trivial run: %.0f page faults a child', $per);
}

$s->stop;
log_is_clean($s);

# lite_zygote = off: one zygote, as before
{
    my $o = QnA::Stack->new(name => 'sbx-zygotes-off', sandboxd => { lite_zygote => 'off' })->start;
    my $z = zygotes($o);
    is_deeply [keys %$z], ['full'], 'lite_zygote = off: the full zygote alone';
    my $before = $z->{full}{executions};
    my $r = $o->sandboxd_call(script => "result = 1\n");
    is $r->{result}{body}[0]{value}, 1, '  runs everything';
    is zygotes($o)->{full}{executions} - $before, 1, '  there';
    $o->stop;
    log_is_clean($o);
}

done_testing;
