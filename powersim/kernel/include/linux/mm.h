/* Everything a serialization method uses, as one include. */
#ifndef _LINUX_MM_H
#define _LINUX_MM_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <asm/barrier.h>
#include <asm/atomic.h>
#include <asm/bitops.h>
#include <asm/paca.h>
#include <asm/processor.h>
#include <linux/irqflags.h>
#include <linux/preempt.h>
#include <linux/cpumask.h>
#include <linux/smp.h>
#include <linux/percpu.h>
#include <linux/mm_types.h>
#include <asm/pgalloc.h>

#endif
