/* A minimal "firmware" for the direct tier: the last 4 KiB of a flash image
 * that vmkit maps below 4 GiB when it boots with the EFI boot loader. From
 * the reset vector (real mode, CS base 0xffff0000) it enters protected
 * mode, copies the test guest (vmkit-testguest-kernel.bin, which
 * mkfirmware packs right below this page) to 0x100000, builds a zero page
 * whose command line runs the firmware test, enters long mode on an
 * identity map of the first GiB and jumps to the guest's 64-bit entry, as a
 * 64-bit boot loader would. So the fw_cfg, flash and CMOS protocols get
 * checked from inside a guest on this host, where OVMF itself cannot run.
 * Linked at 0xfffff000 (fwstub.ld); mkfirmware fills the header. */
	.section .text, "ax"
	.code16
	.globl _start
_start:
hdr_payload_size:	.long 0		/* bytes right below this page, 4 KiB multiple */
hdr_image_size:		.long 0		/* the whole flash image */
cmdline:		.asciz "vmkit.t=firmware"

	.balign 16
gdt:
	.quad 0
	/* Accessed bits preset: the CPU would otherwise write them into
	 * this read-only flash when it loads a selector. */
	.quad 0x00cf9b000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf93000000ffff	/* 0x10: data */
	.quad 0x00af9b000000ffff	/* 0x18: 64-bit code */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

real16:
	cli
	cld
	lgdtl %cs:(gdt_desc - 0xffff0000)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $prot32

	.code32
prot32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $0x7000, %esp

	/* the guest: [0xfffff000 - payload_size, 0xfffff000) -> 0x100000 */
	movl hdr_payload_size, %ecx
	movl $0xfffff000, %esi
	subl %ecx, %esi
	movl $0x100000, %edi
	shrl $2, %ecx
	rep movsl

	/* zero page at 0x7000, command line at 0x7800 */
	movl $0x7000, %edi
	movl $1024, %ecx
	xorl %eax, %eax
	rep stosl
	movl $cmdline, %esi
	movl $0x7800, %edi
1:	lodsb
	stosb
	testb %al, %al
	jnz 1b
	movl $0x7800, 0x7228

	/* PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 (the first GiB, identity)
	 * and PD 0x4000 (the last GiB below 4 GiB, where this code runs), in
	 * 2 MiB pages; the guest installs its own tables first thing. */
	movl $0x1000, %edi
	movl $4096, %ecx
	xorl %eax, %eax
	rep stosl
	movl $0x2003, 0x1000
	movl $0x3003, 0x2000
	movl $0x4003, 0x2018
	movl $0x3000, %edi
	movl $0x83, %eax
	movl $1024, %ecx
2:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	cmpl $513, %ecx			/* entry 511 written: on to the last GiB */
	jne 3f
	movl $0xc0000083, %eax
3:	decl %ecx
	jnz 2b

	movl $0x1000, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax		/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax		/* PG | PE */
	movl %eax, %cr0
	/* A far return, as OVMF's reset vector does: KVM's instruction
	 * emulator (all this host's KVM runs for such code) takes it into a
	 * 64-bit segment where it gives up on a far jump. */
	pushl $0x18
	pushl $long64
	lret

	.code64
long64:
	movl $0x7000, %esi		/* RSI: the zero page */
	movl $0x100200, %eax		/* the 64-bit entry */
	jmp *%rax

	/* the reset vector: 0xfffffff0 */
	.org 0xff0
	.code16
	jmp real16
	.org 0x1000
