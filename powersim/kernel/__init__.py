"""The tiny kernel (docs/KERNEL.md): layout, interrupt entry with
soft-masking, IPIs; built with the assembler's Builder and run on the machine."""
