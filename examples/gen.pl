#!/usr/bin/perl
# Writes deterministic example payloads to stdout, so the example image is
# realistic without committing large files:
#
#   gen.pl kernel SIZE     PE-like header, then mostly incompressible bytes
#   gen.pl initramfs       a small newc cpio archive with an init script
#   gen.pl rootfs SIZE     a rootfs-like image: text, code-like binary,
#                          already-compressed data and free (zero) space
#
# Randomness is SHA-256 in counter mode, so the bytes depend only on the
# arguments, never on the machine or the Perl version.
use strict;
use warnings;
use Digest::SHA qw(sha256);

binmode STDOUT;
my ($mode, $size) = @ARGV;
die "usage: gen.pl kernel|initramfs|rootfs [SIZE]\n" unless $mode;

my $counter = 0;
my @pool;
sub rnd {    # 32-bit pseudo-random number
    @pool = unpack("N8", sha256("$mode:" . $counter++)) unless @pool;
    return shift @pool;
}
sub random_bytes {
    my ($n) = @_;
    my $s = '';
    $s .= sha256("$mode/bytes:" . $counter++) while length($s) < $n;
    return substr($s, 0, $n);
}

my $written = 0;
sub emit {
    my ($data) = @_;
    my $left = $size - $written;
    $data = substr($data, 0, $left) if length($data) > $left;
    print $data;
    $written += length($data);
}

if ($mode eq 'kernel') {
    die "gen.pl kernel: SIZE required\n" unless $size;
    emit("MZ" . ("\0" x 58) . pack("V", 64) . "PE\0\0" . pack("vvVVVvv", 0x8664, 4, 0, 0, 0, 240, 0x22));
    emit("\0" x (4096 - $written));
    while ($written < $size) {
        emit(random_bytes(512 * 1024 - 4096));
        emit("\0" x 4096);    # section alignment padding
    }
} elsif ($mode eq 'initramfs') {
    my %files = (
        'init' => "#!/bin/sh\nmount -t proc proc /proc\nmount -t sysfs sysfs /sys\nexec /sbin/switch_root /newroot /sbin/init\n",
        'etc/os-release' => "NAME=\"Example OS\"\nID=example\nVERSION_ID=1.0\n",
        'etc/modules' => join('', map { "module_$_\n" } 1 .. 200),
        'lib/firmware/blob.bin' => random_bytes(96 * 1024),
    );
    my $ino = 1;
    my $entry = sub {
        my ($name, $mode, $data) = @_;
        my $hdr = sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
            $ino++, $mode, 0, 0, 1, 0, length($data), 0, 0, 0, 0, length($name) + 1, 0);
        my $s = $hdr . $name . "\0";
        $s .= "\0" x ((4 - length($s) % 4) % 4);
        $s .= $data . ("\0" x ((4 - length($data) % 4) % 4));
        return $s;
    };
    my $out = '';
    for my $dir ('etc', 'lib', 'lib/firmware') { $out .= $entry->($dir, 040755, '') }
    for my $name (sort keys %files) {
        $out .= $entry->($name, $name eq 'init' ? 0100755 : 0100644, $files{$name});
    }
    $out .= $entry->('TRAILER!!!', 0, '');
    $out .= "\0" x ((512 - length($out) % 512) % 512);
    $size = length($out);
    emit($out);
} elsif ($mode eq 'rootfs') {
    die "gen.pl rootfs: SIZE required\n" unless $size;
    my @words = qw(lib usr bin etc share config service enable disable root
        default timeout path module kernel network interface address route
        daemon socket user group mode file device mount options include
        version license copyright static const return struct int char void
        if else for while error warning debug info systemd journal);
    my @lines;
    for (1 .. 4096) {
        my $n = 3 + rnd() % 8;
        push @lines, join(' ', map { $words[rnd() % @words] } 1 .. $n)
            . (rnd() % 3 ? '' : ' = ' . rnd() % 100000) . "\n";
    }
    my @ops = map { random_bytes(48) } 1 .. 256;
    my $chunk = 64 * 1024;
    while ($written < $size) {
        my $kind = rnd() % 10;
        my $data = '';
        if ($kind < 4) {       # text files
            $data .= $lines[rnd() % @lines] while length($data) < $chunk;
        } elsif ($kind < 7) {  # code-like binary: operands and common opcodes
            while (length($data) < $chunk) {
                my $r = sha256("$mode/code:" . $counter++);
                $data .= substr($r, 0, 16) . $ops[ord($r) % @ops];
            }
        } elsif ($kind < 9) {  # free space
            $data = "\0" x $chunk;
        } else {               # already-compressed files
            $data = random_bytes($chunk);
        }
        emit(substr($data, 0, $chunk));
    }
} else {
    die "gen.pl: unknown mode '$mode'\n";
}
