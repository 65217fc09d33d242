/* desc.c — IDT gates and segment descriptors, as the architecture lays
 * them out (SDM Vol. 3, 3.4.5 and 6.14.1). */
#include <string.h>

#include "x86.h"

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void x86_decode_gate(const uint8_t raw[16], struct x86_gate *out)
{
    uint64_t lo = le64(raw), hi = le64(raw + 8);
    memset(out, 0, sizeof(*out));
    out->offset = (lo & 0xffff) | ((lo >> 48) & 0xffff) << 16 | (hi & 0xffffffffu) << 32;
    out->selector = (uint16_t)(lo >> 16);
    out->ist = (uint8_t)((lo >> 32) & 7);
    out->type = (uint8_t)((lo >> 40) & 0xf);
    out->dpl = (uint8_t)((lo >> 45) & 3);
    out->present = (lo >> 47) & 1;
}

void x86_decode_segdesc(uint64_t raw, struct x86_segdesc *out)
{
    memset(out, 0, sizeof(*out));
    out->limit = (uint32_t)((raw & 0xffff) | ((raw >> 48) & 0xf) << 16);
    out->base = (uint32_t)(((raw >> 16) & 0xffffff) | ((raw >> 56) & 0xff) << 24);
    out->type = (uint8_t)((raw >> 40) & 0xf);
    out->system = !((raw >> 44) & 1);
    out->dpl = (uint8_t)((raw >> 45) & 3);
    out->present = (raw >> 47) & 1;
    out->long_mode = (raw >> 53) & 1;
    out->db = (raw >> 54) & 1;
    out->granularity = (raw >> 55) & 1;
}

bool x86_pushes_error_code(unsigned vector)
{
    static const uint8_t with_code[] = {8, 10, 11, 12, 13, 14, 17, 21, 29, 30};
    for (size_t i = 0; i < sizeof(with_code); i++)
        if (with_code[i] == vector)
            return true;
    return false;
}
