/* Per-CPU variables (include/linux/percpu-defs.h, asm-generic/percpu.h).
 * DEFINE_PER_CPU puts a variable in .data..percpu; the kernel keeps one copy
 * per CPU, PERCPU_STRIDE bytes apart from the linked one (CPU 0's), so that no
 * two CPUs' copies share a cache line.  __my_cpu_offset is the offset of this
 * CPU's copy (Linux: local_paca->data_offset).  The this_cpu_* operations are
 * v5.4 powerpc's generic ones: the raw operation between raw_local_irq_save and
 * raw_local_irq_restore; the __this_cpu_* ones are the raw operation alone. */
#ifndef _LINUX_PERCPU_H
#define _LINUX_PERCPU_H

#include <linux/irqflags.h>
#include <linux/preempt.h>
#include <linux/smp.h>

#define DEFINE_PER_CPU(type, name) \
	__attribute__((__section__(".data..percpu"))) __typeof__(type) name
#define DECLARE_PER_CPU(type, name) \
	extern __attribute__((__section__(".data..percpu"))) __typeof__(type) name

#define per_cpu_offset(cpu) ((unsigned long)(cpu) * PERCPU_STRIDE)
#define __my_cpu_offset per_cpu_offset(local_paca->paca_index)

#define SHIFT_PERCPU_PTR(ptr, off) ((__typeof__(ptr))((unsigned long)(ptr) + (off)))
#define per_cpu_ptr(ptr, cpu) SHIFT_PERCPU_PTR((ptr), per_cpu_offset(cpu))
#define raw_cpu_ptr(ptr) SHIFT_PERCPU_PTR((ptr), __my_cpu_offset)
#define this_cpu_ptr(ptr) raw_cpu_ptr(ptr)
#define per_cpu(var, cpu) (*per_cpu_ptr(&(var), (cpu)))

#define raw_cpu_read(pcp) (*raw_cpu_ptr(&(pcp)))
#define raw_cpu_write(pcp, val) do { *raw_cpu_ptr(&(pcp)) = (val); } while (0)
#define raw_cpu_add(pcp, val) do { *raw_cpu_ptr(&(pcp)) += (val); } while (0)

#define __this_cpu_read(pcp) raw_cpu_read(pcp)
#define __this_cpu_write(pcp, val) raw_cpu_write(pcp, val)
#define __this_cpu_add(pcp, val) raw_cpu_add(pcp, val)
#define __this_cpu_sub(pcp, val) raw_cpu_add(pcp, -(__typeof__(pcp))(val))
#define __this_cpu_inc(pcp) __this_cpu_add(pcp, 1)
#define __this_cpu_dec(pcp) __this_cpu_sub(pcp, 1)

#define this_cpu_generic_to_op(pcp, val, op)		\
do {							\
	unsigned long __flags;				\
	raw_local_irq_save(__flags);			\
	*raw_cpu_ptr(&(pcp)) op val;			\
	raw_local_irq_restore(__flags);			\
} while (0)

#define this_cpu_read(pcp) READ_ONCE(*raw_cpu_ptr(&(pcp)))
#define this_cpu_write(pcp, val) this_cpu_generic_to_op(pcp, val, =)
#define this_cpu_add(pcp, val) this_cpu_generic_to_op(pcp, val, +=)
#define this_cpu_sub(pcp, val) this_cpu_add(pcp, -(__typeof__(pcp))(val))
#define this_cpu_inc(pcp) this_cpu_add(pcp, 1)
#define this_cpu_dec(pcp) this_cpu_sub(pcp, 1)

#endif
