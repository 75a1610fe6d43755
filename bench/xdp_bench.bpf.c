// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_bench — bpf/smtp_flow.bpf.c compiled as is, plus two programs for
 * bench/bench_xdp.c that run it and then change the frame, which
 * BPF_PROG_TEST_RUN hands unchanged (but for what the program wrote) to
 * the next repeat:
 *   xdp_bench_newflow  IPv4 source address + 1: every repeat is a flow
 *                      never seen, so the new-flow path is measured inside
 *                      the kernel's repeat loop, without a syscall per packet
 *   xdp_bench_touch    the same write into the TCP payload: the cost of the
 *                      write itself, on a flow that stays the same
 * Both expect an untagged Ethernet + IPv4 (no options) + TCP frame.
 * bench/xdp_compare.sh builds this file against another revision's
 * smtp_flow.bpf.c (the include is looked up next to this file first).
 */
#include "smtp_flow.bpf.c"

static __always_inline int bump(struct xdp_md *ctx, __u32 off)
{
	int rc = smtp_flow(ctx);
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 *w = data + off;
	if ((void *)(w + 1) > end)
		return rc;
	*w = bpf_htonl(bpf_ntohl(*w) + 1);
	return rc;
}

SEC("xdp")
int xdp_bench_newflow(struct xdp_md *ctx)
{
	return bump(ctx, 14 + 12); /* IPv4 saddr */
}

SEC("xdp")
int xdp_bench_touch(struct xdp_md *ctx)
{
	return bump(ctx, 14 + 20 + 20); /* first payload word */
}
