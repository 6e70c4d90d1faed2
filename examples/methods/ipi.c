/*
 * ipi: the v5.4 baseline (linux-mm 3.1) in C, the smallest complete method:
 * after each THP PMD change, a synchronous IPI round to mm_cpumask, which
 * cannot complete while a CPU of the mask is inside an irq-off lockless walk.
 * Walkers keep the default bracket (local_irq_save/restore); page-table pages
 * are freed at once.  The Builder twin is powersim/kernel/methods/ipi.py.
 */
#include <powersim/method.h>

static void do_nothing(void *unused)
{
}

void serialize_against_pte_lookup(struct mm_struct *mm)
{
	smp_mb();
	smp_call_function_many(mm_cpumask(mm), do_nothing, NULL, 1);
}
