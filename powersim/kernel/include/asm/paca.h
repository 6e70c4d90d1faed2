/* arch/powerpc/include/asm/paca.h: r13 always holds this CPU's PACA, whose
 * fields the tiny kernel lays out (generated from powersim/kernel/layout.py). */
#ifndef _ASM_POWERPC_PACA_H
#define _ASM_POWERPC_PACA_H

#include <linux/types.h>
#include <generated/powersim_layout.h>

register struct paca_struct *local_paca __asm__("r13");

#define get_paca() local_paca

/* CPU cpu's PACA (Linux: paca_ptrs[cpu]); one line each, from PACA_BASE. */
static inline struct paca_struct *paca_of(int cpu)
{
	return (struct paca_struct *)PACA_BASE + cpu;
}

#endif
