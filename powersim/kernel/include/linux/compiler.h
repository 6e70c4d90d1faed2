/* include/linux/compiler.h, compiler_types.h: the few macros methods use. */
#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

#define barrier() __asm__ __volatile__("" : : : "memory")
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define __always_inline inline __attribute__((__always_inline__))
#define noinline __attribute__((__noinline__))
#define notrace
#define __maybe_unused __attribute__((__unused__))

/* One access the compiler may neither split, merge, repeat nor drop. */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)

#endif
