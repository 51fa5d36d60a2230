/*
 * A listening address written as ADDRESS:PORT: an IPv4 address, or an
 * IPv6 address in brackets (RFC 3986 §3.2.2), then a port 1..65535. Names
 * are not resolved: a daemon's config is read before the network it
 * listens on may be up, and a name could resolve differently later.
 */
#ifndef CXD_HOSTPORT_H
#define CXD_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text form: "[" IPv6 "]:" 5 digits, NUL. */
#define CXD_HOSTPORT_STRLEN	(1 + 45 + 2 + 5 + 1)

struct cxd_hostport {
	int family;		/* 0: none; AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 octets */
	uint16_t port;		/* host order */
};

/* Parse v into *hp (zeroed first). 0, or -EINVAL with *hp zeroed. */
int cxd_hostport_parse(const char *v, struct cxd_hostport *hp);

/* The text form into buf. Its length, -EINVAL for no address, -ENOSPC. */
int cxd_hostport_format(const struct cxd_hostport *hp, char *buf, size_t len);

/* As a sockaddr for bind(2). Its length, or -EINVAL for no address. */
int cxd_hostport_sockaddr(const struct cxd_hostport *hp,
			  struct sockaddr_storage *ss);

#endif
