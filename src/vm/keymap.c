/* Characters to evdev key presses on a US keyboard layout, for
 * vmk_vm_input_type_text: what the guest sees is keys, so the text arrives
 * as typed only when the guest's layout is US (documented in input.h). */
#include "vm/keymap.h"
#include <linux/input-event-codes.h>
#include <string.h>

static const char row_digits[] = "1234567890";
static const char shift_digits[] = "!@#$%^&*()";
static const uint16_t letters[26] = {KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I,
				     KEY_J, KEY_K, KEY_L, KEY_M, KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R,
				     KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z};
static const struct {
	char plain, shifted;
	uint16_t code;
} punct[] = {
    {'-', '_', KEY_MINUS},	{'=', '+', KEY_EQUAL},	    {'[', '{', KEY_LEFTBRACE},
    {']', '}', KEY_RIGHTBRACE}, {';', ':', KEY_SEMICOLON},  {'\'', '"', KEY_APOSTROPHE},
    {'`', '~', KEY_GRAVE},	{'\\', '|', KEY_BACKSLASH}, {',', '<', KEY_COMMA},
    {'.', '>', KEY_DOT},	{'/', '?', KEY_SLASH},
};

bool keymap_us(char c, uint16_t *code, bool *shift)
{
	*shift = false;
	if (c >= 'a' && c <= 'z') {
		*code = letters[c - 'a'];
		return true;
	}
	if (c >= 'A' && c <= 'Z') {
		*code = letters[c - 'A'];
		*shift = true;
		return true;
	}
	const char *p;
	if (c && (p = strchr(row_digits, c))) {
		*code = (uint16_t)(KEY_1 + (p - row_digits)); /* KEY_1..KEY_0 are consecutive */
		return true;
	}
	if (c && (p = strchr(shift_digits, c))) {
		*code = (uint16_t)(KEY_1 + (p - shift_digits));
		*shift = true;
		return true;
	}
	switch (c) {
	case ' ':
		*code = KEY_SPACE;
		return true;
	case '\n':
		*code = KEY_ENTER;
		return true;
	case '\t':
		*code = KEY_TAB;
		return true;
	case '\b':
		*code = KEY_BACKSPACE;
		return true;
	case 27:
		*code = KEY_ESC;
		return true;
	default:
		break;
	}
	for (size_t i = 0; i < sizeof(punct) / sizeof(punct[0]); i++)
		if (c == punct[i].plain || c == punct[i].shifted) {
			*code = punct[i].code;
			*shift = c == punct[i].shifted;
			return true;
		}
	return false;
}
