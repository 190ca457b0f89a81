#!/usr/bin/perl
# The Debian packages (debian/): dpkg-buildpackage -b builds both from a
# copy of this tree as a commit of it would hold it; their files, Depends
# and maintainer scripts are laid out as Debian's own nginx modules are;
# the unit file parses; no binary names the folder it was built in; and
# the system started from the packages' own files answers /analyze:
# nginx loading the module through the package's load file, its workers
# www-data, and sandboxd from the package under what its unit asks of the
# kernel (capability bounding set, no_new_privs, network and IPC
# namespaces, group www-data), with the package's sandboxd.conf.

use strict;
use warnings;
use Test::More;
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(time);
use QnA::Stack;
use QnA::Check;

my $ROOT = $QnA::Stack::ROOT;
my $dir = "$QnA::Stack::RUNTIME/t/packaging.$$";
remove_tree($dir);
make_path("$dir/src", "$dir/root", "$dir/bin", "$dir/enabled");

sub slurp {
    my ($path) = @_;
    open my $in, '<', $path or return '';
    local $/;
    return scalar <$in>;
}

# the tree as a commit would hold it: tracked and new files, not the ignored
chomp(my $version = `cd $ROOT && dpkg-parsechangelog -S Version`);
chomp(my $arch = `dpkg --print-architecture`);
my $src = "$dir/src/qna-gateway-$version";
my @files = grep { -f "$ROOT/$_" }
    split /\0/, `git -C $ROOT ls-files -z --cached --others --exclude-standard`;
ok grep({ $_ eq 'debian/control' } @files), 'the tree holds debian/ ('
    . scalar(@files) . ' files)';
QnA::Stack::write_file("$dir/files", join("\0", @files));
make_path($src);
system("tar -C $ROOT --null -T $dir/files -cf - | tar -C $src -xf -") == 0
    or BAIL_OUT('cannot copy the tree');

# What the outer make exported is not the package build's.  The build is
# niced: the tests running beside it measure times.
my $env = 'env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u RUNTIME -u CFLAGS'
        . ' -u CPPFLAGS -u LDFLAGS';
my $t0 = time;
my $rc = system("cd $src && $env nice -n 19 dpkg-buildpackage -us -uc -b -j2"
                . " > $dir/build.log 2>&1 </dev/null");
ok $rc == 0, sprintf('dpkg-buildpackage -us -uc -b: %.0f s', time - $t0)
    or diag substr(slurp("$dir/build.log"), -3000);

my %deb = map { $_ => "$dir/src/${_}_${version}_$arch.deb" }
    qw(libnginx-mod-http-qna qna-sandboxd);
ok -f $deb{$_}, "$_ built" for sort keys %deb;

# every file of each package (directories aside), nothing more
my %files = (
    'libnginx-mod-http-qna' => [qw(
        ./usr/lib/nginx/modules/ngx_http_qna_module.so
        ./usr/share/doc/libnginx-mod-http-qna/changelog.gz
        ./usr/share/doc/libnginx-mod-http-qna/copyright
        ./usr/share/nginx/modules-available/mod-http-qna.conf)],
    'qna-sandboxd' => [qw(
        ./etc/qna/sandboxd.conf
        ./lib/systemd/system/qna-sandboxd.service
        ./usr/sbin/sandboxd
        ./usr/share/doc/qna-sandboxd/changelog.gz
        ./usr/share/doc/qna-sandboxd/copyright)],
);
for my $p (sort keys %files) {
    my @got = sort map { (split ' ', $_, 6)[5] }
        grep { !/^d/ } split /\n/, `dpkg-deb -c $deb{$p}`;
    is_deeply \@got, $files{$p}, "$p: its files" or diag explain \@got;
}

# the module needs the ABI of the nginx it was built against, which this
# machine's nginx provides (Debian's nginx-abi-* virtual package)
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[\w.+~-]+)/;
ok $abi, "this nginx provides an ABI: $abi";
my $dep = `dpkg-deb -f $deb{'libnginx-mod-http-qna'} Depends`;
for my $want ($abi, qw(libjansson4 libcurl4 libhiredis0.14 libpq5 libssl3)) {
    like $dep, qr/(?:^|, )\Q$want\E(?: \(|,|\s*$)/, "the module depends on $want";
}
$dep = `dpkg-deb -f $deb{'qna-sandboxd'} Depends`;
for my $want (qw(libpython3.11 python3-numpy python3-pandas libjansson4 libseccomp2)) {
    like $dep, qr/(?:^|, )\Q$want\E(?: \(|,|\s*$)/, "sandboxd depends on $want";
}
is `dpkg-deb -I $deb{'qna-sandboxd'} conffiles`, "/etc/qna/sandboxd.conf\n",
    'sandboxd.conf is a conffile';

system("dpkg-deb -x $deb{$_} $dir/root") == 0 || BAIL_OUT("dpkg-deb -x $_")
    for sort keys %deb;

# no file of either package names where it was built, nor the checkout;
# nor does the checkout's own build
my $found = `grep -rlF -e $src -e $ROOT $dir/root`;
is $found, '', 'no packaged file holds the build folder or the checkout';
for my $f (glob("$dir/src/*-dbgsym_*.deb")) {
    make_path("$dir/dbg");
    system("dpkg-deb -x $f $dir/dbg");
}
ok -d "$dir/dbg/usr/lib/debug", 'debugging symbols packaged apart';
is `grep -rlF -e $src -e $ROOT $dir/dbg`, '', '  nor do the debugging symbols';
SKIP: {
    # UBSan's reports quote their source files by the paths the compiler had
    skip 'the sanitized build names its sources', 1 if $QnA::Stack::SANITIZE;
    is `grep -lF $ROOT $QnA::Stack::BUILD/sandboxd $QnA::Stack::BUILD/nginx/objs/ngx_http_qna_module.so`,
        '', 'the checkout\'s own build does not name the checkout';
}

# dpkg-buildflags' hardening reached both binaries
for my $bin ('usr/sbin/sandboxd', 'usr/lib/nginx/modules/ngx_http_qna_module.so') {
    my $elf = `readelf -lWd $dir/root/$bin`;
    like $elf, qr/GNU_RELRO/, "$bin: relro";
    like $elf, qr/\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW/, "$bin: bind now";
    like `readelf -W --dyn-syms $dir/root/$bin`, qr/__stack_chk_fail/,
        "$bin: stack protector";
}
like `readelf -h $dir/root/usr/sbin/sandboxd`, qr/DYN \(Position-Independent/,
    'sandboxd is position-independent';

# The module is enabled as Debian's are: a postinst link in
# /etc/nginx/modules-enabled (its nginx.conf includes them), kept aside on
# remove and back on reinstall, gone on purge.  The scripts run in a mount
# namespace of their own, over an empty folder: this machine's nginx
# configuration is not touched.
system("dpkg-deb -e $deb{'libnginx-mod-http-qna'} $dir/ctl") == 0 or die;
for my $tool (qw(sh cut ln rm mv readlink ls tr which)) {
    chomp(my $path = `sh -c 'command -v $tool'`);
    symlink $path, "$dir/bin/$tool" or die "no $tool";
}
QnA::Stack::write_file("$dir/scripts.sh", <<"SH");
mount --bind $dir/enabled /etc/nginx/modules-enabled || exit 99
# no dpkg-trigger on this PATH: that step is for dpkg itself
export PATH=$dir/bin
show() { echo "\$1: \$(ls /etc/nginx/modules-enabled | tr '\\n' ' ')"; }
sh -e $dir/ctl/postinst configure && show installed
readlink /etc/nginx/modules-enabled/50-mod-http-qna.conf
sh -e $dir/ctl/prerm remove && sh -e $dir/ctl/postrm remove && show removed
sh -e $dir/ctl/postinst configure && show reinstalled
sh -e $dir/ctl/postinst configure $version && show upgraded
sh -e $dir/ctl/prerm remove && sh -e $dir/ctl/postrm purge && show purged
SH
my $out = `unshare --mount --propagation private sh $dir/scripts.sh 2>&1`;
is $out, "installed: 50-mod-http-qna.conf \n"
       . "/usr/share/nginx/modules-available/mod-http-qna.conf\n"
       . "removed: 50-mod-http-qna.conf.removed \n"
       . "reinstalled: 50-mod-http-qna.conf \n"
       . "upgraded: 50-mod-http-qna.conf \n"
       . "purged: \n",
    'the maintainer scripts enable, set aside, restore and remove the module';

# the load file names the module from nginx's prefix, which is where the
# package puts it
my $load = slurp("$dir/root/usr/share/nginx/modules-available/mod-http-qna.conf");
like $load, qr{^load_module modules/ngx_http_qna_module\.so;\n\z},
    'the load file: load_module modules/ngx_http_qna_module.so';
my ($prefix) = `/usr/sbin/nginx -V 2>&1` =~ /--prefix=(\S+)/;
my $moddir = readlink("$prefix/modules") // '';
$moddir = "$prefix/$moddir" unless $moddir =~ m{^/};
1 while $moddir =~ s{/(?!\.\.)[^/]+/\.\.(?=/|$)}{};
is $moddir, '/usr/lib/nginx/modules',
    "  $prefix/modules is where the package puts the .so";

# the unit: its binary and configuration are the package's; it parses
# (systemd-analyze says nothing of a key or value it does not know); the
# lines sandboxd depends on are there, those that would break it are not
my $unit = slurp("$dir/root/lib/systemd/system/qna-sandboxd.service");
my ($exec, $conf) = $unit =~ m{^ExecStart=(\S+) -c (\S+)$}m;
is $exec, '/usr/sbin/sandboxd', 'the unit runs the packaged sandboxd';
is $conf, '/etc/qna/sandboxd.conf', '  with the packaged configuration';
(my $local = $unit) =~ s{^ExecStart=\S+}{ExecStart=$dir/root$exec}m;
QnA::Stack::write_file("$dir/qna-sandboxd.service", $local);
$out = `systemd-analyze verify $dir/qna-sandboxd.service 2>&1`;
is $out, '', 'systemd-analyze verify: nothing to say' or diag $out;
for my $line (qw(Delegate=yes RuntimeDirectory=qna-sandboxd
                 NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes
                 PrivateTmp=yes RestrictAddressFamilies=AF_UNIX
                 KillMode=mixed Group=www-data))
{
    like $unit, qr/^\Q$line\E$/m, "the unit says $line";
}
for my $key (qw(ProtectHostname RestrictNamespaces ProtectControlGroups
                PrivateUsers))
{
    unlike $unit, qr/^$key=/m, "the unit leaves $key alone";
}

# Started from the packages' files.  As root, sandboxd gets what its unit
# gives it: the bounding set, no_new_privs, network and IPC namespaces of
# its own, group www-data; nginx's workers are www-data, as Debian runs
# them, and reach its socket through that group.
my @wrap;
if ($> == 0) {
    my ($caps) = $unit =~ /^CapabilityBoundingSet=(.+)$/m;
    my $set = join ',', '-all', map { '+' . lc s/^CAP_//r } split ' ', $caps;
    my ($group) = $unit =~ /^Group=(\S+)$/m;
    @wrap = ('unshare',
             ($unit =~ /^PrivateNetwork=yes$/m ? '--net' : ()),
             ($unit =~ /^PrivateIPC=yes$/m ? '--ipc' : ()), '--',
             'setpriv', "--bounding-set=$set",
             ($unit =~ /^NoNewPrivileges=yes$/m ? '--no-new-privs' : ()),
             "--regid=$group", '--clear-groups', '--');
    note "sandboxd under: @wrap";
}
my ($module) = $load =~ /^load_module (\S+);/;
my $s = QnA::Stack->new(name => 'packaged', workers => 1, module => $module,
                        nginx_user => ($> == 0 ? 'www-data www-data' : undef),
                        sandboxd_cmd => [@wrap, "$dir/root$exec"]);
my $d = $s->dir;
symlink "$dir/root/usr/lib/nginx/modules", "$d/modules" or die;

# the package's sandboxd.conf, its two sockets moved into the stack's
# folder, the scan off: below, the kernel is what answers
my $sconf = slurp("$dir/root$conf");
ok $sconf =~ s{^listen = \S+$}{listen = $d/sandboxd.sock}m
   && $sconf =~ s{^mcp_socket = \S+$}{mcp_socket = $d/mcp.sock}m,
   'the packaged sandboxd.conf names both sockets';
$sconf .= "scan = off\n";
$sconf .= "isolation = off\nnetwork_namespace = off\n" if $> != 0;
QnA::Stack::write_file("$d/sandboxd.conf", $sconf);

$s->start;
my $j = is_success($s->analyze('What is the 30-day volatility of TSLA?'),
                   'POST /analyze on the packaged system');
my %body = map { $_->{key} => $_->{value} } @{ $j->{result}{body} || [] };
ok(($body{annualized_volatility} // 0) > 0, '  a volatility, computed in sandboxd');
is $body{data_source}, 'sample', '  from data its tool calls got through the relay';
is_deeply [map { $_->{ok} ? 1 : 0 } @{ $j->{metadata}{mcp_calls_made} || [] }],
    [1, 1], '  both tool calls answered';

SKIP: {
    skip 'sandboxd isolates and runs under its unit\'s limits as root only', 10
        if $> != 0;
    my @st = stat "$d/sandboxd.sock";
    is sprintf('%o', $st[2] & 07777), '660', 'the socket is 0660';
    is scalar getgrgid($st[5]), 'www-data', '  group www-data';

    # within the unit's capabilities: namespaces, the drop to nobody, the
    # filter, and the kill of a child that is nobody
    my $d = is_success($s->execute(script => <<'PY'), 'a child of the packaged sandboxd');
import os, socket
result = {'uid': os.getuid(), 'pid': os.getpid(), 'host': socket.gethostname()}
PY
    my %v = map { $_->{key} => $_->{value} } @{ $d->{result}{body} || [] };
    is $v{uid}, 65534, '  nobody, in a user namespace';
    is $v{pid}, 1, '  pid 1 of a pid namespace';
    is $v{host}, 'sandbox', '  a UTS namespace';
    my $e = is_error($s->execute(script => "import socket\nsocket.socket()\n"),
                     422, 'SECURITY_VIOLATION', 'socket() from a script');
    is $e->{error}{details}{syscall}, 'socket', '  refused by the seccomp filter';
    # its CPU limit (the timeout + 2 s) would end it too, but later
    my $t = time;
    is_error($s->execute(script => "while True:\n    pass\n", timeout_seconds => 1),
             422, 'EXECUTION_TIMEOUT', 'a script past its time');
    ok time - $t < 2.5, sprintf('  killed by sandboxd at its deadline (%.2f s)', time - $t);
}
$s->stop;
log_is_clean($s);

remove_tree($dir) if Test::More->builder->is_passing;

done_testing;
