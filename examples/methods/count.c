/*
 * count: Leonardo Bras's v5 series (2019-10) [Bras-v5] in C: the functions of
 * the patches, as linux-mm 3.2 gives them (the comments are ours, not quotes
 * of the patches).  Every lockless page-table walk counts itself in
 * mm->lockless_pgtbl_walkers, and serialize_against_pte_lookup sends its IPI
 * round to mm_cpumask only while the count is non-zero.  There is no
 * spin-until-zero: a walk that starts after the smp_mb() below sees the PMD
 * change already.  The Builder twin is powersim/kernel/methods/count.py.
 *
 *   powersim compare workloads/example-small.toml --methods count,examples/methods/count.c
 */
#include <powersim/method.h>

static void do_nothing(void *unused)
{
}

static inline int running_lockless_pgtbl_walk(struct mm_struct *mm)
{
	return atomic_read(&mm->lockless_pgtbl_walkers);
}

/*
 * begin_lockless_pgtbl_walk: must be inserted before a function call that does
 *   lockless pagetable walks, such as __find_linux_pte()
 */
unsigned long begin_lockless_pgtbl_walk(struct mm_struct *mm)
{
	unsigned long irq_mask;

	atomic_inc(&mm->lockless_pgtbl_walkers);

	/*
	 * Interrupts must be disabled during the lockless page table walk.
	 * That's because the deleting or splitting involves flushing TLBs,
	 * which in turn issues interrupts, that will block when disabled.
	 */
	local_irq_save(irq_mask);

	/*
	 * This memory barrier pairs with any code that is either trying to
	 * delete page tables, or split huge pages.  Without this barrier,
	 * the page tables could be read speculatively outside of interrupt
	 * disabling.
	 */
	smp_mb();

	return irq_mask;
}

/*
 * end_lockless_pgtbl_walk: must be inserted after the last use of a pointer
 *   returned by a lockless pagetable walk, such as __find_linux_pte()
 */
void end_lockless_pgtbl_walk(struct mm_struct *mm, unsigned long irq_mask)
{
	/*
	 * This memory barrier pairs with any code that is either trying to
	 * delete page tables, or split huge pages.  Without this barrier,
	 * the page tables could be read speculatively outside of interrupt
	 * disabling.
	 */
	smp_mb();

	/*
	 * Interrupts must be disabled during the lockless page table walk.
	 * That's because the deleting or splitting involves flushing TLBs,
	 * which in turn issues interrupts, that will block when disabled.
	 */
	local_irq_restore(irq_mask);

	atomic_dec(&mm->lockless_pgtbl_walkers);
}

/*
 * This function is used to serialize against lockless page table walkers:
 * those that started before the PMD change are waited for (they hold
 * interrupts off, so the IPI round completes only after they end); those
 * that start after it see the change.  No walker running: no IPI at all.
 */
void serialize_against_pte_lookup(struct mm_struct *mm)
{
	smp_mb();
	if (running_lockless_pgtbl_walk(mm))
		smp_call_function_many(mm_cpumask(mm), do_nothing, NULL, 1);
}
