/*
 * percpu: Leonardo Bras's v6 series (2020-02) [Bras-v6] in C: the functions
 * of the patches, as linux-mm 3.2 gives them (the comments are ours, not quotes
 * of the patches).  Each CPU counts its own lockless page-table walks
 * in a per-CPU counter (a plain increment: no atomic, no shared line), and
 * serialize_against_pte_lookup sends its IPI round only to the CPUs of
 * mm_cpumask whose counter is non-zero.  The Builder twin is
 * powersim/kernel/methods/percpu.py.
 *
 *   powersim compare workloads/example-small.toml --methods percpu,examples/methods/percpu.c
 */
#include <powersim/method.h>

DEFINE_PER_CPU(int, lockless_pgtbl_walk_counter);

static void do_nothing(void *unused)
{
}

static unsigned long __begin_lockless_pgtbl_walk(bool disable_irq)
{
	unsigned long irq_mask = 0;

	if (disable_irq)
		local_irq_save(irq_mask);

	preempt_disable();
	__this_cpu_inc(lockless_pgtbl_walk_counter);

	/*
	 * This memory barrier pairs with any code that is either trying to
	 * delete page tables, or split huge pages.  Without this barrier,
	 * the page tables could be read speculatively outside of interrupt
	 * disabling or reference counting.
	 */
	smp_mb();

	return irq_mask;
}

static void __end_lockless_pgtbl_walk(unsigned long irq_mask, bool enable_irq)
{
	/*
	 * This memory barrier pairs with any code that is either trying to
	 * delete page tables, or split huge pages.  Without this barrier,
	 * the page tables could be read speculatively outside of interrupt
	 * disabling or reference counting.
	 */
	smp_mb();

	__this_cpu_dec(lockless_pgtbl_walk_counter);
	preempt_enable();

	if (enable_irq)
		local_irq_restore(irq_mask);
}

unsigned long begin_lockless_pgtbl_walk(struct mm_struct *mm)
{
	return __begin_lockless_pgtbl_walk(true);
}

void end_lockless_pgtbl_walk(struct mm_struct *mm, unsigned long irq_mask)
{
	__end_lockless_pgtbl_walk(irq_mask, true);
}

/*
 * Fills a cpumask with the CPUs of mm_cpumask(mm) that are currently doing
 * lockless page-table walks, and sends the IPI round only to them.
 */
void serialize_against_pte_lookup(struct mm_struct *mm)
{
	int cpu;
	struct cpumask cm;

	smp_mb();

	cpumask_clear(&cm);
	for_each_cpu(cpu, mm_cpumask(mm))
		if (per_cpu(lockless_pgtbl_walk_counter, cpu) > 0)
			cpumask_set_cpu(cpu, &cm);

	smp_call_function_many(&cm, do_nothing, NULL, 1);
}
