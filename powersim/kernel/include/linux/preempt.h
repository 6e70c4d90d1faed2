/* The tiny kernel does not preempt (CONFIG_PREEMPT_NONE): a compiler barrier. */
#ifndef _LINUX_PREEMPT_H
#define _LINUX_PREEMPT_H

#include <linux/compiler.h>

#define preempt_disable() barrier()
#define preempt_enable() barrier()

#endif
