#!/bin/sh
# !mode on the default guest (issue 5): modeloop's user/kernel transitions for its pid.
# One boot runs modeloop four times as children of the same shell (so getppid, and with it
# the checksum, is the same each time): unhooked, then under `!mode ku` + `!mode u` +
# `!mode k` together, then under `!mode u` alone, then `!mode k` alone. Each hooked run is
# a shell that prints its pid, sleeps while the test creates the events for that pid (the
# guest is paused meanwhile), and execs modeloop (same pid). Checked: contexts alternate
# 0,3,0,3; every syscall gives a k and a u; page faults and timer ticks are k events too
# (told apart by the rip of the k event: LSTAR or the handler);
# k and u differ by at most one; only that pid has events; u and k are exact subsets of
# ku; the workload's final line is the unhooked one. Then the refusals, one line each.
. "$(dirname "$0")/mode_lib.sh"

# 200 syscalls, 64 fresh pages, a short busy loop (timer ticks), 5 signals, per round
ML_ARGS='-s 200 -p 64 -l 50000000 -g 5 -b 2'
TAG_RE='(ku|u|k|uo|ko)'

# the ticker gives the guest other processes making transitions all the time
mode_start m '
while :; do echo tick; sleep 1; done &
for t in base both u k; do
    sh -c "echo mode-$t pid=\$\$ ppid=\$PPID; [ $t = base ] || sleep 3; exec /bin/modeloop '"$ML_ARGS"'"
done
sleep 3 # the last run'"'"'s events are cleared before the guest powers off'

# hooked_run PHASE MODE:TAG...: wait for the phase's shell, create a `!mode MODE` event for
# its pid per argument (printing "TAG pid=<pid> ctx=<context> rip=<rip>"), let modeloop run to its
# summary, clear the events; sets $pid
hooked_run() {
    phase_pid "$1"
    shift
    # vCPU 0's user code descriptor (GDT[6], Linux's cpu_entry_area alias) and EFER
    # before, while armed and after the clear: the IRET trap marks it not-present
    send 'pause' "dq $GDT_USER_CS l 8" 'r efer'
    for ev in "$@"; do
        send "!mode ${ev%%:*} pid 0n$pid script { printf(\"${ev#*:} pid=%d ctx=%x rip=%llx\\n\", \$pid, \$context, @rip); }"
    done
    send 'events' 'g'
    await "$c" "^modeloop pid=$pid .* err=[0-9]+" 120
    send 'pause' "dq $GDT_USER_CS l 8" 'events c all' "dq $GDT_USER_CS l 8" 'r efer' 'events' 'g'
}
GDT_USER_CS=fffffe0000001030

# restored: the descriptor and EFER of the first hooked run as they were before it. The
# traps mark the descriptor not-present while armed; the watch leaves it alone.
restored() {
    d=$(grep "^$GDT_USER_CS  " "$o" | head -3 | awk '{print $2}')
    before=$(echo "$d" | sed -n 1p) armed=$(echo "$d" | sed -n 2p) after=$(echo "$d" | sed -n 3p)
    [ -n "$after" ] || fail "the GDT descriptor could not be read: '$d'"
    if [ "$MODE_HOOK" = traps ]; then
        want=$(printf '%016x' $((0x$before & ~(1 << 47))))
    else
        want=$before
    fi
    [ "$armed" = "$want" ] || fail "armed ($MODE_HOOK): GDT[6] $armed, expected $want"
    if [ "$MODE_HOOK" = traps ]; then
        expect "$o" '^iret trap: armed' "events did not show the IRET trap"
    else
        expect "$o" '^transition watch: armed \(1 thread of 1 process,' "events did not show the watch"
        # shown by the `events` of each hooked run, gone from the one after its clear
        [ "$(grep -c '^transition watch' "$o" || true)" -eq 3 ] || fail "the watch stayed after a clear"
    fi
    [ "$after" = "$before" ] || fail "after the clear: GDT[6] $after, before $before"
    e=$(grep -Eo '^efer=[0-9a-f]+' "$o" | head -2)
    [ "$(echo "$e" | sed -n 1p)" = "$(echo "$e" | sed -n 2p)" ] || fail "EFER not restored: $e"
    echo "ok: GDT[6] $before -> $armed (armed) -> $after, $(echo "$e" | sed -n 2p) before and after"
}

base_line
hooked_run both ku:ku u:u k:k
both_pid=$pid
hooked_run u u:uo
u_pid=$pid
hooked_run k k:ko
k_pid=$pid
mode_finish

restored
# every run's summary is the unhooked one
for p in "$both_pid" "$u_pid" "$k_pid"; do
    [ "$(final_line "$p")" = "$base" ] || fail "modeloop $p under !mode: '$(final_line "$p")', unhooked: '$base'"
done
syscalls=$(echo "$base" | sed 's/.*syscalls=\([0-9]*\) .*/\1/')
pages=$(echo "$base" | sed 's/.*pages=\([0-9]*\) .*/\1/')
signals=$(echo "$base" | sed 's/.*signals=\([0-9]*\) .*/\1/')

# lines TAG [CTX]: event lines of TAG (all pids), or those with context CTX
lines() {
    grep -E "^$1 pid=[0-9]+ ctx=${2:-[0-9a-f]+} rip=[0-9a-f]+\$" "$o" || true
}
n_lines() {
    lines "$@" | grep -c . || true
}

# only the target pid, only contexts 0 and 3, nothing malformed
[ "$(grep -E "^$TAG_RE pid=" "$o" | grep -Evc "^$TAG_RE pid=[0-9]+ ctx=[0-9a-f]+ rip=[0-9a-f]+\$" || true)" -eq 0 ] ||
    fail "a malformed event line"
for tag in ku u k; do
    other=$(lines "$tag" | grep -vc "^$tag pid=$both_pid " || true)
    [ "$other" -eq 0 ] || fail "!mode $tag pid $both_pid: $other events of other pids"
done
[ "$(lines uo | grep -vc "^uo pid=$u_pid " || true)" -eq 0 ] || fail "!mode u: events of other pids"
[ "$(lines ko | grep -vc "^ko pid=$k_pid " || true)" -eq 0 ] || fail "!mode k: events of other pids"
[ "$(lines ku | grep -Evc 'ctx=(0|3) ' || true)" -eq 0 ] || fail "!mode ku: a context other than 0 and 3"

# ku: contexts alternate, one k and one u per syscall, faults and interrupts on top
seq=$(lines ku | sed 's/.* ctx=\([0-9a-f]*\) .*/\1/' | tr -d '\n')
[ -n "$seq" ] || fail "!mode ku pid $both_pid: no events"
case $seq in *00* | *33*) fail "!mode ku: contexts do not alternate: $(echo "$seq" | grep -Eo '.{0,8}(00|33).{0,8}' | head -n 1)" ;; esac
nk=$(n_lines ku 0)
nu=$(n_lines ku 3)
[ $((nk - nu)) -le 1 ] && [ $((nu - nk)) -le 1 ] || fail "!mode ku: $nk k and $nu u events differ by more than one"
[ "$nu" -ge "$syscalls" ] || fail "!mode ku: $nu u events for $syscalls syscalls"
# every getppid, every first touch of a page, every kill is a user->kernel transition
[ "$nk" -ge $((syscalls + pages + signals)) ] ||
    fail "!mode ku: $nk k events, expected at least $syscalls syscalls + $pages page faults + $signals kills"
# Which entry each k event came through: rip is LSTAR for a SYSCALL, the handler's first
# instruction for an exception or interrupt. The kernel is relocated (KASLR): the slide is
# LSTAR - entry_SYSCALL_64 in System.map; all are in the top 2 GiB, so 32 bits do.
lstar=$(grep -Eo 'learned LSTAR=[0-9a-f]+' "$o" | head -n 1 | sed 's/.*=//')
[ -n "$lstar" ] || fail "LSTAR was not learned"
map() { awk -v n="$1" '$3 == n { print $1 }' "$GUEST_DIR/System.map" | sed 's/^ffffffff//'; }
entry=$(map entry_SYSCALL_64)
# at NAME: the run-time address of kernel symbol NAME
at() {
    printf 'ffffffff%08x' $(((0x$(map "$1") + 0x${lstar#ffffffff} - 0x$entry) & 0xffffffff))
}
k_at() { lines ku 0 | grep -c " rip=$1\$" || true; }
n_sys=$(k_at "$lstar")
n_pf=$(k_at "$(at asm_exc_page_fault)")
n_tick=$(k_at "$(at asm_sysvec_apic_timer_interrupt)")
[ "$n_sys" -ge $((syscalls + signals)) ] || fail "!mode ku: $n_sys k events at LSTAR for $syscalls getppid + $signals kill"
[ "$n_pf" -ge "$pages" ] || fail "!mode ku: $n_pf k events at the page-fault handler for $pages fresh pages"
[ "$n_tick" -ge 1 ] || fail "!mode ku: no k event at the timer interrupt's handler during the busy loop"
echo "ok: k events: $n_sys SYSCALLs, $n_pf page faults, $n_tick timer ticks, $((nk - n_sys - n_pf - n_tick)) other"

# u and k in the same run see exactly ku's transitions of their context
[ "$(n_lines u)" -eq "$nu" ] && [ "$(n_lines u 3)" -eq "$nu" ] ||
    fail "!mode u: $(n_lines u) events ($(n_lines u 3) with context 3), ku had $nu user transitions"
[ "$(n_lines k)" -eq "$nk" ] && [ "$(n_lines k 0)" -eq "$nk" ] ||
    fail "!mode k: $(n_lines k) events ($(n_lines k 0) with context 0), ku had $nk kernel transitions"
echo "ok: !mode ku pid $both_pid: $nk k + $nu u alternating ($syscalls syscalls, $pages pages, $signals signals); u and k exact subsets"

# alone
nuo=$(n_lines uo)
nko=$(n_lines ko)
[ "$nuo" -ge "$syscalls" ] && [ "$(n_lines uo 3)" -eq "$nuo" ] ||
    fail "!mode u alone: $nuo events ($(n_lines uo 3) with context 3) for $syscalls syscalls"
[ "$nko" -ge $((syscalls + pages + signals)) ] && [ "$(n_lines ko 0)" -eq "$nko" ] ||
    fail "!mode k alone: $nko events ($(n_lines ko 0) with context 0), expected at least $((syscalls + pages + signals))"
[ "$(grep -c '^no active events' "$o" || true)" -eq 3 ] || fail "events were left after an events c all"
echo "ok: !mode u alone $nuo (all context 3), !mode k alone $nko (all context 0); workload lines identical: $base"

# Refusals: one line each, nothing created; preactivate mode is accepted.
vmdbg_run bad --guest-run 'true' \
    -c '!mode pid 1' -c '!mode u' -c '!mode u pid all' -c '!mode k pid 5 stage post' \
    -c '!mode ku pid 5 stage all' -c 'preactivate mode' -c 'events'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (refusals)"
errors=$(grep -c '^error: ' "$work/bad.err.txt" || true)
[ "$errors" -eq 5 ] || fail "expected 5 one-line errors, got $errors"
expect "$work/bad.out.txt" '^no active events' "a refused !mode created an event"
echo "ok: refusals"
