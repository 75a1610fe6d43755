/*
 * vmlinux_fallback.h — what smtp_flow.bpf.c and steer.bpf.c need from
 * vmlinux.h, taken from the UAPI headers instead, for machines without
 * /sys/kernel/btf/vmlinux (the Makefile uses it then). Neither program
 * needs CO-RE: XDP and SK_REUSEPORT contexts are stable UAPI.
 */
#ifndef AUTHGATE_VMLINUX_FALLBACK_H
#define AUTHGATE_VMLINUX_FALLBACK_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

/* kernel-internal (include/linux/if_vlan.h), not in UAPI */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

#endif
