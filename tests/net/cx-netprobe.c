/*
 * Test-only driver of policer/net.c (never installed): builds a
 * struct pol_config from a tiny argv and calls pol_net_install(),
 * pol_net_cleanup() or pol_net_cleanup_all(), so that the namespace tests
 * exercise the policer's own plumbing code.
 *
 *   cx-netprobe install|cleanup|cleanup-all [--host-id N] [--local ADDR]
 *       [--peer ID=ADDR]... [--remote PREFIX=PEER_ID]... [--guest IF]...
 *       [--queue N] [--fail-closed] [--dev NAME] [--table N] [--mark N]
 *       [--port N] [--vni N]
 *
 * Prints "removed N" after a cleanup. Exit 0 on success, 1 on failure
 * (the error on stderr), 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "net.h"

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_addr(const char *s, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* "ID=ADDR" */
static int add_peer(struct pol_config *c, char *arg)
{
	struct pol_peer *p;
	char *eq = strchr(arg, '=');

	if (eq == NULL || c->n_peers >= POL_PEERS_MAX)
		return -EINVAL;
	*eq = '\0';
	p = &c->peers[c->n_peers];
	if (parse_u32(arg, UINT32_MAX, &p->host_id) < 0 ||
	    parse_addr(eq + 1, &p->family, p->addr) < 0)
		return -EINVAL;
	c->n_peers++;
	return 0;
}

/* "PREFIX/LEN=PEER_ID"; the peer must come first. */
static int add_remote(struct pol_config *c, char *arg)
{
	struct pol_remote *r;
	char *eq = strchr(arg, '='), *slash;
	uint32_t id, len;
	unsigned int i;

	if (eq == NULL || c->n_remotes >= POL_REMOTES_MAX)
		return -EINVAL;
	*eq = '\0';
	slash = strchr(arg, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	r = &c->remotes[c->n_remotes];
	if (parse_addr(arg, &r->prefix.family, r->prefix.addr) < 0 ||
	    parse_u32(slash + 1, r->prefix.family == AF_INET ? 32 : 128, &len) < 0 ||
	    parse_u32(eq + 1, UINT32_MAX, &id) < 0)
		return -EINVAL;
	r->prefix.len = (uint8_t)len;
	for (i = 0; i < c->n_peers; i++)
		if (c->peers[i].host_id == id)
			break;
	if (i == c->n_peers)
		return -EINVAL;
	r->peer = i;
	c->n_remotes++;
	return 0;
}

static int parse(struct pol_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host-id", required_argument, NULL, 'h' },
		{ "local", required_argument, NULL, 'l' },
		{ "peer", required_argument, NULL, 'p' },
		{ "remote", required_argument, NULL, 'r' },
		{ "guest", required_argument, NULL, 'g' },
		{ "queue", required_argument, NULL, 'q' },
		{ "fail-closed", no_argument, NULL, 'c' },
		{ "dev", required_argument, NULL, 'd' },
		{ "table", required_argument, NULL, 't' },
		{ "mark", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'P' },
		{ "vni", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int o, ret = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1 && ret == 0) {
		switch (o) {
		case 'h':
			ret = parse_u32(optarg, UINT32_MAX, &c->host_id);
			break;
		case 'l':
			ret = parse_addr(optarg, &c->local_family, c->local_addr);
			break;
		case 'p':
			ret = add_peer(c, optarg);
			break;
		case 'r':
			ret = add_remote(c, optarg);
			break;
		case 'g':
			if (c->n_guests >= POL_GUESTS_MAX ||
			    strlen(optarg) >= IF_NAMESIZE)
				return -EINVAL;
			snprintf(c->guests[c->n_guests++].ifname, IF_NAMESIZE, "%s",
				 optarg);
			break;
		case 'q':
			ret = parse_u32(optarg, UINT16_MAX, &v);
			c->queue = (uint16_t)v;
			break;
		case 'c':
			c->fail_open = false;
			break;
		case 'd':
			if (strlen(optarg) >= IF_NAMESIZE)
				return -EINVAL;
			snprintf(c->tun_dev, sizeof(c->tun_dev), "%s", optarg);
			break;
		case 't':
			ret = parse_u32(optarg, UINT32_MAX, &c->table);
			break;
		case 'm':
			ret = parse_u32(optarg, UINT32_MAX, &c->mark);
			break;
		case 'P':
			ret = parse_u32(optarg, UINT16_MAX, &v);
			c->vxlan_port = (uint16_t)v;
			break;
		case 'v':
			ret = parse_u32(optarg, UINT32_MAX, &c->vni);
			break;
		default:
			return -EINVAL;
		}
	}
	if (ret == 0 && optind != argc)
		return -EINVAL;
	return ret;
}

int main(int argc, char **argv)
{
	struct pol_config *c;
	const char *verb;
	char err[1024] = "";
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: cx-netprobe install|cleanup|cleanup-all [options]\n");
		return 2;
	}
	verb = argv[1];
	c = malloc(sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "cx-netprobe: out of memory\n");
		return 1;
	}
	pol_config_init(c);
	if (parse(c, argc - 1, argv + 1) < 0) {
		fprintf(stderr, "cx-netprobe: bad arguments\n");
		free(c);
		return 2;
	}
	if (strcmp(verb, "install") == 0)
		ret = pol_net_install(c, err, sizeof(err));
	else if (strcmp(verb, "cleanup") == 0)
		ret = pol_net_cleanup(c, err, sizeof(err));
	else if (strcmp(verb, "cleanup-all") == 0)
		ret = pol_net_cleanup_all(err, sizeof(err));
	else {
		fprintf(stderr, "cx-netprobe: unknown verb %s\n", verb);
		free(c);
		return 2;
	}
	free(c);
	if (ret < 0) {
		fprintf(stderr, "cx-netprobe: %s: %s (%s)\n", verb, err, strerror(-ret));
		return 1;
	}
	if (strcmp(verb, "install") != 0)
		printf("removed %d\n", ret);
	return 0;
}
