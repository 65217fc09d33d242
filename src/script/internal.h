/*
** internal.h: declarations shared by the files of src/script (lexer, parser, code generator,
** VM and built-ins). Not for other layers: they include script.h.
*/
#ifndef SCR_INTERNAL_H
#define SCR_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "opcodes.h"
#include "script.h"

#define SCR_NORETURN     _Noreturn
#define SCR_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* {====================================================================
** Globals, programs
** ===================================================================== */

struct scr_globals {
    uint64_t val[SCR_MAX_GLOBALS]; /* accessed with __atomic builtins (several vCPU threads) */
    char *name[SCR_MAX_GLOBALS];   /* without the leading '.' */
    unsigned count;
};

struct scr_func {
    uint32_t entry;     /* first instruction */
    uint16_t nparams;   /* parameters are locals 0 .. nparams-1 */
    uint16_t nlocals;   /* zeroed on entry (those after the parameters) */
    uint16_t framesize; /* locals + temporaries */
    uint8_t returns;    /* 1 for int functions, 0 for void */
    const char *name;
};

/* One allocation holds the header and all arrays (see code.c: scr_code_finish). */
struct scr_program {
    struct scr_globals *g;
    const struct scr_ins *code;
    const uint32_t *lines; /* source line of each instruction, for run-time messages */
    const uint64_t *k;
    const char *str;              /* string literals; SCR_ADDR_STRINGS + offset */
    const struct scr_func *funcs; /* [0] is the top level */
    uint32_t ncode, nk, nstr, nfuncs;
    unsigned flags;
    char name[48];
};

/* }==================================================================== */

/* {====================================================================
** Register, pseudo-register and built-in tables
** ===================================================================== */

struct scr_regdesc {
    const char *name; /* without '@' */
    uint8_t reg;      /* enum scr_reg */
    uint8_t shift;    /* bit field inside the full register */
    uint8_t width;    /* in bits; 64 for a full register */
};
extern const struct scr_regdesc scr_regtab[];
extern const int scr_nregtab;
int scr_reg_lookup(const char *name, size_t len);

/* ORDER PSEUDO: scr_pseudonames[] in regs.c follows this order. */
enum scr_pseudo {
    PS_CONTEXT,
    PS_PID,
    PS_TID,
    PS_PROC,
    PS_THREAD,
    PS_PNAME,
    PS_CORE,
    PS_IP,
    PS_BUFFER,
    PS_EVENT_ID,
    PS_EVENT_TAG,
    PS_EVENT_STAGE,
    PS_DATE,
    PS_TIME,
    PS_ARG, /* $argN: N in the instruction's c */
    PS__COUNT
};
extern const char *const scr_pseudonames[PS__COUNT];
/* Returns the pseudo index, with *argn set for $argN, or -1. */
int scr_pseudo_lookup(const char *name, size_t len, uint32_t *argn);

struct scr_vm;
/* A built-in: args[0 .. nargs) in, *ret out; returns 0 or a negative error (scr_vm_fail). */
typedef int (*scr_libfn)(struct scr_vm *vm, const uint64_t *args, int nargs, uint64_t *ret);

#define SCR_BF_VOID 0x1 /* has no value: using it in an expression is a compile error */
#define SCR_BF_FMT  0x2 /* first argument is a printf format that must be a string literal */

struct scr_builtin {
    const char *name;
    scr_libfn fn;
    uint8_t minargs, maxargs;
    uint8_t flags;
    uint8_t load; /* nonzero: a plain virtual read of this many bytes, compiled to OP_LOAD */
};
extern const struct scr_builtin scr_builtins[];
extern const int scr_nbuiltins;
int scr_builtin_lookup(const char *name, size_t len);
/* Check a printf format at compile time: returns the number of conversions, or -1 with a
** message in msg. */
int scr_fmt_check(const char *fmt, size_t len, char *msg, size_t msglen);

/* }==================================================================== */

/* {====================================================================
** Compiler: lexer, parser (builds a tree), code generator
** ===================================================================== */

/* ORDER TOKEN: scr_toknames[] in lex.c follows this order. Single-character tokens are
** their own character code; the others start at 257. */
enum scr_tok {
    TK_EOF = 257,
    TK_NUM,
    TK_STR,    /* string literal; num = its address */
    TK_WSTR,   /* L"..." */
    TK_NAME,   /* identifier, keyword-free */
    TK_GLOBAL, /* .name (s/len without the dot) */
    TK_REG,    /* @name; num = scr_regtab index */
    TK_PSEUDO, /* $name; num = pseudo index, argn for $argN */
    /* keywords (ORDER RESERVED) */
    TK_IF,
    TK_ELSIF,
    TK_ELSE,
    TK_WHILE,
    TK_DO,
    TK_FOR,
    TK_BREAK,
    TK_CONTINUE,
    TK_RETURN,
    TK_VOID,
    TK_TYPE, /* int char short long unsigned signed bool: all mean u64 */
    /* multi-character operators */
    TK_EQ,
    TK_NE,
    TK_LE,
    TK_GE,
    TK_SHL,
    TK_SHR,
    TK_ANDAND,
    TK_OROR,
    TK_INC,
    TK_DEC,
    TK_ADDEQ,
    TK_SUBEQ,
    TK_MULEQ,
    TK_DIVEQ,
    TK_MODEQ,
    TK_SHLEQ,
    TK_SHREQ,
    TK_ANDEQ,
    TK_XOREQ,
    TK_OREQ,
    TK__LAST
};

struct scr_token {
    int t;
    int line, col;
    uint64_t num;  /* TK_NUM value; TK_STR address; TK_REG/TK_PSEUDO index */
    uint32_t argn; /* TK_PSEUDO $argN */
    const char *s; /* raw text in the source */
    size_t len;
};

struct scr_lex {
    const char *src, *p, *end;
    int line;
    const char *linestart;
    struct scr_token tk;
};

/* Binary operators (ORDER BINOP: same order as OP_ADD.. and OP_EQ..). */
enum scr_binop {
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_MOD,
    B_SHL,
    B_SHR,
    B_AND,
    B_OR,
    B_XOR,
    B_EQ,
    B_NE,
    B_LT,
    B_LE,
    B_GT,
    B_GE,
    B__COUNT
};
enum scr_unop { U_NEG, U_BNOT, U_LNOT };

enum scr_nkind {
    /* expressions */
    N_NUM,    /* val */
    N_LOCAL,  /* val = slot */
    N_GLOBAL, /* val = global slot */
    N_REG,    /* val = scr_regtab index */
    N_PSEUDO, /* val = pseudo, argn in nargs... see parse.c */
    N_BIN,    /* op, a, b */
    N_UN,     /* op, a */
    N_ANDAND, /* a && b */
    N_OROR,   /* a || b */
    N_DEREF,  /* *a */
    N_ADDR,   /* &a (a is N_LOCAL or N_GLOBAL) */
    N_CALLB,  /* val = builtin index, a = argument list */
    N_CALL,   /* fn = callee, a = argument list */
    /* statements */
    S_ASSIGN, /* a = lvalue, b = value (b may be another S_ASSIGN for chains); op = B__COUNT or
                 the binop of a compound assignment */
    S_EXPR,   /* a = call */
    S_IF,     /* a = cond, b = then, c = else (or NULL) */
    S_WHILE,  /* a = cond, b = body */
    S_DO,     /* a = cond, b = body */
    S_FOR,    /* a = init list, b = cond (or NULL), c = step list, d = body */
    S_BREAK,
    S_CONTINUE,
    S_RETURN, /* a = value or NULL */
    S_BLOCK   /* a = list */
};

struct scr_fdecl;

struct scr_node {
    uint8_t kind;
    uint8_t op;
    uint16_t height; /* of the expression tree; capped so code generation recursion is bounded */
    int line, col;
    uint64_t val;
    uint32_t argn;
    struct scr_node *a, *b, *c, *d;
    struct scr_node *next; /* statement and argument lists */
    struct scr_fdecl *fn;
};

struct scr_fdecl {
    const char *name;
    int line, col;        /* of the definition, or of the first call if not defined yet */
    int defined, returns; /* returns: 1 int, 0 void */
    int nparams, nlocals;
    const char *locals[SCR_MAX_LOCALS];
    struct scr_node *body;
    int index;
    /* set by the code generator */
    uint32_t entry;
    int framesize;
};

struct scr_achunk;

struct scr_comp {
    jmp_buf jb;
    int status;
    char *err;
    size_t errlen;
    const char *srcname;
    unsigned flags;
    struct scr_achunk *arena;
    struct scr_lex lx;
    struct scr_globals *g;
    unsigned g_count0; /* globals count before this compile: rolled back on error */
    int depth;
    /* functions: [0] is the top level */
    struct scr_fdecl **funcs;
    int nfuncs;
    size_t capfuncs;
    struct scr_fdecl *cur;
    struct scr_node *top;  /* top-level statements */
    struct scr_node *expr; /* SCR_COMPILE_EXPR: the expression */
    /* outputs (malloc'd; freed by scr_compile) */
    char *str;
    size_t nstr, capstr;
    struct scr_ins *code;
    uint32_t *lines;
    size_t ncode, capcode, caplines;
    uint64_t *k;
    size_t nk, capk;
};

SCR_NORETURN void scr_throw(struct scr_comp *C, int status, int line, int col, const char *fmt, ...)
    SCR_PRINTF(5, 6);
void *scr_alloc(struct scr_comp *C, size_t size); /* arena; zeroed; throws on failure */
char *scr_strdup(struct scr_comp *C, const char *s, size_t len);
/* Grow a malloc'd vector so that it holds need elements; throws on failure. */
void scr_grow(struct scr_comp *C, void **vec, size_t *cap, size_t need, size_t elsize);
/* Append bytes to the program's string area; returns the address of the copy. */
uint64_t scr_addstr(struct scr_comp *C, const char *s, size_t len);

void scr_lex_init(struct scr_comp *C, const char *src, size_t len);
void scr_lex_next(struct scr_comp *C);
/* Short description of the current token for messages: "';'", "end of input", ... */
void scr_tokdesc(const struct scr_token *tk, char *buf, size_t len);
const char *scr_tokname(int t);

void scr_parse(struct scr_comp *C);   /* fills C->funcs, C->top / C->expr */
void scr_codegen(struct scr_comp *C); /* fills C->code, C->k, ... */
struct scr_program *scr_code_finish(struct scr_comp *C);

/* }==================================================================== */

/* {====================================================================
** VM state, shared by vm.c and lib.c
** ===================================================================== */

#define SCR_OUT_SIZE 1024

struct scr_vm {
    const struct scr_program *p;
    const struct scr_host *h;
    const struct scr_event_info *ev;
    uint64_t *g;
    uint64_t *stack;
    uint32_t steps; /* remaining */
    int status;
    int have_datetime;
    size_t outlen;
    char datetime[64]; /* date at 0, time at 32 */
    char msg[200];
    char out[SCR_OUT_SIZE];
    uint64_t stackmem[SCR_STACK_SLOTS];
};

/* Record a run-time error and return status (so callers can `return scr_vm_fail(...)`). */
int scr_vm_fail(struct scr_vm *vm, int status, const char *fmt, ...) SCR_PRINTF(3, 4);
/* Memory through the VM's address space: VM-owned ranges, the event buffer, then the host.
** Fail with SCR_EFAULT (message set) unless quiet, in which case no message is set. */
int scr_vm_read(struct scr_vm *vm, enum scr_space sp, uint64_t addr, void *buf, size_t n,
                int quiet);
int scr_vm_write(struct scr_vm *vm, enum scr_space sp, uint64_t addr, const void *buf, size_t n,
                 int quiet);
/* Pointer to a VM-owned global/local slot for an address, or NULL. */
uint64_t *scr_vm_slot(struct scr_vm *vm, uint64_t addr);
/* Append text to the output buffer (flushed to the host when full and at the end of a
** print/printf call). */
void scr_vm_out(struct scr_vm *vm, const char *s, size_t n);
void scr_vm_flush(struct scr_vm *vm);
const char *scr_vm_datetime(struct scr_vm *vm);

/* }==================================================================== */

#endif /* SCR_INTERNAL_H */
