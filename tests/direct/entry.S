/* Protected-mode part of the bzImage, loaded at 0x100000.
 * +0x000: 32-bit entry (unsupported: halts). +0x010: image end (for mkbzimage).
 * +0x200: 64-bit entry (64-bit boot protocol): RSI = boot_params.
 * Saves the entry state, clears .bss, installs its own GDT and an identity
 * map of the low 4 GiB (2 MiB pages, the top GiB uncached), calls kmain. */
	.section .head, "ax"
	.code32
	.globl _start
_start:
1:	cli
	hlt
	jmp 1b
	.org 0x10
	.quad _kernel_end          /* mkbzimage: init_size = _kernel_end - 0x100000 */

	.org 0x200
	.code64
	.globl startup_64
startup_64:
	movq %rsi, entry_state+0(%rip)
	movq %cr0, %rax
	movq %rax, entry_state+8(%rip)
	movq %cr4, %rax
	movq %rax, entry_state+16(%rip)
	movl $0xc0000080, %ecx
	rdmsr
	shlq $32, %rdx
	orq %rdx, %rax
	movq %rax, entry_state+24(%rip)
	leaq boot_stack_top(%rip), %rsp
	pushfq
	popq %rax
	movq %rax, entry_state+32(%rip)
	xorl %eax, %eax
	movw %cs, %ax
	movq %rax, entry_state+40(%rip)
	sgdt entry_gdtr(%rip)
	movq entry_gdtr+2(%rip), %rax
	movq %rax, entry_state+48(%rip)
	movzwl entry_gdtr(%rip), %eax
	movq %rax, entry_state+56(%rip)
	cli
	cld

	/* clear .bss (the stack is in it, nothing is live there yet) */
	leaq __bss_start(%rip), %rdi
	leaq _kernel_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD pages; 2048 x 2 MiB */
	leaq pt_pdpt(%rip), %rax
	orq $3, %rax
	movq %rax, pt_pml4(%rip)
	leaq pt_pd(%rip), %rax
	orq $3, %rax
	leaq pt_pdpt(%rip), %rdi
	movl $4, %ecx
1:	movq %rax, (%rdi)
	addq $4096, %rax
	addq $8, %rdi
	decl %ecx
	jnz 1b
	leaq pt_pd(%rip), %rdi
	movl $0x83, %eax
	xorl %ecx, %ecx
2:	movq %rax, %rdx
	cmpl $1536, %ecx
	jb 3f
	orq $0x18, %rdx            /* PCD | PWT above 3 GiB: MMIO */
3:	movq %rdx, (%rdi,%rcx,8)
	addq $0x200000, %rax
	incl %ecx
	cmpl $2048, %ecx
	jb 2b
	leaq pt_pml4(%rip), %rax
	movq %rax, %cr3

	lgdt gdtr(%rip)
	pushq $0x08
	leaq 4f(%rip), %rax
	pushq %rax
	lretq
4:	movl $0x10, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	call kmain
5:	cli
	hlt
	jmp 5b

/* --- interrupt stubs: push a dummy error code where the CPU pushes none --- */
	.text
	.altmacro
.macro ISR vec
isr\vec:
	.if !((\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30))
	pushq $0
	.endif
	pushq $\vec
	jmp isr_common
.endm
.macro ISRADDR vec
	.quad isr\vec
.endm
	.set i, 0
	.rept 256
	ISR %i
	.set i, i+1
	.endr

isr_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call isr_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq

	.section .rodata
	.balign 8
	.globl isr_table
isr_table:
	.set i, 0
	.rept 256
	ISRADDR %i
	.set i, i+1
	.endr

	.data
	.balign 16
	.globl gdt, entry_state
gdt:
	.quad 0
	.quad 0x00af9a000000ffff   /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff   /* 0x10: data */
	.quad 0x00cf9a000000ffff   /* 0x18: 32-bit code (AP trampoline) */
gdt_end:
	.balign 16
	.word 0, 0, 0
gdtr:
	.word gdt_end - gdt - 1
	.quad gdt
	.balign 16
entry_state:
	.fill 8, 8, 0
entry_gdtr:
	.fill 2, 8, 0

	.bss
	.balign 4096
	.globl pt_pml4
pt_pml4:	.fill 512, 8, 0
pt_pdpt:	.fill 512, 8, 0
pt_pd:		.fill 2048, 8, 0
	.balign 16
	.fill 16384, 1, 0
boot_stack_top:
