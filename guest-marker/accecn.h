/*
 * AccECN for the guest (config key `accecn yes`): the cx_accecn congestion
 * control (accecn.bpf.c, CUBIC with TCP_CONG_NEEDS_ACCECN) registered
 * through a struct_ops link and made the network namespace's default
 * congestion control while the marker runs.
 *
 * The macros are shared with accecn.bpf.c (compiled for the BPF target,
 * where __bpf__ is defined); the rest is the daemon's side.
 */
#ifndef CXM_ACCECN_H
#define CXM_ACCECN_H

/* The name sockets and net.ipv4.tcp_congestion_control see. */
#define CXM_ACCECN_CC		"cx_accecn"

/*
 * include/net/tcp.h's TCP_CONG_* flags (not in BTF: #defines):
 * NON_RESTRICTED lets a namespace other than the initial one make it its
 * default; NEEDS_ECN sets ECT on data and negotiates ECN whatever
 * net.ipv4.tcp_ecn says; NEEDS_ACCECN (Linux 6.18) asks for AccECN in
 * the SYN (AE, CWR and ECE set) and accepts it on a listener.
 */
#define CXM_TCP_CONG_NON_RESTRICTED	0x1
#define CXM_TCP_CONG_NEEDS_ECN		0x2
#define CXM_TCP_CONG_NEEDS_ACCECN	0x4
#define CXM_ACCECN_CC_FLAGS	(CXM_TCP_CONG_NON_RESTRICTED | \
				 CXM_TCP_CONG_NEEDS_ECN | \
				 CXM_TCP_CONG_NEEDS_ACCECN)

#ifndef __bpf__

#include <stdbool.h>
#include <stddef.h>

/* TCP_CA_NAME_MAX (include/net/tcp.h), with its NUL. */
#define CXM_CC_NAME_MAX		16

struct accecn_bpf;	/* the bpftool skeleton */

struct cxm_accecn {
	struct accecn_bpf *skel;
	int link_fd;			/* struct_ops link; -1 when not registered */
	bool default_set;		/* the namespace's default is CXM_ACCECN_CC */
	char prev_cc[CXM_CC_NAME_MAX];	/* the default before, restored by stop */
};

/* A stopped state (what stop accepts without a start). */
void cxm_accecn_init(struct cxm_accecn *a);

/*
 * Load cx_accecn, register it through a struct_ops link (it lives as long
 * as the link's fd: a killed marker unregisters it) and make it this
 * network namespace's net.ipv4.tcp_congestion_control, remembering the
 * value it replaces. On failure nothing is left registered or changed,
 * err says why (kernel without AccECN congestion controls, the name
 * taken by another marker on this kernel, privileges) and a negative
 * errno is returned. notice (may be NULL) receives a warning to log on
 * success, or "" if there is none.
 */
int cxm_accecn_start(struct cxm_accecn *a, char *err, size_t errlen,
		     char *notice, size_t noticelen);

/*
 * Give the namespace its previous default (prev_cc) back, only if it
 * still is cx_accecn (an operator's later choice stays), then unregister
 * and unload. Connections opened meanwhile keep cx_accecn until they
 * close. Idempotent. Returns CXM_ACCECN_RESTORED if prev_cc is the
 * default again, CXM_ACCECN_RESTORED_RENO if prev_cc was refused and
 * reno took its place, 0 if there was nothing to give back or the default
 * had been changed meanwhile, or the negative errno of prev_cc's refusal
 * if reno was refused too (the struct_ops is unregistered all the same).
 */
#define CXM_ACCECN_RESTORED		1
#define CXM_ACCECN_RESTORED_RENO	2
int cxm_accecn_stop(struct cxm_accecn *a);

/* True while registered and the namespace's default. */
bool cxm_accecn_active(const struct cxm_accecn *a);

#endif /* !__bpf__ */

#endif
