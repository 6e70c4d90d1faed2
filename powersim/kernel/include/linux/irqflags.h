/* local_irq_save/restore as v5.4 powerpc does them (asm/hw_irq.h, kernel/irq.c)
 * [linux-mm 3.8]: saving soft-disables (irq_soft_mask = IRQS_DISABLED, MSR[EE]
 * stays 1); restoring calls the kernel's arch_local_irq_restore, which replays
 * what arrived meanwhile once the mask goes back to 0. */
#ifndef _LINUX_IRQFLAGS_H
#define _LINUX_IRQFLAGS_H

#include <asm/paca.h>

void arch_local_irq_restore(unsigned long mask);   /* the kernel's (irq.py) */

static inline notrace unsigned long irq_soft_mask_return(void)
{
	unsigned long flags;

	__asm__ __volatile__("lbz %0,%1(13)"
		: "=r" (flags)
		: "i" (offsetof(struct paca_struct, irq_soft_mask)));
	return flags;
}

static inline notrace unsigned long irq_soft_mask_set_return(unsigned long mask)
{
	unsigned long flags;

	__asm__ __volatile__(
		"lbz %0,%1(13); stb %2,%1(13)"
		: "=&r" (flags)
		: "i" (offsetof(struct paca_struct, irq_soft_mask)), "r" (mask)
		: "memory");
	return flags;
}

static inline unsigned long arch_local_save_flags(void)
{
	return irq_soft_mask_return();
}

static inline unsigned long arch_local_irq_save(void)
{
	return irq_soft_mask_set_return(IRQS_DISABLED);
}

static inline void arch_local_irq_disable(void)
{
	irq_soft_mask_set_return(IRQS_DISABLED);
}

static inline void arch_local_irq_enable(void)
{
	arch_local_irq_restore(IRQS_ENABLED);
}

static inline bool arch_irqs_disabled_flags(unsigned long flags)
{
	return flags & IRQS_DISABLED;
}

#define local_irq_save(flags)		do { (flags) = arch_local_irq_save(); } while (0)
#define local_irq_restore(flags)	arch_local_irq_restore(flags)
#define local_irq_disable()		arch_local_irq_disable()
#define local_irq_enable()		arch_local_irq_enable()
#define local_save_flags(flags)		do { (flags) = arch_local_save_flags(); } while (0)
#define irqs_disabled()			arch_irqs_disabled_flags(arch_local_save_flags())
#define raw_local_irq_save(flags)	local_irq_save(flags)
#define raw_local_irq_restore(flags)	local_irq_restore(flags)

#endif
