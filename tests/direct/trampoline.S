/* AP start-up trampoline, copied to TRAMP_BASE (below 1 MiB) by the smp
 * test: real mode -> 32-bit protected mode -> long mode on the BSP's page
 * tables, then ap_entry() on the stack the BSP left in tramp_stack. */
#define TRAMP_BASE 0x8000
	.data
	.code16
	.globl tramp_start, tramp_end, tramp_stack, tramp_cr3
tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdtr - tramp_start
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x18, $(TRAMP_BASE + tramp32 - tramp_start)

	.code32
tramp32:
	movl $0x10, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl TRAMP_BASE + tramp_cr3 - tramp_start, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
	ljmpl $0x08, $(TRAMP_BASE + tramp64 - tramp_start)

	.code64
tramp64:
	movq TRAMP_BASE + tramp_stack - tramp_start, %rsp
	movabsq $ap_entry, %rax
	call *%rax
1:	cli
	hlt
	jmp 1b

	.balign 8
tramp_gdtr:
	.word 31
	.long gdt
tramp_cr3:
	.long 0
	.balign 8
tramp_stack:
	.quad 0
tramp_end:
