#!/bin/sh
# The hostile-guest suite (issue #7): vmdbg against tests/hostile/kernel.s,
# a kernel whose IDT, GDT, TSS, page tables, LSTAR and exception frames are
# garbage, unmapped or changing. For each scenario vmdbg inspects the guest
# at several moments, creates, runs and clears every event type, then asks
# the kernel (through its mailbox, the one write vmdbg is told to make) to
# verify itself and power off. Asserted: vmdbg exits normally with no
# sanitizer report, every complaint is one "error: " line, and the kernel
# finds its code, pristine tables and fake frames unchanged, EFER.SCE back,
# its canary registers intact, no SYSCALL of its turned into a #UD, and no
# exception it did not cause itself.
# HOSTILE_SCENARIOS (space separated) runs a subset.
. "$(dirname "$0")/lib.sh"
: "${HOSTILE_KERNEL:?set by CTest}"

MAILBOX=100040 # physical; 2 = verify, then power off
WIN=ffffffffc0000000

# What vmdbg is asked to look at, at each stop: registers, code and stack
# at RIP/RSP, the window (the IDT alias in pt-churn, unmapped otherwise),
# an unmapped page, the broken LSTAR, physical memory, and the Linux-only
# commands (no profile here).
inspect() {
    printf '%s\n' 'r' 'r efer' 'r cr3' 'u @rip l 20' 'db @rip l 10' 'dq @rsp l 20' \
        "dq $WIN l 40" "dq $WIN+1000 l 8" "u $WIN+5000 l 8" "!dq $MAILBOX l 8" \
        "? printf(\"win %d\\n\", check_address(0x$WIN));" \
        "? printf(\"%llx\\n\", dq(0x$WIN+0x1000));" \
        '.process' '.thread' 'status' 'events' '~ 0' \
        'db ffffffffffffff00 l 200' '!db 10000000000000 l 10'
}

# Every event type with a script that counts, so no event stops the guest.
# idt-swap gets the SYSRET events only: the SYSCALL hook relies on the #UD
# gate vmdbg armed, and this kernel moves it (a documented limit).
arm() {
    [ "$name" = idt-swap ] || cat <<'EOF'
!syscall script { .sc = .sc + 1; }
!syscall2 script { .sc2 = .sc2 + 1; }
!syscall 27 stage all script { .ping = .ping + 1; }
EOF
    cat <<'EOF'
!sysret script { .sr = .sr + 1; }
!sysret2 stage post script { .sr2 = .sr2 + 1; }
!mode ku pid 1
EOF
}

# run_scenario NAME [TAG [vmdbg options]]: one vmdbg session on scenario
# NAME, its files named TAG (default NAME); commands go through a file so
# that quoting stays simple.
run_scenario() {
    name=$1
    tag=${2:-$1}
    if [ $# -ge 2 ]; then shift 2; else shift; fi
    cmds=$work/$tag.cmds
    {
        echo 'g'
        echo 'sleep 0n400'
        echo 'pause'
        inspect
        arm
        echo 'events'
        for round in 1 2 3; do
            echo 'g'
            echo 'sleep 0n1200'
            echo 'pause'
            inspect
            printf '%s\n' '? printf("counts sc=%d sc2=%d sr=%d sr2=%d ping=%d\n", .sc, .sc2, .sr, .sr2, .ping);'
            # clear and create again: arming meets the kernel at another moment
            echo 'events c all'
            echo 'events'
            [ "$round" -lt 3 ] && arm
        done
        printf '%s\n' '? printf("== cleared\n");' 'events' "!eq $MAILBOX 2"
    } >"$cmds"
    vmdbg_run "$tag" --kernel "$HOSTILE_KERNEL" --append "hostile=$name" --mem 64 "$@" -x "$cmds"
}

# check_scenario NAME [TAG]: what holds for every run.
check_scenario() {
    name=$1
    tag=${2:-$1}
    c=$work/$tag.console.txt
    o=$work/$tag.out.txt
    e=$work/$tag.err.txt
    [ "$status" -eq 0 ] || fail "$name: vmdbg exited with $status"
    expect_not "$e" 'Sanitizer|runtime error|Segmentation|Aborted' "$name: a sanitizer report or crash"
    # every line vmdbg writes on stderr is one line of its own
    bad=$(grep -Evc '^(error: |vmdbg: )' "$e" || true)
    [ "$bad" -eq 0 ] || fail "$name: $bad stderr lines that are not one-line errors"
    expect "$c" "^hostile: up mailbox=$MAILBOX scenario=$name\$" "$name: the kernel did not start"
    expect "$c" '^hostile: power off' "$name: the kernel did not reach the power-off"
    verify=$(grep '^hostile: verify ' "$c" | tail -n 1)
    [ -n "$verify" ] || fail "$name: no verify line"
    for part in code=ok tables=ok frames=ok regs=ok sce=1 ud=0 usererr=0; do
        case " $verify " in *" $part "*) ;; *) fail "$name: '$part' not in: $verify" ;; esac
    done
    # after 'events c all' nothing is armed
    sed -n '/^== cleared$/,$p' "$o" | grep -Eq 'armed|waiting' &&
        fail "$name: something is armed after events c all"
    # the inspection ran: registers and the unmapped page's ???? lines
    expect "$o" '^rip=|^rax=' "$name: no registers shown"
    expect "$o" "^ffffffffc0001000  \\?\\?" "$name: the unmapped page was not shown as ????"
    expect "$e" '^error: .*(profile|Linux)' "$name: .process without a profile gave no clear error"
    expect "$e" '^error: ffffffffffffff00 l 200 passes the end of the address space' \
        "$name: a range past the end of the address space was not refused"
    expect "$e" '^error: physical addresses end at 10000000000000' \
        "$name: a physical address above 52 bits was not refused"
}

# field_of LINE KEY: KEY=value in LINE (hex)
field_of() {
    echo " $1 " | grep -Eo " $2=[0-9a-f]+ " | sed 's/.*=//; s/ //'
}

last_counts() {
    grep '^counts ' "$work/$1.out.txt" | tail -n 1
}

scenarios=${HOSTILE_SCENARIOS:-sane idt-unmapped idt-gates gdt-flip tss-garbage pt-churn lstar-broken nouser fake-frames idt-swap}
for s in $scenarios; do
    run_scenario "$s"
    check_scenario "$s"
    verify=$(grep '^hostile: verify ' "$work/$s.console.txt" | tail -n 1)
    exc=$(field_of "$verify" exc)
    counts=$(last_counts "$s")
    case $s in
    lstar-broken)
        # every user phase ends in the kernel's own #PF at LSTAR
        [ "$((0x$exc))" -gt 0 ] || fail "$s: the broken LSTAR never faulted: $verify"
        ;;
    *) [ "$exc" = 0 ] || fail "$s: the kernel took exceptions it did not cause: $verify" ;;
    esac
    case $s in
    sane | gdt-flip | tss-garbage | pt-churn | fake-frames | lstar-broken)
        # sane tables whenever user code runs: the hooks arm and see SYSCALLs
        sc=$(echo "$counts" | sed 's/.*sc=\([0-9]*\).*/\1/')
        [ "${sc:-0}" -gt 0 ] || fail "$s: !syscall saw nothing: $counts"
        ;;
    idt-unmapped | idt-gates | nouser)
        # nothing to hook safely: events wait, say what for, the guest never notices
        case $s in
        idt-unmapped) why='the #UD gate at ffffffffc0001060 cannot be read' ;;
        idt-gates) why='the #UD gate at [0-9a-f]+ is not a kernel handler \(handler deadbeefdeadbeef\)' ;;
        nouser) why='no vCPU was seen in user mode yet' ;;
        esac
        expect "$work/$s.out.txt" "^waiting: $why" "$s: events do not say what they wait for"
        sc=$(echo "$counts" | sed 's/.*sc=\([0-9]*\).*/\1/')
        [ "${sc:-0}" -eq 0 ] || fail "$s: events fired on a guest vmdbg cannot hook: $counts"
        ;;
    esac
    case $s in
    fake-frames) [ "$(field_of "$verify" fake)" != 0 ] || fail "$s: no fake #UD entries ran" ;;
    lstar-broken)
        # vmdbg learned an LSTAR it cannot read: a warning, and the hits go on
        expect "$work/$s.out.txt" \
            '^vmdbg: warning: the guest.s syscall entry \(LSTAR=ffffffffc0005000\) cannot be read' \
            "$s: no warning about the unreadable LSTAR"
        ;;
    idt-swap)
        sr=$(echo "$counts" | sed 's/.* sr=\([0-9]*\).*/\1/')
        [ "${sr:-0}" -gt 0 ] || fail "$s: !sysret saw nothing: $counts"
        ;;
    esac
    echo "ok: $s: $verify; $counts"
done

# A Linux profile of another kernel (the default guest's System.map and
# vmlinux): refused wherever it would be used, the events wait and say why.
if [ -z "${HOSTILE_SCENARIOS:-}" ] && [ -f "$GUEST_DIR/System.map" ]; then
    run_scenario sane misfit --system-map "$GUEST_DIR/System.map"
    check_scenario sane misfit
    expect "$work/misfit.err.txt" '^error: the Linux profile does not fit this kernel' \
        "misfit: .process used the profile of another kernel"
    expect "$work/misfit.out.txt" '^waiting: the Linux profile does not fit this kernel' \
        "misfit: the events do not say why they wait"
    counts=$(last_counts misfit)
    case $counts in *" sc=0 "*) ;; *) fail "misfit: events fired with a profile that does not fit: $counts" ;; esac
    echo "ok: misfit: a profile of another kernel is refused; $counts"
fi

# Two vCPUs, the second parked by the firmware (real mode, EFER.SCE clear):
# the hook arms on vCPU 0, says it waits for vCPU 1, and events still fire.
if [ -z "${HOSTILE_SCENARIOS:-}" ]; then
    run_scenario sane smp --smp 2
    check_scenario sane smp
    expect "$work/smp.out.txt" '^waiting: EFER.SCE is clear on vCPU 1' \
        "smp: the events do not say they wait for vCPU 1"
    counts=$(last_counts smp)
    case $counts in *" sc=0 "*) fail "smp: no events on vCPU 0: $counts" ;; esac
    echo "ok: smp: vCPU 0 hooked, vCPU 1 waited for; $counts"
fi
