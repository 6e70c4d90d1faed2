/* arch/powerpc/include/asm/bitops.h (v5.4) [L-atomic]: set_bit and clear_bit are
 * ldarx/stdcx. loops that order nothing; the __ forms are plain. */
#ifndef _ASM_POWERPC_BITOPS_H
#define _ASM_POWERPC_BITOPS_H

#include <linux/types.h>

#define BITS_PER_LONG 64
#define BIT_WORD(nr) ((nr) / BITS_PER_LONG)
#define BIT_MASK(nr) (1UL << ((nr) % BITS_PER_LONG))
#define BITS_TO_LONGS(nr) (((nr) + BITS_PER_LONG - 1) / BITS_PER_LONG)

#define DEFINE_BITOP(fn, op)						\
static __inline__ void fn(unsigned long mask, volatile unsigned long *_p) \
{									\
	unsigned long old;						\
	unsigned long *p = (unsigned long *)_p;				\
	__asm__ __volatile__ (						\
"1:	ldarx	%0,0,%3\n"						\
	#op "%I2 %0,%0,%2\n"						\
	"stdcx.	%0,0,%3\n"						\
	"bne- 1b\n"							\
	: "=&r" (old), "+m" (*p)					\
	: "rK" (mask), "r" (p)						\
	: "cc", "memory");						\
}

DEFINE_BITOP(set_bits, or)
DEFINE_BITOP(clear_bits, andc)
#undef DEFINE_BITOP

static __inline__ void set_bit(int nr, volatile unsigned long *addr)
{
	set_bits(BIT_MASK(nr), addr + BIT_WORD(nr));
}

static __inline__ void clear_bit(int nr, volatile unsigned long *addr)
{
	clear_bits(BIT_MASK(nr), addr + BIT_WORD(nr));
}

static __inline__ void __set_bit(int nr, volatile unsigned long *addr)
{
	addr[BIT_WORD(nr)] |= BIT_MASK(nr);
}

static __inline__ void __clear_bit(int nr, volatile unsigned long *addr)
{
	addr[BIT_WORD(nr)] &= ~BIT_MASK(nr);
}

static __inline__ int test_bit(int nr, const volatile unsigned long *addr)
{
	return 1UL & (addr[BIT_WORD(nr)] >> (nr & (BITS_PER_LONG - 1)));
}

/* The first set bit at or after offset, or size if none (lib/find_bit.c). */
static __inline__ unsigned long find_next_bit(const unsigned long *addr, unsigned long size,
					      unsigned long offset)
{
	unsigned long tmp;

	if (offset >= size)
		return size;
	tmp = addr[BIT_WORD(offset)] & (~0UL << (offset & (BITS_PER_LONG - 1)));
	while (!tmp) {
		offset = (offset | (BITS_PER_LONG - 1)) + 1;
		if (offset >= size)
			return size;
		tmp = addr[BIT_WORD(offset)];
	}
	offset = (offset & ~(BITS_PER_LONG - 1UL)) + __builtin_ctzl(tmp);
	return offset < size ? offset : size;
}

#endif
