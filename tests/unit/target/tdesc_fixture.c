/* tdesc_fixture.c — the test target description (see tdesc_fixture.h).
 *
 * Written for these tests from the facts QEMU 7.2 exhibits, not copied:
 *  - target.xml only names the architecture and includes the register file;
 *  - the register file starts numbering at regnum="0", lists 16 64-bit GPRs,
 *    rip, a 32-bit eflags and 32-bit selectors;
 *  - a comment opens on a "<!--reg" line and swallows three complete <reg>
 *    tags (ss_base, ds_base, es_base) before closing on the fourth line; a
 *    parser that does not strip comments sees those three and shifts every
 *    later register by 24 bytes;
 *  - type definitions (flags, fields, vectors) sit between the registers, one
 *    field again hidden in a comment. */
#include "tdesc_fixture.h"

#include <string.h>

const char fixture_target_xml[] = "<?xml version=\"1.0\"?>\n"
                                  "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
                                  "<target>\n"
                                  "  <architecture>i386:x86-64</architecture>\n"
                                  "  <!-- the registers live in the annex below -->\n"
                                  "  <xi:include href=\"" FIXTURE_CORE_ANNEX "\"/>\n"
                                  "</target>\n";

const char fixture_core_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!-- vmdbg test fixture: x86-64 register file laid out like QEMU 7.2's.\n"
    "     A <reg name=\"decoy\" bitsize=\"64\"/> inside a header comment. -->\n"
    "<!DOCTYPE feature SYSTEM \"gdb-target.dtd\">\n"
    "<feature name=\"org.gnu.gdb.i386.core\">\n"
    "  <flags id=\"test_eflags\" size=\"4\">\n"
    "    <field name=\"CF\" start=\"0\" end=\"0\"/>\n"
    "    <field name=\"ZF\" start=\"6\" end=\"6\"/>\n"
    "    <field name=\"IF\" start=\"9\" end=\"9\"/>\n"
    "  </flags>\n"
    "  <!-- general purpose registers -->\n"
    "  <reg name=\"rax\" bitsize=\"64\" type=\"int64\" regnum=\"0\"/>\n"
    "  <reg name=\"rbx\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"rcx\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg bitsize=\"64\" name=\"rdx\" type=\"int64\"/>\n"
    "  <reg name=\"rsi\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"rdi\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"rbp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
    "  <reg name=\"rsp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
    "  <reg name=\"r8\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"r9\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"r10\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"r11\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"r12\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"r13\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"r14\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"r15\" bitsize=\"64\" type=\"int64\"/>\n"
    "\n"
    "  <reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>\n"
    "  <reg name=\"eflags\" bitsize=\"32\" type=\"test_eflags\"/>\n"
    "  <!-- selectors: 32 bits each in this stub -->\n"
    "  <reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>\n"
    "  <reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>\n"
    "  <reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>\n"
    "  <reg name=\"es\" bitsize=\"32\" type=\"int32\"/>\n"
    "  <reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>\n"
    "  <reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
    "  <!--reg name=\"cs_base\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"ss_base\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"ds_base\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"es_base\" bitsize=\"64\" type=\"int64\"/-->\n"
    "  <reg name=\"fs_base\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"gs_base\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"k_gs_base\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <flags id=\"test_cr3\" size=\"8\">\n"
    "    <field name=\"PDBR\" start=\"12\" end=\"63\"/>\n"
    "    <!--field name=\"PCID\" start=\"0\" end=\"11\"/-->\n"
    "  </flags>\n"
    "  <reg name=\"cr0\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"cr2\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"cr3\" bitsize=\"64\" type=\"test_cr3\"/>\n"
    "  <reg name=\"cr4\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"cr8\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <reg name=\"efer\" bitsize=\"64\" type=\"int64\"/>\n"
    "  <!-- x87: eight 80-bit stack registers, then eight 32-bit control words -->\n"
    "  <reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "  <reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "  <vector id=\"test_v4f\" type=\"ieee_single\" count=\"4\"/>\n"
    "  <reg name=\"xmm0\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm1\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm2\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm3\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm4\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm5\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm6\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm7\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm8\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm9\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm10\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm11\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm12\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm13\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm14\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"xmm15\" bitsize=\"128\" type=\"test_v4f\"/>\n"
    "  <reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/>\n"
    "</feature>\n";

/* The same registers as data, in register-number order (the fake stub lays
 * out its 'g' reply and answers p/P from this). */
const struct fixture_reg fixture_regs[] = {
    {"rax", 64},     {"rbx", 64},       {"rcx", 64},    {"rdx", 64},    {"rsi", 64},
    {"rdi", 64},     {"rbp", 64},       {"rsp", 64},    {"r8", 64},     {"r9", 64},
    {"r10", 64},     {"r11", 64},       {"r12", 64},    {"r13", 64},    {"r14", 64},
    {"r15", 64},     {"rip", 64},       {"eflags", 32}, {"cs", 32},     {"ss", 32},
    {"ds", 32},      {"es", 32},        {"fs", 32},     {"gs", 32},     {"fs_base", 64},
    {"gs_base", 64}, {"k_gs_base", 64}, {"cr0", 64},    {"cr2", 64},    {"cr3", 64},
    {"cr4", 64},     {"cr8", 64},       {"efer", 64},   {"st0", 80},    {"st1", 80},
    {"st2", 80},     {"st3", 80},       {"st4", 80},    {"st5", 80},    {"st6", 80},
    {"st7", 80},     {"fctrl", 32},     {"fstat", 32},  {"ftag", 32},   {"fiseg", 32},
    {"fioff", 32},   {"foseg", 32},     {"fooff", 32},  {"fop", 32},    {"xmm0", 128},
    {"xmm1", 128},   {"xmm2", 128},     {"xmm3", 128},  {"xmm4", 128},  {"xmm5", 128},
    {"xmm6", 128},   {"xmm7", 128},     {"xmm8", 128},  {"xmm9", 128},  {"xmm10", 128},
    {"xmm11", 128},  {"xmm12", 128},    {"xmm13", 128}, {"xmm14", 128}, {"xmm15", 128},
    {"mxcsr", 32},
};
const size_t fixture_reg_count = sizeof(fixture_regs) / sizeof(fixture_regs[0]);

const char *fixture_annex(const char *annex)
{
    if (!strcmp(annex, "target.xml"))
        return fixture_target_xml;
    if (!strcmp(annex, FIXTURE_CORE_ANNEX))
        return fixture_core_xml;
    return NULL;
}
