/* arch/powerpc/include/asm/barrier.h (v5.4) [L-bar]: sync is the full barrier;
 * lwsync orders everything but a store before a later load. */
#ifndef _ASM_POWERPC_BARRIER_H
#define _ASM_POWERPC_BARRIER_H

#include <linux/compiler.h>

#define mb()   __asm__ __volatile__ ("sync" : : : "memory")
#define rmb()  __asm__ __volatile__ ("sync" : : : "memory")
#define wmb()  __asm__ __volatile__ ("sync" : : : "memory")

#define smp_mb()   mb()
#define smp_rmb()  __asm__ __volatile__ ("lwsync" : : : "memory")
#define smp_wmb()  __asm__ __volatile__ ("lwsync" : : : "memory")

#define smp_mb__before_atomic() smp_mb()
#define smp_mb__after_atomic()  smp_mb()

#define smp_load_acquire(p) ({ __typeof__(*(p)) ___v = READ_ONCE(*(p)); \
        __asm__ __volatile__ ("lwsync" : : : "memory"); ___v; })
#define smp_store_release(p, v) do { __asm__ __volatile__ ("lwsync" : : : "memory"); \
        WRITE_ONCE(*(p), (v)); } while (0)

#endif
