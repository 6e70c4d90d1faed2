/* Freeing page-table pages: the kernel's routines (pgtable.py). */
#ifndef _ASM_POWERPC_PGALLOC_H
#define _ASM_POWERPC_PGALLOC_H

#include <linux/mm_types.h>

/* Back on the pool's free list at once (the tiny kernel's pte_free takes the
 * table only; Linux's also takes the mm). */
void __pte_free(pgtable_t table) __asm__("pte_free");

static inline void pte_free(struct mm_struct *mm, pgtable_t table)
{
	(void)mm;
	__pte_free(table);
}

/* Freed once every CPU passed a quiescent point (the RCU-like deferred free of
 * pgtable.py: what MMU_GATHER_RCU_TABLE_FREE does with tlb_remove_table). */
void tlb_remove_table_deferred(pgtable_t table);

#endif
