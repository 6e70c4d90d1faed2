/* arch/powerpc/include/asm/processor.h, vdso/processor.h: cpu_relax lowers
 * then restores the SMT thread priority (HMT_low; HMT_medium). */
#ifndef _ASM_POWERPC_PROCESSOR_H
#define _ASM_POWERPC_PROCESSOR_H

#include <linux/compiler.h>

#define HMT_low()	__asm__ __volatile__("or 1,1,1	# low priority")
#define HMT_medium()	__asm__ __volatile__("or 2,2,2	# medium priority")
#define cpu_relax()	do { HMT_low(); HMT_medium(); barrier(); } while (0)

#endif
