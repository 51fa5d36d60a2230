/* Private helpers shared by libconex's modules; not installed. */
#ifndef CONEX_INTERNAL_H
#define CONEX_INTERNAL_H

#include <stddef.h>

#define CX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CX_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
