/* mode.c — what !mode adds to the SYSCALL/SYSRET hooks (DESIGN §3):
 *  - the IRET trap: every user code descriptor of each vCPU's GDT marked
 *    not-present, so an IRETQ to user mode raises #NP (error code = the
 *    selector) on the kernel stack; a breakpoint on the #NP handler
 *    emulates the IRETQ from the original frame;
 *  - the IDT-entry traps: breakpoints where the handlers start; a hit whose
 *    frame has a user CS is a user->kernel transition. They go in when a
 *    watched process returns to user mode and come out at the first entry
 *    that is not its own, so a busy kernel's timer ticks cost nothing while
 *    the process sleeps;
 *  - holding a thread whose return to user mode was short-circuited: it is
 *    sent back into the kernel through the OS's yield syscall, again and
 *    again, and gets its registers back when it is let go. */
#include <string.h>

#include "internal.h"

#define UD_VECTOR        6
#define NP_VECTOR        11
#define GDT_SCAN_ENTRIES 32
#define IRETQ_LEN        2
#define IDT_REREAD_NS    1000000000ull /* the IDT is compared again at most once a second */

static const uint8_t iretq_bytes[IRETQ_LEN] = {0x48, 0xcf};

/* ---- finding the structures ---------------------------------------------- */

/* Where the code of a handler really starts: Linux's interrupt stubs are
 * `push $vector` (6a ib) then `jmp` to common code, which then sees the
 * vector where an error code would be. */
static void follow_stub(const uint8_t *b, uint64_t handler, unsigned vector, uint64_t *entry,
                        unsigned *frame_off)
{
    *entry = handler;
    *frame_off = x86_pushes_error_code(vector) ? 8 : 0;
    if (b[0] != 0x6a)
        return;
    if (b[2] == 0xe9) {
        int32_t rel = (int32_t)((uint32_t)b[3] | (uint32_t)b[4] << 8 | (uint32_t)b[5] << 16 |
                                (uint32_t)b[6] << 24);
        *entry = handler + 7 + (uint64_t)(int64_t)rel;
        *frame_off = 8;
    } else if (b[2] == 0xeb) {
        *entry = handler + 4 + (uint64_t)(int64_t)(int8_t)b[3];
        *frame_off = 8;
    }
}

static int add_entry(struct trap *tr, unsigned vector, uint64_t handler)
{
    uint8_t b[8];
    if (tgt_mem_read(tr->t, 0, handler, b, sizeof(b), false))
        return 0; /* an unreadable handler: nothing to trap there */
    uint64_t addr;
    unsigned off;
    follow_stub(b, handler, vector, &addr, &off);
    if (addr == tr->ud_handler || addr == tr->np_handler || !x86_is_kernel_half(addr))
        return 0;
    for (int i = 0; i < tr->nentries; i++)
        if (tr->entries[i].addr == addr)
            return 0;
    if (tr->nentries == TRAP_MAX_ENTRIES)
        return err_set(VMDBG_EUNSUP, "the guest's IDT has more than %d distinct handlers",
                       TRAP_MAX_ENTRIES);
    if (addr != handler && tgt_mem_read(tr->t, 0, addr, b, sizeof(b), false))
        return 0;
    tr->entries[tr->nentries++] = (struct entry_trap){addr, off, trap_pass_kind(b)};
    return 0;
}

/* The entry traps of the IDT as it is now. The kernel fills its IDT in
 * steps (Linux: exceptions early, interrupt gates later), and a guest may
 * change it: it is read again each time the entry traps go in, and the
 * handlers found again when it changed. */
static int find_entries(struct trap *tr)
{
    uint8_t idt[TRAP_IDT_BYTES];
    size_t len = tr->idt_len;
    uint64_t now = now_ns();
    if (tr->idt_seen && now - tr->idt_read_ns < IDT_REREAD_NS)
        return 0;
    if (tgt_mem_read(tr->t, 0, tr->idt_base, idt, len, false))
        return -VMDBG_ESTATE;
    tr->idt_read_ns = now;
    if (tr->idt_seen && !memcmp(idt, tr->idt_copy, len))
        return 0;
    tr->idt_seen = false; /* until the entries of this IDT are all found */
    struct x86_gate np = {0};
    if (len >= (NP_VECTOR + 1) * 16)
        x86_decode_gate(idt + NP_VECTOR * 16, &np);
    if (!np.present || !x86_is_kernel_half(np.offset))
        return err_set(VMDBG_EUNSUP, "the guest's IDT has no #NP handler: IRETs to user mode "
                                     "cannot be trapped");
    uint8_t first[4];
    if (tgt_mem_read(tr->t, 0, np.offset, first, sizeof(first), false))
        return -VMDBG_ESTATE;
    if (tr->iret_armed && np.offset != tr->np_handler) { /* the IRET trap follows it */
        int rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->np_handler, 1, false);
        if (!rc)
            rc = tgt_breakpoint(tr->t, TGT_BP_SW, np.offset, 1, true);
        if (rc)
            return rc;
    }
    tr->np_handler = np.offset;
    tr->np_pass = trap_pass_kind(first);
    tr->nentries = 0;
    int rc = 0;
    for (unsigned v = 0; !rc && v < len / 16; v++) {
        struct x86_gate g;
        x86_decode_gate(idt + v * 16, &g);
        if (g.present && v != UD_VECTOR && v != NP_VECTOR && x86_is_kernel_half(g.offset))
            rc = add_entry(tr, v, g.offset);
    }
    if (!rc) {
        memcpy(tr->idt_copy, idt, len);
        tr->idt_seen = true;
    }
    return rc;
}

/* The user code descriptors (present, code, DPL 3) of one GDT. */
static int patch_list(struct trap *tr, int vcpu, const struct tgt_dtables *dt, int *found)
{
    uint8_t gdt[GDT_SCAN_ENTRIES * 8];
    size_t len = dt->gdt_limit + 1u < sizeof(gdt) ? dt->gdt_limit + 1u : sizeof(gdt);
    if (tgt_mem_read(tr->t, vcpu, dt->gdt_base, gdt, len, false))
        return -VMDBG_ESTATE;
    *found = 0;
    for (size_t i = 1; i < len / 8; i++) {
        struct x86_segdesc d;
        x86_decode_segdesc(trap_le64(gdt + i * 8), &d);
        if (!d.present || d.system || !(d.type & 8) || d.dpl != 3)
            continue;
        if (tr->npatches == TRAP_MAX_PATCHES)
            return err_set(VMDBG_EUNSUP, "too many user code descriptors in the GDTs");
        tr->patches[tr->npatches++] =
            (struct gdt_patch){vcpu, dt->gdt_base + i * 8 + X86_DESC_ACCESS_BYTE,
                               (uint16_t)(i * 8 | 3), gdt[i * 8 + X86_DESC_ACCESS_BYTE]};
        (*found)++;
    }
    return 0;
}

/* Every vCPU's GDT (vCPUs may share one). A vCPU still booting has no user
 * code descriptor yet: arming waits for it. */
static int find_user_code(struct trap *tr)
{
    uint64_t bases[TRAP_MAX_VCPUS];
    tr->npatches = 0;
    for (int v = 0; v < tr->nvcpus; v++) {
        struct tgt_dtables dt;
        int rc = tgt_dtables(tr->t, v, &dt), found = 1;
        bases[v] = dt.gdt_base;
        bool seen = false;
        for (int k = 0; !rc && k < v && !seen; k++)
            seen = bases[k] == dt.gdt_base;
        if (!rc && !seen)
            rc = patch_list(tr, v, &dt, &found);
        if (!rc && !found)
            rc = err_set(VMDBG_ESTATE, "no user code descriptor in vCPU %d's GDT yet", v);
        if (rc) {
            tr->npatches = 0;
            return rc;
        }
    }
    return 0;
}

int md_prepare(struct trap *tr)
{
    if (tr->mode_known)
        return 0;
    int rc = sc_prepare(tr); /* the kernel is up, its #UD handler */
    struct tgt_dtables dt;
    if (!rc)
        rc = tgt_dtables(tr->t, 0, &dt);
    if (!rc) {
        tr->idt_base = dt.idt_base;
        tr->idt_len = dt.idt_limit + 1u < TRAP_IDT_BYTES ? dt.idt_limit + 1u : TRAP_IDT_BYTES;
        tr->idt_seen = false;
        rc = find_entries(tr);
    }
    if (!rc)
        rc = find_user_code(tr);
    if (rc == -VMDBG_EFAULT)
        rc = -VMDBG_ESTATE;
    tr->mode_known = rc == 0;
    return rc;
}

int trap_preactivate_mode(struct trap *tr)
{
    int rc = tw_prepare(tr); /* the watch, else the traps */
    return rc == 0 || rc == -VMDBG_ESTATE ? rc : md_prepare(tr);
}

/* ---- arming ---------------------------------------------------------------- */

/* Mark the descriptors not-present, or give them back. Only a byte that
 * still holds what vmdbg left there is written: a guest that rewrote its
 * descriptor (or moved its GDT) keeps what it wrote, and is told. */
static int patch_gdt(struct trap *tr, bool on)
{
    for (int i = 0; i < tr->npatches; i++) {
        const struct gdt_patch *g = &tr->patches[i];
        uint8_t marked = (uint8_t)(g->orig & 0x7f), now;
        uint8_t want = on ? marked : g->orig, expect = on ? g->orig : marked;
        int rc = tgt_mem_read(tr->t, g->vcpu, g->addr, &now, 1, false);
        if (!rc && now == want)
            continue;
        if (rc || now != expect) {
            fprintf(tr->out,
                    "vmdbg: the GDT descriptor %x of vCPU %d changed under the IRET "
                    "trap: left as the guest made it\n",
                    g->selector, g->vcpu);
            continue;
        }
        rc = tgt_mem_write(tr->t, g->vcpu, g->addr, &want, 1, false);
        if (rc)
            return rc;
    }
    return 0;
}

static int arm_iret(struct trap *tr, bool on)
{
    if (on == tr->iret_armed)
        return 0;
    int rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->np_handler, 1, on);
    if (!rc)
        rc = patch_gdt(tr, on);
    if (!rc)
        tr->iret_armed = on;
    return rc;
}

static int arm_entries(struct trap *tr, bool on)
{
    if (on == tr->entry_bps)
        return 0;
    int rc = on ? find_entries(tr) : 0;
    if (rc)
        return rc;
    uint64_t addrs[TRAP_MAX_ENTRIES];
    for (int i = 0; i < tr->nentries; i++)
        addrs[i] = tr->entries[i].addr;
    rc = tgt_breakpoints(tr->t, addrs, (size_t)tr->nentries, on);
    if (!rc)
        tr->entry_bps = on;
    return rc;
}

int md_arm(struct trap *tr, bool on)
{
    if (!on)
        tr->entries_wanted = false;
    int rc = arm_entries(tr, on && tr->entries_wanted);
    return rc ? rc : arm_iret(tr, on);
}

const struct entry_trap *md_entry_at(const struct trap *tr, uint64_t rip)
{
    for (int i = 0; i < tr->nentries; i++)
        if (tr->entries[i].addr == rip)
            return &tr->entries[i];
    return NULL;
}

int md_forget(struct trap *tr)
{
    tr->mode_user = 0;
    int rc = arm_entries(tr, false);
    if (!rc && tr->iret_armed)
        rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->np_handler, 1, false);
    if (rc)
        return rc;
    tr->iret_armed = tr->mode_known = tr->idt_seen = false;
    tr->npatches = tr->nentries = tr->nheld = 0;
    return 0;
}

/* ---- held threads ------------------------------------------------------------ */

struct held_thread *md_held_find(struct trap *tr, uint64_t tid)
{
    for (int i = 0; i < tr->nheld; i++)
        if (tr->held[i].tid == tid)
            return &tr->held[i];
    return NULL;
}

static void held_remove(struct trap *tr, struct held_thread *h)
{
    *h = tr->held[--tr->nheld];
}

/* Keep the thread out of user mode: its registers are kept, and it enters
 * the kernel again through the yield syscall (a SYSCALL emulated at the
 * instruction it was about to run: RCX = that RIP, so the kernel returns
 * there), letting everything else run. */
static int hold(struct trap *tr)
{
    struct pending_hit *p = &tr->p;
    struct tgt_regs *r = &p->hit.regs;
    if (!tr->os.hold_syscall || !tr->syscall_learned || !p->hit.task.known) {
        if (!tr->warned_hold)
            fprintf(tr->out,
                    "vmdbg: cannot hold the thread in kernel mode yet (%s): the "
                    "short-circuit of this return to user mode is ignored\n",
                    !tr->os.hold_syscall ? "no OS profile"
                                         : "the syscall entry is learned at the first SYSCALL");
        tr->warned_hold = true;
        return 0;
    }
    struct held_thread *h = md_held_find(tr, p->hit.task.tid);
    if (!h) {
        if (tr->nheld == TRAP_MAX_HELD)
            return err_set(VMDBG_EUNSUP, "more than %d threads held at once", TRAP_MAX_HELD);
        h = &tr->held[tr->nheld++];
    }
    *h = (struct held_thread){p->hit.task.tid, r->v[TGT_RIP], r->v[TGT_RAX],
                              r->v[TGT_RCX],   r->v[TGT_R11], (uint32_t)p->hit.task.pid};
    uint64_t rflags = r->v[TGT_RFLAGS];
    r->v[TGT_RCX] = r->v[TGT_RIP];
    r->v[TGT_R11] = rflags & ~X86_RFLAGS_RF;
    r->v[TGT_RFLAGS] = (rflags & ~(tr->fmask | X86_RFLAGS_RF)) | X86_RFLAGS_FIXED;
    r->v[TGT_CS] = tr->kernel_cs;
    r->v[TGT_SS] = tr->kernel_cs + 8u;
    r->v[TGT_RIP] = tr->lstar;
    r->v[TGT_RAX] = tr->os.hold_syscall;
    tr->mode_user &= ~(1ull << p->hit.vcpu);
    return 0;
}

/* A held thread comes back to user mode: give it its registers back. It
 * is then held again or let go, as the events decide. */
static void release(struct trap *tr, struct ev_hit *hit)
{
    if (tr->nheld == 0)
        return;
    ev_hit_task(tr->e, hit);
    struct held_thread *h = hit->task.known ? md_held_find(tr, hit->task.tid) : NULL;
    if (!h)
        return;
    if (hit->regs.v[TGT_RIP] == h->rip) {
        hit->regs.v[TGT_RAX] = h->rax;
        hit->regs.v[TGT_RCX] = h->rcx;
        hit->regs.v[TGT_R11] = h->r11;
    } else {
        fprintf(tr->out,
                "vmdbg: held thread %llu returned elsewhere (a signal?): its RAX, "
                "RCX and R11 there are the yield syscall's\n",
                (unsigned long long)h->tid);
    }
    held_remove(tr, h);
}

/* ---- transitions ----------------------------------------------------------- */

/* A watched process in user mode needs the entry traps. They are taken out
 * lazily: not when it enters the kernel (it is usually back in user mode
 * soon, and 30-odd breakpoints in and out at every syscall cost more than
 * the stop itself), but at the first entry that is not its own. */
static void note_user(struct trap *tr, int vcpu, bool watched_in_user)
{
    uint64_t bit = 1ull << vcpu;
    tr->mode_user = watched_in_user ? tr->mode_user | bit : tr->mode_user & ~bit;
    if (watched_in_user)
        tr->entries_wanted = true;
}

static void entry_not_watched(struct trap *tr, int vcpu)
{
    note_user(tr, vcpu, false);
    if (!tr->mode_user)
        tr->entries_wanted = false;
}

/* The pending hit becomes the !mode transition to context (0 or 3) with
 * the registers it holds; false when its process is not watched. */
static bool begin_transition(struct trap *tr, uint64_t context, enum mode_kind kind)
{
    struct pending_hit *p = &tr->p;
    struct ev_task task = p->hit.task;
    struct tgt_regs now = p->hit.regs;
    ev_hit_init(&p->hit, EV_MODE, p->hit.vcpu, context, &now);
    p->hit.task = task;
    if (context == 3)
        release(tr, &p->hit);
    bool watched = ev_mode_watches(tr->e, &p->hit);
    note_user(tr, p->hit.vcpu, watched && context == 3);
    if (!watched)
        return false;
    p->mode_kind = kind;
    p->phase = EV_STAGE_PRE;
    tr->st.transitions++;
    return true;
}

bool md_chain(struct trap *tr)
{
    bool to_user = tr->p.hit.type == EV_SYSRET;
    return begin_transition(tr, to_user ? 3 : 0, to_user ? MODE_RETURN : MODE_ARRIVED);
}

/* A fresh pending hit at this stop. */
static struct pending_hit *new_hit(struct trap *tr, int vcpu, const struct tgt_regs *stop_regs,
                                   const struct tgt_regs *event_regs)
{
    struct pending_hit *p = &tr->p;
    memset(p, 0, sizeof(*p));
    p->active = true;
    p->guest = *stop_regs;
    ev_hit_init(&p->hit, EV_MODE, vcpu, 0, event_regs);
    return p;
}

int md_user_entry(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum passthrough pass,
                  enum trap_verdict *verdict)
{
    struct pending_hit *p = new_hit(tr, vcpu, regs, regs);
    *verdict = TRAP_RESUMED;
    p->pass = pass;
    if (!begin_transition(tr, 0, MODE_ENTRY)) {
        p->active = false;
        entry_not_watched(tr, vcpu);
        return trap_pass_handler(tr, vcpu, regs, pass);
    }
    return trap_run_hit(tr, verdict);
}

int md_on_entry(struct trap *tr, int vcpu, const struct tgt_regs *regs,
                const struct entry_trap *entry, const struct tgt_mem_req *spec,
                enum trap_verdict *verdict)
{
    struct x86_iret_frame f;
    *verdict = TRAP_RESUMED;
    tr->st.entries++;
    if (trap_read_frame(tr, vcpu, regs->v[TGT_RSP] + entry->frame_off, spec, &f) ||
        (f.cs & 3) != 3) {
        entry_not_watched(tr, vcpu); /* the kernel's own interrupt */
        return trap_pass_handler(tr, vcpu, regs, entry->pass);
    }
    return md_user_entry(tr, vcpu, regs, entry->pass, verdict);
}

/* The #NP names one of the descriptors vmdbg marked (the error code is the
 * selector without its RPL). */
static bool patched_selector(const struct trap *tr, uint64_t error_code)
{
    for (int i = 0; i < tr->npatches; i++)
        if ((tr->patches[i].selector & ~3u) == (error_code & ~3u))
            return true;
    return false;
}

/* The IRET frame at frame_rsp: inside what was read at the #NP, else read. */
static int iret_frame(struct trap *tr, int vcpu, uint64_t np_rsp, const uint8_t *np_raw,
                      uint64_t frame_rsp, struct x86_iret_frame *f)
{
    if (frame_rsp >= np_rsp && frame_rsp - np_rsp + 40 <= MD_NP_READ) {
        const uint8_t *b = np_raw + (frame_rsp - np_rsp);
        *f = (struct x86_iret_frame){trap_le64(b), trap_le64(b + 8), trap_le64(b + 16),
                                     trap_le64(b + 24), trap_le64(b + 32)};
        return 0;
    }
    return trap_read_frame(tr, vcpu, frame_rsp, NULL, f);
}

/* The instruction that faulted is not an IRETQ (a far return to user code,
 * say): run it for real with the descriptors present, then patch again. */
static int run_with_present(struct trap *tr, int vcpu, struct tgt_regs *at, struct tgt_regs *after)
{
    struct tgt_regs have;
    int rc = patch_gdt(tr, false);
    if (!rc)
        rc = tgt_regs_read(tr->t, vcpu, &have);
    if (!rc)
        rc = trap_write_regs(tr, vcpu, at, &have, false);
    if (!rc)
        rc = trap_step_for_real(tr, vcpu, after);
    int rc2 = patch_gdt(tr, true);
    return rc ? rc : rc2;
}

int md_on_np(struct trap *tr, int vcpu, const struct tgt_regs *regs, const struct tgt_mem_req *spec,
             enum trap_verdict *verdict)
{
    uint8_t raw[MD_NP_READ], insn[IRETQ_LEN];
    uint64_t rsp = regs->v[TGT_RSP];
    *verdict = TRAP_RESUMED;
    if (trap_read_prefetched(tr, vcpu, rsp, raw, sizeof(raw), spec, spec ? 1 : 0))
        return trap_pass_handler(tr, vcpu, regs, tr->np_pass);
    tr->spec_np_rsp[vcpu] = rsp;
    uint64_t error_code = trap_le64(raw);
    struct x86_iret_frame f = {trap_le64(raw + 8), trap_le64(raw + 16), trap_le64(raw + 24),
                               trap_le64(raw + 32), trap_le64(raw + 40)};
    if ((f.cs & 3) == 3) /* a #NP of user code: an entry like any other */
        return md_user_entry(tr, vcpu, regs, tr->np_pass, verdict);
    if (!patched_selector(tr, error_code))
        return trap_pass_handler(tr, vcpu, regs, tr->np_pass);
    /* the state at the faulting instruction: the #NP frame taken off */
    struct tgt_regs at = *regs, user;
    at.v[TGT_RIP] = f.rip;
    at.v[TGT_CS] = f.cs;
    at.v[TGT_RFLAGS] = f.rflags;
    at.v[TGT_RSP] = f.rsp;
    at.v[TGT_SS] = f.ss;
    struct x86_iret_frame ret;
    bool stepped = false;
    int rc;
    tr->spec_np_rip[vcpu] = f.rip;
    if (trap_read_prefetched(tr, vcpu, f.rip, insn, sizeof(insn), spec ? spec + 1 : NULL,
                             spec ? 1 : 0) == 0 &&
        !memcmp(insn, iretq_bytes, IRETQ_LEN) && iret_frame(tr, vcpu, rsp, raw, f.rsp, &ret) == 0) {
        user = at;
        user.v[TGT_RIP] = ret.rip;
        user.v[TGT_CS] = ret.cs;
        user.v[TGT_RFLAGS] = ret.rflags;
        user.v[TGT_RSP] = ret.rsp;
        user.v[TGT_SS] = ret.ss;
    } else if ((rc = run_with_present(tr, vcpu, &at, &user)) != 0) {
        return rc;
    } else {
        stepped = true;
    }
    tr->st.irets++;
    struct pending_hit *p = new_hit(tr, vcpu, stepped ? &user : regs, &user);
    if ((user.v[TGT_CS] & 3) != 3 || !begin_transition(tr, 3, MODE_RETURN)) {
        p->active = false;
        return trap_finish(tr, vcpu, &p->hit.regs, &p->guest);
    }
    return trap_run_hit(tr, verdict);
}

int md_complete(struct trap *tr, enum completion how)
{
    struct pending_hit *p = &tr->p;
    switch (p->mode_kind) {
    case MODE_ENTRY: { /* the handler runs; short-circuiting k is ignored */
        int rc = trap_pass_insn(tr, p->hit.vcpu, &p->hit.regs, p->pass);
        if (!rc && p->pass == PASS_STEP)
            p->guest = p->hit.regs; /* the vCPU holds the state after the step */
        return rc;
    }
    case MODE_ARRIVED:
        return 0;
    case MODE_RETURN:
        if (how != COMPLETE_SKIP)
            return 0;
        return p->via_watch ? tw_hold(tr) : hold(tr);
    }
    return 0;
}
