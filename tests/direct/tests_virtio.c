/* vmkit.t=virtio: PCI configuration space (ECAM from the MCFG table and
 * 0xcf8/0xcfc), BAR sizing, the capability list, and a minimal virtio 1.x
 * modern-PCI driver for virtio-rng (1af4:1044): initialisation (§3.1.1),
 * one split queue, MSI-X interrupts, direct, chained and indirect requests;
 * then a hostile driver (buffers outside RAM, looping chains, runaway avail
 * index, bad heads) that the device must refuse with DEVICE_NEEDS_RESET
 * while the VM keeps running, and a reset that brings the device back. */
#include "acpi.h"
#include "apic.h"
#include "pci.h"
#include "tests.h"

#define VEC_CFG 0x50
#define VEC_Q 0x51
#define QSIZE 16

#define F_INDIRECT 28
#define F_EVENT_IDX 29
#define F_VERSION_1 32

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40
#define S_FAILED 0x80

/* common configuration (§4.1.4.3) */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX_CONFIG 0x10
#define C_NUM_QUEUES 0x12
#define C_STATUS 0x14
#define C_GENERATION 0x15
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOTIFY_OFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_DRIVER 0x28
#define C_Q_DEVICE 0x30

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

#define NO_VECTOR 0xffff
#define BAR0_SIZE 0x8000u

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct vavail {
	uint16_t flags, idx, ring[QSIZE], used_event;
};
struct vused {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[QSIZE];
	uint16_t avail_event;
};

static struct vdesc vq_desc[QSIZE] __attribute__((aligned(4096)));
static struct vavail vq_avail __attribute__((aligned(4096)));
static struct vused vq_used __attribute__((aligned(4096)));
static struct vdesc ind_table[4] __attribute__((aligned(16)));
static uint8_t bufs[4][64] __attribute__((aligned(64)));

struct vcap {
	bool found;
	uint8_t cap_len, bar;
	uint32_t off, len, mult;
};

struct vdev {
	unsigned slot;
	uint64_t bar;
	struct vcap cap[6]; /* by cfg_type 1..5: the first of each */
	struct vcap notify_mem; /* the first notify capability in a memory BAR */
	bool kick_mmio;		/* kick() uses notify_mem instead of cap[2] */
	uint16_t io_port;	/* the I/O BAR's base port */
	uint8_t cfg_win;	/* the PCI_CFG capability's offset */
	uint8_t msix;       /* capability offset */
	uint16_t msix_size;
	uint32_t table_off, pba_off;
	uint64_t common, notify_addr, notify_mem_addr;
	uint16_t num_queues;
	bool indirect;
	uint16_t avail_idx, used_seen;
	uint64_t ram_top; /* end of the highest RAM below 4 GiB (e820) */
};

static volatile unsigned cfg_irqs, q_irqs;
/* virtio_init leaves INDIRECT_DESC out even when offered. */
static bool withhold_indirect;

static void cfg_irq(struct frame *f)
{
	(void)f;
	cfg_irqs++;
}

static void q_irq(struct frame *f)
{
	(void)f;
	q_irqs++;
}

static inline void barrier(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

/* --- common configuration accessors --- */
static uint8_t c_r8(struct vdev *v, unsigned o) { return mmio_read8(v->common + o); }
static uint16_t c_r16(struct vdev *v, unsigned o) { return mmio_read16(v->common + o); }
static uint32_t c_r32(struct vdev *v, unsigned o) { return mmio_read32(v->common + o); }
static void c_w8(struct vdev *v, unsigned o, uint8_t x) { mmio_write8(v->common + o, x); }
static void c_w16(struct vdev *v, unsigned o, uint16_t x) { mmio_write16(v->common + o, x); }
static void c_w32(struct vdev *v, unsigned o, uint32_t x) { mmio_write32(v->common + o, x); }
static void c_w64(struct vdev *v, unsigned o, uint64_t x)
{
	c_w32(v, o, (uint32_t)x);
	c_w32(v, o + 4, (uint32_t)(x >> 32));
}
static uint64_t c_r64(struct vdev *v, unsigned o) { return c_r32(v, o) | (uint64_t)c_r32(v, o + 4) << 32; }

static uint64_t dev_features(struct vdev *v)
{
	c_w32(v, C_DFSELECT, 0);
	uint32_t lo = c_r32(v, C_DF);
	c_w32(v, C_DFSELECT, 1);
	uint32_t hi = c_r32(v, C_DF);
	return lo | (uint64_t)hi << 32;
}

static void set_driver_features(struct vdev *v, uint64_t f)
{
	c_w32(v, C_GFSELECT, 0);
	c_w32(v, C_GF, (uint32_t)f);
	c_w32(v, C_GFSELECT, 1);
	c_w32(v, C_GF, (uint32_t)(f >> 32));
}

static uint64_t driver_features(struct vdev *v)
{
	c_w32(v, C_GFSELECT, 0);
	uint32_t lo = c_r32(v, C_GF);
	c_w32(v, C_GFSELECT, 1);
	uint32_t hi = c_r32(v, C_GF);
	return lo | (uint64_t)hi << 32;
}

/* Writes 0 and waits (bounded) until the status reads 0 (§4.1.4.3.2). */
static uint8_t dev_reset(struct vdev *v)
{
	c_w8(v, C_STATUS, 0);
	uint8_t s = 0xff;
	for (int i = 0; i < 1000 && (s = c_r8(v, C_STATUS)) != 0; i++)
		udelay(1000);
	return s;
}

/* A check that prints an ok line only when verbose (the first, documented
 * initialisation); re-initialisations only report failures. */
static bool chk(bool verbose, bool cond, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool chk(bool verbose, bool cond, const char *name, const char *fmt, ...)
{
	if (cond && !verbose)
		return true;
	char buf[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tap_check(cond, name, "%s", buf);
	return cond;
}

/* --- part 1: PCI --- */

static void cap_cb(unsigned dev, uint8_t off, uint8_t id, void *ctx)
{
	struct vdev *v = ctx;
	if (id == PCI_CAP_MSIX) {
		v->msix = off;
		return;
	}
	if (id != PCI_CAP_VNDR)
		return;
	uint8_t type = pci_read8(dev, off + 3u);
	printf("# cap 0x%x vendor: cfg_type %u bar %u offset 0x%x length 0x%x cap_len %u\n", off, type,
	       pci_read8(dev, off + 4u), pci_read32(dev, off + 8u), pci_read32(dev, off + 12u), pci_read8(dev, off + 2u));
	struct vcap *c = &v->cap[type];
	uint8_t bar = pci_read8(dev, off + 4u);
	if (type == 2 && !v->notify_mem.found && bar < 6 && !(pci_read32(dev, PCI_BAR0 + 4u * bar) & 1))
		c = &v->notify_mem;
	else if (type == 0 || type > 5 || v->cap[type].found)
		return; /* the driver uses the first of each type (§4.1.4) */
	if (type == 5)
		v->cfg_win = off;
	c->found = true;
	c->cap_len = pci_read8(dev, off + 2u);
	c->bar = pci_read8(dev, off + 4u);
	c->off = pci_read32(dev, off + 8u);
	c->len = pci_read32(dev, off + 12u);
	if (type == 2 && c->cap_len >= 20)
		c->mult = pci_read32(dev, off + 16u);
	if (c == &v->notify_mem && !v->cap[2].found)
		v->cap[2] = *c; /* a memory notify listed first is the first one */
}

static bool check_cap(struct vdev *v, unsigned type, const char *name, uint32_t want_off, uint32_t min_len)
{
	struct vcap *c = &v->cap[type];
	if (!c->found) {
		tap_fail(name, "no vendor capability with cfg_type %u", type);
		return false;
	}
	bool ok = c->bar == 0 && c->off == want_off && c->len >= min_len && c->cap_len >= 16 &&
		  (uint64_t)c->off + c->len <= BAR0_SIZE;
	tap_check(ok, name,
		  "bar %u offset 0x%x length 0x%x cap_len %u (bar 0, offset 0x%x, length >= 0x%x inside the 32 KiB BAR "
		  "expected)",
		  c->bar, c->off, c->len, c->cap_len, want_off, min_len);
	return ok;
}

static void pci_enumerate(bool have_ecam)
{
	unsigned present = 0, mismatches = 0, hdr_mismatch = 0, phantom_fn = 0;
	char first[160] = "";
	for (unsigned d = 0; d < 32; d++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			uint32_t l = pci_read(false, d, fn, 0, 4);
			uint32_t e = have_ecam ? pci_read(true, d, fn, 0, 4) : l;
			if (l != e && mismatches++ == 0)
				snprintf(first, sizeof(first), "%02x.%u: ECAM 0x%08x, 0xcf8 0x%08x", d, fn, e, l);
			if ((l & 0xffff) == 0xffff && (e & 0xffff) == 0xffff)
				continue;
			present++;
			uint32_t cls = pci_read(false, d, fn, 8, 4) >> 8;
			printf("# pci 00:%02x.%u %04x:%04x class %06x\n", d, fn, l & 0xffff, l >> 16, cls);
			if (fn == 0 && !(pci_read(false, d, 0, PCI_HEADER_TYPE, 1) & 0x80)) {
				/* single-function: functions 1-7 must be absent */
				for (unsigned f = 1; f < 8; f++)
					if (pci_read(false, d, f, 0, 2) != 0xffff ||
					    (have_ecam && pci_read(true, d, f, 0, 2) != 0xffff))
						phantom_fn++;
			}
			if (have_ecam)
				for (unsigned o = 0; o < 0x40; o += 4)
					if (pci_read(true, d, fn, o, 4) != pci_read(false, d, fn, o, 4) && hdr_mismatch++ == 0 &&
					    !first[0])
						snprintf(first, sizeof(first), "%02x.%u header dword 0x%x: ECAM 0x%08x, 0xcf8 0x%08x",
							 d, fn, o, pci_read(true, d, fn, o, 4), pci_read(false, d, fn, o, 4));
			if (fn == 0 && !(pci_read(false, d, 0, PCI_HEADER_TYPE, 1) & 0x80))
				break;
		}
	}
	tap_check(have_ecam && present >= 1 && !mismatches && !hdr_mismatch, "pci-ecam-legacy-agree",
		  "%u functions present, %u id mismatches, %u header mismatches%s%s%s", present, mismatches,
		  hdr_mismatch, first[0] ? " (first: " : "", first, first[0] ? ")" : "");
	tap_check(!phantom_fn, "pci-single-function", "%u functions 1-7 of single-function devices answer", phantom_fn);

	uint32_t id0 = pci_read(false, 0, 0, 0, 4), cls0 = pci_read(false, 0, 0, 8, 4) >> 8;
	uint8_t ht0 = (uint8_t)pci_read(false, 0, 0, PCI_HEADER_TYPE, 1);
	tap_check((id0 & 0xffff) != 0xffff && (cls0 >> 8) == 0x0600 && (ht0 & 0x7f) == 0, "pci-host-bridge",
		  "00.0 id 0x%08x class 0x%06x header type 0x%x (a host bridge, class 0x0600xx, type 0 expected)", id0, cls0,
		  ht0);

	/* An absent slot: all ones at every width, both ways; writes ignored. */
	int absent = -1;
	for (int d = 31; d > 0 && absent < 0; d--)
		if (pci_read(false, (unsigned)d, 0, 0, 2) == 0xffff)
			absent = d;
	if (absent < 0) {
		tap_fail("pci-absent-slot", "every slot on bus 0 answers");
	} else {
		unsigned a = (unsigned)absent;
		pci_write(false, a, 0, PCI_COMMAND, 2, PCI_CMD_MEM);
		if (have_ecam)
			pci_write(true, a, 0, PCI_COMMAND, 2, PCI_CMD_MEM);
		uint32_t l16 = pci_read(false, a, 0, 0, 2), l32 = pci_read(false, a, 0, 0, 4);
		uint32_t l8 = pci_read(false, a, 0, PCI_COMMAND, 1);
		uint32_t e16 = have_ecam ? pci_read(true, a, 0, 0, 2) : 0xffff;
		uint32_t e32 = have_ecam ? pci_read(true, a, 0, PCI_COMMAND, 4) : 0xffffffff;
		tap_check(l16 == 0xffff && l32 == 0xffffffff && l8 == 0xff && e16 == 0xffff && e32 == 0xffffffff,
			  "pci-absent-slot",
			  "slot %u: 0xcf8 vendor 0x%x dword 0x%x command byte 0x%x, ECAM vendor 0x%x command dword 0x%x "
			  "(all ones expected)",
			  a, l16, l32, l8, e16, e32);
	}
	/* Bus 1 does not exist: all ones both ways. */
	outl(0xcf8, 0x80000000u | 1u << 16);
	uint32_t b1l = inl(0xcfc);
	uint32_t b1e = have_ecam ? pci_read(true, 1u << 5, 0, 0, 4) : 0xffffffff; /* dev 32 == bus 1 dev 0 */
	tap_check(b1l == 0xffffffff && b1e == 0xffffffff, "pci-bus1-absent",
		  "bus 1 device 0: 0xcf8 0x%x, ECAM 0x%x (all ones expected)", b1l, b1e);
}

/* BAR0 sizing and decode, through config space; returns BAR0's address. */
static uint64_t pci_bars(struct vdev *v)
{
	unsigned s = v->slot;
	uint32_t orig = pci_read32(s, PCI_BAR0);
	uint16_t cmd = pci_read16(s, PCI_COMMAND);
	tap_check((orig & 0xf) == 0 && orig >= 0xc0000000u && orig < 0xfec00000u && !(orig & (BAR0_SIZE - 1)) &&
			  (cmd & PCI_CMD_MEM),
		  "bar0-placement",
		  "BAR0 0x%08x, command 0x%x (32-bit non-prefetchable memory in 0xc0000000-0xfebfffff, 32 KiB aligned, "
		  "memory decode on expected)",
		  orig, cmd);
	uint64_t base = orig & ~0xfu;
	uint16_t nq_on = mmio_read16(base + C_NUM_QUEUES);

	/* Sizing as firmware does it: decode off, all ones, read, restore. */
	pci_write16(s, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
	uint32_t off_read = mmio_read32(base + C_NUM_QUEUES - 2);
	tap_check(nq_on == 1 && off_read == 0xffffffff, "bar0-decode-off",
		  "num_queues %u with decode on (1 expected); dword at BAR0+0x10 with decode off 0x%x (all ones expected)",
		  nq_on, off_read);
	pci_write32(s, PCI_BAR0, 0xffffffff);
	uint32_t mask = pci_read32(s, PCI_BAR0);
	uint32_t mask_legacy = pci_read(false, s, 0, PCI_BAR0, 4);
	pci_write32(s, PCI_BAR0, orig);
	uint32_t back = pci_read32(s, PCI_BAR0);
	tap_check(mask == ~(BAR0_SIZE - 1) && mask_legacy == mask, "bar0-sizing",
		  "after writing all ones: 0x%08x (ECAM) 0x%08x (0xcf8); 0x%08x expected", mask, mask_legacy,
		  ~(BAR0_SIZE - 1));
	tap_check(back == orig, "bar0-restore", "BAR0 0x%08x after restoring 0x%08x", back, orig);

	/* BAR2: the I/O BAR with the notify ports, 16 address bits decoded. */
	uint32_t io = pci_read32(s, PCI_BAR0 + 8);
	pci_write32(s, PCI_BAR0 + 8, 0xffffffff);
	uint32_t io_mask = pci_read32(s, PCI_BAR0 + 8);
	pci_write32(s, PCI_BAR0 + 8, io);
	uint32_t io_size = (~(io_mask & 0xfffcu) & 0xffffu) + 1;
	v->io_port = (uint16_t)(io & 0xfffcu);
	tap_check((io & 3) == 1 && v->io_port >= 0x6000 && !(v->io_port & (io_size - 1)) && (io_mask & 0xffff0003u) == 1 &&
			  io_size >= 4 && io_size <= 256 && (cmd & PCI_CMD_IO) && pci_read32(s, PCI_BAR0 + 8) == io,
		  "bar2-io", "BAR2 0x%08x, all ones read back 0x%08x (size %u), command 0x%x (an I/O BAR at 0x6000+, "
		  "4-256 ports, naturally aligned, I/O decode on expected)", io, io_mask, io_size, cmd);

	unsigned bad = 0;
	uint32_t badv = 0;
	for (unsigned n = 1; n < 6; n++) {
		if (n == 2)
			continue;
		uint32_t o = pci_read32(s, PCI_BAR0 + 4 * n);
		pci_write32(s, PCI_BAR0 + 4 * n, 0xffffffff);
		uint32_t m = pci_read32(s, PCI_BAR0 + 4 * n);
		pci_write32(s, PCI_BAR0 + 4 * n, o);
		if (m != 0 && bad++ == 0)
			badv = n << 28 | (m & 0x0fffffff);
	}
	tap_check(!bad, "bars-1-3-5-unimplemented", "%u of BAR1, 3-5 size as implemented (first: BAR%u reads 0x%07x)", bad,
		  badv >> 28, badv & 0x0fffffff);

	/* Move BAR0 elsewhere in the window and back: the device follows. */
	uint32_t moved = 0xfe000000u;
	bool clash = false;
	for (unsigned d = 0; d < 32; d++)
		for (unsigned n = 0; n < 6 && pci_read16(d, 0) != 0xffff; n++) {
			uint32_t b = pci_read32(d, PCI_BAR0 + 4 * n) & ~0xfu;
			if (b >= moved - 0x100000u && b < moved + 0x100000u)
				clash = true;
		}
	if (!clash && orig != moved) {
		pci_write32(s, PCI_BAR0, moved);
		pci_write16(s, PCI_COMMAND, cmd | PCI_CMD_MEM);
		uint16_t nq_new = mmio_read16(moved + C_NUM_QUEUES);
		uint32_t old = mmio_read32(base + C_NUM_QUEUES - 2);
		pci_write16(s, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
		pci_write32(s, PCI_BAR0, orig);
		tap_check(nq_new == 1 && old == 0xffffffff, "bar0-move",
			  "BAR0 moved to 0x%x: num_queues there %u (1 expected), old place reads 0x%x (all ones expected)",
			  moved, nq_new, old);
	} else {
		printf("# bar0-move skipped: 0x%x is in use\n", moved);
	}
	pci_write16(s, PCI_COMMAND, cmd | PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_DISABLE);
	uint16_t nq_back = mmio_read16(base + C_NUM_QUEUES);
	tap_check(nq_back == 1, "bar0-decode-restored", "num_queues %u after restoring BAR0 and decode (1 expected)",
		  nq_back);
	return base;
}

/* VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): BAR0 reads and writes through config
 * space alone; a length of 3 is refused and leaves BAR0 alone. */
static void pci_cfg_window(struct vdev *v)
{
	unsigned s = v->slot, c = v->cfg_win;
	if (!v->cap[5].found || v->cap[5].cap_len < 20) {
		tap_fail("virtio-cap-pci-cfg", "no VIRTIO_PCI_CAP_PCI_CFG capability of 20 bytes (found %d, cap_len %u)",
			 v->cap[5].found, v->cap[5].cap_len);
		return;
	}
	pci_write8(s, c + 4, 0);
	pci_write32(s, c + 8, C_NUM_QUEUES);
	pci_write32(s, c + 12, 2);
	uint16_t nq = pci_read16(s, c + 16);
	pci_write32(s, c + 8, C_GFSELECT);
	pci_write32(s, c + 12, 4);
	pci_write32(s, c + 16, 1);
	uint32_t sel = mmio_read32(v->common + C_GFSELECT);
	pci_write32(s, c + 12, 3);
	pci_write32(s, c + 16, 0);
	uint32_t sel_bad = mmio_read32(v->common + C_GFSELECT);
	mmio_write32(v->common + C_GFSELECT, 0);
	tap_check(nq == v->num_queues && sel == 1 && sel_bad == 1, "virtio-cap-pci-cfg",
		  "num_queues through the window %u (%u expected); guest feature select written through it reads %u "
		  "(1 expected), after a refused length-3 write %u (1 expected)",
		  nq, v->num_queues, sel, sel_bad);
}

static bool pci_caps(struct vdev *v)
{
	int n = pci_walk_caps(v->slot, cap_cb, v);
	uint16_t st = pci_read16(v->slot, PCI_STATUS);
	tap_check(n >= 5 && (st & PCI_STATUS_CAPS), "pci-cap-list",
		  "status 0x%x, %d capabilities walked (-1: malformed list; 4 virtio + MSI-X expected)", st, n);
	bool ok = check_cap(v, 1, "virtio-cap-common", 0x0000, 0x38);
	ok &= check_cap(v, 3, "virtio-cap-isr", 0x1000, 1);
	ok &= check_cap(v, 4, "virtio-cap-device", 0x2000, 0);
	struct vcap *nc = &v->cap[2], *nm = &v->notify_mem;
	/* First the notify ports in the I/O BAR (what Linux picks), then the
	 * same notifications in BAR0 for drivers that want memory. */
	bool nio = nc->found && nc->bar == 2 && nc->off == 0 && nc->len >= 2 && nc->cap_len >= 20 && nc->mult == 2;
	bool nmem = nm->found && nm->bar == 0 && nm->off == 0x3000 && nm->len >= 2 && nm->cap_len >= 20 && nm->mult == 4;
	ok &= nio && nmem;
	tap_check(nio, "virtio-cap-notify-io",
			"first notify capability: bar %u offset 0x%x length 0x%x cap_len %u multiplier %u (bar 2, offset 0, "
			"length >= 2, cap_len >= 20, multiplier 2 expected)",
			nc->bar, nc->off, nc->len, nc->cap_len, nc->mult);
	tap_check(nmem, "virtio-cap-notify-mem",
			"memory notify capability: found %d bar %u offset 0x%x length 0x%x cap_len %u multiplier %u (bar 0, "
			"offset 0x3000, cap_len >= 20, multiplier 4 expected)",
			nm->found, nm->bar, nm->off, nm->len, nm->cap_len, nm->mult);
	if (!ok)
		return false;
	v->common = v->bar + v->cap[1].off;
	v->num_queues = c_r16(v, C_NUM_QUEUES);
	pci_cfg_window(v);
	if (!v->msix) {
		tap_fail("msix-cap", "no MSI-X capability");
		return false;
	}
	uint16_t ctl = pci_read16(v->slot, v->msix + 2u);
	uint32_t tbl = pci_read32(v->slot, v->msix + 4u), pba = pci_read32(v->slot, v->msix + 8u);
	v->msix_size = (ctl & 0x7ff) + 1;
	v->table_off = tbl & ~7u;
	v->pba_off = pba & ~7u;
	bool mok = v->msix_size == v->num_queues + 1 && (tbl & 7) == 0 && (pba & 7) == 0 && v->table_off == 0x4000 &&
		   v->pba_off == 0x5000 && !(ctl & 0x8000);
	tap_check(mok, "msix-cap",
		  "message control 0x%x (table size %u, num_queues %u: queues + 1 expected, enable clear), table 0x%x, "
		  "PBA 0x%x (BIR 0 offsets 0x4000 and 0x5000 expected)",
		  ctl, v->msix_size, v->num_queues, tbl, pba);
	return mok;
}

/* --- part 2: the driver --- */

static uint64_t msix_entry(struct vdev *v, unsigned n)
{
	return v->bar + v->table_off + 16ull * n;
}

static void msix_program(struct vdev *v, unsigned n, uint8_t vector, bool masked)
{
	uint64_t e = msix_entry(v, n);
	mmio_write32(e + 12, 1); /* mask while changing */
	mmio_write32(e + 0, 0xfee00000u | lapic_id() << 12);
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, vector);
	mmio_write32(e + 12, masked ? 1 : 0);
}

static bool msix_setup(struct vdev *v)
{
	uint16_t ctl = pci_read16(v->slot, v->msix + 2u);
	/* Enable with the function masked, program, then unmask (as Linux does). */
	pci_write16(v->slot, v->msix + 2u, ctl | 0xc000);
	uint16_t ctl_masked = pci_read16(v->slot, v->msix + 2u);
	msix_program(v, 0, VEC_CFG, false);
	msix_program(v, 1, VEC_Q, false);
	pci_write16(v->slot, v->msix + 2u, (ctl | 0x8000) & ~0x4000);
	uint16_t ctl_on = pci_read16(v->slot, v->msix + 2u);
	uint64_t e0 = msix_entry(v, 0), e1 = msix_entry(v, 1);
	uint32_t a0 = mmio_read32(e0), d0 = mmio_read32(e0 + 8), m0 = mmio_read32(e0 + 12);
	uint32_t a1 = mmio_read32(e1), h1 = mmio_read32(e1 + 4), d1 = mmio_read32(e1 + 8), m1 = mmio_read32(e1 + 12);
	uint32_t want_a = 0xfee00000u | lapic_id() << 12;
	bool ok = (ctl_masked & 0xc000) == 0xc000 && (ctl_on & 0xc000) == 0x8000 && a0 == want_a && d0 == VEC_CFG &&
		  (m0 & 1) == 0 && a1 == want_a && h1 == 0 && d1 == VEC_Q && (m1 & 1) == 0;
	tap_check(ok, "msix-enable",
		  "control 0x%x with enable+mask, 0x%x enabled; entry 0 addr 0x%x data 0x%x ctrl 0x%x; entry 1 addr "
		  "0x%x:%x data 0x%x ctrl 0x%x (addr 0x%x, vectors 0x%x/0x%x, unmasked expected)",
		  ctl_masked, ctl_on, a0, d0, m0, h1, a1, d1, m1, want_a, VEC_CFG, VEC_Q);
	return ok;
}

/* §3.1.1 with VERSION_1 (+ INDIRECT_DESC when offered), queue 0 of QSIZE
 * entries in guest RAM on MSI-X vector 1, config on vector 0, DRIVER_OK. */
static bool virtio_init(struct vdev *v, bool verbose)
{
	uint8_t s = dev_reset(v);
	if (!chk(verbose, s == 0, "virtio-reset", "status 0x%x after writing 0 (0 expected)", s))
		return false;
	c_w8(v, C_STATUS, S_ACK);
	uint8_t s1 = c_r8(v, C_STATUS);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER);
	uint8_t s2 = c_r8(v, C_STATUS);
	if (!chk(verbose, s1 == S_ACK && s2 == (S_ACK | S_DRIVER), "virtio-acknowledge-driver",
		 "status 0x%x after ACKNOWLEDGE, 0x%x after DRIVER (0x1, 0x3 expected)", s1, s2))
		return false;
	uint64_t df = dev_features(v);
	if (!chk(verbose, (df >> F_VERSION_1) & 1, "virtio-offers-version-1", "device features 0x%lx", df))
		return false;
	uint64_t want = 1ull << F_VERSION_1;
	if (((df >> F_INDIRECT) & 1) && !withhold_indirect)
		want |= 1ull << F_INDIRECT;
	v->indirect = (want >> F_INDIRECT) & 1;
	set_driver_features(v, want);
	uint64_t back = driver_features(v);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	uint8_t s3 = c_r8(v, C_STATUS);
	if (!chk(verbose, back == want && s3 == (S_ACK | S_DRIVER | S_FEATURES_OK), "virtio-features-ok",
		 "device offers 0x%lx; wrote 0x%lx, read back 0x%lx; status 0x%x after FEATURES_OK (0xb expected)", df,
		 want, back, s3))
		return false;

	/* Queue 0 */
	memset(vq_desc, 0, sizeof(vq_desc));
	memset(&vq_avail, 0, sizeof(vq_avail));
	memset(&vq_used, 0, sizeof(vq_used));
	v->avail_idx = v->used_seen = 0;
	c_w16(v, C_Q_SELECT, 0);
	uint16_t max = c_r16(v, C_Q_SIZE);
	uint16_t en0 = c_r16(v, C_Q_ENABLE);
	if (!chk(verbose, max >= QSIZE && !(max & (max - 1)) && en0 == 0, "virtio-queue-size",
		 "queue 0 size %u (a power of two >= %u expected), queue_enable %u (0 expected)", max, QSIZE, en0))
		return false;
	c_w16(v, C_Q_SIZE, QSIZE);
	c_w64(v, C_Q_DESC, (uint64_t)vq_desc);
	c_w64(v, C_Q_DRIVER, (uint64_t)&vq_avail);
	c_w64(v, C_Q_DEVICE, (uint64_t)&vq_used);
	c_w16(v, C_Q_MSIX, 1);
	c_w16(v, C_MSIX_CONFIG, 0);
	uint16_t qsz = c_r16(v, C_Q_SIZE), qvec = c_r16(v, C_Q_MSIX), cvec = c_r16(v, C_MSIX_CONFIG);
	uint64_t rd = c_r64(v, C_Q_DESC), ra = c_r64(v, C_Q_DRIVER), ru = c_r64(v, C_Q_DEVICE);
	uint16_t noff = c_r16(v, C_Q_NOTIFY_OFF);
	bool qok = qsz == QSIZE && qvec == 1 && cvec == 0 && rd == (uint64_t)vq_desc && ra == (uint64_t)&vq_avail &&
		   ru == (uint64_t)&vq_used && (uint64_t)noff * v->cap[2].mult + 2 <= v->cap[2].len;
	if (!chk(verbose, qok, "virtio-queue-setup",
		 "size %u, queue vector %u, config vector %u (%u, 1, 0 expected); desc 0x%lx driver 0x%lx device 0x%lx "
		 "(0x%lx 0x%lx 0x%lx written); notify_off %u inside the notify area of 0x%x bytes",
		 qsz, qvec, cvec, QSIZE, rd, ra, ru, (uint64_t)vq_desc, (uint64_t)&vq_avail, (uint64_t)&vq_used, noff,
		 v->cap[2].len))
		return false;
	v->notify_addr = v->io_port + v->cap[2].off + (uint64_t)noff * v->cap[2].mult;
	v->notify_mem_addr = v->bar + v->notify_mem.off + (uint64_t)noff * v->notify_mem.mult;
	c_w16(v, C_Q_ENABLE, 1);
	uint16_t en = c_r16(v, C_Q_ENABLE);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	uint8_t s4 = c_r8(v, C_STATUS);
	return chk(verbose, en == 1 && s4 == 0x0f, "virtio-driver-ok",
		   "queue_enable %u (1 expected), status 0x%x after DRIVER_OK (0xf expected)", en, s4);
}

static void publish(struct vdev *v, uint16_t head)
{
	vq_avail.ring[v->avail_idx % QSIZE] = head;
	barrier();
	v->avail_idx++;
	*(volatile uint16_t *)&vq_avail.idx = v->avail_idx;
	barrier();
}

static void kick(struct vdev *v)
{
	if (v->kick_mmio)
		mmio_write16(v->notify_mem_addr, 0);
	else
		outw((uint16_t)v->notify_addr, 0);
}

static uint16_t used_idx(void)
{
	barrier();
	return *(volatile uint16_t *)&vq_used.idx;
}

struct result {
	bool irq, used;
	uint32_t id, len;
	uint16_t idx;
};

/* Publishes head, kicks, waits for the queue's MSI-X interrupt and the used entry. */
static struct result request(struct vdev *v, uint16_t head)
{
	struct result r = { 0 };
	q_irqs = 0;
	publish(v, head);
	kick(v);
	r.irq = wait_irq(&q_irqs, 2000);
	/* The used entry is written before the interrupt; poll briefly anyway. */
	for (int i = 0; i < 100 && used_idx() == v->used_seen; i++)
		udelay(1000);
	r.idx = used_idx();
	if (r.idx != v->used_seen) {
		r.used = r.idx == (uint16_t)(v->used_seen + 1);
		r.id = vq_used.ring[v->used_seen % QSIZE].id;
		r.len = vq_used.ring[v->used_seen % QSIZE].len;
		v->used_seen = r.idx;
	}
	return r;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void driver_requests(struct vdev *v)
{
	/* 1: one 64-byte device-writable buffer */
	memset(bufs, 0, sizeof(bufs));
	vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE, 0 };
	struct result r = request(v, 0);
	tap_check(r.irq, "rng-msix-interrupt", "no interrupt on vector 0x%x within 2 s (used idx %u)", VEC_Q, r.idx);
	tap_check(r.used && r.id == 0 && r.len == 64, "rng-used",
		  "used idx %u (1 expected), id %u len %u (0, 64 expected)", r.idx, r.id, r.len);
	tap_check(!all_zero(bufs[0], 64), "rng-data", "the 64-byte buffer is all zeros");

	/* 2: again, into another buffer: different bytes */
	vq_desc[1] = (struct vdesc){ (uint64_t)bufs[1], 64, D_WRITE, 0 };
	r = request(v, 1);
	tap_check(r.irq && r.used && r.id == 1 && r.len == 64 && !all_zero(bufs[1], 64) && memcmp(bufs[0], bufs[1], 64),
		  "rng-second-request",
		  "interrupt %d, used idx %u, id %u len %u (1, 64 expected), %s", r.irq, r.idx, r.id, r.len,
		  all_zero(bufs[1], 64) ? "all zeros" : !memcmp(bufs[0], bufs[1], 64) ? "same bytes as the first" : "data ok");

	/* 3: a chain of two writable descriptors, 16 + 48 bytes, kicked
	 * through BAR0's notify area instead of the I/O port */
	memset(bufs[2], 0, 64);
	vq_desc[2] = (struct vdesc){ (uint64_t)bufs[2], 16, D_WRITE | D_NEXT, 3 };
	vq_desc[3] = (struct vdesc){ (uint64_t)bufs[2] + 16, 48, D_WRITE, 0 };
	v->kick_mmio = true;
	r = request(v, 2);
	v->kick_mmio = false;
	tap_check(r.irq && r.used && r.id == 2 && r.len == 64 && !all_zero(bufs[2], 16) && !all_zero(bufs[2] + 16, 48),
		  "rng-chain", "interrupt %d, used idx %u, id %u len %u (2, 64 expected), first part %s, second %s", r.irq,
		  r.idx, r.id, r.len, all_zero(bufs[2], 16) ? "zero" : "filled", all_zero(bufs[2] + 16, 48) ? "zero" : "filled");

	/* 4: indirect: one descriptor pointing at a table of two */
	if (v->indirect) {
		memset(bufs[3], 0, 64);
		ind_table[0] = (struct vdesc){ (uint64_t)bufs[3], 32, D_WRITE | D_NEXT, 1 };
		ind_table[1] = (struct vdesc){ (uint64_t)bufs[3] + 32, 32, D_WRITE, 0 };
		vq_desc[4] = (struct vdesc){ (uint64_t)ind_table, 2 * sizeof(struct vdesc), D_INDIRECT, 0 };
		r = request(v, 4);
		tap_check(r.irq && r.used && r.id == 4 && r.len == 64 && !all_zero(bufs[3], 32) && !all_zero(bufs[3] + 32, 32),
			  "rng-indirect", "interrupt %d, used idx %u, id %u len %u (4, 64 expected), halves %s/%s", r.irq,
			  r.idx, r.id, r.len, all_zero(bufs[3], 32) ? "zero" : "filled",
			  all_zero(bufs[3] + 32, 32) ? "zero" : "filled");
	} else {
		printf("# INDIRECT_DESC not offered: no indirect request\n");
	}

	/* 5: with the queue's vector masked, the interrupt waits in the PBA
	 * and arrives on unmask. */
	uint64_t e1 = msix_entry(v, 1);
	mmio_write32(e1 + 12, 1);
	memset(bufs[0], 0, 64);
	q_irqs = 0;
	publish(v, 0);
	kick(v);
	uint16_t want = (uint16_t)(v->used_seen + 1);
	uint32_t pba = 0;
	sti(); /* an interrupt sent despite the mask would be taken (and counted) */
	for (int i = 0; i < 1000 && !((pba = mmio_read32(v->bar + v->pba_off)) & 2); i++)
		udelay(1000);
	uint16_t idx = used_idx();
	udelay(20000);
	cli();
	unsigned early = q_irqs;
	mmio_write32(e1 + 12, 0);
	bool irq = wait_irq(&q_irqs, 2000);
	uint32_t pba_after = mmio_read32(v->bar + v->pba_off);
	v->used_seen = used_idx();
	tap_check(idx == want && (pba & 2) && !early && irq && !(pba_after & 2), "msix-mask-pending",
		  "used idx %u (%u expected), PBA 0x%x while masked (bit 1 expected), %u interrupts while masked, "
		  "interrupt after unmask %d, PBA after 0x%x",
		  idx, want, pba, early, irq, pba_after);
}

/* --- part 3: a hostile driver --- */

/* Waits up to ms for NEEDS_RESET. */
static uint8_t wait_needs_reset(struct vdev *v, unsigned ms)
{
	uint8_t s = 0;
	for (unsigned i = 0; i < ms && !((s = c_r8(v, C_STATUS)) & S_NEEDS_RESET); i++)
		udelay(1000);
	return s;
}

enum hostile { H_OUTSIDE_RAM, H_RAM_END, H_ADDR_WRAP, H_LOOP, H_AVAIL_JUMP, H_HEAD_RANGE, H_NEXT_RANGE,
	       H_INDIRECT_LOOP, H_INDIRECT_NESTED, H_WRITE_THEN_READ, H_INDIRECT_BAD_LEN, H_INDIRECT_UNNEGOTIATED };

static const char *const hostile_name[] = {
	"hostile-desc-outside-ram", "hostile-desc-straddles-ram-end", "hostile-desc-addr-wraps", "hostile-looping-chain",
	"hostile-avail-idx-jump", "hostile-head-out-of-range", "hostile-next-out-of-range", "hostile-indirect-loop",
	"hostile-indirect-nested", "hostile-readable-after-writable", "hostile-indirect-len-not-multiple-of-16",
	"hostile-indirect-not-negotiated",
};

static void hostile(struct vdev *v, enum hostile h)
{
	const char *name = hostile_name[h];
	withhold_indirect = h == H_INDIRECT_UNNEGOTIATED;
	bool inited = virtio_init(v, false);
	withhold_indirect = false;
	if (!inited) {
		tap_fail(name, "re-initialisation failed (see above)");
		return;
	}
	const char *what = "";
	uint16_t head = 0, jump = 1;
	switch (h) {
	case H_OUTSIDE_RAM:
		vq_desc[0] = (struct vdesc){ 0xfff00000000ull, 64, D_WRITE, 0 };
		what = "descriptor at 0xfff00000000";
		break;
	case H_RAM_END:
		vq_desc[0] = (struct vdesc){ v->ram_top - 32, 64, D_WRITE, 0 };
		what = "64-byte descriptor 32 bytes before the end of RAM below 4 GiB";
		break;
	case H_ADDR_WRAP:
		vq_desc[0] = (struct vdesc){ 0xffffffffffffffc0ull, 0x100000, D_WRITE, 0 };
		what = "descriptor at 2^64-64 of 1 MiB (wraps to 0)";
		break;
	case H_LOOP:
		vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE | D_NEXT, 0 };
		what = "descriptor 0 NEXT -> 0";
		break;
	case H_AVAIL_JUMP:
		vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE, 0 };
		jump = QSIZE + 1;
		what = "avail idx advanced by queue size + 1";
		break;
	case H_HEAD_RANGE:
		head = QSIZE + 3;
		what = "avail ring head 19 in a 16-entry queue";
		break;
	case H_NEXT_RANGE:
		vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 32, D_WRITE | D_NEXT, 200 };
		what = "NEXT -> 200 in a 16-entry queue";
		break;
	case H_INDIRECT_LOOP:
		ind_table[0] = (struct vdesc){ (uint64_t)bufs[3], 32, D_WRITE | D_NEXT, 1 };
		ind_table[1] = (struct vdesc){ (uint64_t)bufs[3] + 32, 32, D_WRITE | D_NEXT, 0 };
		vq_desc[0] = (struct vdesc){ (uint64_t)ind_table, 2 * sizeof(struct vdesc), D_INDIRECT, 0 };
		what = "indirect table entry 1 NEXT -> 0";
		break;
	case H_INDIRECT_NESTED:
		ind_table[0] = (struct vdesc){ (uint64_t)&ind_table[2], 2 * sizeof(struct vdesc), D_INDIRECT, 0 };
		ind_table[2] = (struct vdesc){ (uint64_t)bufs[3], 64, D_WRITE, 0 };
		vq_desc[0] = (struct vdesc){ (uint64_t)ind_table, sizeof(struct vdesc), D_INDIRECT, 0 };
		what = "indirect descriptor inside an indirect table";
		break;
	case H_WRITE_THEN_READ:
		vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 32, D_WRITE | D_NEXT, 1 };
		vq_desc[1] = (struct vdesc){ (uint64_t)bufs[1], 32, 0, 0 };
		what = "device-readable descriptor after a writable one";
		break;
	case H_INDIRECT_BAD_LEN:
		ind_table[0] = (struct vdesc){ (uint64_t)bufs[3], 64, D_WRITE, 0 };
		vq_desc[0] = (struct vdesc){ (uint64_t)ind_table, 24, D_INDIRECT, 0 };
		what = "indirect table of 24 bytes";
		break;
	case H_INDIRECT_UNNEGOTIATED:
		ind_table[0] = (struct vdesc){ (uint64_t)bufs[3], 64, D_WRITE, 0 };
		vq_desc[0] = (struct vdesc){ (uint64_t)ind_table, sizeof(struct vdesc), D_INDIRECT, 0 };
		what = "indirect descriptor without INDIRECT_DESC negotiated";
		break;
	}
	if ((h == H_INDIRECT_LOOP || h == H_INDIRECT_NESTED || h == H_INDIRECT_BAD_LEN) && !v->indirect) {
		printf("# %s: INDIRECT_DESC not negotiated, skipped\n", name);
		return;
	}
	cfg_irqs = 0;
	q_irqs = 0;
	vq_avail.ring[0] = head;
	barrier();
	v->avail_idx = (uint16_t)(v->avail_idx + jump);
	*(volatile uint16_t *)&vq_avail.idx = v->avail_idx;
	barrier();
	kick(v);
	sti(); /* take the configuration-change interrupt as it comes */
	uint8_t s = wait_needs_reset(v, 1000);
	bool ci = wait_irq(&cfg_irqs, 500);
	uint16_t u = used_idx();
	/* The device must not return the buffer, must flag itself, and (DRIVER_OK
	 * being set) must send a configuration change notification (§2.1.2). */
	tap_check(u == 0 && (s & S_NEEDS_RESET) && ci && !q_irqs, name,
		  "%s: used idx %u (0 expected), status 0x%x (NEEDS_RESET 0x40 expected), config interrupts %u "
		  "(vector 0x%x, >= 1 expected), queue interrupts %u (0 expected)",
		  what, u, s, cfg_irqs, VEC_CFG, q_irqs);
}

/* Queue areas the device cannot use: enabling must not make a live queue,
 * the device must flag itself, and a kick must not be served. */
static void hostile_ring(struct vdev *v, const char *name, uint64_t desc, uint64_t avail, uint64_t used)
{
	uint8_t s0 = dev_reset(v);
	c_w8(v, C_STATUS, S_ACK);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER);
	set_driver_features(v, 1ull << F_VERSION_1);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	memset(vq_desc, 0, sizeof(vq_desc));
	memset(&vq_avail, 0, sizeof(vq_avail));
	memset(&vq_used, 0, sizeof(vq_used));
	v->avail_idx = v->used_seen = 0;
	c_w16(v, C_Q_SELECT, 0);
	c_w16(v, C_Q_SIZE, QSIZE);
	c_w64(v, C_Q_DESC, desc);
	c_w64(v, C_Q_DRIVER, avail);
	c_w64(v, C_Q_DEVICE, used);
	c_w16(v, C_Q_MSIX, 1);
	c_w16(v, C_MSIX_CONFIG, 0);
	c_w16(v, C_Q_ENABLE, 1);
	uint16_t en = c_r16(v, C_Q_ENABLE);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE, 0 };
	q_irqs = 0;
	publish(v, 0);
	kick(v);
	sti();
	uint8_t s = wait_needs_reset(v, 1000);
	udelay(20000);
	cli();
	uint16_t u = used_idx();
	tap_check(s0 == 0 && (s & S_NEEDS_RESET) && u == 0 && !q_irqs, name,
		  "desc 0x%lx avail 0x%lx used 0x%lx: queue_enable reads %u, status 0x%x (NEEDS_RESET 0x40 expected), "
		  "used idx %u, queue interrupts %u (0, 0 expected)",
		  desc, avail, used, en, s, u, q_irqs);
}

/* Common configuration corner cases on the live device (§4.1.4.3). */
static void common_corners(struct vdev *v)
{
	c_w16(v, C_Q_SELECT, v->num_queues);
	uint16_t sz = c_r16(v, C_Q_SIZE), en = c_r16(v, C_Q_ENABLE);
	c_w16(v, C_Q_SELECT, 0);
	tap_check(sz == 0 && en == 0, "virtio-queue-unavailable",
		  "queue %u (of %u): queue_size %u, queue_enable %u (0, 0 expected)", v->num_queues, v->num_queues, sz, en);

	c_w16(v, C_MSIX_CONFIG, (uint16_t)(v->msix_size + 3));
	uint16_t bad = c_r16(v, C_MSIX_CONFIG);
	c_w16(v, C_MSIX_CONFIG, 0);
	uint16_t good = c_r16(v, C_MSIX_CONFIG);
	tap_check(bad == NO_VECTOR && good == 0, "virtio-vector-out-of-range",
		  "config_msix_vector reads 0x%x after writing %u with %u vectors (0xffff expected), %u after writing 0",
		  bad, v->msix_size + 3, v->msix_size, good);

	c_w16(v, C_Q_SIZE, QSIZE / 2);
	uint16_t qs = c_r16(v, C_Q_SIZE);
	c_w64(v, C_Q_DESC, 0x1000);
	uint64_t d = c_r64(v, C_Q_DESC);
	tap_check(qs == QSIZE && d == (uint64_t)vq_desc, "virtio-enabled-queue-frozen",
		  "after writing size %u and desc 0x1000 to the enabled queue: size %u, desc 0x%lx (%u, 0x%lx expected)",
		  QSIZE / 2, qs, d, QSIZE, (uint64_t)vq_desc);
}

/* Junk written where nothing is defined, and defined registers at the
 * wrong width (ignored, §4.1.3.1: the driver uses the natural width), must
 * leave the live device as it was. */
static void mmio_junk(struct vdev *v)
{
	uint64_t b = v->bar;
	for (unsigned o = 0x38; o < 0x1000; o += 0x44)
		mmio_write32(b + o, 0xdeadbeef);
	for (unsigned o = 0x1004; o < 0x2000; o += 0x104)
		mmio_write32(b + o, 0xffffffff);
	for (unsigned o = 0x3000 + 4u * v->num_queues; o < 0x4000; o += 0x84)
		mmio_write16(b + o, 0);
	for (unsigned o = 0x4000 + 16u * v->msix_size; o < 0x5000; o += 0x90)
		mmio_write32(b + o, 0xfee00000u);
	mmio_write32(b + v->pba_off, 0xffffffff);
	for (unsigned o = 0x6000; o < 0x8000; o += 0x208)
		*(volatile uint64_t *)(b + o) = ~0ull;
	mmio_write16(v->common + C_STATUS, 0);       /* status is a byte */
	mmio_write32(v->common + C_Q_SELECT, 0x0005); /* queue_select is 16 bits */
	mmio_write8(v->common + C_Q_ENABLE, 0);
	mmio_write8(v->common + C_Q_SIZE, 3);
	uint8_t st = c_r8(v, C_STATUS);
	uint16_t sel = c_r16(v, C_Q_SELECT), sz = c_r16(v, C_Q_SIZE), en = c_r16(v, C_Q_ENABLE);
	uint32_t pba = mmio_read32(b + v->pba_off);
	memset(bufs[1], 0, 64);
	vq_desc[1] = (struct vdesc){ (uint64_t)bufs[1], 64, D_WRITE, 0 };
	struct result r = request(v, 1);
	tap_check(st == 0x0f && sel == 0 && sz == QSIZE && en == 1 && !(pba & 1) && r.irq && r.used && r.len == 64 &&
			  !all_zero(bufs[1], 64),
		  "mmio-junk-ignored",
		  "status 0x%x (0xf), queue_select %u (0), size %u (%u), enable %u (1), PBA 0x%x (bit 0 clear); then a request: "
		  "interrupt %d, used idx %u, len %u (64)",
		  st, sel, sz, QSIZE, en, pba, r.irq, r.idx, r.len);
}

/* MSI-X function mask: the interrupt waits in the PBA until it is cleared. */
static void function_mask(struct vdev *v)
{
	uint16_t ctl = pci_read16(v->slot, v->msix + 2u);
	pci_write16(v->slot, v->msix + 2u, ctl | 0x4000);
	memset(bufs[0], 0, 64);
	vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE, 0 };
	q_irqs = 0;
	publish(v, 0);
	kick(v);
	uint16_t want = (uint16_t)(v->used_seen + 1);
	uint32_t pba = 0;
	sti();
	for (int i = 0; i < 1000 && !((pba = mmio_read32(v->bar + v->pba_off)) & 2); i++)
		udelay(1000);
	uint16_t idx = used_idx();
	udelay(20000);
	cli();
	unsigned early = q_irqs;
	pci_write16(v->slot, v->msix + 2u, ctl & ~0x4000);
	bool irq = wait_irq(&q_irqs, 2000);
	v->used_seen = used_idx();
	tap_check(idx == want && (pba & 2) && !early && irq, "msix-function-mask",
		  "used idx %u (%u expected), PBA 0x%x while function-masked (bit 1 expected), %u interrupts while "
		  "masked, interrupt after clearing the mask %d",
		  idx, want, pba, early, irq);
}

/* Bus mastering off under a running device stops it (DRIVER_OK dropped,
 * no ring access, no MSI) until the driver resets it; DRIVER_OK written
 * while it is off takes effect when it comes back on. */
static void bus_master(struct vdev *v)
{
	uint16_t cmd = pci_read16(v->slot, PCI_COMMAND);
	memset(bufs[0], 0, 64);
	vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE, 0 };
	pci_write16(v->slot, PCI_COMMAND, cmd & ~PCI_CMD_MASTER);
	uint8_t st = c_r8(v, C_STATUS);
	q_irqs = 0;
	publish(v, 0);
	kick(v);
	sti();
	udelay(50000);
	cli();
	uint16_t idx = used_idx();
	pci_write16(v->slot, PCI_COMMAND, cmd);
	sti();
	udelay(50000);
	cli();
	uint16_t idx_on = used_idx();
	tap_check(!(st & S_DRIVER_OK) && idx == v->used_seen && idx_on == v->used_seen && !q_irqs && all_zero(bufs[0], 64),
		  "virtio-bus-master-off",
		  "status 0x%x after clearing bus mastering (DRIVER_OK clear expected); used idx %u with it off, %u after "
		  "turning it back on without a reset (%u expected both); %u interrupts; buffer %s",
		  st, idx, idx_on, v->used_seen, q_irqs, all_zero(bufs[0], 64) ? "untouched" : "written");

	/* DRIVER_OK while bus mastering is off: nothing until it is on. */
	pci_write16(v->slot, PCI_COMMAND, cmd & ~PCI_CMD_MASTER);
	bool ok = virtio_init(v, false);
	memset(bufs[0], 0, 64);
	vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE, 0 };
	q_irqs = 0;
	publish(v, 0);
	kick(v);
	sti();
	udelay(50000);
	cli();
	uint16_t early = used_idx();
	unsigned early_irqs = q_irqs;
	pci_write16(v->slot, PCI_COMMAND, cmd);
	bool irq = wait_irq(&q_irqs, 2000);
	for (int i = 0; i < 100 && used_idx() == v->used_seen; i++)
		udelay(1000);
	uint16_t late = used_idx();
	tap_check(ok && early == v->used_seen && !early_irqs && irq && late == (uint16_t)(v->used_seen + 1) &&
			  !all_zero(bufs[0], 64),
		  "virtio-bus-master-deferred-start",
		  "init %s; with bus mastering off after DRIVER_OK: used idx %u (%u expected), %u interrupts; after "
		  "turning it on: interrupt %d, used idx %u (%u expected), buffer %s",
		  ok ? "ok" : "failed", early, v->used_seen, early_irqs, irq, late, (uint16_t)(v->used_seen + 1),
		  all_zero(bufs[0], 64) ? "zero" : "filled");
	v->used_seen = late;
}

static uint64_t e820_ram_top_below_4g(void)
{
	uint64_t top = 0;
	if (!boot_params)
		return 0;
	unsigned n = boot_params[0x1e8];
	for (unsigned i = 0; i < n && i < 128; i++) {
		const uint8_t *e = boot_params + 0x2d0 + 20 * i;
		uint64_t a = *(const uint64_t *)e, l = *(const uint64_t *)(e + 8);
		uint32_t t = *(const uint32_t *)(e + 16);
		if (t == 1 && a + l <= 0x100000000ull && a + l > top)
			top = a + l;
	}
	return top;
}

void test_virtio(void)
{
	static struct vdev dev;
	struct vdev *v = &dev;
	pic_mask_all();
	lapic_enable();
	irq_register(VEC_CFG, cfg_irq);
	irq_register(VEC_Q, q_irq);

	const char *why;
	uint64_t ecam = pci_mcfg_ecam(&why);
	tap_check(ecam != 0, "mcfg", "%s", why);
	if (ecam)
		printf("# ECAM at 0x%lx (MCFG)\n", ecam);
	pci_set_ecam(ecam);
	pci_enumerate(ecam != 0);

	int slot = pci_find_device(0x1af4, 0x1044);
	if (slot < 0) {
		tap_fail("virtio-rng-present", "no 1af4:1044 on bus 0 (run with --entropy 1)");
		return;
	}
	v->slot = (unsigned)slot;
	uint8_t rev = pci_read8(v->slot, PCI_REVISION);
	uint16_t ssv = pci_read16(v->slot, PCI_SUBSYS_VENDOR), ssid = pci_read16(v->slot, PCI_SUBSYS_ID);
	tap_check(rev >= 1 && ssid >= 0x40, "virtio-rng-present",
		  "00:%02x.0 revision %u (>= 1 expected), subsystem %04x:%04x (id >= 0x40 expected)", v->slot, rev, ssv,
		  ssid);
	v->bar = pci_bars(v);
	if (!pci_caps(v))
		return;
	if (!msix_setup(v))
		return;
	v->ram_top = e820_ram_top_below_4g();

	/* FEATURES_OK is refused to a driver without VERSION_1, and to one
	 * that asks for what was not offered. */
	uint8_t s = dev_reset(v);
	c_w8(v, C_STATUS, S_ACK);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER);
	uint64_t df = dev_features(v);
	set_driver_features(v, df & ~(1ull << F_VERSION_1));
	c_w8(v, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	uint8_t s_legacy = c_r8(v, C_STATUS);
	tap_check(s == 0 && !(s_legacy & S_FEATURES_OK), "virtio-features-ok-refused-without-version-1",
		  "offered 0x%lx, wrote 0x%lx: status 0x%x (FEATURES_OK clear expected)", df, (uint64_t)(df & ~(1ull << F_VERSION_1)),
		  s_legacy);
	s = dev_reset(v);
	c_w8(v, C_STATUS, S_ACK);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER);
	uint64_t extra = 0;
	for (unsigned b = 0; b < 24 && !extra; b++)
		if (!((df >> b) & 1))
			extra = 1ull << b;
	set_driver_features(v, (1ull << F_VERSION_1) | extra);
	c_w8(v, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	uint8_t s_extra = c_r8(v, C_STATUS);
	tap_check(s == 0 && extra && !(s_extra & S_FEATURES_OK), "virtio-features-ok-refused-unoffered",
		  "offered 0x%lx, wrote 0x%lx: status 0x%x (FEATURES_OK clear expected)", df,
		  (uint64_t)((1ull << F_VERSION_1) | extra), s_extra);

	if (!virtio_init(v, true))
		return;
	driver_requests(v);
	function_mask(v);
	common_corners(v);
	mmio_junk(v);

	for (enum hostile h = H_OUTSIDE_RAM; h <= H_INDIRECT_UNNEGOTIATED; h++)
		hostile(v, h);
	hostile_ring(v, "hostile-ring-outside-ram", 0xfff00000000ull, (uint64_t)&vq_avail, (uint64_t)&vq_used);
	hostile_ring(v, "hostile-ring-misaligned", (uint64_t)vq_desc + 8, (uint64_t)&vq_avail, (uint64_t)&vq_used);
	hostile_ring(v, "hostile-used-ring-straddles-ram-end", (uint64_t)vq_desc, (uint64_t)&vq_avail,
		     v->ram_top ? v->ram_top - 64 : 0xfff00000000ull);

	bus_master(v);

	/* A reset brings the device back: a clean request works again. */
	bool ok = virtio_init(v, false);
	struct result r = { 0 };
	if (ok) {
		memset(bufs[0], 0, 64);
		vq_desc[0] = (struct vdesc){ (uint64_t)bufs[0], 64, D_WRITE, 0 };
		r = request(v, 0);
	}
	uint8_t st = c_r8(v, C_STATUS);
	tap_check(ok && r.irq && r.used && r.len == 64 && !all_zero(bufs[0], 64) && st == 0x0f, "virtio-recovers",
		  "re-init %s, interrupt %d, used idx %u, len %u (64 expected), status 0x%x (0xf expected)",
		  ok ? "ok" : "failed", r.irq, r.idx, r.len, st);
	dev_reset(v);
}
