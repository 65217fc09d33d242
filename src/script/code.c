/*
** code.c: bytecode generation from the parse tree, and packing of the final program.
** Slots: each function's locals come first (parameters at 0..n-1), then temporaries allocated
** like a stack (freereg). Conditions compile to compare-and-jump instructions; constants in
** the right operand use the K forms.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *const scr_opnames[OP__COUNT] = {
    /* ORDER OP */
    "MOV",  "LOADK", "LOADI", "GETG", "SETG",  "ADD",  "SUB",    "MUL",    "DIV",    "MOD",
    "SHL",  "SHR",   "BAND",  "BOR",  "BXOR",  "ADDK", "SUBK",   "MULK",   "DIVK",   "MODK",
    "SHLK", "SHRK",  "BANDK", "BORK", "BXORK", "EQ",   "NE",     "LT",     "LE",     "GT",
    "GE",   "EQK",   "NEK",   "LTK",  "LEK",   "GTK",  "GEK",    "JEQ",    "JNE",    "JLT",
    "JLE",  "JGT",   "JGE",   "JEQK", "JNEK",  "JLTK", "JLEK",   "JGTK",   "JGEK",   "NEG",
    "BNOT", "LNOT",  "BOOL",  "JMP",  "JZ",    "JNZ",  "GETREG", "SETREG", "PSEUDO", "LADDR",
    "LOAD", "STORE", "CALLB", "CALL", "RET",   "RET0", "END",
};

#define NO_JUMP (-1)

struct loopctx {
    int brk;  /* chain of pending 'break' jumps */
    int cont; /* chain of pending 'continue' jumps */
    struct loopctx *prev;
};

struct gen {
    struct scr_comp *C;
    struct scr_fdecl *f;
    int freereg, maxreg;
    struct loopctx *loop;
    int line; /* source line of what is being generated */
};

/* {====================================================================
** Emission
** ===================================================================== */

static int emit(struct gen *G, int op, int a, int b, int32_t c)
{
    struct scr_comp *C = G->C;
    if (C->ncode >= 0x7fffffff / 2)
        scr_throw(C, SCR_ELIMIT, G->line, 1, "program too large");
    scr_grow(C, (void **)&C->code, &C->capcode, C->ncode + 1, sizeof *C->code);
    scr_grow(C, (void **)&C->lines, &C->caplines, C->ncode + 1, sizeof *C->lines);
    struct scr_ins *i = &C->code[C->ncode];
    i->op = (uint32_t)op;
    i->a = (uint32_t)a;
    i->b = (uint32_t)b;
    i->c = c;
    C->lines[C->ncode] = (uint32_t)G->line;
    return (int)C->ncode++;
}

static int here(struct gen *G)
{
    return (int)G->C->ncode;
}

static int addk(struct gen *G, uint64_t v)
{
    struct scr_comp *C = G->C;
    size_t lo = C->nk > 256 ? C->nk - 256 : 0; /* bounded search keeps big inputs linear */
    for (size_t i = C->nk; i-- > lo;)
        if (C->k[i] == v)
            return (int)i;
    scr_grow(C, (void **)&C->k, &C->capk, C->nk + 1, sizeof *C->k);
    C->k[C->nk] = v;
    return (int)C->nk++;
}

static int allocreg(struct gen *G)
{
    int r = G->freereg++;
    if (r > SCR_MAX_AB || r >= SCR_STACK_SLOTS / 2)
        scr_throw(G->C, SCR_ELIMIT, G->line, 1, "expression too complex (out of slots)");
    if (G->freereg > G->maxreg)
        G->maxreg = G->freereg;
    return r;
}

/* Jump chains: a pending jump's c holds the index of the next pending jump in its chain. */
static int jump(struct gen *G, int op, int a, int b, int chain)
{
    return emit(G, op, a, b, chain);
}

static int concat(struct gen *G, int l1, int l2)
{
    if (l1 == NO_JUMP)
        return l2;
    if (l2 == NO_JUMP)
        return l1;
    int i = l1;
    while (G->C->code[i].c != NO_JUMP)
        i = G->C->code[i].c;
    G->C->code[i].c = l2;
    return l1;
}

static void patch(struct gen *G, int chain, int target)
{
    while (chain != NO_JUMP) {
        int nxt = G->C->code[chain].c;
        G->C->code[chain].c = target - (chain + 1);
        chain = nxt;
    }
}

/* }==================================================================== */

/* {====================================================================
** Expressions
** ===================================================================== */

static void exp2reg(struct gen *G, const struct scr_node *n, int dst);
static int jumpif(struct gen *G, const struct scr_node *n, int sense);

static void set_line(struct gen *G, const struct scr_node *n)
{
    G->line = n->line;
}

/* Value of n in some slot: a local's own slot, or a new temporary. */
static int exp2any(struct gen *G, const struct scr_node *n)
{
    if (n->kind == N_LOCAL)
        return (int)n->val;
    int r = allocreg(G);
    exp2reg(G, n, r);
    return r;
}

static int is_cmp(int op)
{
    return op >= B_EQ && op <= B_GE;
}

static int commutes(int op)
{
    return op == B_ADD || op == B_MUL || op == B_AND || op == B_OR || op == B_XOR || op == B_EQ ||
           op == B_NE;
}

/* a < b  <=>  b > a  (ORDER BINOP) */
static int mirror(int op)
{
    switch (op) {
    case B_LT:
        return B_GT;
    case B_LE:
        return B_GE;
    case B_GT:
        return B_LT;
    case B_GE:
        return B_LE;
    default:
        return op;
    }
}

/* !(a < b)  <=>  a >= b */
static int negate(int op)
{
    switch (op) {
    case B_EQ:
        return B_NE;
    case B_NE:
        return B_EQ;
    case B_LT:
        return B_GE;
    case B_LE:
        return B_GT;
    case B_GT:
        return B_LE;
    default:
        return B_LT;
    }
}

static int opcode_rr(int op)
{
    return is_cmp(op) ? OP_EQ + (op - B_EQ) : OP_ADD + op;
}

static int opcode_rk(int op)
{
    return is_cmp(op) ? OP_EQK + (op - B_EQ) : OP_ADDK + op;
}

static void loadnum(struct gen *G, uint64_t v, int dst)
{
    if (v <= 0x7fffffff)
        emit(G, OP_LOADI, dst, 0, (int32_t)v);
    else
        emit(G, OP_LOADK, dst, 0, addk(G, v));
}

static void binary(struct gen *G, const struct scr_node *n, int dst)
{
    int op = n->op;
    const struct scr_node *l = n->a, *r = n->b;
    if (l->kind == N_NUM && r->kind != N_NUM && (commutes(op) || is_cmp(op))) {
        const struct scr_node *t = l;
        l = r;
        r = t;
        op = mirror(op);
    }
    int save = G->freereg;
    int lr = exp2any(G, l);
    if (r->kind == N_NUM) {
        set_line(G, n);
        emit(G, opcode_rk(op), dst, lr, addk(G, r->val));
    } else {
        int rr = exp2any(G, r);
        set_line(G, n);
        emit(G, opcode_rr(op), dst, lr, rr);
    }
    G->freereg = save;
}

static void callargs(struct gen *G, const struct scr_node *args, int *base)
{
    *base = G->freereg;
    if (*base > SCR_MAX_AB)
        scr_throw(G->C, SCR_ELIMIT, G->line, 1, "expression too complex (out of slots)");
    for (const struct scr_node *a = args; a; a = a->next)
        exp2reg(G, a, allocreg(G));
}

/* Generate a call; want_value: the result is used (void functions are an error then). */
static void callexp(struct gen *G, const struct scr_node *n, int dst, int want_value)
{
    int save = G->freereg, base;
    if (n->kind == N_CALLB) {
        const struct scr_builtin *b = &scr_builtins[n->val];
        if (want_value && (b->flags & SCR_BF_VOID))
            scr_throw(G->C, SCR_ESYNTAX, n->line, n->col, "%s() does not return a value", b->name);
        if (b->load) {
            int r = exp2any(G, n->a);
            set_line(G, n);
            emit(G, OP_LOAD, dst, r, b->load);
            G->freereg = save;
            return;
        }
        callargs(G, n->a, &base);
        set_line(G, n);
        emit(G, OP_CALLB, dst, base, (int32_t)(n->val | (uint64_t)n->argn << 16));
    } else {
        struct scr_fdecl *f = n->fn;
        if (want_value && !f->returns)
            scr_throw(G->C, SCR_ESYNTAX, n->line, n->col,
                      "function '%s' is void and does not return a value", f->name);
        if ((int)n->argn != f->nparams)
            scr_throw(G->C, SCR_ESYNTAX, n->line, n->col,
                      "function '%s' takes %d argument%s, %d given", f->name, f->nparams,
                      f->nparams == 1 ? "" : "s", (int)n->argn);
        callargs(G, n->a, &base);
        set_line(G, n);
        emit(G, OP_CALL, dst, base, f->index);
    }
    G->freereg = save;
}

static void exp2reg(struct gen *G, const struct scr_node *n, int dst)
{
    set_line(G, n);
    switch (n->kind) {
    case N_NUM:
        loadnum(G, n->val, dst);
        break;
    case N_LOCAL:
        if ((int)n->val != dst)
            emit(G, OP_MOV, dst, (int)n->val, 0);
        break;
    case N_GLOBAL:
        emit(G, OP_GETG, dst, 0, (int32_t)n->val);
        break;
    case N_REG:
        emit(G, OP_GETREG, dst, (int)n->val, 0);
        break;
    case N_PSEUDO:
        emit(G, OP_PSEUDO, dst, (int)n->val, (int32_t)n->argn);
        break;
    case N_BIN:
        binary(G, n, dst);
        break;
    case N_UN: {
        int save = G->freereg;
        int r = exp2any(G, n->a);
        set_line(G, n);
        emit(G, n->op == U_NEG ? OP_NEG : n->op == U_BNOT ? OP_BNOT : OP_LNOT, dst, r, 0);
        G->freereg = save;
        break;
    }
    case N_ANDAND:
    case N_OROR: {
        int f = jumpif(G, n, 0);
        emit(G, OP_LOADI, dst, 0, 1);
        emit(G, OP_JMP, 0, 0, 1);
        patch(G, f, here(G));
        emit(G, OP_LOADI, dst, 0, 0);
        break;
    }
    case N_DEREF: {
        int save = G->freereg;
        int r = exp2any(G, n->a);
        set_line(G, n);
        emit(G, OP_LOAD, dst, r, 8);
        G->freereg = save;
        break;
    }
    case N_ADDR:
        if (n->a->kind == N_GLOBAL)
            loadnum(G, SCR_ADDR_GLOBALS + 8 * n->a->val, dst);
        else
            emit(G, OP_LADDR, dst, (int)n->a->val, 0);
        break;
    case N_CALLB:
    case N_CALL:
        callexp(G, n, dst, 1);
        break;
    default:
        scr_throw(G->C, SCR_ESYNTAX, n->line, n->col, "internal error: bad expression node");
    }
}

/* Emit jumps taken when the truth of n equals sense; returns their chain. */
static int jumpif(struct gen *G, const struct scr_node *n, int sense)
{
    set_line(G, n);
    switch (n->kind) {
    case N_NUM:
        return (n->val != 0) == sense ? jump(G, OP_JMP, 0, 0, NO_JUMP) : NO_JUMP;
    case N_UN:
        if (n->op == U_LNOT)
            return jumpif(G, n->a, !sense);
        break;
    case N_ANDAND:
    case N_OROR: {
        /* a && b is false when either is; a || b is true when either is */
        int direct = (n->kind == N_ANDAND) ? 0 : 1;
        if (sense == direct) {
            int l = jumpif(G, n->a, sense);
            return concat(G, l, jumpif(G, n->b, sense));
        }
        int skip = jumpif(G, n->a, !sense);
        int l = jumpif(G, n->b, sense);
        patch(G, skip, here(G));
        return l;
    }
    case N_BIN:
        if (is_cmp(n->op)) {
            int op = sense ? n->op : negate(n->op);
            const struct scr_node *l = n->a, *r = n->b;
            if (l->kind == N_NUM) {
                const struct scr_node *t = l;
                l = r;
                r = t;
                op = mirror(op);
            }
            int save = G->freereg;
            int lr = exp2any(G, l);
            int j;
            int k = r->kind == N_NUM ? addk(G, r->val) : -1;
            set_line(G, n);
            if (k >= 0 && k <= SCR_MAX_AB) {
                j = jump(G, OP_JEQK + (op - B_EQ), lr, k, NO_JUMP);
            } else {
                int rr = exp2any(G, r);
                set_line(G, n);
                j = jump(G, OP_JEQ + (op - B_EQ), lr, rr, NO_JUMP);
            }
            G->freereg = save;
            return j;
        }
        break;
    default:
        break;
    }
    int save = G->freereg;
    int r = exp2any(G, n);
    G->freereg = save;
    return jump(G, sense ? OP_JNZ : OP_JZ, r, 0, NO_JUMP);
}

/* }==================================================================== */

/* {====================================================================
** Statements
** ===================================================================== */

static void stat(struct gen *G, const struct scr_node *n);

static struct scr_node *tmpnode(struct gen *G, int kind, const struct scr_node *like)
{
    struct scr_node *t = scr_alloc(G->C, sizeof *t);
    t->kind = (uint8_t)kind;
    t->line = like->line;
    t->col = like->col;
    return t;
}

/* lhs op= value, as lhs = lhs op value, computed into dst */
static void compound(struct gen *G, const struct scr_node *n, const struct scr_node *lhs, int dst)
{
    struct scr_node *b = tmpnode(G, N_BIN, n);
    b->op = n->op;
    b->a = (struct scr_node *)lhs;
    b->b = n->b;
    exp2reg(G, b, dst);
}

/* Assignment; returns the slot that holds the assigned value (for chains). */
static int assign(struct gen *G, const struct scr_node *n)
{
    const struct scr_node *lhs = n->a;
    int plain = n->op == B__COUNT;
    int v;
    if (plain && n->b->kind == S_ASSIGN) {
        v = assign(G, n->b);
    } else if (lhs->kind == N_LOCAL) {
        if (plain)
            exp2reg(G, n->b, (int)lhs->val);
        else
            compound(G, n, lhs, (int)lhs->val);
        return (int)lhs->val;
    } else if (lhs->kind == N_DEREF) {
        int addr = exp2any(G, lhs->a);
        if (plain) {
            v = exp2any(G, n->b);
        } else {
            v = allocreg(G);
            set_line(G, n);
            emit(G, OP_LOAD, v, addr, 8);
            struct scr_node *cur = tmpnode(G, N_LOCAL, n);
            cur->val = (uint64_t)v;
            compound(G, n, cur, v);
        }
        set_line(G, n);
        emit(G, OP_STORE, addr, v, 0);
        return v;
    } else if (plain) {
        v = exp2any(G, n->b);
    } else {
        v = allocreg(G);
        compound(G, n, lhs, v);
    }
    set_line(G, n);
    switch (lhs->kind) {
    case N_LOCAL:
        if ((int)lhs->val != v)
            emit(G, OP_MOV, (int)lhs->val, v, 0);
        break;
    case N_GLOBAL:
        emit(G, OP_SETG, v, 0, (int32_t)lhs->val);
        break;
    case N_REG:
        emit(G, OP_SETREG, v, (int)lhs->val, 0);
        break;
    case N_DEREF: {
        int save = G->freereg;
        int addr = exp2any(G, lhs->a);
        set_line(G, n);
        emit(G, OP_STORE, addr, v, 0);
        G->freereg = save;
        break;
    }
    default:
        break;
    }
    return v;
}

static void statlist(struct gen *G, const struct scr_node *n)
{
    for (; n; n = n->next)
        stat(G, n);
}

static void loop_body(struct gen *G, const struct scr_node *body, struct loopctx *lc)
{
    lc->brk = lc->cont = NO_JUMP;
    lc->prev = G->loop;
    G->loop = lc;
    stat(G, body);
    G->loop = lc->prev;
}

static void stat(struct gen *G, const struct scr_node *n)
{
    int save = G->freereg;
    set_line(G, n);
    switch (n->kind) {
    case S_ASSIGN:
        assign(G, n);
        break;
    case S_EXPR:
        callexp(G, n->a, allocreg(G), 0);
        break;
    case S_BLOCK:
        statlist(G, n->a);
        break;
    case S_IF: {
        int f = jumpif(G, n->a, 0);
        stat(G, n->b);
        if (n->c) {
            int j = jump(G, OP_JMP, 0, 0, NO_JUMP);
            patch(G, f, here(G));
            stat(G, n->c);
            patch(G, j, here(G));
        } else {
            patch(G, f, here(G));
        }
        break;
    }
    case S_WHILE: {
        struct loopctx lc;
        int j = jump(G, OP_JMP, 0, 0, NO_JUMP);
        int top = here(G);
        loop_body(G, n->b, &lc);
        patch(G, lc.cont, here(G));
        patch(G, j, here(G));
        patch(G, jumpif(G, n->a, 1), top);
        patch(G, lc.brk, here(G));
        break;
    }
    case S_DO: {
        struct loopctx lc;
        int top = here(G);
        loop_body(G, n->b, &lc);
        patch(G, lc.cont, here(G));
        patch(G, jumpif(G, n->a, 1), top);
        patch(G, lc.brk, here(G));
        break;
    }
    case S_FOR: {
        struct loopctx lc;
        statlist(G, n->a);
        int j = n->b ? jump(G, OP_JMP, 0, 0, NO_JUMP) : NO_JUMP;
        int top = here(G);
        loop_body(G, n->d, &lc);
        patch(G, lc.cont, here(G));
        statlist(G, n->c);
        patch(G, j, here(G));
        if (n->b)
            patch(G, jumpif(G, n->b, 1), top);
        else
            patch(G, jump(G, OP_JMP, 0, 0, NO_JUMP), top);
        patch(G, lc.brk, here(G));
        break;
    }
    case S_BREAK:
        G->loop->brk = concat(G, jump(G, OP_JMP, 0, 0, NO_JUMP), G->loop->brk);
        break;
    case S_CONTINUE:
        G->loop->cont = concat(G, jump(G, OP_JMP, 0, 0, NO_JUMP), G->loop->cont);
        break;
    case S_RETURN:
        if (n->a) {
            int r = exp2any(G, n->a);
            set_line(G, n);
            emit(G, OP_RET, r, 0, 0);
        } else {
            emit(G, OP_RET0, 0, 0, 0);
        }
        break;
    default:
        scr_throw(G->C, SCR_ESYNTAX, n->line, n->col, "internal error: bad statement node");
    }
    G->freereg = save;
}

/* }==================================================================== */

static void genfunc(struct scr_comp *C, struct scr_fdecl *f, const struct scr_node *body,
                    const struct scr_node *value)
{
    struct gen G = {.C = C, .f = f, .line = f->line};
    G.freereg = G.maxreg = f->nlocals;
    f->entry = (uint32_t)C->ncode;
    if (value) {
        int r = exp2any(&G, value);
        emit(&G, OP_END, r, 0, 0);
    } else if (f->index == 0) {
        statlist(&G, body);
        emit(&G, OP_END, 0, 0, 0);
    } else {
        stat(&G, body);
        emit(&G, OP_RET0, 0, 0, 0);
    }
    f->framesize = G.maxreg < 1 ? 1 : G.maxreg;
}

void scr_codegen(struct scr_comp *C)
{
    genfunc(C, C->funcs[0], C->top, C->expr);
    for (int i = 1; i < C->nfuncs; i++)
        genfunc(C, C->funcs[i], C->funcs[i]->body, NULL);
}

/* Pack everything into one allocation: header, code, lines, constants, functions, names,
** strings. */
struct scr_program *scr_code_finish(struct scr_comp *C)
{
    size_t namebytes = 0;
    for (int i = 0; i < C->nfuncs; i++)
        namebytes += strlen(C->funcs[i]->name) + 1;
    size_t off_code = (sizeof(struct scr_program) + 15) & ~(size_t)15;
    size_t off_k = off_code + C->ncode * sizeof(struct scr_ins);
    size_t off_lines = off_k + C->nk * sizeof(uint64_t);
    size_t off_funcs = (off_lines + C->ncode * sizeof(uint32_t) + 7) & ~(size_t)7;
    size_t off_names = off_funcs + (size_t)C->nfuncs * sizeof(struct scr_func);
    size_t off_str = off_names + namebytes;
    size_t total = off_str + C->nstr + 1;
    char *mem = calloc(1, total);
    if (!mem)
        return NULL;
    struct scr_program *p = (struct scr_program *)mem;
    struct scr_ins *code = (struct scr_ins *)(mem + off_code);
    uint64_t *k = (uint64_t *)(mem + off_k);
    uint32_t *lines = (uint32_t *)(mem + off_lines);
    struct scr_func *funcs = (struct scr_func *)(mem + off_funcs);
    char *names = mem + off_names;
    if (C->ncode) {
        memcpy(code, C->code, C->ncode * sizeof *code);
        memcpy(lines, C->lines, C->ncode * sizeof *lines);
    }
    if (C->nk)
        memcpy(k, C->k, C->nk * sizeof *k);
    if (C->nstr)
        memcpy(mem + off_str, C->str, C->nstr);
    for (int i = 0; i < C->nfuncs; i++) {
        const struct scr_fdecl *f = C->funcs[i];
        funcs[i].entry = f->entry;
        funcs[i].nparams = (uint16_t)f->nparams;
        funcs[i].nlocals = (uint16_t)f->nlocals;
        funcs[i].framesize = (uint16_t)f->framesize;
        funcs[i].returns = (uint8_t)(f->returns > 0);
        size_t n = strlen(f->name) + 1;
        memcpy(names, f->name, n);
        funcs[i].name = names;
        names += n;
    }
    p->g = C->g;
    p->code = code;
    p->lines = lines;
    p->k = k;
    p->str = mem + off_str;
    p->funcs = funcs;
    p->ncode = (uint32_t)C->ncode;
    p->nk = (uint32_t)C->nk;
    p->nstr = (uint32_t)C->nstr;
    p->nfuncs = (uint32_t)C->nfuncs;
    p->flags = C->flags;
    snprintf(p->name, sizeof p->name, "%s", C->srcname);
    return p;
}

size_t scr_dump(const struct scr_program *p, char *buf, size_t len)
{
    size_t n = 0;
#define OUT(...)                                                                                   \
    do {                                                                                           \
        int w_ =                                                                                   \
            snprintf(buf ? buf + (n < len ? n : len) : NULL, n < len ? len - n : 0, __VA_ARGS__);  \
        if (w_ > 0)                                                                                \
            n += (size_t)w_;                                                                       \
    } while (0)
    for (uint32_t f = 0; f < p->nfuncs; f++)
        OUT("; function %u %s: entry %u params %u locals %u frame %u\n", f, p->funcs[f].name,
            p->funcs[f].entry, p->funcs[f].nparams, p->funcs[f].nlocals, p->funcs[f].framesize);
    for (uint32_t i = 0; i < p->ncode; i++) {
        const struct scr_ins *in = &p->code[i];
        OUT("%4u %4u  %-7s %u %u %d\n", i, p->lines[i], scr_opnames[in->op], (unsigned)in->a,
            (unsigned)in->b, (int)in->c);
    }
#undef OUT
    return n;
}
