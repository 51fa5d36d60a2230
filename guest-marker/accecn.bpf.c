// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cx_accecn: a TCP congestion control (BPF struct_ops) that behaves as the
 * kernel's CUBIC and asks for Accurate ECN (RFC 9768).
 *
 * Linux 6.18 negotiates AccECN only for a socket whose congestion control
 * carries TCP_CONG_NEEDS_ACCECN (net.ipv4.tcp_ecn stops at 2 here), so this
 * is how a guest gets AccECN: the marker registers these ops through a
 * struct_ops link and makes them the namespace's default (accecn.c).
 *
 * Every operation is the kernel's own CUBIC, called as a kfunc: the
 * window follows exactly what `cubic` would do, only the ECN feedback on
 * the wire changes. The state lives in the socket's icsk_ca_priv, which
 * CUBIC's functions use as they do for the built-in algorithm.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "accecn.h"

extern void cubictcp_init(struct sock *sk) __ksym;
extern __u32 cubictcp_recalc_ssthresh(struct sock *sk) __ksym;
extern void cubictcp_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern void cubictcp_state(struct sock *sk, __u8 new_state) __ksym;
extern void cubictcp_cwnd_event(struct sock *sk, enum tcp_ca_event event) __ksym;
extern void cubictcp_acked(struct sock *sk, const struct ack_sample *sample) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

SEC("struct_ops")
void BPF_PROG(cxa_init, struct sock *sk)
{
	cubictcp_init(sk);
}

SEC("struct_ops")
__u32 BPF_PROG(cxa_ssthresh, struct sock *sk)
{
	return cubictcp_recalc_ssthresh(sk);
}

SEC("struct_ops")
void BPF_PROG(cxa_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	cubictcp_cong_avoid(sk, ack, acked);
}

SEC("struct_ops")
void BPF_PROG(cxa_set_state, struct sock *sk, __u8 new_state)
{
	cubictcp_state(sk, new_state);
}

SEC("struct_ops")
void BPF_PROG(cxa_cwnd_event, struct sock *sk, enum tcp_ca_event event)
{
	cubictcp_cwnd_event(sk, event);
}

SEC("struct_ops")
void BPF_PROG(cxa_pkts_acked, struct sock *sk, const struct ack_sample *sample)
{
	cubictcp_acked(sk, sample);
}

SEC("struct_ops")
__u32 BPF_PROG(cxa_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops")
struct tcp_congestion_ops cx_accecn = {
	.init		= (void *)cxa_init,
	.ssthresh	= (void *)cxa_ssthresh,
	.cong_avoid	= (void *)cxa_cong_avoid,
	.set_state	= (void *)cxa_set_state,
	.cwnd_event	= (void *)cxa_cwnd_event,
	.pkts_acked	= (void *)cxa_pkts_acked,
	.undo_cwnd	= (void *)cxa_undo_cwnd,
	.flags		= CXM_ACCECN_CC_FLAGS,
	.name		= CXM_ACCECN_CC,
};

/* GPL-compatible: the CUBIC kfuncs are GPL-only. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";
