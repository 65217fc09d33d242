/* forward_module.c — the `module` output's test plugins, one source built
 * three ways: FORWARD_vmdbg exports vmdbg_event_forwarding (int),
 * FORWARD_hyperdbg HyperDbg's void hyperdbg_event_forwarding, and
 * FORWARD_none neither (a module vmdbg must refuse). Each counts what it
 * got, for the test to read through forward_calls/forward_bytes. */
#include <string.h>

unsigned long forward_calls(void);
unsigned long forward_bytes(void);
int forward_last_terminated(void);

static unsigned long calls, bytes;
static int terminated = 1;

static void count(const char *text, unsigned len)
{
    calls++;
    bytes += len;
    if (text[len] != '\0' || strlen(text) != len)
        terminated = 0;
}

#if defined(FORWARD_vmdbg)
int vmdbg_event_forwarding(const char *text, unsigned len);
int vmdbg_event_forwarding(const char *text, unsigned len)
{
    count(text, len);
    return 0;
}
#elif defined(FORWARD_hyperdbg)
void hyperdbg_event_forwarding(const char *text, unsigned len);
void hyperdbg_event_forwarding(const char *text, unsigned len)
{
    count(text, len);
}
#else
void unrelated_export(const char *text, unsigned len);
void unrelated_export(const char *text, unsigned len)
{
    count(text, len);
}
#endif

unsigned long forward_calls(void)
{
    return calls;
}

unsigned long forward_bytes(void)
{
    return bytes;
}

int forward_last_terminated(void)
{
    return terminated;
}
