/* struct mm_struct as the tiny kernel lays it out (generated from
 * powersim/kernel/layout.py MM_FIELDS); mm_cpumask(mm) follows on the next line. */
#ifndef _LINUX_MM_TYPES_H
#define _LINUX_MM_TYPES_H

#include <linux/cpumask.h>
#include <generated/powersim_layout.h>

static inline struct cpumask *mm_cpumask(struct mm_struct *mm)
{
	return (struct cpumask *)&mm->cpu_bitmap;
}

#endif
