/* test_target_gdb.c — the GDB-stub backend, driven only through the public
 * tgt_* API against the in-process fake stub (fake_stub.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_stub.h"
#include "target.h"
#include "tdesc_fixture.h"

struct fixture {
    struct fake_stub *fs;
    struct tgt *t;
};

static int open_with_timeout(void **state, int timeout_ms)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->fs = fake_stub_start();
    if (!f->fs) {
        free(f);
        return -1;
    }
    int rc = tgt_gdb_open(fake_stub_address(f->fs), timeout_ms, &f->t);
    if (rc) {
        fprintf(stderr, "tgt_gdb_open: %s\n", vmdbg_last_error());
        fake_stub_stop(f->fs);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return open_with_timeout(state, 2000);
}

static int setup_short_timeout(void **state)
{
    return open_with_timeout(state, 300);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tgt_close(f->t);
    fake_stub_stop(f->fs);
    free(f);
    return 0;
}

/* Packet i of the fake's log, asserting it exists. */
static const char *pkt_at(struct fake_stub *fs, size_t i, int *batch)
{
    static char text[8192];
    if (!fake_stub_packet(fs, i, text, sizeof(text), batch))
        fail_msg("the fake received no packet %zu", i);
    return text;
}

/* Wait (bounded) until the fake has logged at least n packets: a packet sent
 * without waiting for a reply (c, 0x03) is logged asynchronously. */
static void wait_logged(struct fake_stub *fs, size_t n)
{
    uint64_t deadline = now_ns() + 2000000000u;
    while (fake_stub_packet_count(fs) < n) {
        if (now_ns() > deadline)
            fail_msg("the fake received %zu packets, expected %zu", fake_stub_packet_count(fs), n);
        usleep(1000);
    }
}

/* The packets received from index `from` on, joined with spaces. */
static void packets_since(struct fake_stub *fs, size_t from, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    char text[4096];
    for (size_t i = from; fake_stub_packet(fs, i, text, sizeof(text), NULL); i++) {
        int n = snprintf(out + used, cap - used, "%s%s", used ? " " : "", text);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

/* ---- handshake ---------------------------------------------------------- */

static void test_handshake(void **state)
{
    struct fixture *f = *state;
    struct fake_stub *fs = f->fs;
    assert_int_equal(tgt_vcpu_count(f->t), 2);
    assert_false(f->t->running);
    assert_false(f->t->exited);

    assert_true(!strncmp(pkt_at(fs, 0, NULL), "qSupported", 10));
    assert_string_equal(pkt_at(fs, 1, NULL), "QStartNoAckMode");
    assert_string_equal(pkt_at(fs, 2, NULL), "?");
    assert_int_equal(fake_stub_count(fs, 0, "qXfer:features:read:target.xml:0,"), 1);

    /* The register file is read in pages at consecutive offsets. The fake
     * returns at most 700 bytes per page, less than asked. */
    size_t core_len = strlen(fixture_core_xml);
    size_t pages = (core_len + 699) / 700;
    assert_true(pages >= 3);
    assert_int_equal(fake_stub_count(fs, 0, "qXfer:features:read:" FIXTURE_CORE_ANNEX ":"), pages);
    long i = fake_stub_find(fs, 0, "qXfer:features:read:" FIXTURE_CORE_ANNEX ":");
    assert_true(i > 0);
    for (size_t k = 0; k < pages; k++) {
        unsigned long off, len;
        const char *p = pkt_at(fs, (size_t)i + k, NULL);
        assert_int_equal(
            sscanf(p, "qXfer:features:read:" FIXTURE_CORE_ANNEX ":%lx,%lx", &off, &len), 2);
        assert_int_equal(off, k * 700);
        assert_true(len >= 700 && len <= 0x1000); /* within PacketSize=1000 */
    }
    assert_int_equal(fake_stub_count(fs, 0, "qfThreadInfo"), 1);
    assert_int_equal(fake_stub_count(fs, 0, "qsThreadInfo"), 2);
    assert_int_equal(fake_stub_count(fs, 0, "Hg"), 0);
}

/* ---- registers ------------------------------------------------------------- */

static void test_regs_read(void **state)
{
    struct fixture *f = *state;
    struct tgt_regs r;
    assert_int_equal(tgt_regs_read(f->t, 0, &r), 0);
    uint64_t all = (1ull << TGT_REG_COUNT) - 1;
    assert_int_equal(r.valid, all);
    for (int i = 0; i < 16; i++)
        assert_int_equal(r.v[TGT_RAX + i], FAKE_GPR(i));
    assert_int_equal(r.v[TGT_RIP], FAKE_RIP);
    assert_int_equal(r.v[TGT_RFLAGS], FAKE_EFLAGS);
    assert_int_equal(r.v[TGT_CS], FAKE_CS);
    assert_int_equal(r.v[TGT_SS], FAKE_SS);
    assert_int_equal(r.v[TGT_DS], 0x5000 + 20); /* filler value of regnum 20 */
    assert_int_equal(r.v[TGT_GS], 0x5000 + 23);
    assert_int_equal(r.v[TGT_FS_BASE], FAKE_FS_BASE);
    assert_int_equal(r.v[TGT_GS_BASE], FAKE_GS_BASE);
    assert_int_equal(r.v[TGT_K_GS_BASE], FAKE_KGS_BASE);
    assert_int_equal(r.v[TGT_CR0], FAKE_CR0);
    assert_int_equal(r.v[TGT_CR2], 0x5000 + FX_NUM_CR2);
    assert_int_equal(r.v[TGT_CR3], FAKE_CR3);
    assert_int_equal(r.v[TGT_CR4], FAKE_CR4);
    assert_int_equal(r.v[TGT_CR8], 0x5000 + FX_NUM_CR8);
    assert_int_equal(r.v[TGT_EFER], FAKE_EFER);
    /* one 'g', no thread switch: '?' said thread 1 is current */
    assert_int_equal(fake_stub_count(f->fs, 0, "g"), 1);
    assert_int_equal(fake_stub_count(f->fs, 0, "Hg"), 0);

    /* vCPU 1 is thread 2 */
    assert_int_equal(tgt_regs_read(f->t, 1, &r), 0);
    assert_int_equal(r.v[TGT_RIP], FAKE_RIP + FAKE_VCPU1_ADD);
    assert_int_equal(r.v[TGT_CR3], FAKE_CR3 + FAKE_VCPU1_ADD);
    assert_int_equal(r.v[TGT_EFER], FAKE_EFER + FAKE_VCPU1_ADD);
    assert_int_equal(r.v[TGT_RFLAGS], FAKE_EFLAGS + FAKE_VCPU1_ADD);
    assert_int_equal(fake_stub_count(f->fs, 0, "Hg2"), 1);
}

static void expect_write(struct fixture *f, int vcpu, enum tgt_reg reg, uint64_t value,
                         const char *packet, unsigned regnum, uint64_t stored)
{
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_reg_write(f->t, vcpu, reg, value), 0);
    long i = fake_stub_find(f->fs, before, "P");
    assert_true(i >= 0);
    assert_string_equal(pkt_at(f->fs, (size_t)i, NULL), packet);
    assert_int_equal(fake_stub_count(f->fs, before, "P"), 1);
    assert_int_equal(fake_stub_reg(f->fs, vcpu, regnum), stored);
}

static void test_reg_write(void **state)
{
    struct fixture *f = *state;
    /* regnum in hex, value little-endian, as wide as the register */
    expect_write(f, 0, TGT_RFLAGS, 0x202, "P11=02020000", FX_NUM_EFLAGS, 0x202);
    expect_write(f, 0, TGT_EFER, 0xd00, "P20=000d000000000000", FX_NUM_EFER, 0xd00);
    expect_write(f, 0, TGT_CS, 0x33, "P12=33000000", FX_NUM_CS, 0x33);
    expect_write(f, 0, TGT_RIP, 0x0123456789abcdefull, "P10=efcdab8967452301", FX_NUM_RIP,
                 0x0123456789abcdefull);
    expect_write(f, 0, TGT_RAX, 1, "P0=0100000000000000", 0, 1);
    expect_write(f, 0, TGT_CR3, 0x1ff74000, "P1d=0040f71f00000000", FX_NUM_CR3, 0x1ff74000);
    /* a 32-bit register gets the low 32 bits only */
    expect_write(f, 0, TGT_SS, 0xffffffff0000002bull, "P13=2b000000", FX_NUM_SS, 0x2b);

    struct tgt_regs r;
    assert_int_equal(tgt_regs_read(f->t, 0, &r), 0);
    assert_int_equal(r.v[TGT_RFLAGS], 0x202);
    assert_int_equal(r.v[TGT_EFER], 0xd00);
    assert_int_equal(r.v[TGT_RIP], 0x0123456789abcdefull);
    assert_int_equal(r.v[TGT_CR3], 0x1ff74000);
    /* vCPU 1 is untouched */
    assert_int_equal(fake_stub_reg(f->fs, 1, FX_NUM_EFER), FAKE_EFER + FAKE_VCPU1_ADD);

    /* on vCPU 1 the thread switch travels in the same write as the P */
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_reg_write(f->t, 1, TGT_R11, 0x246), 0);
    int b1, b2;
    assert_string_equal(pkt_at(f->fs, before, &b1), "Hg2");
    assert_string_equal(pkt_at(f->fs, before + 1, &b2), "Pb=4602000000000000");
    assert_int_equal(b1, b2);
    assert_int_equal(fake_stub_reg(f->fs, 1, 11), 0x246);
    assert_int_equal(fake_stub_reg(f->fs, 0, 11), FAKE_GPR(11));

    /* not a register */
    before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_reg_write(f->t, 0, TGT_REG_COUNT, 0), -VMDBG_EINVAL);
    assert_int_equal(tgt_reg_write(f->t, 0, (enum tgt_reg) - 1, 0), -VMDBG_EINVAL);
    assert_int_equal(fake_stub_packet_count(f->fs), before);
}

/* ---- memory ------------------------------------------------------------------ */

/* Sum of the lengths of the m (or M) packets from index `from` on; checks
 * that they cover [addr, addr+total) in order without gaps. */
static size_t check_chunks(struct fake_stub *fs, size_t from, char kind, uint64_t addr,
                           size_t total)
{
    size_t n = 0, covered = 0;
    char text[8192];
    for (size_t i = from; fake_stub_packet(fs, i, text, sizeof(text), NULL); i++) {
        if (text[0] != kind)
            continue;
        unsigned long long a, len;
        assert_int_equal(sscanf(text + 1, "%llx,%llx", &a, &len), 2);
        assert_int_equal(a, addr + covered);
        assert_true(len > 0 && len <= 2048);
        covered += (size_t)len;
        n++;
    }
    assert_int_equal(covered, total);
    return n;
}

static void test_mem_read(void **state)
{
    struct fixture *f = *state;
    uint8_t *virt = fake_stub_virt_mem(f->fs);
    uint8_t small[16];
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE + 0x10, small, 16, false), 0);
    assert_memory_equal(small, virt + 0x10, 16);
    assert_int_equal(check_chunks(f->fs, before, 'm', FAKE_VIRT_BASE + 0x10, 16), 1);
    assert_string_equal(pkt_at(f->fs, before, NULL), "mffffffff81000010,10");

    uint8_t *big = malloc(3000);
    assert_non_null(big);
    before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE + 5, big, 3000, false), 0);
    assert_memory_equal(big, virt + 5, 3000);
    size_t chunks = check_chunks(f->fs, before, 'm', FAKE_VIRT_BASE + 5, 3000);
    assert_true(chunks >= 2);
    assert_int_equal(fake_stub_count(f->fs, before, "Qqemu.PhyMemMode"), 0);
    free(big);
}

static void test_mem_write(void **state)
{
    struct fixture *f = *state;
    uint8_t *virt = fake_stub_virt_mem(f->fs);
    uint8_t data[2500];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 1);
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_mem_write(f->t, 0, FAKE_VIRT_BASE + 0x100, data, sizeof(data), false), 0);
    assert_memory_equal(virt + 0x100, data, sizeof(data));
    assert_true(check_chunks(f->fs, before, 'M', FAKE_VIRT_BASE + 0x100, sizeof(data)) >= 2);

    uint8_t back[2500];
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE + 0x100, back, sizeof(back), false), 0);
    assert_memory_equal(back, data, sizeof(data));

    /* a small write is one M with the bytes in hex */
    before = fake_stub_packet_count(f->fs);
    const uint8_t two[] = {0xcc, 0x0f};
    assert_int_equal(tgt_mem_write(f->t, 0, FAKE_VIRT_BASE + 0x20, two, 2, false), 0);
    assert_string_equal(pkt_at(f->fs, before, NULL), "Mffffffff81000020,2:cc0f");
}

static void test_mem_efault(void **state)
{
    struct fixture *f = *state;
    uint8_t b[64];
    assert_int_equal(tgt_mem_read(f->t, 0, 0x1000, b, 16, false), -VMDBG_EFAULT);
    /* crossing the end of the mapped window */
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE + FAKE_MEM_SIZE - 8, b, 16, false),
                     -VMDBG_EFAULT);
    assert_int_equal(tgt_mem_write(f->t, 0, 0x1000, b, 16, false), -VMDBG_EFAULT);
    /* the connection is still usable afterwards */
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE, b, 8, false), 0);
}

/* A range that runs into unmapped memory: what is mapped of it, page by page. */
static void test_mem_read_prefix(void **state)
{
    struct fixture *f = *state;
    static uint8_t b[0x3000];
    uint64_t end = FAKE_VIRT_BASE + FAKE_MEM_SIZE; /* page aligned: unmapped from here */
    assert_int_equal(tgt_mem_read_prefix(f->t, 0, end - 0x1008, b, 0x2000, false), 0x1008);
    assert_int_equal(tgt_mem_read_prefix(f->t, 0, end - 8, b, 16, false), 8);
    assert_int_equal(tgt_mem_read_prefix(f->t, 0, FAKE_VIRT_BASE, b, 0x20, false), 0x20);
    assert_int_equal(tgt_mem_read_prefix(f->t, 0, end, b, 16, false), -VMDBG_EFAULT);
}

/* ---- physical memory ----------------------------------------------------------- */

static void test_phys_bracket(void **state)
{
    struct fixture *f = *state;
    uint8_t *phys = fake_stub_phys_mem(f->fs);
    uint8_t b[32];
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_PHYS_BASE + 0x40, b, 32, true), 0);
    assert_memory_equal(b, phys + 0x40, 32);
    assert_false(fake_stub_phys_mode(f->fs));
    char seq[512];
    packets_since(f->fs, before, seq, sizeof(seq));
    assert_string_equal(seq, "Qqemu.PhyMemMode:1 m100040,20 Qqemu.PhyMemMode:0");
    int b0, b1, b2;
    pkt_at(f->fs, before, &b0);
    pkt_at(f->fs, before + 1, &b1);
    pkt_at(f->fs, before + 2, &b2);
    assert_true(b0 == b1 && b1 == b2); /* one pipelined write */

    /* physical write on vCPU 1: the thread switch joins the same write */
    before = fake_stub_packet_count(f->fs);
    const uint8_t v[4] = {1, 2, 3, 4};
    assert_int_equal(tgt_mem_write(f->t, 1, FAKE_PHYS_BASE + 8, v, 4, true), 0);
    assert_memory_equal(phys + 8, v, 4);
    packets_since(f->fs, before, seq, sizeof(seq));
    assert_string_equal(seq, "Hg2 Qqemu.PhyMemMode:1 M100008,4:01020304 Qqemu.PhyMemMode:0");
    int b3;
    pkt_at(f->fs, before, &b0);
    pkt_at(f->fs, before + 3, &b3);
    assert_int_equal(b0, b3);

    /* a failed physical access still switches the mode back */
    before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_mem_read(f->t, 1, 0x10, b, 4, true), -VMDBG_EFAULT);
    assert_false(fake_stub_phys_mode(f->fs));
    assert_int_equal(fake_stub_count(f->fs, before, "Qqemu.PhyMemMode:0"), 1);

    /* a virtual read after all that is virtual again */
    assert_int_equal(tgt_mem_read(f->t, 1, FAKE_VIRT_BASE, b, 4, false), 0);
    assert_memory_equal(b, fake_stub_virt_mem(f->fs), 4);
}

/* ---- thread selection ------------------------------------------------------- */

static void test_thread_selection(void **state)
{
    struct fixture *f = *state;
    struct tgt_regs r;
    uint8_t b[8];
    size_t s0 = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_regs_read(f->t, 0, &r), 0);                         /* current */
    assert_int_equal(tgt_regs_read(f->t, 1, &r), 0);                         /* Hg2 */
    assert_int_equal(tgt_regs_read(f->t, 1, &r), 0);                         /* current */
    assert_int_equal(tgt_mem_read(f->t, 1, FAKE_VIRT_BASE, b, 8, false), 0); /* current */
    assert_int_equal(tgt_reg_write(f->t, 1, TGT_RBX, 5), 0);                 /* current */
    assert_int_equal(tgt_regs_read(f->t, 0, &r), 0);                         /* Hg1 */
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE, b, 8, false), 0); /* current */
    char seq[512];
    packets_since(f->fs, s0, seq, sizeof(seq));
    assert_string_equal(seq, "g Hg2 g g mffffffff81000000,8 P1=0500000000000000 Hg1 g "
                             "mffffffff81000000,8");
}

/* ---- run control ----------------------------------------------------------------- */

static void test_resume_and_stop(void **state)
{
    struct fixture *f = *state;
    struct fake_stub *fs = f->fs;
    fake_stub_set_resume(fs, 30, 2, "T05thread:02;", false); /* two O packets first */
    size_t before = fake_stub_packet_count(fs);
    assert_int_equal(tgt_breakpoint(f->t, TGT_BP_SW, FAKE_RIP, 1, true), 0);
    assert_string_equal(pkt_at(fs, before, NULL), "Z0,ffffffff81000123,1");
    assert_int_equal(fake_stub_breakpoints(fs), 1);

    assert_int_equal(tgt_resume(f->t), 0);
    assert_true(f->t->running);
    wait_logged(fs, before + 2);
    /* the wrappers refuse what needs a stopped guest, and send nothing */
    size_t after_c = fake_stub_packet_count(fs);
    assert_int_equal(after_c, before + 2);
    struct tgt_regs r;
    uint8_t b[4];
    assert_int_equal(tgt_regs_read(f->t, 0, &r), -VMDBG_ESTATE);
    assert_int_equal(tgt_reg_write(f->t, 0, TGT_RAX, 1), -VMDBG_ESTATE);
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE, b, 4, false), -VMDBG_ESTATE);
    assert_int_equal(tgt_mem_write(f->t, 0, FAKE_VIRT_BASE, b, 4, false), -VMDBG_ESTATE);
    assert_int_equal(tgt_breakpoint(f->t, TGT_BP_SW, FAKE_RIP, 1, false), -VMDBG_ESTATE);
    assert_int_equal(tgt_resume(f->t), -VMDBG_ESTATE);
    struct buf mon;
    buf_init(&mon);
    assert_int_equal(tgt_monitor(f->t, "info registers", &mon), -VMDBG_ESTATE);
    buf_free(&mon);

    struct tgt_stop st;
    assert_int_equal(tgt_wait(f->t, &st, 2000), 0);
    assert_int_equal(st.reason, TGT_STOP_TRAP);
    assert_int_equal(st.signal, 5);
    assert_int_equal(st.vcpu, 1); /* thread 2 */
    assert_false(st.watch);
    assert_false(f->t->running);
    assert_string_equal(pkt_at(fs, after_c - 1, NULL), "c");
    assert_int_equal(fake_stub_packet_count(fs), after_c); /* nothing sent while running */

    /* the stopping vCPU is current: no Hg before reading it */
    assert_int_equal(tgt_regs_read(f->t, 1, &r), 0);
    assert_int_equal(r.v[TGT_RIP], FAKE_RIP + FAKE_VCPU1_ADD);
    assert_int_equal(fake_stub_count(fs, after_c, "Hg"), 0);

    assert_int_equal(tgt_breakpoint(f->t, TGT_BP_SW, FAKE_RIP, 1, false), 0);
    assert_int_equal(fake_stub_breakpoints(fs), 0);
    assert_int_equal(fake_stub_count(fs, after_c, "z0,ffffffff81000123,1"), 1);
}

static void test_watchpoint_stop(void **state)
{
    struct fixture *f = *state;
    fake_stub_set_resume(f->fs, 5, 0, "T05watch:ffff800012345678;thread:01;", false);
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_breakpoint(f->t, TGT_WP_WRITE, 0xffff800012345678ull, 8, true), 0);
    assert_string_equal(pkt_at(f->fs, before, NULL), "Z2,ffff800012345678,8");
    assert_int_equal(tgt_resume(f->t), 0);
    struct tgt_stop st;
    assert_int_equal(tgt_wait(f->t, &st, 2000), 0);
    assert_int_equal(st.reason, TGT_STOP_TRAP);
    assert_true(st.watch);
    assert_int_equal(st.addr, 0xffff800012345678ull);
    assert_int_equal(st.vcpu, 0);
}

static void test_pause(void **state)
{
    struct fixture *f = *state;
    fake_stub_set_resume(f->fs, -1, 0, NULL, false); /* runs until interrupted */
    assert_int_equal(tgt_resume(f->t), 0);
    struct tgt_stop st;
    assert_int_equal(tgt_wait(f->t, &st, 50), -VMDBG_ETIMEOUT);
    assert_true(f->t->running);
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_pause(f->t, &st, 2000), 0);
    assert_string_equal(pkt_at(f->fs, before, NULL), "^C");
    assert_int_equal(st.reason, TGT_STOP_INTERRUPTED);
    assert_int_equal(st.signal, 2);
    assert_int_equal(st.vcpu, 0);
    assert_false(f->t->running);
    /* pausing a paused guest is refused */
    assert_int_equal(tgt_pause(f->t, &st, 100), -VMDBG_ESTATE);
    assert_int_equal(tgt_wait(f->t, &st, 100), -VMDBG_ESTATE);
}

static void test_step(void **state)
{
    struct fixture *f = *state;
    size_t before = fake_stub_packet_count(f->fs);
    struct tgt_stop st;
    assert_int_equal(tgt_step(f->t, 1, &st), 0);
    assert_string_equal(pkt_at(f->fs, before, NULL), "vCont;s:2");
    assert_int_equal(st.reason, TGT_STOP_TRAP);
    assert_int_equal(st.vcpu, 1);
    assert_false(f->t->running);
    assert_int_equal(tgt_step(f->t, 0, &st), 0);
    assert_string_equal(pkt_at(f->fs, before + 1, NULL), "vCont;s:1");
    assert_int_equal(st.vcpu, 0);
    assert_int_equal(tgt_step(f->t, 2, &st), -VMDBG_EINVAL);
}

static void test_exit_replies(void **state)
{
    struct fixture *f = *state;
    fake_stub_set_resume(f->fs, 5, 1, "W00", false);
    assert_int_equal(tgt_resume(f->t), 0);
    struct tgt_stop st;
    assert_int_equal(tgt_wait(f->t, &st, 2000), 0);
    assert_int_equal(st.reason, TGT_STOP_EXITED);
    assert_int_equal(st.exit_status, 0);
    assert_true(f->t->exited);
    assert_false(f->t->running);
    struct tgt_regs r;
    assert_int_equal(tgt_regs_read(f->t, 0, &r), -VMDBG_EEXITED);
}

static void test_killed_reply(void **state)
{
    struct fixture *f = *state;
    fake_stub_set_resume(f->fs, 5, 0, "X09", false);
    assert_int_equal(tgt_resume(f->t), 0);
    struct tgt_stop st;
    assert_int_equal(tgt_wait(f->t, &st, 2000), 0);
    assert_int_equal(st.reason, TGT_STOP_EXITED);
    assert_int_equal(st.exit_status, 128 + 9);
    assert_true(f->t->exited);
}

/* ---- monitor ------------------------------------------------------------------ */

static void test_monitor(void **state)
{
    struct fixture *f = *state;
    struct buf out;
    buf_init(&out);
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_monitor(f->t, "info registers", &out), 0);
    assert_string_equal(out.data, FAKE_MONITOR_OUT_1 FAKE_MONITOR_OUT_2);
    assert_int_equal(out.len, strlen(FAKE_MONITOR_OUT_1 FAKE_MONITOR_OUT_2));
    assert_string_equal(pkt_at(f->fs, before, NULL), "qRcmd,696e666f20726567697374657273");
    /* the buffer is reset, not appended to */
    assert_int_equal(tgt_monitor(f->t, "info jit", &out), 0);
    assert_string_equal(out.data, "unknown command: 'info jit'\n");
    /* an error instead of output */
    fake_stub_set_override(f->fs, "qRcmd", "E01");
    assert_int_equal(tgt_monitor(f->t, "info registers", &out), -VMDBG_EPROTO);
    buf_free(&out);
}

static void test_detach(void **state)
{
    struct fixture *f = *state;
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_detach(f->t), 0);
    assert_string_equal(pkt_at(f->fs, before, NULL), "D");
}

/* ---- failures ------------------------------------------------------------------- */

static void test_timeout(void **state)
{
    struct fixture *f = *state; /* opened with a 300 ms timeout */
    fake_stub_set_silent(f->fs, "g");
    struct tgt_regs r;
    uint64_t t0 = now_ns();
    assert_int_equal(tgt_regs_read(f->t, 0, &r), -VMDBG_ETIMEOUT);
    uint64_t ms = (now_ns() - t0) / 1000000u;
    assert_true(ms >= 250);
    assert_true(ms < 2000);
    assert_false(f->t->exited);
    assert_int_equal(fake_stub_count(f->fs, 0, "g"), 1);

    /* a stop that never comes: tgt_wait gives up within its own timeout */
    fake_stub_set_silent(f->fs, NULL);
    fake_stub_set_resume(f->fs, -1, 0, NULL, false);
    assert_int_equal(tgt_resume(f->t), 0);
    struct tgt_stop st;
    t0 = now_ns();
    assert_int_equal(tgt_wait(f->t, &st, 150), -VMDBG_ETIMEOUT);
    ms = (now_ns() - t0) / 1000000u;
    assert_true(ms >= 140 && ms < 2000);
    assert_true(f->t->running);
}

static void test_stub_closes(void **state)
{
    struct fixture *f = *state;
    fake_stub_set_close_on(f->fs, "g");
    struct tgt_regs r;
    assert_int_equal(tgt_regs_read(f->t, 0, &r), -VMDBG_EEXITED);
    assert_true(f->t->exited);
    uint8_t b[4];
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE, b, 4, false), -VMDBG_EEXITED);
    assert_int_equal(tgt_resume(f->t), -VMDBG_EEXITED);
}

static void test_stub_closes_while_running(void **state)
{
    struct fixture *f = *state;
    fake_stub_set_resume(f->fs, 10, 0, NULL, true);
    assert_int_equal(tgt_resume(f->t), 0);
    struct tgt_stop st;
    assert_int_equal(tgt_wait(f->t, &st, 2000), 0);
    assert_int_equal(st.reason, TGT_STOP_EXITED);
    assert_int_equal(st.vcpu, -1);
    assert_true(f->t->exited);
    assert_false(f->t->running);
}

static void test_unexpected_replies(void **state)
{
    struct fixture *f = *state;
    struct fake_stub *fs = f->fs;
    uint8_t b[16];
    struct tgt_regs r;

    /* memory that is not hex */
    fake_stub_set_override(fs, "m", "OK");
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE, b, 4, false), -VMDBG_EPROTO);
    /* a breakpoint refused with an error */
    fake_stub_set_override(fs, "Z0", "E01");
    assert_int_equal(tgt_breakpoint(f->t, TGT_BP_SW, FAKE_RIP, 1, true), -VMDBG_EPROTO);
    /* a register write answered with something else than OK */
    fake_stub_set_override(fs, "P", "E0e");
    assert_int_equal(tgt_reg_write(f->t, 0, TGT_RAX, 1), -VMDBG_EPROTO);
    /* ... or not at all supported */
    fake_stub_set_override(fs, "P", "");
    assert_int_equal(tgt_reg_write(f->t, 0, TGT_RAX, 1), -VMDBG_EUNSUP);
    /* a refused thread switch */
    fake_stub_set_override(fs, "Hg", "E22");
    assert_int_equal(tgt_regs_read(f->t, 1, &r), -VMDBG_EPROTO);
}

static void test_bad_checksum_reply(void **state)
{
    struct fixture *f = *state;
    struct tgt_regs r;
    fake_stub_set_badsum(f->fs, "g");
    assert_int_equal(tgt_regs_read(f->t, 0, &r), -VMDBG_EPROTO);
}

/* ---- refusals and broken replies keep the stream in step -------------------------
 * When an early packet of a pipelined group is refused, the replies to the
 * later packets are still read, so no later request gets an earlier reply. */
static void test_refused_pipeline_stays_in_step(void **state)
{
    struct fixture *f = *state;
    struct tgt_regs r;
    fake_stub_set_override(f->fs, "Hg", "E22");
    assert_int_equal(tgt_regs_read(f->t, 1, &r), -VMDBG_EPROTO);
    fake_stub_set_override(f->fs, NULL, NULL);
    size_t before = fake_stub_packet_count(f->fs);
    assert_int_equal(tgt_regs_read(f->t, 1, &r), 0);
    assert_int_equal(r.v[TGT_RIP], FAKE_RIP + FAKE_VCPU1_ADD);
    assert_int_equal(fake_stub_count(f->fs, before, "Hg2"), 1);
}

/* The same for a refused Qqemu.PhyMemMode:1: the replies to the access and
 * to PhyMemMode:0 are still read. */
static void test_refused_phys_mode_stays_in_step(void **state)
{
    struct fixture *f = *state;
    uint8_t b[8];
    fake_stub_set_override(f->fs, "Qqemu.PhyMemMode:1", "");
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_PHYS_BASE, b, 8, true), -VMDBG_EUNSUP);
    fake_stub_set_override(f->fs, NULL, NULL);
    assert_int_equal(tgt_mem_read(f->t, 0, FAKE_VIRT_BASE, b, 8, false), 0);
    assert_memory_equal(b, fake_stub_virt_mem(f->fs), 8);
}

/* A stub that closes during a monitor command gives -VMDBG_EEXITED and
 * marks the guest gone, as every other request does. */
static void test_monitor_close_marks_exited(void **state)
{
    struct fixture *f = *state;
    struct buf out;
    buf_init(&out);
    fake_stub_set_close_on(f->fs, "qRcmd");
    assert_int_equal(tgt_monitor(f->t, "info registers", &out), -VMDBG_EEXITED);
    buf_free(&out);
    assert_true(f->t->exited);
}

/* A 'g' reply that is not register data (here "OK") is refused with
 * EPROTO, not taken as registers. */
static void test_g_reply_checked(void **state)
{
    struct fixture *f = *state;
    struct tgt_regs r;
    fake_stub_set_override(f->fs, "g", "OK");
    int rc = tgt_regs_read(f->t, 0, &r);
    assert_int_equal(rc, -VMDBG_EPROTO);
}

static void test_unexpected_stop_reply(void **state)
{
    struct fixture *f = *state;
    fake_stub_set_resume(f->fs, 5, 0, "Q99", false);
    assert_int_equal(tgt_resume(f->t), 0);
    struct tgt_stop st;
    assert_int_equal(tgt_wait(f->t, &st, 2000), -VMDBG_EPROTO);
}

static void test_wrapper_checks(void **state)
{
    struct fixture *f = *state;
    size_t before = fake_stub_packet_count(f->fs);
    struct tgt_regs r;
    uint8_t b[4] = {0};
    struct tgt_stop st;
    assert_int_equal(tgt_regs_read(f->t, 2, &r), -VMDBG_EINVAL);
    assert_int_equal(tgt_regs_read(f->t, -1, &r), -VMDBG_EINVAL);
    assert_int_equal(tgt_reg_write(f->t, 2, TGT_RAX, 0), -VMDBG_EINVAL);
    assert_int_equal(tgt_mem_read(f->t, 7, FAKE_VIRT_BASE, b, 4, false), -VMDBG_EINVAL);
    assert_int_equal(tgt_mem_write(f->t, 2, FAKE_VIRT_BASE, b, 4, false), -VMDBG_EINVAL);
    assert_int_equal(tgt_step(f->t, -1, &st), -VMDBG_EINVAL);
    assert_int_equal(tgt_wait(f->t, &st, 10), -VMDBG_ESTATE); /* not running */
    assert_int_equal(fake_stub_packet_count(f->fs), before);  /* nothing reached the stub */
    /* no guest at all */
    assert_int_equal(tgt_regs_read(NULL, 0, &r), -VMDBG_ESTATE);
    assert_int_equal(tgt_vcpu_count(NULL), -VMDBG_ESTATE);
    assert_int_equal(tgt_poll_fd(NULL), -1);
    assert_true(tgt_poll_fd(f->t) >= 0);
}

/* Failures during the handshake, each with its own fake. */
static void test_open_failures(void **state)
{
    (void)state;
    struct tgt *t = NULL;
    /* nobody listening */
    assert_true(tgt_gdb_open("unix:/nonexistent-dir/stub.sock", 300, &t) < 0);
    assert_true(tgt_gdb_open("bogus:address", 300, &t) < 0);

    static const struct {
        const char *prefix, *reply;
        int rc;
    } cases[] = {
        {"qSupported", "PacketSize=1000;vContSupported+", -VMDBG_EUNSUP}, /* no qXfer */
        {"qfThreadInfo", "l", -VMDBG_EPROTO},                             /* no vCPUs */
        {"qXfer:features:read:target.xml", "E00", -VMDBG_EPROTO},
        {"qXfer:features:read:" FIXTURE_CORE_ANNEX, "l<feature/>", -VMDBG_EPROTO},
        {"?", "Zzz", -VMDBG_EPROTO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake_stub *fs = fake_stub_start();
        assert_non_null(fs);
        fake_stub_set_override(fs, cases[i].prefix, cases[i].reply);
        t = NULL;
        int rc = tgt_gdb_open(fake_stub_address(fs), 1000, &t);
        if (rc != cases[i].rc)
            fail_msg("override %s -> '%s': rc %d, expected %d (%s)", cases[i].prefix,
                     cases[i].reply, rc, cases[i].rc, vmdbg_last_error());
        assert_non_null(strstr(vmdbg_last_error(), "GDB stub at unix:"));
        fake_stub_stop(fs);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        T(test_handshake),
        T(test_regs_read),
        T(test_reg_write),
        T(test_mem_read),
        T(test_mem_write),
        T(test_mem_efault),
        T(test_mem_read_prefix),
        T(test_phys_bracket),
        T(test_thread_selection),
        T(test_resume_and_stop),
        T(test_watchpoint_stop),
        T(test_pause),
        T(test_step),
        T(test_exit_replies),
        T(test_killed_reply),
        T(test_monitor),
        T(test_detach),
        cmocka_unit_test_setup_teardown(test_timeout, setup_short_timeout, teardown),
        T(test_stub_closes),
        T(test_stub_closes_while_running),
        T(test_unexpected_replies),
        T(test_bad_checksum_reply),
        T(test_unexpected_stop_reply),
        T(test_wrapper_checks),
        cmocka_unit_test(test_open_failures),
        T(test_refused_pipeline_stays_in_step),
        T(test_refused_phys_mode_stays_in_step),
        T(test_monitor_close_marks_exited),
        T(test_g_reply_checked),
    };
    (void)argc;
    (void)argv;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
