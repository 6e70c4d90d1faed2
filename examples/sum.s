# Every hardware thread sums 1..100 into r4, then adds its total to a shared
# counter with ldarx/stdcx. and halts.  Run:  powersim exec examples/sum.s
        .text
        .globl _start
_start:
        li      r4, 0           # running sum
        li      r5, 100
        mtctr   r5
1:      add     r4, r4, r5      # r4 += ctr value held in r5
        addi    r5, r5, -1
        bdnz    1b
        lis     r6, total@ha
        addi    r6, r6, total@l
2:      ldarx   r7, 0, r6       # atomic total += r4
        add     r7, r7, r4
        stdcx.  r7, 0, r6
        bne-    2b
        attn

        .data
        .balign 128
total:  .quad   0
