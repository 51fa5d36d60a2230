/* ADDRESS:PORT listening addresses (see hostport.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <conex/parse.h>

#include "hostport.h"

int cxd_hostport_parse(const char *v, struct cxd_hostport *hp)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *port, *start;
	size_t hlen;
	uint64_t x;
	int family;

	memset(hp, 0, sizeof(*hp));
	if (v == NULL)
		return -EINVAL;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		start = v + 1;
		hlen = (size_t)(close - start);
		port = close + 2;
		family = AF_INET6;
	} else {
		/* An unbracketed IPv6 address has colons of its own. */
		colon = strchr(v, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL)
			return -EINVAL;
		start = v;
		hlen = (size_t)(colon - v);
		port = colon + 1;
		family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, start, hlen);
	host[hlen] = '\0';
	if (inet_pton(family, host, hp->addr) != 1)
		goto err;
	if (cx_parse_u64(port, 1, UINT16_MAX, &x) < 0)
		goto err;
	hp->family = family;
	hp->port = (uint16_t)x;
	return 0;
err:
	memset(hp, 0, sizeof(*hp));
	return -EINVAL;
}

int cxd_hostport_format(const struct cxd_hostport *hp, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if (hp->family != AF_INET && hp->family != AF_INET6)
		return -EINVAL;
	if (inet_ntop(hp->family, hp->addr, host, sizeof(host)) == NULL)
		return -EINVAL;
	n = snprintf(buf, len, hp->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		     host, (unsigned int)hp->port);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int cxd_hostport_sockaddr(const struct cxd_hostport *hp,
			  struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (hp->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(hp->port);
		memcpy(&sin->sin_addr, hp->addr, 4);
		return (int)sizeof(*sin);
	}
	if (hp->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(hp->port);
		memcpy(&sin6->sin6_addr, hp->addr, 16);
		return (int)sizeof(*sin6);
	}
	return -EINVAL;
}
