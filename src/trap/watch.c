/* watch.c — !mode without breakpoints. Every entry of a thread into the
 * kernel from user mode leaves its user registers in the frame at the top
 * of its kernel stack (Linux: struct pt_regs, written by the entry code, or
 * copied there by sync_regs from the entry stack the CPU delivered to), and
 * every return to user mode writes the thread's status word on the way
 * (Linux: exit_to_user_mode_prepare clears TS_COMPAT). A write watchpoint
 * on the frame's last word and one on the status word of each thread of a
 * watched process see all its transitions (SYSCALLs, interrupts,
 * exceptions) and nothing of other processes: no breakpoint, no EFER.SCE,
 * no GDT patch, no translation-cache flush (QEMU 7.2 flushes at breakpoint
 * stops, not at watchpoint stops: bench/flush). The CPU never writes
 * either word itself, so no hit falls inside an interrupt's delivery.
 *
 * The event is shown the state of the first instruction of the new mode,
 * rebuilt at the hit: for a SYSCALL, the registers at the entry (RSP from
 * the entry's per-CPU slot, GS bases as before its SWAPGS); for an
 * interrupt or exception, the user registers from the frame with the
 * handler's address, found from the return address into its entry stub;
 * for a return, the user state the kernel is about to restore. Changes
 * the actions make go where that state lives at the hit (the frame, the
 * slot, or the registers). New threads are found by a watchpoint on the
 * process's thread list; a process that does not exist yet is found by
 * following context switches (slot.c). Needs the OS profile's sites and
 * threads; without them !mode uses mode.c's traps. */
#include <string.h>

#include "internal.h"

#define FRAME_SS_AT      160 /* the frame's last word: written last */
#define FRAME_ORIG_AX_AT 120
#define FRAME_LEN        8
#define STATUS_LEN       4
#define LIST_LEN         8
#define SYSCALL_HIT_SPAN 0x40 /* the entry's pushes: a hit there is a SYSCALL's */
#define STUB_SPAN        0x18 /* from an entry stub to the return of its call */
#define RFLAGS_CLEARED_AT_ENTRY                                                                    \
    (X86_RFLAGS_TF | X86_RFLAGS_IF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_VM)

/* Where each register sits in the frame (x86-64 Linux struct pt_regs). */
static const struct {
    enum tgt_reg reg;
    uint8_t at;
    bool gpr; /* the general registers; the rest is the hardware frame */
} frame_slots[] = {
    {TGT_R15, 0, true},    {TGT_R14, 8, true},           {TGT_R13, 16, true},
    {TGT_R12, 24, true},   {TGT_RBP, 32, true},          {TGT_RBX, 40, true},
    {TGT_R11, 48, true},   {TGT_R10, 56, true},          {TGT_R9, 64, true},
    {TGT_R8, 72, true},    {TGT_RAX, 80, true},          {TGT_RCX, 88, true},
    {TGT_RDX, 96, true},   {TGT_RSI, 104, true},         {TGT_RDI, 112, true},
    {TGT_RIP, 128, false}, {TGT_CS, 136, false},         {TGT_RFLAGS, 144, false},
    {TGT_RSP, 152, false}, {TGT_SS, FRAME_SS_AT, false},
};

static bool in_range(uint64_t a, uint64_t lo, uint64_t hi)
{
    return a >= lo && a < hi;
}

/* ---- preparing --------------------------------------------------------------- */

/* The handler of each vector, to name the one an entry came through. */
static int read_gates(struct trap *tr)
{
    struct tgt_dtables dt;
    uint8_t idt[TRAP_IDT_BYTES];
    if (tgt_dtables(tr->t, 0, &dt))
        return -VMDBG_ESTATE;
    size_t len = dt.idt_limit + 1u < sizeof(idt) ? dt.idt_limit + 1u : sizeof(idt);
    if (tgt_mem_read(tr->t, 0, dt.idt_base, idt, len, false))
        return -VMDBG_ESTATE;
    memset(tr->tw_gate, 0, sizeof(tr->tw_gate));
    for (size_t v = 0; v < len / 16; v++) {
        struct x86_gate g;
        x86_decode_gate(idt + v * 16, &g);
        if (g.present)
            tr->tw_gate[v] = g.offset;
    }
    return 0;
}

int tw_prepare(struct trap *tr)
{
    if (tr->tw_unusable)
        return err_set(VMDBG_EUNSUP, "the transition watch cannot serve these events");
    if (tr->tw_known)
        return 0;
    if (!tr->os.sites || !tr->os.threads)
        return err_set(VMDBG_EUNSUP, "no OS profile tells where threads save their registers");
    if (!trap_watch_exact(tr))
        return err_set(VMDBG_EUNSUP, "watchpoint hits of several vCPUs are not all reported");
    int rc = slot_prepare(tr); /* the SYSCALL entry: its RSP slot, and LSTAR to hold threads */
    if (!rc)
        rc = tr->os.sites(tr->os.ctx, &tr->tw_sites);
    if (!rc)
        rc = read_gates(tr);
    if (rc == -VMDBG_ESTATE)
        return rc;
    if (rc) {
        tr->tw_unusable = true;
        return rc;
    }
    tr->tw_known = true;
    fprintf(tr->out,
            "vmdbg: learned LSTAR=%016llx (!mode: write watchpoints on each watched thread's "
            "saved user frame and status word)\n",
            (unsigned long long)tr->slot_lstar);
    return 0;
}

/* ---- the watched threads and processes ------------------------------------- */

static int watch_thread(struct trap *tr, const struct tw_thread *th, bool on)
{
    int rc = tgt_breakpoint(tr->t, TGT_WP_WRITE, th->regs + FRAME_SS_AT, FRAME_LEN, on);
    if (!rc)
        rc =
            tgt_breakpoint(tr->t, TGT_WP_WRITE, th->task + tr->tw_sites.status_off, STATUS_LEN, on);
    return rc;
}

static int drop_thread(struct trap *tr, int i)
{
    int rc = watch_thread(tr, &tr->tw_threads[i], false);
    tr->tw_threads[i] = tr->tw_threads[--tr->tw_nthreads];
    return rc;
}

static int thread_by_task(const struct trap *tr, uint64_t task)
{
    for (int i = 0; i < tr->tw_nthreads; i++)
        if (tr->tw_threads[i].task == task)
            return i;
    return -1;
}

static struct tw_proc *proc_by_pid(struct trap *tr, uint32_t pid)
{
    for (int i = 0; i < tr->tw_nprocs; i++)
        if (tr->tw_procs[i].pid == pid)
            return &tr->tw_procs[i];
    return NULL;
}

static int watch_list(struct trap *tr, struct tw_proc *pr, uint64_t list)
{
    if (pr->list == list)
        return 0;
    int rc = pr->list ? tgt_breakpoint(tr->t, TGT_WP_WRITE, pr->list, LIST_LEN, false) : 0;
    if (!rc && list)
        rc = tgt_breakpoint(tr->t, TGT_WP_WRITE, list, LIST_LEN, true);
    if (!rc)
        pr->list = list;
    return rc;
}

static int drop_threads_of(struct trap *tr, uint32_t pid)
{
    int rc = 0;
    for (int i = tr->tw_nthreads - 1; !rc && i >= 0; i--)
        if (tr->tw_threads[i].pid == pid)
            rc = drop_thread(tr, i);
    return rc;
}

/* The process's threads as the kernel lists them now: new ones watched,
 * gone ones dropped. A process not found (not born yet, or gone) is looked
 * for again when a task of its pid is switched in. */
static int resolve(struct trap *tr, struct tw_proc *pr)
{
    struct trap_thread th[TW_MAX_THREADS];
    uint64_t list = 0;
    int n = tr->os.threads(tr->os.ctx, pr->pid, th, TW_MAX_THREADS, &list);
    if (n < 0)
        return n;
    int rc = 0;
    for (int i = tr->tw_nthreads - 1; !rc && i >= 0; i--) {
        const struct tw_thread *w = &tr->tw_threads[i];
        bool listed = false;
        for (int k = 0; k < n && !listed; k++)
            listed = th[k].task == w->task && th[k].regs == w->regs;
        if (w->pid == pr->pid && !listed)
            rc = drop_thread(tr, i);
    }
    for (int k = 0; !rc && k < n; k++) {
        if (thread_by_task(tr, th[k].task) >= 0)
            continue;
        if (tr->tw_nthreads == TW_MAX_THREADS)
            return err_set(VMDBG_EUNSUP, "!mode watches at most %d threads", TW_MAX_THREADS);
        struct tw_thread *w = &tr->tw_threads[tr->tw_nthreads];
        *w = (struct tw_thread){pr->pid, th[k].task, th[k].tid, th[k].regs, TW_AT_SYSCALL};
        rc = watch_thread(tr, w, true);
        if (!rc)
            tr->tw_nthreads++;
    }
    if (n == 0 && pr->list)
        pr->gone = true;
    return rc ? rc : watch_list(tr, pr, n > 0 ? list : 0);
}

/* resolve() at a stop: beyond the watch's limits (a process with too many
 * threads), the sync that follows the stop moves !mode to the traps. */
static void give_up(struct trap *tr)
{
    fprintf(tr->out, "vmdbg: %s: !mode uses the breakpoint traps from now on\n",
            vmdbg_last_error());
    tr->tw_unusable = true;
}

static int resolve_at_stop(struct trap *tr, struct tw_proc *pr)
{
    int rc = resolve(tr, pr);
    if (rc == -VMDBG_EUNSUP)
        give_up(tr);
    return rc == -VMDBG_EUNSUP ? 0 : rc;
}

static int drop_proc(struct trap *tr, int i)
{
    struct tw_proc *pr = &tr->tw_procs[i];
    int rc = drop_threads_of(tr, pr->pid);
    if (!rc)
        rc = watch_list(tr, pr, 0);
    if (!rc)
        *pr = tr->tw_procs[--tr->tw_nprocs];
    return rc;
}

/* The pids the !mode events name, and those of held threads (whose
 * release needs their watch even when no event is left). */
static int wanted_pids(struct trap *tr, uint32_t pids[TW_MAX_PROCS + 1])
{
    size_t n = ev_type_pids(tr->e, EV_MODE, pids, TW_MAX_PROCS + 1);
    if (n > TW_MAX_PROCS)
        return err_set(VMDBG_EUNSUP, "the watch follows at most %d processes", TW_MAX_PROCS);
    for (int h = 0; h < tr->nheld && n < TW_MAX_PROCS; h++) {
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = pids[k] == tr->held[h].pid;
        if (!seen)
            pids[n++] = tr->held[h].pid;
    }
    return (int)n;
}

static int sync_procs(struct trap *tr, bool on)
{
    uint32_t want[TW_MAX_PROCS + 1];
    int n = on ? wanted_pids(tr, want) : 0;
    if (n < 0)
        return n;
    int rc = 0;
    for (int i = tr->tw_nprocs - 1; !rc && i >= 0; i--) {
        bool kept = false;
        for (int k = 0; k < n && !kept; k++)
            kept = want[k] == tr->tw_procs[i].pid;
        if (!kept)
            rc = drop_proc(tr, i);
    }
    for (int k = 0; !rc && k < n; k++) {
        if (proc_by_pid(tr, want[k]))
            continue;
        if (tr->tw_nprocs == TW_MAX_PROCS)
            return err_set(VMDBG_EUNSUP, "!mode watches at most %d processes", TW_MAX_PROCS);
        struct tw_proc *pr = &tr->tw_procs[tr->tw_nprocs++];
        *pr = (struct tw_proc){want[k], 0, false};
        rc = resolve(tr, pr);
    }
    return rc;
}

int tw_sync(struct trap *tr, bool on)
{
    int rc = sync_procs(tr, on);
    if (rc != -VMDBG_EUNSUP || !on)
        return rc;
    give_up(tr); /* beyond the watch's limits: all of it out, the traps arm */
    tr->tw_on = false;
    return sync_procs(tr, false);
}

uint64_t tw_follow_cores(const struct trap *tr)
{
    for (int i = 0; i < tr->tw_nprocs; i++)
        if (!tr->tw_procs[i].list && !tr->tw_procs[i].gone)
            return tr->nvcpus >= 64 ? UINT64_MAX : (1ull << tr->nvcpus) - 1;
    return 0;
}

int tw_on_switch(struct trap *tr, const struct ev_task *task)
{
    struct tw_proc *pr = task->known ? proc_by_pid(tr, (uint32_t)task->pid) : NULL;
    return pr && !pr->list && !pr->gone ? resolve_at_stop(tr, pr) : 0;
}

int tw_forget(struct trap *tr)
{
    int rc = tw_sync(tr, false);
    if (!rc)
        tr->tw_known = tr->tw_unusable = tr->tw_on = false;
    return rc;
}

void tw_describe(const struct trap *tr, FILE *out)
{
    if (!tr->tw_on)
        return;
    int missing = 0, gone = 0;
    for (int i = 0; i < tr->tw_nprocs; i++) {
        gone += tr->tw_procs[i].gone;
        missing += tr->tw_procs[i].list == 0 && !tr->tw_procs[i].gone;
    }
    fprintf(out,
            "transition watch: armed (%d thread%s of %d process%s, a write watchpoint on "
            "each one's saved user frame and status word)\n",
            tr->tw_nthreads, tr->tw_nthreads == 1 ? "" : "s", tr->tw_nprocs - missing - gone,
            tr->tw_nprocs - missing - gone == 1 ? "" : "es");
    if (gone)
        fprintf(out, "transition watch: %d process%s exited (not looked for again)\n", gone,
                gone == 1 ? "" : "es");
    if (missing)
        fprintf(out,
                "transition watch: %d process%s not found yet: context switches are "
                "followed until %s\n",
                missing, missing == 1 ? "" : "es", missing == 1 ? "it runs" : "they run");
}

/* ---- classifying a stop ------------------------------------------------------- */

bool tw_watched(const struct trap *tr, uint64_t addr, enum tw_kind *kind, int *index)
{
    for (int i = 0; i < tr->tw_nthreads; i++) {
        const struct tw_thread *w = &tr->tw_threads[i];
        *index = i;
        if (addr == w->regs + FRAME_SS_AT) {
            *kind = TW_ENTRY;
            return true;
        }
        if (addr == w->task + tr->tw_sites.status_off) {
            *kind = TW_EXIT;
            return true;
        }
    }
    for (int i = 0; i < tr->tw_nprocs; i++)
        if (tr->tw_procs[i].list && addr == tr->tw_procs[i].list) {
            *kind = TW_LIST;
            *index = i;
            return true;
        }
    return false;
}

/* Each read in the register round trip costs a few µs: an entry reads
 * what the thread's last entry needed (a SYSCALL: the RSP slot; an
 * interrupt: the frame and the stack words), a wrong guess one more trip. */
size_t tw_reads(struct trap *tr, int vcpu, enum tw_kind kind, int index, struct tgt_mem_req *req,
                struct tw_buffers *b)
{
    const struct tw_thread *w = &tr->tw_threads[index];
    bool syscall = kind == TW_ENTRY && w->last_entry == TW_AT_SYSCALL;
    size_t n = 0;
    if (kind == TW_LIST)
        return 0;
    if (!syscall)
        req[n++] = (struct tgt_mem_req){.addr = w->regs, .len = sizeof(b->frame), .buf = b->frame};
    if (syscall && tr->kgs[vcpu])
        req[n++] = (struct tgt_mem_req){.addr = tr->kgs[vcpu] + (uint64_t)tr->slot_disp,
                                        .len = sizeof(b->user_rsp),
                                        .buf = b->user_rsp};
    if (kind == TW_ENTRY && !syscall && tr->tw_stack_rsp[vcpu])
        req[n++] = (struct tgt_mem_req){
            .addr = tr->tw_stack_rsp[vcpu], .len = sizeof(b->stack), .buf = b->stack};
    return n;
}

static void frame_to_regs(const uint8_t *frame, struct tgt_regs *r, bool hardware_too)
{
    for (size_t i = 0; i < ARRAY_LEN(frame_slots); i++)
        if (frame_slots[i].gpr || hardware_too)
            r->v[frame_slots[i].reg] = trap_le64(frame + frame_slots[i].at);
}

/* A SYSCALL's entry: the registers as they were at its first instruction. */
static int syscall_state(struct trap *tr, int vcpu, const struct tgt_mem_req *req, size_t nreq,
                         struct tgt_regs *r)
{
    uint8_t rsp[8];
    int rc = trap_read_prefetched(tr, vcpu, tr->kgs[vcpu] + (uint64_t)tr->slot_disp, rsp,
                                  sizeof(rsp), req, nreq);
    if (rc)
        return rc;
    r->v[TGT_RSP] = trap_le64(rsp);
    r->v[TGT_RIP] = tr->slot_lstar;
    trap_swap_gs(r);
    return 0;
}

/* The vector an entry came through: its stub's call returns just past it
 * (the common interrupt code instead has the vector in the frame). */
static int entry_vector(const struct trap *tr, uint64_t ret, uint64_t orig_ax)
{
    int best = -1;
    for (int v = 0; v < 256; v++) {
        uint64_t g = tr->tw_gate[v];
        if (g && g <= ret && ret - g < STUB_SPAN && (best < 0 || g > tr->tw_gate[best]))
            best = v;
    }
    /* the common code's stubs push the vector as a sign-extended byte */
    bool byte = orig_ax < 0x80 || orig_ax >= (uint64_t)-0x80;
    if (best < 0 && byte && tr->tw_gate[orig_ax & 0xff])
        best = (int)(orig_ax & 0xff);
    return best;
}

/* An interrupt or exception from user mode, at the copy of its frame to the
 * thread's stack: the user registers, the handler's address and the stack
 * the CPU delivered to. The copy runs from the entry code, whose caller's
 * return address is the second word on the stack, above the frame copied. */
static int frame_entry_state(struct trap *tr, int vcpu, const uint8_t *frame,
                             const struct tgt_mem_req *req, size_t nreq, struct tgt_regs *r)
{
    uint64_t user_rflags = trap_le64(frame + 144);
    frame_to_regs(frame, r, false);
    trap_swap_gs(r);
    uint8_t stack[16];
    uint64_t rsp = r->v[TGT_RSP];
    tr->tw_stack_rsp[vcpu] = rsp;
    if (trap_read_prefetched(tr, vcpu, rsp, stack, sizeof(stack), req, nreq))
        return 0; /* the handler stays unnamed: RIP is where the hit stopped */
    int v = entry_vector(tr, trap_le64(stack + 8), trap_le64(frame + FRAME_ORIG_AX_AT));
    if (v < 0)
        return 0;
    uint64_t delivered = rsp + sizeof(stack); /* the frame on the entry stack */
    r->v[TGT_RIP] = tr->tw_gate[v];
    r->v[TGT_RSP] = delivered + 128 - (x86_pushes_error_code((unsigned)v) ? 8 : 0);
    r->v[TGT_RFLAGS] = (user_rflags & ~RFLAGS_CLEARED_AT_ENTRY) | X86_RFLAGS_FIXED;
    r->v[TGT_SS] = 0; /* a privilege change loads a null SS */
    return 0;
}

/* A held thread on its way back: its own RAX, RCX and R11 go back into the
 * frame (the yield syscall's are there). */
static int release(struct trap *tr, int vcpu, const struct tw_thread *w, uint8_t *frame)
{
    struct held_thread *h = md_held_find(tr, w->tid);
    if (!h)
        return 0;
    if (trap_le64(frame + 128) != h->rip)
        fprintf(tr->out,
                "vmdbg: held thread %llu returned elsewhere (a signal?): its RAX, RCX and "
                "R11 there are the yield syscall's\n",
                (unsigned long long)h->tid);
    else {
        trap_put_le64(frame + 80, h->rax);
        trap_put_le64(frame + 88, h->rcx);
        trap_put_le64(frame + 48, h->r11);
        int rc = tgt_mem_write(tr->t, vcpu, w->regs + 80, frame + 80, 16, false);
        if (!rc)
            rc = tgt_mem_write(tr->t, vcpu, w->regs + 48, frame + 48, 8, false);
        if (rc)
            return rc;
    }
    *h = tr->held[--tr->nheld];
    return 0;
}

/* A watch hit that is no transition: the guest goes on. */
static int resume_same(struct trap *tr, int vcpu, const struct tgt_regs *regs)
{
    struct tgt_regs same = *regs;
    tr->st.watch_other++;
    return trap_finish(tr, vcpu, &same, &same);
}

int tw_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum tw_kind kind, int index,
              const struct tgt_mem_req *req, size_t nreq, enum trap_verdict *verdict)
{
    *verdict = TRAP_RESUMED;
    if (kind == TW_LIST) { /* the process gained or lost a thread */
        int rc = resolve_at_stop(tr, &tr->tw_procs[index]);
        return rc ? rc : resume_same(tr, vcpu, regs);
    }
    struct tw_thread w = tr->tw_threads[index];
    struct pending_hit *p = &tr->p;
    memset(p, 0, sizeof(*p));
    p->guest = *regs;
    p->tw_live = *regs;
    ev_hit_init(&p->hit, EV_MODE, vcpu, kind == TW_EXIT ? 3 : 0, regs);
    ev_hit_task(tr->e, &p->hit);
    if (p->hit.task.known && p->hit.task.thread != w.task) { /* it died; the memory is reused */
        int rc = drop_thread(tr, index);
        return rc ? rc : resume_same(tr, vcpu, regs);
    }
    uint64_t rip = regs->v[TGT_RIP];
    const struct trap_os_sites *s = &tr->tw_sites;
    bool transition = kind == TW_EXIT ? in_range(rip, s->exit_lo, s->exit_hi)
                                      : in_range(rip, s->entry_lo, s->entry_hi) ||
                                            in_range(rip, s->copy_lo, s->copy_hi);
    /* other writes (execve's new frame, a ptrace poke), and the yield
     * syscall of a held thread, are not transitions */
    if (!transition || (kind == TW_ENTRY && md_held_find(tr, w.tid)))
        return resume_same(tr, vcpu, regs);
    if ((regs->v[TGT_CS] & 3) == 0)
        tr->kgs[vcpu] = regs->v[TGT_GS_BASE];
    uint8_t frame[TW_FRAME_BYTES];
    struct tgt_regs *r = &p->hit.regs;
    int rc = 0;
    if (kind == TW_EXIT) {
        rc = trap_read_prefetched(tr, vcpu, w.regs, frame, sizeof(frame), req, nreq);
        if (!rc)
            rc = release(tr, vcpu, &w, frame);
        frame_to_regs(frame, r, true);
        trap_swap_gs(r);
        p->tw_at = TW_AT_FRAME;
    } else if (in_range(rip, tr->slot_lstar, tr->slot_lstar + SYSCALL_HIT_SPAN)) {
        rc = syscall_state(tr, vcpu, req, nreq, r);
        p->tw_at = TW_AT_SYSCALL;
    } else if (in_range(rip, s->copy_lo, s->copy_hi)) {
        rc = trap_read_prefetched(tr, vcpu, w.regs, frame, sizeof(frame), req, nreq);
        if (!rc)
            rc = frame_entry_state(tr, vcpu, frame, req, nreq, r);
        p->tw_at = TW_AT_FRAME;
    } else {
        p->tw_at = TW_AT_LIVE; /* another entry (NMI, 32-bit): its registers as they are */
    }
    if (rc)
        return rc;
    if (kind == TW_ENTRY) /* what the next entry's reads guess */
        tr->tw_threads[index].last_entry = p->tw_at;
    p->tw_thread = w;
    p->tw_shown = *r;
    if (!ev_mode_watches(tr->e, &p->hit)) /* e.g. a held thread let go */
        return trap_finish(tr, vcpu, &p->tw_live, &p->guest);
    p->active = true;
    p->via_watch = true;
    p->phase = EV_STAGE_PRE;
    p->mode_kind = kind == TW_EXIT ? MODE_RETURN : MODE_ARRIVED;
    tr->st.transitions++;
    return trap_run_hit(tr, verdict);
}

/* ---- after the actions ------------------------------------------------------- */

/* Keep the thread out of user mode: instead of returning, it enters the
 * kernel again through the yield syscall (a SYSCALL emulated at the user
 * instruction it was about to run: RCX = that RIP, so it returns there),
 * letting everything else run; release() gives its registers back. */
int tw_hold(struct trap *tr)
{
    struct pending_hit *p = &tr->p;
    if (!tr->os.hold_syscall || !p->hit.task.known) {
        if (!tr->warned_hold)
            fprintf(tr->out,
                    "vmdbg: cannot hold the thread in kernel mode (%s): the "
                    "short-circuit of this return to user mode is ignored\n",
                    !tr->os.hold_syscall ? "no yield syscall known" : "its task is not known");
        tr->warned_hold = true;
        return 0;
    }
    if (tr->nheld == TRAP_MAX_HELD)
        return err_set(VMDBG_EUNSUP, "more than %d threads held at once", TRAP_MAX_HELD);
    struct tgt_regs *r = &p->hit.regs;
    tr->held[tr->nheld++] = (struct held_thread){.tid = p->hit.task.tid,
                                                 .rip = r->v[TGT_RIP],
                                                 .rax = r->v[TGT_RAX],
                                                 .rcx = r->v[TGT_RCX],
                                                 .r11 = r->v[TGT_R11],
                                                 .pid = (uint32_t)p->hit.task.pid};
    p->tw_hold = true;
    return 0;
}

/* The user state the actions left, as the SYSCALL of the yield would see
 * it: the live registers of the hit become that entry's. */
static void enter_yield(struct trap *tr, const struct tgt_regs *user, struct tgt_regs *live)
{
    for (size_t i = 0; i < ARRAY_LEN(frame_slots); i++)
        if (frame_slots[i].gpr)
            live->v[frame_slots[i].reg] = user->v[frame_slots[i].reg];
    live->v[TGT_RCX] = user->v[TGT_RIP];
    live->v[TGT_R11] = user->v[TGT_RFLAGS] & ~X86_RFLAGS_RF;
    live->v[TGT_RAX] = tr->os.hold_syscall;
    live->v[TGT_RSP] = user->v[TGT_RSP];
    live->v[TGT_RIP] = tr->slot_lstar;
    /* Linux's FMASK clears every flag a process can set */
    live->v[TGT_RFLAGS] = X86_RFLAGS_FIXED;
    live->v[TGT_GS_BASE] = user->v[TGT_GS_BASE];
    live->v[TGT_K_GS_BASE] = user->v[TGT_K_GS_BASE];
}

int tw_write_back(struct trap *tr)
{
    struct pending_hit *p = &tr->p;
    int vcpu = p->hit.vcpu;
    const struct tgt_regs *now = &p->hit.regs, *was = &p->tw_shown;
    struct tgt_regs live = p->tw_live;
    int rc = 0;
    if (p->tw_hold) {
        enter_yield(tr, now, &live);
        p->hit.regs = live;
        return 0;
    }
    for (size_t i = 0; !rc && i < ARRAY_LEN(frame_slots); i++) {
        enum tgt_reg reg = frame_slots[i].reg;
        if (now->v[reg] == was->v[reg])
            continue;
        bool in_frame = p->tw_at == TW_AT_FRAME && (frame_slots[i].gpr || p->hit.context == 3);
        if (in_frame)
            rc = trap_write_le64(tr, vcpu, p->tw_thread.regs + frame_slots[i].at, now->v[reg]);
        else if (frame_slots[i].gpr)
            live.v[reg] = now->v[reg];
        else if (reg == TGT_RSP && p->tw_at == TW_AT_SYSCALL)
            rc = trap_write_le64(tr, vcpu, tr->kgs[vcpu] + (uint64_t)tr->slot_disp, now->v[reg]);
        else
            fprintf(tr->out, "vmdbg: !mode k: a new %s at a kernel entry is not applied\n",
                    tgt_reg_names[reg]);
    }
    /* the rest (FS, CR*, EFER...) is the vCPU's own at either moment */
    static const enum tgt_reg own[] = {TGT_FS_BASE, TGT_CR0, TGT_CR2, TGT_CR3,
                                       TGT_CR4,     TGT_CR8, TGT_EFER};
    for (size_t i = 0; i < ARRAY_LEN(own); i++)
        if (now->v[own[i]] != was->v[own[i]])
            live.v[own[i]] = now->v[own[i]];
    if (now->v[TGT_GS_BASE] != was->v[TGT_GS_BASE]) /* swapped at the hit */
        live.v[TGT_K_GS_BASE] = now->v[TGT_GS_BASE];
    p->hit.regs = live;
    return rc;
}
