/* Frames (and cursors) the host copied out of a scanout: freeing them and writing them as
 * PNG (libpng). A file is written aside and renamed over the path, so a
 * reader never sees half a picture and a failure leaves the old file. */
#include "util/error_priv.h"
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vmkit/graphics.h>

void vmk_frame_free(vmk_frame *f)
{
	if (!f)
		return;
	free(f->pixels);
	free(f);
}

void vmk_cursor_free(vmk_cursor *c)
{
	if (!c)
		return;
	free(c->argb);
	free(c);
}

/* libpng reports errors by longjmp; the writer keeps no state across it. */
static bool write_png(FILE *fp, const vmk_frame *f)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	uint8_t *row = malloc((size_t)f->width * 3);
	volatile bool ok = false;

	if (!png || !info || !row)
		goto out;
	if (setjmp(png_jmpbuf(png)))
		goto out;
	png_init_io(png, fp);
	png_set_IHDR(png, info, f->width, f->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, 1); /* screenshots are taken often; size matters less */
	png_write_info(png, info);
	for (uint32_t y = 0; y < f->height; y++) {
		const uint8_t *p = f->pixels + (size_t)f->stride * y;
		for (uint32_t x = 0; x < f->width; x++) {
			row[3 * x] = p[4 * x + 2];
			row[3 * x + 1] = p[4 * x + 1];
			row[3 * x + 2] = p[4 * x];
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	ok = true;
out:
	png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
	free(row);
	return ok;
}

bool vmk_frame_to_png(const vmk_frame *f, uint8_t **png, size_t *len, vmk_error **err)
{
	char *buf = NULL;
	size_t n = 0;

	if (!f || !png || !len)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "frame", "NULL frame or output");
	FILE *fp = open_memstream(&buf, &n);
	if (!fp)
		return vmk_set_errno(err, VMK_ERR_OUT_OF_MEMORY, "frame", errno, "out of memory");
	bool ok = write_png(fp, f);
	if (fclose(fp) != 0)
		ok = false;
	if (!ok) {
		free(buf);
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "frame", "frame: cannot encode the PNG");
	}
	*png = (uint8_t *)buf;
	*len = n;
	return true;
}

bool vmk_frame_save_png(const vmk_frame *f, const char *path, vmk_error **err)
{
	if (!f || !path || !*path)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, "path", "NULL frame or empty path");
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	if (!tmp)
		return vmk_set_error(err, VMK_ERR_OUT_OF_MEMORY, "path", "out of memory");
	snprintf(tmp, n, "%s.%d~", path, (int)getpid());
	FILE *fp = fopen(tmp, "wbx");
	if (!fp) {
		vmk_set_errno(err, VMK_ERR_INVALID_ARGUMENT, "path", errno, "path: cannot create %s", tmp);
		free(tmp);
		return false;
	}
	bool ok = write_png(fp, f);
	int e = ok ? 0 : EIO;
	if (fflush(fp) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (fclose(fp) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		unlink(tmp);
		vmk_set_errno(err, VMK_ERR_INVALID_ARGUMENT, "path", e, "path: cannot write %s", path);
	}
	free(tmp);
	return ok;
}
