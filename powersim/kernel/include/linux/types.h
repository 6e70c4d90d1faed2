/* Types of the tiny kernel's world, as Linux names them (include/linux/types.h).
 * Freestanding: only GCC's own <stddef.h>, <stdbool.h> and <stdint.h> are used. */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

typedef struct { int counter; } atomic_t;          /* 32-bit, as Linux's */
typedef struct { s64 counter; } atomic64_t;
typedef struct { volatile unsigned int slock; } spinlock_t;    /* arch_spinlock_t */

typedef u64 pgd_t;                  /* radix entries: big-endian in memory */
typedef u64 pmd_t;
typedef u64 pte_t;
typedef void *pgtable_t;            /* a PTE table (book3s64 pgtable_t is pte_t *) */

#endif
