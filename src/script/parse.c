/*
** parse.c: recursive-descent parser. Builds a small tree per function (nodes live in the
** compile arena); code.c turns it into bytecode. Constants are folded while building.
** Recursion is capped at SCR_MAX_NEST; every error names the line:column and what was
** expected.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* {====================================================================
** Helpers
** ===================================================================== */

#define TK (C->lx.tk)

static void next(struct scr_comp *C)
{
    scr_lex_next(C);
}

static void tokname_expect(int t, char *buf, size_t len)
{
    if (t < 256)
        snprintf(buf, len, "'%c'", t);
    else
        snprintf(buf, len, "%s", scr_tokname(t));
}

/* "expected WHAT near TOKEN" at the current token. */
static SCR_NORETURN void error_expected(struct scr_comp *C, const char *what)
{
    char near[48];
    scr_tokdesc(&TK, near, sizeof near);
    scr_throw(C, SCR_ESYNTAX, TK.line, TK.col, "expected %s near %s", what, near);
}

static void check(struct scr_comp *C, int t)
{
    if (TK.t != t) {
        char what[32];
        tokname_expect(t, what, sizeof what);
        error_expected(C, what);
    }
}

static void expect(struct scr_comp *C, int t)
{
    check(C, t);
    next(C);
}

static int accept(struct scr_comp *C, int t)
{
    if (TK.t != t)
        return 0;
    next(C);
    return 1;
}

/* ';' ends a statement; it may be left out before the end of the input. */
static void expect_semi(struct scr_comp *C)
{
    if (TK.t == TK_EOF)
        return;
    expect(C, ';');
}

static void enter(struct scr_comp *C)
{
    if (++C->depth > SCR_MAX_NEST)
        scr_throw(C, SCR_ELIMIT, TK.line, TK.col, "nesting too deep (limit is %d)", SCR_MAX_NEST);
}

static void leave(struct scr_comp *C)
{
    C->depth--;
}

static struct scr_node *mknode(struct scr_comp *C, int kind, int line, int col)
{
    struct scr_node *n = scr_alloc(C, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = line;
    n->col = col;
    return n;
}

static struct scr_node *mknum(struct scr_comp *C, uint64_t v, int line, int col)
{
    struct scr_node *n = mknode(C, N_NUM, line, col);
    n->val = v;
    return n;
}

/* }==================================================================== */

/* {====================================================================
** Names: locals, globals, functions
** ===================================================================== */

static int local_slot(struct scr_comp *C, const char *s, size_t len, int line, int col)
{
    struct scr_fdecl *f = C->cur;
    for (int i = 0; i < f->nlocals; i++)
        if (strlen(f->locals[i]) == len && memcmp(f->locals[i], s, len) == 0)
            return i;
    if (f->nlocals >= SCR_MAX_LOCALS)
        scr_throw(C, SCR_ELIMIT, line, col, "too many local variables (limit is %d)",
                  SCR_MAX_LOCALS);
    f->locals[f->nlocals] = scr_strdup(C, s, len);
    return f->nlocals++;
}

static int global_slot(struct scr_comp *C, const char *s, size_t len, int line, int col)
{
    struct scr_globals *g = C->g;
    for (unsigned i = 0; i < g->count; i++)
        if (strlen(g->name[i]) == len && memcmp(g->name[i], s, len) == 0)
            return (int)i;
    if (g->count >= SCR_MAX_GLOBALS)
        scr_throw(C, SCR_ELIMIT, line, col, "too many global variables (limit is %d)",
                  SCR_MAX_GLOBALS);
    char *copy = malloc(len + 1);
    if (!copy)
        scr_throw(C, SCR_ENOMEM, line, col, "out of memory");
    memcpy(copy, s, len);
    copy[len] = 0;
    g->val[g->count] = 0;
    g->name[g->count] = copy;
    return (int)g->count++;
}

/* }==================================================================== */

static struct scr_fdecl *new_func(struct scr_comp *C, const char *s, size_t len, int line, int col)
{
    struct scr_fdecl *f = scr_alloc(C, sizeof *f);
    f->name = scr_strdup(C, s, len);
    f->line = line;
    f->col = col;
    f->returns = -1; /* unknown until defined */
    scr_grow(C, (void **)&C->funcs, &C->capfuncs, (size_t)C->nfuncs + 1, sizeof *C->funcs);
    f->index = C->nfuncs;
    C->funcs[C->nfuncs++] = f;
    return f;
}

static struct scr_fdecl *find_func(struct scr_comp *C, const char *s, size_t len)
{
    for (int i = 1; i < C->nfuncs; i++)
        if (strlen(C->funcs[i]->name) == len && memcmp(C->funcs[i]->name, s, len) == 0)
            return C->funcs[i];
    return NULL;
}

/* }==================================================================== */

/* {====================================================================
** Expressions
** ===================================================================== */

static struct scr_node *expr(struct scr_comp *C);
static struct scr_node *subexpr(struct scr_comp *C, int limit);

/* Binary operator table: token -> operator and priority (higher binds tighter). The order
** follows HyperDbg's boolean-expression table: * / %, + -, << >>, comparisons, &, ^, |, &&,
** ||. B__COUNT marks && and ||, which build their own nodes. */
static const struct {
    int tok;
    uint8_t op;
    uint8_t prio;
} binops[] = {
    {'*', B_MUL, 9},          {'/', B_DIV, 9},        {'%', B_MOD, 9},    {'+', B_ADD, 8},
    {'-', B_SUB, 8},          {TK_SHL, B_SHL, 7},     {TK_SHR, B_SHR, 7}, {'<', B_LT, 6},
    {'>', B_GT, 6},           {TK_LE, B_LE, 6},       {TK_GE, B_GE, 6},   {TK_EQ, B_EQ, 6},
    {TK_NE, B_NE, 6},         {'&', B_AND, 5},        {'^', B_XOR, 4},    {'|', B_OR, 3},
    {TK_ANDAND, B__COUNT, 2}, {TK_OROR, B__COUNT, 1},
};

static int find_binop(int tok)
{
    for (size_t i = 0; i < sizeof binops / sizeof binops[0]; i++)
        if (binops[i].tok == tok)
            return (int)i;
    return -1;
}

/* Expression trees built by loops (a + b + c ...) are not bounded by the parser's recursion
** cap, so their height is capped here. */
static void set_height(struct scr_comp *C, struct scr_node *n)
{
    unsigned h = 0;
    if (n->kind == N_CALL || n->kind == N_CALLB) {
        for (const struct scr_node *a = n->a; a; a = a->next)
            if (a->height > h)
                h = a->height;
    } else {
        h = n->a->height;
        if (n->b && n->b->height > h)
            h = n->b->height;
    }
    if (h + 1 > SCR_MAX_NEST * 2)
        scr_throw(C, SCR_ELIMIT, n->line, n->col, "expression too complex (limit is %d levels)",
                  SCR_MAX_NEST * 2);
    n->height = (uint16_t)(h + 1);
}

/* Fold op on two constants; returns 0 if it must be left to run time (division by 0). */
static int fold(int op, uint64_t a, uint64_t b, uint64_t *r)
{
    switch (op) {
    case B_ADD:
        *r = a + b;
        break;
    case B_SUB:
        *r = a - b;
        break;
    case B_MUL:
        *r = a * b;
        break;
    case B_DIV:
        if (!b)
            return 0;
        *r = a / b;
        break;
    case B_MOD:
        if (!b)
            return 0;
        *r = a % b;
        break;
    case B_SHL:
        *r = b >= 64 ? 0 : a << b;
        break;
    case B_SHR:
        *r = b >= 64 ? 0 : a >> b;
        break;
    case B_AND:
        *r = a & b;
        break;
    case B_OR:
        *r = a | b;
        break;
    case B_XOR:
        *r = a ^ b;
        break;
    case B_EQ:
        *r = a == b;
        break;
    case B_NE:
        *r = a != b;
        break;
    case B_LT:
        *r = a < b;
        break;
    case B_LE:
        *r = a <= b;
        break;
    case B_GT:
        *r = a > b;
        break;
    case B_GE:
        *r = a >= b;
        break;
    default:
        return 0;
    }
    return 1;
}

static struct scr_node *mkbin(struct scr_comp *C, int op, struct scr_node *a, struct scr_node *b,
                              int line, int col)
{
    uint64_t v;
    if (a->kind == N_NUM && b->kind == N_NUM && fold(op, a->val, b->val, &v))
        return mknum(C, v, line, col);
    struct scr_node *n = mknode(C, N_BIN, line, col);
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    set_height(C, n);
    return n;
}

static int is_lvalue(const struct scr_node *n)
{
    return n->kind == N_LOCAL || n->kind == N_GLOBAL || n->kind == N_REG || n->kind == N_DEREF;
}

/* args := [ expr { ',' expr } ] ')'    (after '(') ; returns the count */
static int arglist(struct scr_comp *C, struct scr_node **list)
{
    int n = 0;
    struct scr_node **tail = list;
    if (accept(C, ')'))
        return 0;
    do {
        if (n >= 64)
            scr_throw(C, SCR_ELIMIT, TK.line, TK.col, "too many arguments (limit is 64)");
        *tail = expr(C);
        tail = &(*tail)->next;
        n++;
    } while (accept(C, ','));
    if (TK.t != ')')
        error_expected(C, "',' or ')' in argument list");
    next(C);
    return n;
}

static struct scr_node *addr_of(struct scr_comp *C, struct scr_node *v, int line, int col)
{
    if (v->kind != N_LOCAL && v->kind != N_GLOBAL)
        scr_throw(C, SCR_ESYNTAX, line, col,
                  "'&' and reference() need a variable (a local or a .global)");
    struct scr_node *n = mknode(C, N_ADDR, line, col);
    n->a = v;
    set_height(C, n);
    return n;
}

/* call := NAME '(' args ')' : built-in, reference(var) or user function */
static struct scr_node *call(struct scr_comp *C, const char *s, size_t len, int line, int col)
{
    next(C); /* '(' */
    if (len == 9 && memcmp(s, "reference", 9) == 0) {
        struct scr_node *v = subexpr(C, 0);
        expect(C, ')');
        return addr_of(C, v, line, col);
    }
    int bi = scr_builtin_lookup(s, len);
    struct scr_node *n = mknode(C, bi >= 0 ? N_CALLB : N_CALL, line, col);
    int nargs = arglist(C, &n->a);
    n->argn = (uint32_t)nargs;
    set_height(C, n);
    if (bi >= 0) {
        const struct scr_builtin *b = &scr_builtins[bi];
        n->val = (uint64_t)bi;
        if (nargs < b->minargs || nargs > b->maxargs) {
            if (b->minargs == b->maxargs)
                scr_throw(C, SCR_ESYNTAX, line, col, "%s() takes %d argument%s, %d given", b->name,
                          b->minargs, b->minargs == 1 ? "" : "s", nargs);
            scr_throw(C, SCR_ESYNTAX, line, col, "%s() takes %d to %d arguments, %d given", b->name,
                      b->minargs, b->maxargs, nargs);
        }
        if (b->flags & SCR_BF_FMT) {
            struct scr_node *f = n->a;
            if (f->kind != N_NUM || f->op != 1)
                scr_throw(C, SCR_ESYNTAX, f->line, f->col,
                          "%s(): the format must be a string literal", b->name);
            const char *fmt = C->str + (f->val - SCR_ADDR_STRINGS);
            char msg[96];
            int nconv = scr_fmt_check(fmt, strlen(fmt), msg, sizeof msg);
            if (nconv < 0)
                scr_throw(C, SCR_ESYNTAX, f->line, f->col, "%s(): %s", b->name, msg);
            if (nconv != nargs - 1)
                scr_throw(C, SCR_ESYNTAX, line, col,
                          "%s(): the format has %d conversion%s but %d value%s given", b->name,
                          nconv, nconv == 1 ? "" : "s", nargs - 1,
                          nargs - 1 == 1 ? " is" : "s are");
        }
        return n;
    }
    struct scr_fdecl *f = find_func(C, s, len);
    if (!f)
        f = new_func(C, s, len, line, col);
    n->fn = f;
    return n;
}

/* primary := NUM | STR | WSTR | .global | @reg | $pseudo | NAME | call | '(' expr ')' */
static struct scr_node *primary(struct scr_comp *C)
{
    int line = TK.line, col = TK.col;
    struct scr_node *n;
    switch (TK.t) {
    case TK_NUM:
        n = mknum(C, TK.num, line, col);
        next(C);
        return n;
    case TK_STR:
    case TK_WSTR:
        n = mknum(C, TK.num, line, col);
        n->op = TK.t == TK_STR ? 1 : 2; /* remember it is a string literal */
        next(C);
        return n;
    case TK_GLOBAL:
        n = mknode(C, N_GLOBAL, line, col);
        n->val = (uint64_t)global_slot(C, TK.s + 1, TK.len - 1, line, col);
        next(C);
        return n;
    case TK_REG:
        n = mknode(C, N_REG, line, col);
        n->val = TK.num;
        next(C);
        return n;
    case TK_PSEUDO:
        n = mknode(C, N_PSEUDO, line, col);
        n->val = TK.num;
        n->argn = TK.argn;
        next(C);
        return n;
    case TK_NAME: {
        const char *s = TK.s;
        size_t len = TK.len;
        next(C);
        if (TK.t == '(')
            return call(C, s, len, line, col);
        if (scr_builtin_lookup(s, len) >= 0)
            scr_throw(C, SCR_ESYNTAX, TK.line, TK.col, "expected '(' after built-in '%.*s'",
                      (int)len, s);
        n = mknode(C, N_LOCAL, line, col);
        n->val = (uint64_t)local_slot(C, s, len, line, col);
        return n;
    }
    case '(':
        next(C);
        n = expr(C);
        expect(C, ')');
        return n;
    default:
        error_expected(C, "an expression");
    }
}

/* unary := ('-' | '+' | '~' | '!' | '*' | '&') unary | primary */
static struct scr_node *unary(struct scr_comp *C)
{
    int line = TK.line, col = TK.col, t = TK.t;
    struct scr_node *n, *a;
    switch (t) {
    case '-':
    case '+':
    case '~':
    case '!':
    case '*':
    case '&':
        enter(C);
        next(C);
        a = unary(C);
        leave(C);
        break;
    default:
        return primary(C);
    }
    switch (t) {
    case '+':
        return a;
    case '&':
        return addr_of(C, a, line, col);
    case '*':
        n = mknode(C, N_DEREF, line, col);
        n->a = a;
        set_height(C, n);
        return n;
    default: {
        int op = t == '-' ? U_NEG : t == '~' ? U_BNOT : U_LNOT;
        if (a->kind == N_NUM)
            return mknum(C, op == U_NEG ? 0 - a->val : op == U_BNOT ? ~a->val : !a->val, line, col);
        n = mknode(C, N_UN, line, col);
        n->op = (uint8_t)op;
        n->a = a;
        set_height(C, n);
        return n;
    }
    }
}

/* subexpr := unary { binop subexpr }  with binop priority > limit (left associative) */
static struct scr_node *subexpr(struct scr_comp *C, int limit)
{
    enter(C);
    struct scr_node *left = unary(C);
    for (;;) {
        int i = find_binop(TK.t);
        if (i < 0 || binops[i].prio <= limit)
            break;
        int line = TK.line, col = TK.col;
        next(C);
        struct scr_node *right = subexpr(C, binops[i].prio);
        if (binops[i].op == B__COUNT) {
            int is_and = binops[i].tok == TK_ANDAND;
            if (left->kind == N_NUM && right->kind == N_NUM) {
                left = mknum(C, is_and ? (left->val && right->val) : (left->val || right->val),
                             line, col);
                continue;
            }
            struct scr_node *n = mknode(C, is_and ? N_ANDAND : N_OROR, line, col);
            n->a = left;
            n->b = right;
            set_height(C, n);
            left = n;
        } else {
            left = mkbin(C, binops[i].op, left, right, line, col);
        }
    }
    leave(C);
    return left;
}

static struct scr_node *expr(struct scr_comp *C)
{
    return subexpr(C, 0);
}

/* }==================================================================== */

/* {====================================================================
** Statements
** ===================================================================== */

static struct scr_node *statement(struct scr_comp *C, int loops);

/* Compound-assignment tokens and their operators. */
static const struct {
    int tok;
    uint8_t op;
} assignops[] = {
    {'=', B__COUNT},   {TK_ADDEQ, B_ADD}, {TK_SUBEQ, B_SUB}, {TK_MULEQ, B_MUL},
    {TK_DIVEQ, B_DIV}, {TK_MODEQ, B_MOD}, {TK_SHLEQ, B_SHL}, {TK_SHREQ, B_SHR},
    {TK_ANDEQ, B_AND}, {TK_XOREQ, B_XOR}, {TK_OREQ, B_OR},
};

static int find_assignop(int tok)
{
    for (size_t i = 0; i < sizeof assignops / sizeof assignops[0]; i++)
        if (assignops[i].tok == tok)
            return (int)i;
    return -1;
}

static void check_lvalue(struct scr_comp *C, const struct scr_node *n)
{
    if (n->kind == N_PSEUDO)
        scr_throw(C, SCR_ESYNTAX, n->line, n->col, "pseudo-register $%s is read-only",
                  scr_pseudonames[n->val]);
    if (!is_lvalue(n))
        scr_throw(C, SCR_ESYNTAX, n->line, n->col,
                  "cannot assign to this expression (expected a variable, register or *pointer)");
}

static struct scr_node *incdec(struct scr_comp *C, struct scr_node *target, int inc, int line,
                               int col)
{
    check_lvalue(C, target);
    struct scr_node *n = mknode(C, S_ASSIGN, line, col);
    n->op = inc ? B_ADD : B_SUB;
    n->a = target;
    n->b = mknum(C, 1, line, col);
    return n;
}

/* simple := ('++'|'--') unary | unary ('++' | '--' | assignop value) | call
** value := expr | lvalue '=' value    (chains: a = b = c) */
static struct scr_node *simple(struct scr_comp *C)
{
    int line = TK.line, col = TK.col;
    if (TK.t == TK_INC || TK.t == TK_DEC) {
        int inc = TK.t == TK_INC;
        next(C);
        return incdec(C, unary(C), inc, line, col);
    }
    struct scr_node *target = unary(C);
    if (TK.t == TK_INC || TK.t == TK_DEC) {
        int inc = TK.t == TK_INC;
        next(C);
        return incdec(C, target, inc, line, col);
    }
    int ai = find_assignop(TK.t);
    if (ai < 0) {
        if (target->kind == N_CALL || target->kind == N_CALLB) {
            struct scr_node *n = mknode(C, S_EXPR, line, col);
            n->a = target;
            return n;
        }
        error_expected(C, "'=', '++', '--' or a compound assignment (a value alone is not a "
                          "statement; use print() to show it)");
    }
    check_lvalue(C, target);
    line = TK.line;
    col = TK.col;
    next(C);
    struct scr_node *n = mknode(C, S_ASSIGN, line, col);
    n->op = assignops[ai].op;
    n->a = target;
    struct scr_node *value = expr(C);
    if (assignops[ai].op == B__COUNT && TK.t == '=') {
        /* chained assignment: the value is itself an assignment target */
        struct scr_node **tail = &value;
        int depth = 0;
        while (TK.t == '=') {
            check_lvalue(C, *tail);
            enter(C);
            depth++;
            struct scr_node *a2 = mknode(C, S_ASSIGN, TK.line, TK.col);
            next(C);
            a2->op = B__COUNT;
            a2->a = *tail;
            a2->b = expr(C);
            *tail = a2;
            tail = &a2->b;
        }
        C->depth -= depth;
    }
    n->b = value;
    return n;
}

/* simplelist := [ simple { ',' simple } ]   (for-loop init and step) */
static struct scr_node *simplelist(struct scr_comp *C, int end)
{
    struct scr_node *head = NULL, **tail = &head;
    if (TK.t == end)
        return NULL;
    do {
        *tail = simple(C);
        tail = &(*tail)->next;
    } while (accept(C, ','));
    return head;
}

static struct scr_node *block(struct scr_comp *C, int loops)
{
    int line = TK.line, col = TK.col;
    expect(C, '{');
    struct scr_node *n = mknode(C, S_BLOCK, line, col);
    struct scr_node **tail = &n->a;
    while (TK.t != '}') {
        if (TK.t == TK_EOF)
            error_expected(C, "'}'");
        struct scr_node *s = statement(C, loops);
        if (s) {
            *tail = s;
            tail = &s->next;
        }
    }
    next(C);
    return n;
}

/* body := block | statement */
static struct scr_node *body(struct scr_comp *C, int loops)
{
    if (TK.t == '{')
        return block(C, loops);
    struct scr_node *s = statement(C, loops);
    return s ? s : mknode(C, S_BLOCK, TK.line, TK.col);
}

static struct scr_node *condition(struct scr_comp *C)
{
    expect(C, '(');
    struct scr_node *c = expr(C);
    expect(C, ')');
    return c;
}

/* ifstat := 'if' cond body { 'elsif' cond body } [ 'else' body ] */
static struct scr_node *ifstat(struct scr_comp *C, int loops)
{
    struct scr_node *n = mknode(C, S_IF, TK.line, TK.col);
    next(C);
    n->a = condition(C);
    n->b = body(C, loops);
    if (TK.t == TK_ELSIF) {
        enter(C);
        n->c = ifstat(C, loops);
        leave(C);
    } else if (accept(C, TK_ELSE)) {
        n->c = body(C, loops);
    }
    return n;
}

/* funcdef := ('void' | type) NAME '(' [ [type] NAME { ',' [type] NAME } ] ')' block */
static void funcdef(struct scr_comp *C, int returns, const char *s, size_t len, int line, int col)
{
    if (C->cur != C->funcs[0])
        scr_throw(C, SCR_ESYNTAX, line, col, "functions can only be defined at the top level");
    if (scr_builtin_lookup(s, len) >= 0)
        scr_throw(C, SCR_ESYNTAX, line, col, "'%.*s' is a built-in function", (int)len, s);
    struct scr_fdecl *f = find_func(C, s, len);
    if (f && f->defined)
        scr_throw(C, SCR_ESYNTAX, line, col, "function '%.*s' is already defined (line %d)",
                  (int)len, s, f->line);
    if (!f)
        f = new_func(C, s, len, line, col);
    f->defined = 1;
    f->returns = returns;
    f->line = line;
    f->col = col;
    struct scr_fdecl *saved = C->cur;
    C->cur = f;
    expect(C, '(');
    if (TK.t != ')') {
        do {
            accept(C, TK_TYPE);
            if (TK.t == TK_NUM)
                scr_throw(C, SCR_ESYNTAX, TK.line, TK.col,
                          "'%.*s' is a hex number, not a parameter name (names made only of "
                          "hex digits are numbers)",
                          (int)TK.len, TK.s);
            check(C, TK_NAME);
            for (int i = 0; i < f->nlocals; i++)
                if (strlen(f->locals[i]) == TK.len && memcmp(f->locals[i], TK.s, TK.len) == 0)
                    scr_throw(C, SCR_ESYNTAX, TK.line, TK.col, "duplicate parameter '%.*s'",
                              (int)TK.len, TK.s);
            local_slot(C, TK.s, TK.len, TK.line, TK.col);
            next(C);
        } while (accept(C, ','));
    }
    f->nparams = f->nlocals;
    expect(C, ')');
    f->body = block(C, 0);
    C->cur = saved;
}

/* A declaration or definition after a type word:
**   type NAME '(' ...   function definition
**   type NAME [ '=' expr ] { ',' NAME [ '=' expr ] } ';'   local variables */
static struct scr_node *declaration(struct scr_comp *C, int isvoid)
{
    next(C);            /* the type word */
    accept(C, TK_TYPE); /* "unsigned int", "long long" */
    accept(C, TK_TYPE);
    int line = TK.line, col = TK.col;
    if (TK.t == TK_NUM)
        scr_throw(C, SCR_ESYNTAX, line, col,
                  "'%.*s' is a hex number, not a name (names made only of hex digits are numbers)",
                  (int)TK.len, TK.s);
    check(C, TK_NAME);
    const char *s = TK.s;
    size_t len = TK.len;
    next(C);
    if (TK.t == '(') {
        funcdef(C, !isvoid, s, len, line, col);
        return NULL;
    }
    if (isvoid)
        error_expected(C, "'(' (a function definition)");
    struct scr_node *head = NULL, **tail = &head;
    for (;;) {
        struct scr_node *v = mknode(C, N_LOCAL, line, col);
        v->val = (uint64_t)local_slot(C, s, len, line, col);
        struct scr_node *n = mknode(C, S_ASSIGN, line, col);
        n->op = B__COUNT;
        n->a = v;
        n->b = accept(C, '=') ? expr(C) : mknum(C, 0, line, col);
        *tail = n;
        tail = &n->next;
        if (!accept(C, ','))
            break;
        line = TK.line;
        col = TK.col;
        check(C, TK_NAME);
        s = TK.s;
        len = TK.len;
        next(C);
    }
    expect_semi(C);
    struct scr_node *b = mknode(C, S_BLOCK, line, col);
    b->a = head;
    return b;
}

/* statement := block | ifstat | whilestat | dostat | forstat | 'break' ';' | 'continue' ';'
**            | 'return' [expr] ';' | declaration | funcdef | simple ';' | ';'
** loops: nesting count of loops around this statement (for break/continue). */
static struct scr_node *statement(struct scr_comp *C, int loops)
{
    int line = TK.line, col = TK.col;
    struct scr_node *n = NULL;
    enter(C);
    switch (TK.t) {
    case ';':
        next(C);
        break;
    case '{':
        n = block(C, loops);
        break;
    case TK_IF:
        n = ifstat(C, loops);
        break;
    case TK_ELSIF:
    case TK_ELSE:
        scr_throw(C, SCR_ESYNTAX, line, col, "'%s' without a matching 'if'",
                  TK.t == TK_ELSE ? "else" : "elsif");
    case TK_WHILE:
        n = mknode(C, S_WHILE, line, col);
        next(C);
        n->a = condition(C);
        n->b = body(C, loops + 1);
        break;
    case TK_DO:
        n = mknode(C, S_DO, line, col);
        next(C);
        n->b = body(C, loops + 1);
        if (TK.t != TK_WHILE)
            error_expected(C, "'while' after the body of 'do'");
        next(C);
        n->a = condition(C);
        expect_semi(C);
        break;
    case TK_FOR:
        n = mknode(C, S_FOR, line, col);
        next(C);
        expect(C, '(');
        n->a = simplelist(C, ';');
        expect(C, ';');
        n->b = TK.t == ';' ? NULL : expr(C);
        expect(C, ';');
        n->c = simplelist(C, ')');
        expect(C, ')');
        n->d = body(C, loops + 1);
        break;
    case TK_BREAK:
    case TK_CONTINUE:
        if (!loops)
            scr_throw(C, SCR_ESYNTAX, line, col, "'%s' outside a loop",
                      TK.t == TK_BREAK ? "break" : "continue");
        n = mknode(C, TK.t == TK_BREAK ? S_BREAK : S_CONTINUE, line, col);
        next(C);
        expect_semi(C);
        break;
    case TK_RETURN:
        if (C->cur == C->funcs[0])
            scr_throw(C, SCR_ESYNTAX, line, col,
                      "'return' outside a function (as in HyperDbg, the top level cannot return)");
        n = mknode(C, S_RETURN, line, col);
        next(C);
        if (TK.t != ';' && TK.t != TK_EOF && TK.t != '}') {
            if (!C->cur->returns)
                scr_throw(C, SCR_ESYNTAX, line, col, "void function '%s' cannot return a value",
                          C->cur->name);
            n->a = expr(C);
        }
        expect_semi(C);
        break;
    case TK_VOID:
    case TK_TYPE:
        n = declaration(C, TK.t == TK_VOID);
        break;
    case TK_NUM:
        if (TK.s[0] != '0' && (TK.s[0] < '1' || TK.s[0] > '9'))
            scr_throw(C, SCR_ESYNTAX, line, col,
                      "'%.*s' is read as a hex number (a name made only of hex digits is a "
                      "number); choose another variable name",
                      (int)TK.len, TK.s);
        /* fall through */
    default:
        n = simple(C);
        expect_semi(C);
        break;
    }
    leave(C);
    return n;
}

/* }==================================================================== */

/* program := { statement }  EOF      (or, with SCR_COMPILE_EXPR: expr EOF) */
void scr_parse(struct scr_comp *C)
{
    struct scr_fdecl *top = new_func(C, "(top level)", 11, 1, 1);
    top->defined = 1;
    top->returns = 0;
    C->cur = top;
    next(C);
    if (C->flags & SCR_COMPILE_EXPR) {
        C->expr = expr(C);
        if (TK.t != TK_EOF)
            error_expected(C, "end of expression");
    } else {
        struct scr_node **tail = &C->top;
        while (TK.t != TK_EOF) {
            struct scr_node *s = statement(C, 0);
            if (s) {
                *tail = s;
                tail = &s->next;
            }
        }
    }
    for (int i = 1; i < C->nfuncs; i++)
        if (!C->funcs[i]->defined)
            scr_throw(C, SCR_ESYNTAX, C->funcs[i]->line, C->funcs[i]->col,
                      "call to undefined function '%s'", C->funcs[i]->name);
}
