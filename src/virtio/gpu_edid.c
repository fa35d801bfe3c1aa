/* The EDID a scanout shows its guest (VESA E-EDID 1.4): preferred mode =
 * the scanout's size at up to 60 Hz, the common VESA modes that fit, the
 * monitor's name. A size above 4095 does not fit a detailed timing
 * descriptor's 12 bits; it goes to a DisplayID 1.3 extension block instead
 * (type I timing, 16 bits), which Linux reads. */
#include "virtio/gpu_proto.h"
#include <string.h>

/* Reduced blanking (CVT-RB like): short, fixed porches. */
#define H_FRONT 48
#define H_SYNC	32
#define H_BLANK 160
#define V_FRONT 3
#define V_SYNC	5
#define V_BLANK 35

static uint32_t pixel_clock_10khz(uint32_t w, uint32_t h, uint32_t max)
{
	uint64_t c = (uint64_t)(w + H_BLANK) * (h + V_BLANK) * 60 / 10000;
	/* A big mode runs at a lower refresh rather than not at all. */
	return c > max ? max : c ? (uint32_t)c : 1;
}

static void checksum(uint8_t *b)
{
	uint8_t s = 0;
	for (int i = 0; i < 127; i++)
		s = (uint8_t)(s + b[i]);
	b[127] = (uint8_t)(0x100 - s);
}

static void dtd(uint8_t *d, uint32_t w, uint32_t h)
{
	uint32_t clk = pixel_clock_10khz(w, h, 0xffff);
	uint32_t wmm = w * 264 / 1000, hmm = h * 264 / 1000; /* 96 dpi */

	if (wmm > 4095)
		wmm = 4095;
	if (hmm > 4095)
		hmm = 4095;
	d[0] = (uint8_t)clk;
	d[1] = (uint8_t)(clk >> 8);
	d[2] = (uint8_t)w;
	d[3] = (uint8_t)H_BLANK;
	d[4] = (uint8_t)(((w >> 8) & 0xf) << 4 | ((H_BLANK >> 8) & 0xf));
	d[5] = (uint8_t)h;
	d[6] = (uint8_t)V_BLANK;
	d[7] = (uint8_t)(((h >> 8) & 0xf) << 4 | ((V_BLANK >> 8) & 0xf));
	d[8] = (uint8_t)H_FRONT;
	d[9] = (uint8_t)H_SYNC;
	d[10] = (uint8_t)((V_FRONT & 0xf) << 4 | (V_SYNC & 0xf));
	d[11] = 0; /* the high bits of all four are 0 */
	d[12] = (uint8_t)wmm;
	d[13] = (uint8_t)hmm;
	d[14] = (uint8_t)(((wmm >> 8) & 0xf) << 4 | ((hmm >> 8) & 0xf));
	d[17] = 0x18 | 0x04 | 0x02; /* digital separate sync, both polarities positive */
}

static void text_descriptor(uint8_t *d, uint8_t tag, const char *s)
{
	d[3] = tag;
	size_t n = strlen(s);
	memset(d + 5, ' ', 13);
	memcpy(d + 5, s, n);
	if (n < 13)
		d[5 + n] = '\n';
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* DisplayID 1.3 extension with one type I detailed timing. */
static void displayid(uint8_t *b, uint32_t w, uint32_t h)
{
	uint8_t *t = b + 5 + 3; /* after the section header and the block header */
	uint32_t clk = pixel_clock_10khz(w, h, 0xffffff);

	b[0] = 0x70; /* DisplayID extension */
	b[1] = 0x13; /* version 1.3 */
	b[2] = 3 + 20;
	b[3] = 0; /* extension section */
	b[4] = 0;
	b[5] = 0x03; /* type I detailed timing block */
	b[6] = 0;
	b[7] = 20;
	/* Every value below is stored minus one. */
	t[0] = (uint8_t)(clk - 1);
	t[1] = (uint8_t)((clk - 1) >> 8);
	t[2] = (uint8_t)((clk - 1) >> 16);
	t[3] = 0x80; /* preferred */
	put16(t + 4, w - 1);
	put16(t + 6, H_BLANK - 1);
	put16(t + 8, (H_FRONT - 1) | 0x8000); /* bit 15: positive sync */
	put16(t + 10, H_SYNC - 1);
	put16(t + 12, h - 1);
	put16(t + 14, V_BLANK - 1);
	put16(t + 16, (V_FRONT - 1) | 0x8000);
	put16(t + 18, V_SYNC - 1);
	/* The section's own checksum follows its payload. */
	uint8_t s = 0;
	for (int i = 1; i < 5 + 3 + 20; i++)
		s = (uint8_t)(s + b[i]);
	b[5 + 3 + 20] = (uint8_t)(0x100 - s);
	checksum(b);
}

size_t gpu_edid(uint32_t width, uint32_t height, uint32_t serial, uint8_t out[256])
{
	static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	uint8_t *b = out;
	bool big = width > 4095 || height > 4095;

	memset(out, 0, 256);
	memcpy(b, header, 8);
	/* Manufacturer "VMK" (three 5-bit letters, big-endian), product 1. */
	b[8] = ('V' - '@') << 2 | ('M' - '@') >> 3;
	b[9] = (uint8_t)((('M' - '@') & 7) << 5 | ('K' - '@'));
	b[10] = 1;
	b[12] = (uint8_t)serial;
	b[13] = (uint8_t)(serial >> 8);
	b[14] = (uint8_t)(serial >> 16);
	b[15] = (uint8_t)(serial >> 24);
	b[16] = 1;	     /* week */
	b[17] = 2026 - 1990; /* year */
	b[18] = 1;
	b[19] = 4;		    /* EDID 1.4 */
	b[20] = 0x80 | 0x20 | 0x05; /* digital, 8 bits per colour, DisplayPort */
	b[21] = (uint8_t)(width * 264 / 10000 > 255 ? 255 : width * 264 / 10000);   /* cm */
	b[22] = (uint8_t)(height * 264 / 10000 > 255 ? 255 : height * 264 / 10000); /* cm */
	b[23] = 120;								    /* gamma 2.2 */
	b[24] = 0x04 | 0x02; /* sRGB, preferred timing is native */
	/* sRGB primaries and white point, 10 bits each. */
	static const uint8_t chroma[10] = {0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54};
	memcpy(b + 25, chroma, 10);
	/* Established timings that fit: 640x480, 800x600, 1024x768 at 60 Hz. */
	if (width >= 640 && height >= 480)
		b[35] |= 0x20;
	if (width >= 800 && height >= 600)
		b[35] |= 0x01;
	if (width >= 1024 && height >= 768)
		b[36] |= 0x08;
	for (int i = 38; i < 54; i++)
		b[i] = 1; /* no standard timings */
	uint8_t *d = b + 54;
	if (!big) {
		dtd(d, width, height);
		d += 18;
	}
	/* Range limits: 50-75 Hz vertical, 30-255 kHz horizontal, the clock. */
	d[3] = 0xfd;
	d[5] = 50;
	d[6] = 75;
	d[7] = 30;
	d[8] = 255;
	d[9] = 255; /* max pixel clock / 10 MHz */
	d[10] = 1;  /* range limits only */
	d[11] = '\n';
	memset(d + 12, ' ', 6);
	d += 18;
	text_descriptor(d, 0xfc, "vmkit");
	d += 18;
	char sn[14];
	static const char hex[] = "0123456789ABCDEF";
	memcpy(sn, "VMK-", 4);
	for (int i = 0; i < 8; i++)
		sn[4 + i] = hex[(serial >> (28 - 4 * i)) & 0xf];
	sn[12] = 0;
	if (d <= b + 108) {
		text_descriptor(d, 0xff, sn);
		d += 18;
	}
	b[126] = big ? 1 : 0;
	checksum(b);
	if (!big)
		return 128;
	displayid(out + 128, width, height);
	return 256;
}
