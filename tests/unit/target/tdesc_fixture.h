/* tdesc_fixture.h — a target description with the structure of QEMU 7.2's
 * x86-64 one (a target.xml that includes the register file, three base
 * registers hidden in an XML comment), shared by the register-map tests and
 * the fake stub. The expected numbers below are derived by hand from the
 * fixture and agree with the prototype report (rip 16 ... efer 32, 608-byte
 * 'g' reply). */
#ifndef VMDBG_TEST_TDESC_FIXTURE_H
#define VMDBG_TEST_TDESC_FIXTURE_H

#include <stddef.h>

extern const char fixture_target_xml[];
extern const char fixture_core_xml[];

#define FIXTURE_CORE_ANNEX "i386-64bit.xml"

/* The document for an annex name, or NULL. */
const char *fixture_annex(const char *annex);

/* One register of the fixture, in register-number order. */
struct fixture_reg {
    const char *name;
    unsigned bits;
};

extern const struct fixture_reg fixture_regs[];
extern const size_t fixture_reg_count;

/* Register numbers and 'g' offsets that the fixture must produce. */
enum {
    FX_NUM_RIP = 16,
    FX_NUM_EFLAGS = 17,
    FX_NUM_CS = 18,
    FX_NUM_SS = 19,
    FX_NUM_FS_BASE = 24,
    FX_NUM_GS_BASE = 25,
    FX_NUM_K_GS_BASE = 26,
    FX_NUM_CR0 = 27,
    FX_NUM_CR2 = 28,
    FX_NUM_CR3 = 29,
    FX_NUM_CR4 = 30,
    FX_NUM_CR8 = 31,
    FX_NUM_EFER = 32,
    FX_NUM_ST0 = 33,
    FX_NUM_XMM0 = 49,
    FX_NUM_MXCSR = 65,
    FX_REG_COUNT = 66,

    FX_OFF_RIP = 128,
    FX_OFF_EFLAGS = 136,
    FX_OFF_CS = 140,
    FX_OFF_SS = 144,
    FX_OFF_FS_BASE = 164,
    FX_OFF_GS_BASE = 172,
    FX_OFF_K_GS_BASE = 180,
    FX_OFF_CR0 = 188,
    FX_OFF_CR3 = 204,
    FX_OFF_EFER = 228,
    FX_OFF_ST0 = 236,
    FX_OFF_XMM0 = 348,
    FX_OFF_MXCSR = 604,
    FX_G_BYTES = 608,
};

#endif
