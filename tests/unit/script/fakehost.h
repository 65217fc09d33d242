/*
** fakehost.h: an in-memory host for script tests: 64 KiB of "guest" memory, a register file,
** an output buffer and an event-control log.
*/
#ifndef SCR_FAKEHOST_H
#define SCR_FAKEHOST_H

#include <stddef.h>
#include <stdint.h>

#include "script.h"

#define FAKE_VA   0x10000ull  /* guest virtual base of mem[] */
#define FAKE_PA   0x100000ull /* guest physical base of mem[] */
#define FAKE_SIZE 0x10000u

struct fake {
    uint8_t mem[FAKE_SIZE];
    uint64_t regs[SCR_REG_COUNT];
    char out[1 << 16];
    size_t outlen;
    int noutcalls;
    int ev_op[64];
    uint64_t ev_arg[64][3];
    int nev;
    int refuse_pause; /* event_ctl refuses SCR_EV_PAUSE */
    int refuse_reg;   /* reg_write refuses this register + 1 (0: none) */
    struct scr_host host;
};

void fake_init(struct fake *f);
/* Compile and run src against f; returns the status of compile or run. Output is in f->out
** (NUL-terminated). err receives the message. */
int fake_exec(struct fake *f, struct scr_globals *g, const char *src,
              const struct scr_event_info *info, char *err, size_t errlen);
/* Evaluate an expression (SCR_COMPILE_EXPR); asserts success. */
uint64_t fake_eval(struct fake *f, const char *expr);

#endif
