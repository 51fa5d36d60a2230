/*
 * iptables/ip6tables rules, run as child processes with -w (wait for the
 * xtables lock rather than fail when another tool holds it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/nfacct.h"
#include "common/run.h"
#include "rules.h"

#define ARGS_MAX	32
#define OUT_MAX_BYTES	(64 * 1024)
#define JUMPS_MAX	1024	/* rules deleted per base chain, a hard cap */

static const char *const tools[] = { "iptables", "ip6tables" };

static void args_init(struct cxd_args *a, const char *tool)
{
	cxd_args_init(a, tool, "-w", "-t", "mangle", NULL);
}


static int xt(const char *tool, char *err, size_t errlen, bool quiet, ...)
{
	struct cxd_args a;
	const char *arg;
	char out[1024];
	char **argv = a.argv;
	va_list ap;
	int ret;

	args_init(&a, tool);
	va_start(ap, quiet);
	while ((arg = va_arg(ap, const char *)) != NULL)
		cxd_args_add(&a, arg);
	va_end(ap);
	ret = cxd_run(a.argv, out, sizeof(out));
	if (ret != 0 && !quiet) {
		if (ret < 0)
			snprintf(err, errlen, "%s: %s", tool, strerror(-ret));
		else
			snprintf(err, errlen, "%s %s %s %s: exit %d: %s", tool,
				 argv[4], argv[5] ? argv[5] : "",
				 argv[5] && argv[6] ? argv[6] : "", ret,
				 cxd_first_line(out));
	}
	return ret;
}

/*
 * Delete every rule of base that jumps to chain, as `-S base` lists them
 * ("-A FORWARD -o g1 -j CONEX-AUDIT"): each line becomes a -D.
 */
static int remove_jumps(const char *tool, const char *base, const char *chain,
			char *err, size_t errlen)
{
	char *out, *line, *next, *tok, *save;
	char want[64], dout[256];
	struct cxd_args a;
	int ret, deleted = 0;

	out = malloc(OUT_MAX_BYTES);
	if (out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	args_init(&a, tool);
	cxd_args_add(&a, "-S");
	cxd_args_add(&a, base);
	ret = cxd_run(a.argv, out, OUT_MAX_BYTES);
	if (ret != 0) {
		snprintf(err, errlen, "%s -S %s: exit %d: %s", tool, base, ret,
			 cxd_first_line(out));
		free(out);
		return -1;
	}
	snprintf(want, sizeof(want), " -j %s", chain);
	ret = 0;
	for (line = out; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		/* Exact target: CONEX-AUDIT must not match CONEX-AUDIT-TUN. */
		tok = strstr(line, want);
		if (strncmp(line, "-A ", 3) != 0 || tok == NULL ||
		    (tok[strlen(want)] != '\0' && tok[strlen(want)] != ' '))
			continue;
		if (deleted++ >= JUMPS_MAX) {
			snprintf(err, errlen, "%s: more than %d jumps to %s in %s",
				 tool, JUMPS_MAX, chain, base);
			ret = -1;
			break;
		}
		args_init(&a, tool);
		for (tok = strtok_r(line, " ", &save); tok != NULL;
		     tok = strtok_r(NULL, " ", &save))
			cxd_args_add(&a, strcmp(tok, "-A") == 0 ? "-D" : tok);
		if (cxd_run(a.argv, dout, sizeof(dout)) != 0) {
			snprintf(err, errlen, "%s: could not delete a jump to %s "
				 "from %s: %s", tool, chain, base, cxd_first_line(dout));
			ret = -1;
			break;
		}
	}
	free(out);
	return ret;
}

int aud_rules_remove(char *err, size_t errlen)
{
	static const struct { const char *base, *chain; } hooks[] = {
		{ "FORWARD", AUD_CHAIN },
		{ "INPUT", AUD_CHAIN_TUN },
	};
	unsigned int t, h;
	char tmp[256];
	int ret;

	for (t = 0; t < 2; t++) {
		for (h = 0; h < 2; h++) {
			if (remove_jumps(tools[t], hooks[h].base, hooks[h].chain,
					 err, errlen) < 0)
				return -1;
			/* Absent chains are fine: this is also the stale-rule sweep. */
			if (xt(tools[t], tmp, sizeof(tmp), true, "-F",
			       hooks[h].chain, NULL) != 0)
				continue;
			if (xt(tools[t], err, errlen, false, "-X", hooks[h].chain,
			       NULL) != 0)
				return -1;
		}
	}
	/* After the rules that use it. */
	ret = cxd_nfacct_remove(AUD_NFACCT);
	if (ret < 0) {
		snprintf(err, errlen, "nfacct %s: %s", AUD_NFACCT, strerror(-ret));
		return -1;
	}
	return 0;
}

static int install_family(const struct aud_config *c, unsigned int t, char *err,
			  size_t errlen)
{
	const char *bypass = c->fail_open ? "--queue-bypass" : NULL;
	int family = t == 0 ? AF_INET : AF_INET6;
	char qnum[8], port[8], addr[INET6_ADDRSTRLEN];
	unsigned int i, n_peers = 0;

	snprintf(qnum, sizeof(qnum), "%u", c->queue);
	snprintf(port, sizeof(port), "%u", c->vxlan_port);
	/*
	 * Every queueing rule counts into AUD_NFACCT: the kernel counts
	 * nothing it passes under fail-open, so the daemon reports what was
	 * queued less what it received.
	 */
	if (xt(tools[t], err, errlen, false, "-N", AUD_CHAIN, NULL) != 0 ||
	    xt(tools[t], err, errlen, false, "-A", AUD_CHAIN, "-m", "nfacct",
	       "--nfacct-name", AUD_NFACCT, "-j", "NFQUEUE",
	       "--queue-num", qnum, bypass, NULL) != 0)
		return -1;
	for (i = 0; i < c->n_peers; i++) {
		if (c->peers[i].family != family)
			continue;
		if (n_peers++ == 0 &&
		    xt(tools[t], err, errlen, false, "-N", AUD_CHAIN_TUN, NULL) != 0)
			return -1;
		inet_ntop(family, c->peers[i].addr, addr, sizeof(addr));
		if (xt(tools[t], err, errlen, false, "-A", AUD_CHAIN_TUN, "-s", addr,
		       "-m", "nfacct", "--nfacct-name", AUD_NFACCT,
		       "-j", "NFQUEUE", "--queue-num", qnum, bypass, NULL) != 0)
			return -1;
	}
	/*
	 * VXLAN from anyone else is queued too, without the bypass: the
	 * daemon counts and drops it (tunnel_refused), and while it is down
	 * the kernel drops it. Passed, it would be decapsulated and its inner
	 * packet delivered unaudited.
	 */
	if (n_peers > 0 &&
	    xt(tools[t], err, errlen, false, "-A", AUD_CHAIN_TUN, "-m", "nfacct",
	       "--nfacct-name", AUD_NFACCT, "-j", "NFQUEUE",
	       "--queue-num", qnum, NULL) != 0)
		return -1;
	/* Jumps last: the chains are complete before traffic enters them. */
	if (n_peers > 0 &&
	    xt(tools[t], err, errlen, false, "-I", "INPUT", "1", "-p", "udp",
	       "--dport", port, "-j", AUD_CHAIN_TUN, NULL) != 0)
		return -1;
	for (i = 0; i < c->n_guests; i++)
		if (xt(tools[t], err, errlen, false, "-I", "FORWARD", "1", "-o",
		       c->guests[i].ifname, "-j", AUD_CHAIN, NULL) != 0)
			return -1;
	return 0;
}

int aud_rules_install(const struct aud_config *c, char *err, size_t errlen)
{
	char tmp[256];
	unsigned int t;
	int ret;

	if (aud_rules_remove(err, errlen) < 0)
		return -1;
	ret = cxd_nfacct_ensure(AUD_NFACCT);
	if (ret < 0) {
		snprintf(err, errlen, "nfacct %s: %s", AUD_NFACCT, strerror(-ret));
		return -1;
	}
	for (t = 0; t < 2; t++) {
		if (install_family(c, t, err, errlen) < 0) {
			/* Nothing half-applied stays behind. */
			(void)aud_rules_remove(tmp, sizeof(tmp));
			return -1;
		}
	}
	return 0;
}
