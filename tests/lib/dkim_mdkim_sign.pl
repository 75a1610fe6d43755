#!/usr/bin/perl
# dkim_mdkim_sign.pl — sign messages with Mail::DKIM (libmail-dkim-perl) for
# the interop test. Reads jobs on stdin, one per line:
#   IN OUT KEYFILE SELECTOR DOMAIN METHOD ALGORITHM
# and writes OUT = DKIM-Signature + IN, with CRLF line endings.
use strict;
use warnings;
use Mail::DKIM::Signer;
use Mail::DKIM::TextWrap;

while (my $job = <STDIN>) {
	chomp $job;
	my ($in, $out, $key, $sel, $dom, $method, $alg) = split / /, $job;
	open(my $fh, '<:raw', $in) or die "$in: $!";
	my $msg = do { local $/; <$fh> };
	close $fh;
	$msg =~ s/\r?\n/\r\n/g;
	my $dkim = Mail::DKIM::Signer->new(
		Algorithm => $alg, Method => $method, Domain => $dom,
		Selector => $sel, KeyFile => $key);
	$dkim->PRINT($msg);
	$dkim->CLOSE;
	my $sig = $dkim->signature->as_string;
	$sig =~ s/\r?\n/\r\n/g;
	open(my $o, '>:raw', $out) or die "$out: $!";
	print $o $sig, "\r\n", $msg;
	close $o;
}
