/* include/linux/cpumask.h: NR_CPUS is the machine's CPU count (every hardware
 * thread is a CPU, all possible and online). */
#ifndef _LINUX_CPUMASK_H
#define _LINUX_CPUMASK_H

#include <asm/bitops.h>
#include <generated/powersim_layout.h>

typedef struct cpumask { unsigned long bits[BITS_TO_LONGS(NR_CPUS)]; } cpumask_t;

#define nr_cpu_ids NR_CPUS
#define cpumask_bits(maskp) ((maskp)->bits)

static inline void cpumask_clear(struct cpumask *dstp)
{
	for (int i = 0; i < BITS_TO_LONGS(NR_CPUS); i++)
		dstp->bits[i] = 0;
}

/* atomic, as Linux's (set_bit) */
static inline void cpumask_set_cpu(unsigned int cpu, struct cpumask *dstp)
{
	set_bit(cpu, cpumask_bits(dstp));
}

static inline void __cpumask_set_cpu(unsigned int cpu, struct cpumask *dstp)
{
	__set_bit(cpu, cpumask_bits(dstp));
}

static inline void cpumask_clear_cpu(int cpu, struct cpumask *dstp)
{
	clear_bit(cpu, cpumask_bits(dstp));
}

static inline int cpumask_test_cpu(int cpu, const struct cpumask *cpumask)
{
	return test_bit(cpu, cpumask_bits(cpumask));
}

static inline unsigned int cpumask_next(int n, const struct cpumask *srcp)
{
	return find_next_bit(cpumask_bits(srcp), nr_cpu_ids, n + 1);
}

static inline unsigned int cpumask_weight(const struct cpumask *srcp)
{
	unsigned int w = 0;

	for (int i = 0; i < BITS_TO_LONGS(NR_CPUS); i++)
		w += __builtin_popcountl(srcp->bits[i]);
	return w;
}

static inline bool cpumask_empty(const struct cpumask *srcp)
{
	return cpumask_next(-1, srcp) >= nr_cpu_ids;
}

#define for_each_cpu(cpu, mask)				\
	for ((cpu) = -1;				\
		(cpu) = cpumask_next((cpu), (mask)),	\
		(cpu) < nr_cpu_ids;)

#endif
