/* X keysyms (what VNC clients send, RFB 6.4.4) to Linux evdev key codes on a
 * US layout. A keysym names a symbol, not a key: shifted symbols map to the
 * key that types them, and the client sends Shift as its own key event. */
#include <linux/input-event-codes.h>

#include "view/view.h"

/* ASCII 0x20..0x7e. */
static const uint16_t ascii[95] = {
    KEY_SPACE, KEY_1, KEY_APOSTROPHE, KEY_3,	     KEY_4,	    KEY_5,	    KEY_7,     KEY_APOSTROPHE,
    KEY_9,     KEY_0, KEY_8,	      KEY_EQUAL,     KEY_COMMA,	    KEY_MINUS,	    KEY_DOT,   KEY_SLASH,
    KEY_0,     KEY_1, KEY_2,	      KEY_3,	     KEY_4,	    KEY_5,	    KEY_6,     KEY_7,
    KEY_8,     KEY_9, KEY_SEMICOLON,  KEY_SEMICOLON, KEY_COMMA,	    KEY_EQUAL,	    KEY_DOT,   KEY_SLASH,
    KEY_2,     KEY_A, KEY_B,	      KEY_C,	     KEY_D,	    KEY_E,	    KEY_F,     KEY_G,
    KEY_H,     KEY_I, KEY_J,	      KEY_K,	     KEY_L,	    KEY_M,	    KEY_N,     KEY_O,
    KEY_P,     KEY_Q, KEY_R,	      KEY_S,	     KEY_T,	    KEY_U,	    KEY_V,     KEY_W,
    KEY_X,     KEY_Y, KEY_Z,	      KEY_LEFTBRACE, KEY_BACKSLASH, KEY_RIGHTBRACE, KEY_6,     KEY_MINUS,
    KEY_GRAVE, KEY_A, KEY_B,	      KEY_C,	     KEY_D,	    KEY_E,	    KEY_F,     KEY_G,
    KEY_H,     KEY_I, KEY_J,	      KEY_K,	     KEY_L,	    KEY_M,	    KEY_N,     KEY_O,
    KEY_P,     KEY_Q, KEY_R,	      KEY_S,	     KEY_T,	    KEY_U,	    KEY_V,     KEY_W,
    KEY_X,     KEY_Y, KEY_Z,	      KEY_LEFTBRACE, KEY_BACKSLASH, KEY_RIGHTBRACE, KEY_GRAVE,
};

/* Function and modifier keysyms, 0xfe00..0xffff. */
static const struct {
	uint16_t keysym;
	uint16_t code;
} special[] = {
    {0xfe03, KEY_RIGHTALT}, /* ISO_Level3_Shift (AltGr) */
    {0xfe20, KEY_TAB},	    /* ISO_Left_Tab (Shift+Tab) */
    {0xff08, KEY_BACKSPACE},  {0xff09, KEY_TAB},
    {0xff0d, KEY_ENTER},      {0xff13, KEY_PAUSE},
    {0xff14, KEY_SCROLLLOCK}, {0xff15, KEY_SYSRQ},
    {0xff1b, KEY_ESC},	      {0xff50, KEY_HOME},
    {0xff51, KEY_LEFT},	      {0xff52, KEY_UP},
    {0xff53, KEY_RIGHT},      {0xff54, KEY_DOWN},
    {0xff55, KEY_PAGEUP},     {0xff56, KEY_PAGEDOWN},
    {0xff57, KEY_END},	      {0xff61, KEY_SYSRQ},   /* Print */
    {0xff63, KEY_INSERT},     {0xff67, KEY_COMPOSE}, /* Menu */
    {0xff7f, KEY_NUMLOCK},    {0xff8d, KEY_KPENTER},
    {0xff95, KEY_KP7}, /* KP_Home ... KP_Delete: the keypad with NumLock off */
    {0xff96, KEY_KP4},	      {0xff97, KEY_KP8},
    {0xff98, KEY_KP6},	      {0xff99, KEY_KP2},
    {0xff9a, KEY_KP9},	      {0xff9b, KEY_KP3},
    {0xff9c, KEY_KP1},	      {0xff9d, KEY_KP5},
    {0xff9e, KEY_KP0},	      {0xff9f, KEY_KPDOT},
    {0xffaa, KEY_KPASTERISK}, {0xffab, KEY_KPPLUS},
    {0xffac, KEY_KPCOMMA},    {0xffad, KEY_KPMINUS},
    {0xffae, KEY_KPDOT},      {0xffaf, KEY_KPSLASH},
    {0xffb0, KEY_KP0},	      {0xffb1, KEY_KP1},
    {0xffb2, KEY_KP2},	      {0xffb3, KEY_KP3},
    {0xffb4, KEY_KP4},	      {0xffb5, KEY_KP5},
    {0xffb6, KEY_KP6},	      {0xffb7, KEY_KP7},
    {0xffb8, KEY_KP8},	      {0xffb9, KEY_KP9},
    {0xffbd, KEY_KPEQUAL},    {0xffbe, KEY_F1},
    {0xffbf, KEY_F2},	      {0xffc0, KEY_F3},
    {0xffc1, KEY_F4},	      {0xffc2, KEY_F5},
    {0xffc3, KEY_F6},	      {0xffc4, KEY_F7},
    {0xffc5, KEY_F8},	      {0xffc6, KEY_F9},
    {0xffc7, KEY_F10},	      {0xffc8, KEY_F11},
    {0xffc9, KEY_F12},	      {0xffe1, KEY_LEFTSHIFT},
    {0xffe2, KEY_RIGHTSHIFT}, {0xffe3, KEY_LEFTCTRL},
    {0xffe4, KEY_RIGHTCTRL},  {0xffe5, KEY_CAPSLOCK},
    {0xffe7, KEY_LEFTMETA}, /* Meta_L */
    {0xffe8, KEY_RIGHTMETA},  {0xffe9, KEY_LEFTALT},
    {0xffea, KEY_RIGHTALT},   {0xffeb, KEY_LEFTMETA}, /* Super_L */
    {0xffec, KEY_RIGHTMETA},  {0xffff, KEY_DELETE},
};

uint16_t view_keysym_to_evdev(uint32_t keysym)
{
	if (keysym >= 0x20 && keysym <= 0x7e)
		return ascii[keysym - 0x20];
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (special[i].keysym == keysym)
			return special[i].code;
	return 0;
}
