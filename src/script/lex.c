/*
** lex.c: the script scanner. Produces one token at a time into C->lx.tk.
** Numbers are hex unless prefixed (0x hex, 0n decimal, 0y binary, 0o/0t octal); a backtick
** may separate digits. A bare word made only of hex digits is a number, as in HyperDbg,
** unless it is a keyword or a built-in name (db, dd, eb, ed).
*/
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const scr_toknames[TK__LAST - TK_EOF] = {
    /* ORDER TOKEN */
    "end of input", "number",
    "string",       "wide string",
    "name",         "global variable",
    "register",     "pseudo-register",
    "'if'",         "'elsif'",
    "'else'",       "'while'",
    "'do'",         "'for'",
    "'break'",      "'continue'",
    "'return'",     "'void'",
    "type name",    "'=='",
    "'!='",         "'<='",
    "'>='",         "'<<'",
    "'>>'",         "'&&'",
    "'||'",         "'++'",
    "'--'",         "'+='",
    "'-='",         "'*='",
    "'/='",         "'%='",
    "'<<='",        "'>>='",
    "'&='",         "'^='",
    "'|='",
};

static const struct {
    const char *word;
    int tok;
} scr_reserved[] = {
    /* ORDER RESERVED */
    {"if", TK_IF},         {"elsif", TK_ELSIF}, {"else", TK_ELSE},     {"while", TK_WHILE},
    {"do", TK_DO},         {"for", TK_FOR},     {"break", TK_BREAK},   {"continue", TK_CONTINUE},
    {"return", TK_RETURN}, {"void", TK_VOID},   {"int", TK_TYPE},      {"char", TK_TYPE},
    {"short", TK_TYPE},    {"long", TK_TYPE},   {"unsigned", TK_TYPE}, {"signed", TK_TYPE},
    {"bool", TK_TYPE},
};

/* Operators, longest first (a table instead of a switch). */
static const struct {
    const char *text;
    int tok;
} scr_ops[] = {
    {"<<=", TK_SHLEQ}, {">>=", TK_SHREQ}, {"==", TK_EQ},    {"!=", TK_NE},     {"<=", TK_LE},
    {">=", TK_GE},     {"<<", TK_SHL},    {">>", TK_SHR},   {"&&", TK_ANDAND}, {"||", TK_OROR},
    {"++", TK_INC},    {"--", TK_DEC},    {"+=", TK_ADDEQ}, {"-=", TK_SUBEQ},  {"*=", TK_MULEQ},
    {"/=", TK_DIVEQ},  {"%=", TK_MODEQ},  {"&=", TK_ANDEQ}, {"^=", TK_XOREQ},  {"|=", TK_OREQ},
};
static const char scr_single[] = "+-*/%<>=!~&|^(){}[],;";

const char *scr_tokname(int t)
{
    if (t >= TK_EOF && t < TK__LAST)
        return scr_toknames[t - TK_EOF];
    return "?";
}

void scr_tokdesc(const struct scr_token *tk, char *buf, size_t len)
{
    if (tk->t == TK_EOF) {
        snprintf(buf, len, "end of input");
        return;
    }
    size_t n = tk->len > 24 ? 24 : tk->len;
    snprintf(buf, len, "'%.*s%s'", (int)n, tk->s, tk->len > n ? "..." : "");
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static int is_word(int c)
{
    return is_alpha(c) || is_digit(c) || c == '`';
}
static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void scr_lex_init(struct scr_comp *C, const char *src, size_t len)
{
    struct scr_lex *lx = &C->lx;
    lx->src = lx->p = lx->linestart = src;
    lx->end = src + len;
    lx->line = 1;
}

static int col_of(const struct scr_lex *lx, const char *p)
{
    return (int)(p - lx->linestart) + 1;
}

static SCR_NORETURN void lex_error(struct scr_comp *C, const char *at, const char *msg)
{
    scr_throw(C, SCR_ESYNTAX, C->lx.line, col_of(&C->lx, at), "%s", msg);
}

/* Skip blanks and comments; keep line/column bookkeeping. */
static void skip_space(struct scr_comp *C)
{
    struct scr_lex *lx = &C->lx;
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            lx->linestart = ++lx->p;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            const char *start = lx->p;
            int line = lx->line, col = col_of(lx, start);
            lx->p += 2;
            for (;;) {
                if (lx->p + 1 >= lx->end)
                    scr_throw(C, SCR_ESYNTAX, line, col, "unterminated comment ('*/' expected)");
                if (lx->p[0] == '*' && lx->p[1] == '/') {
                    lx->p += 2;
                    break;
                }
                if (*lx->p == '\n') {
                    lx->line++;
                    lx->linestart = lx->p + 1;
                }
                lx->p++;
            }
        } else {
            break;
        }
    }
}

/* Convert the digits of a number token (prefix already decided). */
static uint64_t read_number(struct scr_comp *C, const char *s, size_t n)
{
    unsigned base = 16;
    const char *start = s;
    const char *base_name = "hex";
    if (n >= 2 && s[0] == '0') {
        switch (s[1]) { /* none of these letters is a hex digit, so no ambiguity */
        case 'x':
        case 'X':
            base = 16;
            s += 2;
            n -= 2;
            break;
        case 'n':
        case 'N':
            base = 10;
            s += 2;
            n -= 2;
            base_name = "decimal";
            break;
        case 'y':
        case 'Y':
            base = 2;
            s += 2;
            n -= 2;
            base_name = "binary";
            break;
        case 'o':
        case 'O':
        case 't':
        case 'T':
            base = 8;
            s += 2;
            n -= 2;
            base_name = "octal";
            break;
        default:
            break;
        }
    }
    uint64_t v = 0;
    int ndig = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '`') {
            if (ndig == 0 || i + 1 == n || s[i + 1] == '`')
                lex_error(C, s + i, "misplaced '`' digit separator in number");
            continue;
        }
        int d = hexval((unsigned char)s[i]);
        if (d < 0 || (unsigned)d >= base) {
            char msg[80];
            snprintf(msg, sizeof msg, "invalid digit '%c' in %s number", s[i], base_name);
            lex_error(C, s + i, msg);
        }
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            lex_error(C, start, "number does not fit in 64 bits");
        v = v * base + (uint64_t)d;
        ndig++;
    }
    if (ndig == 0)
        lex_error(C, start, "number has no digits after its prefix");
    return v;
}

/* Decode a "..." literal (p at the opening quote) into the string area. */
static void read_string(struct scr_comp *C, int wide)
{
    struct scr_lex *lx = &C->lx;
    const char *open = lx->p;
    /* upper bound of the decoded length: the raw bytes up to the real closing quote (an
    ** escape decodes to fewer bytes than it takes; \" does not end the string) */
    const char *q = open + 1;
    while (q < lx->end && *q != '"' && *q != '\n')
        q += (*q == '\\' && q + 1 < lx->end) ? 2 : 1;
    size_t cap = (size_t)(q - open);
    unsigned char *buf = scr_alloc(C, cap * 2 + 2);
    size_t n = 0;
    lx->p++;
    for (;;) {
        if (lx->p >= lx->end || *lx->p == '\n')
            lex_error(C, open, "unterminated string ('\"' expected)");
        unsigned char c = (unsigned char)*lx->p++;
        if (c == '"')
            break;
        if (c == '\\') {
            if (lx->p >= lx->end)
                lex_error(C, open, "unterminated string ('\"' expected)");
            char e = *lx->p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case '0':
                c = 0;
                break;
            case 'a':
                c = 7;
                break;
            case 'b':
                c = 8;
                break;
            case 'f':
                c = 12;
                break;
            case 'v':
                c = 11;
                break;
            case '\\':
            case '"':
            case '\'':
                c = (unsigned char)e;
                break;
            case 'x': {
                int d1 = lx->p < lx->end ? hexval((unsigned char)*lx->p) : -1;
                if (d1 < 0)
                    lex_error(C, lx->p - 2, "'\\x' needs one or two hex digits");
                lx->p++;
                int d2 = lx->p < lx->end ? hexval((unsigned char)*lx->p) : -1;
                if (d2 >= 0) {
                    lx->p++;
                    d1 = d1 * 16 + d2;
                }
                c = (unsigned char)d1;
                break;
            }
            default:
                lex_error(C, lx->p - 2, "unknown escape sequence in string");
            }
        }
        if (wide) {
            buf[n++] = c;
            buf[n++] = 0;
        } else {
            buf[n++] = c;
        }
    }
    buf[n++] = 0;
    if (wide)
        buf[n++] = 0;
    lx->tk.t = wide ? TK_WSTR : TK_STR;
    lx->tk.num = scr_addstr(C, (const char *)buf, n);
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '`' && hexval((unsigned char)s[i]) < 0)
            return 0;
    return 1;
}

/* A word starting with a letter: keyword, built-in name, hex number or identifier. */
static void read_word(struct scr_comp *C, const char *s, size_t n)
{
    struct scr_token *tk = &C->lx.tk;
    if (!memchr(s, '`', n)) {
        for (size_t i = 0; i < sizeof scr_reserved / sizeof scr_reserved[0]; i++)
            if (strlen(scr_reserved[i].word) == n && memcmp(scr_reserved[i].word, s, n) == 0) {
                tk->t = scr_reserved[i].tok;
                return;
            }
        if (scr_builtin_lookup(s, n) >= 0 || (n == 9 && memcmp(s, "reference", 9) == 0)) {
            tk->t = TK_NAME;
            return;
        }
    }
    if (all_hex(s, n)) {
        tk->t = TK_NUM;
        tk->num = read_number(C, s, n);
        return;
    }
    if (memchr(s, '`', n))
        lex_error(C, s, "'`' is only allowed between the digits of a number");
    tk->t = TK_NAME;
}

void scr_lex_next(struct scr_comp *C)
{
    struct scr_lex *lx = &C->lx;
    struct scr_token *tk = &lx->tk;
    skip_space(C);
    tk->line = lx->line;
    tk->col = col_of(lx, lx->p);
    tk->s = lx->p;
    tk->num = 0;
    tk->argn = 0;
    if (lx->p >= lx->end) {
        tk->t = TK_EOF;
        tk->len = 0;
        return;
    }
    const char *s = lx->p;
    unsigned char c = (unsigned char)*s;
    if (c == 'L' && s + 1 < lx->end && s[1] == '"') {
        lx->p++;
        read_string(C, 1);
    } else if (c == '"') {
        read_string(C, 0);
    } else if (is_word(c) && c != '`') {
        while (lx->p < lx->end && is_word((unsigned char)*lx->p))
            lx->p++;
        size_t n = (size_t)(lx->p - s);
        if (is_digit(c)) {
            tk->t = TK_NUM;
            tk->num = read_number(C, s, n);
        } else {
            read_word(C, s, n);
        }
    } else if ((c == '.' || c == '@' || c == '$') && s + 1 < lx->end &&
               is_alpha((unsigned char)s[1])) {
        lx->p++;
        while (lx->p < lx->end && (is_alpha((unsigned char)*lx->p) || is_digit(*lx->p)))
            lx->p++;
        const char *name = s + 1;
        size_t n = (size_t)(lx->p - name);
        char msg[96];
        if (c == '.') {
            tk->t = TK_GLOBAL;
        } else if (c == '@') {
            int r = scr_reg_lookup(name, n);
            if (r < 0) {
                snprintf(msg, sizeof msg, "unknown register '@%.*s'", (int)(n > 32 ? 32 : n), name);
                lex_error(C, s, msg);
            }
            tk->t = TK_REG;
            tk->num = (uint64_t)r;
        } else {
            int r = scr_pseudo_lookup(name, n, &tk->argn);
            if (r < 0) {
                snprintf(msg, sizeof msg, "unknown pseudo-register '$%.*s'", (int)(n > 32 ? 32 : n),
                         name);
                lex_error(C, s, msg);
            }
            tk->t = TK_PSEUDO;
            tk->num = (uint64_t)r;
        }
    } else {
        size_t left = (size_t)(lx->end - s);
        tk->t = 0;
        for (size_t i = 0; i < sizeof scr_ops / sizeof scr_ops[0]; i++) {
            size_t n = strlen(scr_ops[i].text);
            if (n <= left && memcmp(s, scr_ops[i].text, n) == 0) {
                tk->t = scr_ops[i].tok;
                lx->p += n;
                break;
            }
        }
        if (!tk->t) {
            if (c && strchr(scr_single, c)) {
                tk->t = c;
                lx->p++;
            } else {
                char msg[64];
                if (c >= 0x20 && c < 0x7f)
                    snprintf(msg, sizeof msg, "unexpected character '%c'", c);
                else
                    snprintf(msg, sizeof msg, "unexpected byte 0x%02x", c);
                lex_error(C, s, msg);
            }
        }
    }
    tk->len = (size_t)(lx->p - s);
}
