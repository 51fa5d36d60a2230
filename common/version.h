/*
 * The release of the conex daemons and tools, reported by their control
 * sockets ("status") and by conexctl; one place so that they agree.
 */
#ifndef CXD_VERSION_H
#define CXD_VERSION_H

#define CXD_VERSION	"0.7.0"

#endif
