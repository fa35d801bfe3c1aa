/* US keyboard layout: which key (and whether Shift) types a character. */
#ifndef VMK_VM_KEYMAP_H
#define VMK_VM_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

/* false: the character has no key on a US keyboard (non-ASCII, controls). */
bool keymap_us(char c, uint16_t *code, bool *shift);

#endif
