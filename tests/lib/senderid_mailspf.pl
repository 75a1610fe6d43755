#!/usr/bin/perl
# senderid_mailspf.pl — Mail::SPF (Debian libmail-spf-perl) as the reference
# for the Sender ID differential test (tests/conformance/senderid_differential.py).
#
#   senderid_mailspf.pl CASES.json
#
# CASES.json: {"zones": {ZONE: {NAME: {TYPE: [RDATA...]}}}, "timeout": [NAME...],
# "cases": [{"id", "ip", "pra", "helo"}], "runs": [{"label", "zone", "novoid",
# "cases": [ID...]}]}. Each run checks its cases in the pra scope (versions
# [1, 2], which Mail::SPF narrows to 2 for pra) with a resolver answering
# from that zone only: absent names are NXDOMAIN, names in "timeout" time
# out for the types they lack; novoid lifts Mail::SPF's void-lookup limit.
# Prints "id<TAB>label<TAB>result<TAB>text" lines.
use strict;
use warnings;
use JSON::PP;
use Mail::SPF;
use Net::DNS;

package ZoneResolver;

sub new {
	my ($class, $zone, $timeout) = @_;
	return bless {zone => $zone, timeout => $timeout, error => ''}, $class;
}

sub errorstring { return $_[0]{error} }

sub send {
	my ($self, $name, $type) = @_;
	$name = lc $name;
	$name =~ s/\.$//;
	$self->{error} = '';
	my $node = $self->{zone}{$name};
	my @data = $node && $node->{$type} ? @{$node->{$type}} : ();
	if (!@data && $self->{timeout}{$name}) {
		$self->{error} = 'timeout';
		return undef;
	}
	my $p = Net::DNS::Packet->new($name, $type, 'IN');
	$p->header->qr(1);
	$p->header->rcode($node || $self->{timeout}{$name} ? 'NOERROR' : 'NXDOMAIN');
	for my $d (@data) {
		my %rr = (name => $name, type => $type, ttl => 300);
		if ($type eq 'TXT') { $rr{txtdata} = $d }
		elsif ($type eq 'MX') { @rr{qw(preference exchange)} = @$d }
		elsif ($type eq 'PTR') { $rr{ptrdname} = $d }
		else { $rr{address} = $d }
		$p->push(answer => Net::DNS::RR->new(%rr));
	}
	return $p;
}

package main;

my $in = do { local $/; open my $f, '<', $ARGV[0] or die "$ARGV[0]: $!"; <$f> };
my $data = JSON::PP->new->decode($in);
my %timeout = map { $_ => 1 } @{$data->{timeout}};
my %cases = map { $_->{id} => $_ } @{$data->{cases}};
for my $run (@{$data->{runs}}) {
	my $server = Mail::SPF::Server->new(
		dns_resolver   => ZoneResolver->new($data->{zones}{$run->{zone}}, \%timeout),
		query_rr_types => Mail::SPF::Server->query_rr_type_txt,
		default_authority_explanation => 'DEFAULT',
		$run->{novoid} ? (max_void_dns_lookups => undef) : (),
	);
	for my $id (@{$run->{cases}}) {
		my $c = $cases{$id};
		my $r = eval {
			my $req = Mail::SPF::Request->new(
				versions      => [1, 2],
				scope         => 'pra',
				identity      => $c->{pra},
				ip_address    => $c->{ip},
				helo_identity => $c->{helo},
			);
			my $res = $server->process($req);
			$res->code . "\t" . ($res->can('text') ? $res->text : '');
		};
		$r = "error:" . ($@ =~ s/\s+/ /gr) unless defined $r;
		print "$id\t$run->{label}\t$r\n";
	}
}
