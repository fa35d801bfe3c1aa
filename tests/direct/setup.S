/* Real-mode part of the bzImage: the boot sector + setup header (protocol
 * 2.15) and a small setup stub for loaders that enter through the 16-bit
 * code (QEMU -kernel via SeaBIOS: CS = setup segment + 0x20, IP = 0).
 * The stub builds a fresh zero page at setup+0x8000 (copy of the header,
 * BIOS e820 map), an identity map of the first GiB at setup+0x9000, and
 * enters the 64-bit entry at 0x100200 with RSI = zero page, like the 64-bit
 * boot protocol. mkbzimage patches setup_sects, syssize and init_size. */
	.code16
	.text
	.globl _setup
_setup:
	.org 0x1f1
	.byte 0                 /* setup_sects (patched) */
	.word 0                 /* root_flags */
	.long 0                 /* syssize (patched) */
	.word 0                 /* ram_size */
	.word 0xffff            /* vid_mode */
	.word 0                 /* root_dev */
	.word 0xaa55            /* boot_flag */
	.org 0x200
	.byte 0xeb, setup_start - _setup - 0x202  /* jump */
	.ascii "HdrS"
	.word 0x020f            /* version 2.15 */
	.long 0                 /* realmode_swtch */
	.word 0                 /* start_sys_seg */
	.word 0                 /* kernel_version */
	.byte 0                 /* type_of_loader */
	.byte 0x01              /* loadflags: LOADED_HIGH */
	.word 0                 /* setup_move_size */
	.long 0x100000          /* code32_start */
	.long 0                 /* ramdisk_image */
	.long 0                 /* ramdisk_size */
	.long 0                 /* bootsect_kludge */
	.word 0                 /* heap_end_ptr */
	.byte 0, 0              /* ext_loader_ver, ext_loader_type */
	.long 0                 /* cmd_line_ptr */
	.long 0x7fffffff        /* initrd_addr_max */
	.long 0x200000          /* kernel_alignment */
	.byte 0                 /* relocatable_kernel */
	.byte 21                /* min_alignment */
	.word 0x0001            /* xloadflags: XLF_KERNEL_64 */
	.long 4095              /* cmdline_size */
	.long 0                 /* hardware_subarch */
	.quad 0                 /* hardware_subarch_data */
	.long 0                 /* payload_offset */
	.long 0                 /* payload_length */
	.quad 0                 /* setup_data */
	.quad 0x100000          /* pref_address */
	.long 0                 /* init_size (patched) */
	.long 0                 /* handover_offset */
	.long 0                 /* kernel_info_offset */
	.org 0x26c
setup_start:
	cli
	cld
	movw %cs, %ax
	subw $0x20, %ax
	movw %ax, %ds
	movw %ax, %es
	inb $0x92, %al          /* fast A20 */
	orb $2, %al
	andb $0xfe, %al
	outb %al, $0x92

	movw $0x8000, %di       /* zero page + page tables: 16 KiB */
	xorl %eax, %eax
	movw $4096, %cx
	rep stosl
	movw $0x1f1, %si
	movw $0x81f1, %di
	movw $0x270 - 0x1f1, %cx
	rep movsb

	xorl %ebx, %ebx         /* BIOS e820 into boot_params.e820_table */
	movw $0x82d0, %di
e820_next:
	movl $0xe820, %eax
	movl $0x534d4150, %edx
	movl $20, %ecx
	int $0x15
	jc e820_done
	cmpl $0x534d4150, %eax
	jne e820_done
	incb 0x81e8
	addw $20, %di
	cmpb $128, 0x81e8
	jae e820_done
	testl %ebx, %ebx
	jnz e820_next
e820_done:
	cli
	movw %ds, %ax
	movzwl %ax, %ebx
	shll $4, %ebx           /* linear address of the setup segment */
	leal 0xa003(%ebx), %eax
	movl %eax, 0x9000
	leal 0xb003(%ebx), %eax
	movl %eax, 0xa000
	movl $0x83, %eax
	movw $0xb000, %di
	movw $512, %cx
1:	movl %eax, (%di)
	addl $0x200000, %eax
	addw $8, %di
	loop 1b

	leal gdt(%ebx), %eax
	movl %eax, gdtr + 2
	lgdtl gdtr
	leal long64(%ebx), %eax
	movl %eax, farptr
	movl %cr4, %eax
	orl $0x20, %eax         /* PAE */
	movl %eax, %cr4
	leal 0x9000(%ebx), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax        /* EFER.LME */
	wrmsr
	leal 0x8000(%ebx), %esi
	movl %cr0, %eax
	orl $0x80000001, %eax   /* PG | PE */
	movl %eax, %cr0
	ljmpl *farptr

	.code64
long64:
	movl $0x10, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $0x100200, %eax
	jmp *%rax

	.balign 8
gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
gdtr:
	.word 23
	.long 0
farptr:
	.long 0
	.word 0x08
