/* A serialization method written in C: the hooks the tiny kernel calls, with
 * the meaning the Builder methods' hooks have (powersim/kernel/methods/).
 *
 * Build: powersim compiles the file with powerpc64le-linux-gnu-gcc (-mcpu=power9
 * -O2 -ffreestanding, ELFv2, no floating point or vector, -mno-modulo: the
 * instructions powersim models), links it after the Builder kernel with GNU ld,
 * and the kernel calls the hooks below with the ELFv2 convention: r2 holds the
 * method's TOC from boot on, r13 this CPU's PACA, r1 a stack with room for a
 * frame; a hook may clobber r0, r3-r12, CTR, LR, XER and CR0/1/5-7.  It may
 * call the kernel's routines declared in <linux/mm.h> (smp_call_function_many,
 * arch_local_irq_restore, pte_free, tlb_remove_table_deferred).
 *
 * Hooks (global functions of the method file):
 *
 *   void serialize_against_pte_lookup(struct mm_struct *mm);
 *	Required.  Called on the CPU that changed a THP PMD, after the change,
 *	at the call sites of v5.4 [linux-mm 3.3]: the PMD clear
 *	(pmdp_huge_get_and_clear, _full), pmdp_invalidate, and the collapse
 *	flush (pmdp_collapse_flush).
 *
 *   unsigned long begin_lockless_pgtbl_walk(struct mm_struct *mm);
 *   void end_lockless_pgtbl_walk(struct mm_struct *mm, unsigned long irq_mask);
 *	Optional (both or neither).  The bracket of every lockless page-table
 *	walk (GUP-fast, the KVM fault walk, the test walkers); end gets back what
 *	begin returned.  Without them: local_irq_save / local_irq_restore (v5.4).
 *
 *   void pgtable_free_tlb(pgtable_t table);
 *	Optional.  A PTE table that munmap unlinked, after the mmu_gather's TLB
 *	flush: free it now (pte_free) or after a grace period
 *	(tlb_remove_table_deferred).  Without it: pte_free at once.
 *
 * Flags, each METHOD_FLAG(name, 0 or 1) at file scope (default in brackets):
 *
 *   serialize_at_clear [1]	call serialize_against_pte_lookup at the PMD clear
 *				and invalidate (0: v5.8 removed those calls)
 *   serialize_at_collapse [1]	call it at the collapse flush
 *   zap_flush_per_pmd [0]	a non-fullmm zap flushes each 2M entry at once
 *				(v5.8+)
 *   walker_recheck [0]		GUP-fast re-reads the PMD and PTE after taking its
 *				page reference and backs off if either changed
 *   flush_type_v512 [0]	flush_type_needed in its v5.12 form; the method
 *				then defines tick_and_test_trim_clock(void) (1 every
 *				1073rd call), exit_flush_lazy_tlbs(mm) and
 *				do_exit_flush_lazy_tlb(mm), as trim does
 *
 * Global names must not be the kernel's own routines' (`powersim kernel`
 * lists them): make helpers static.
 */
#ifndef _POWERSIM_METHOD_H
#define _POWERSIM_METHOD_H

#include <linux/mm.h>

#define METHOD_FLAG(name, value) \
	__asm__(".globl __method_flag_" #name "\n\t.set __method_flag_" #name ", " #value)

void serialize_against_pte_lookup(struct mm_struct *mm);
unsigned long begin_lockless_pgtbl_walk(struct mm_struct *mm);
void end_lockless_pgtbl_walk(struct mm_struct *mm, unsigned long irq_mask);
void pgtable_free_tlb(pgtable_t table);

#endif
