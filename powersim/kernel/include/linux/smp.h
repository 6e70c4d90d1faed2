/* include/linux/smp.h: the kernel's smp_call_function_many (smp.py, linux-mm 3.7). */
#ifndef _LINUX_SMP_H
#define _LINUX_SMP_H

#include <asm/paca.h>
#include <linux/cpumask.h>

typedef void (*smp_call_func_t)(void *info);

/* func(info) on every CPU of mask but this one, by IPI; wait: until each returned. */
void smp_call_function_many(const struct cpumask *mask, smp_call_func_t func, void *info,
			    bool wait);

#define raw_smp_processor_id() ((int)local_paca->paca_index)
#define smp_processor_id() raw_smp_processor_id()

#endif
