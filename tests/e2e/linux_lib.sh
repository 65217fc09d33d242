# linux_lib.sh — the Linux-awareness end-to-end check shared by linux*.sh (sourced, not a
# test itself). vmdbg reads its commands from a FIFO (-x) so that the test can pause the
# guest exactly while a workload runs, whatever the machine's speed.
. "$(dirname "$0")/lib.sh"

# send LINE...: queue commands for vmdbg.
send() {
    printf '%s\n' "$@" >&3
}

# await FILE REGEX SECONDS: let the guest run (relaying its console) until FILE matches.
await() {
    i=0
    while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le $(($3 * 10)) ] || fail "timed out waiting for /$2/ in $1"
        kill -0 "$vmdbg_pid" 2>/dev/null || fail "vmdbg exited early"
        send 'sleep 0n100'
        sleep 0.1
    done
}

# settle TENTHS: let the guest run that many tenths of a second.
settle() {
    i=0
    while [ "$i" -lt "$1" ]; do
        send 'sleep 0n100'
        sleep 0.1
        i=$((i + 1))
    done
}

# show_vcpus N: each vCPU's mode, process and thread.
show_vcpus() {
    v=0
    while [ "$v" -lt "$1" ]; do
        send "~ $v" 'r cs' 'r cr3' '.process' '.thread'
        v=$((v + 1))
    done
    send '~ 0'
}

# pause_in_user SMP: pause until some vCPU is in user mode (cs 0x33); a pause can land in
# the kernel (a timer tick) even while the only runnable process spins in user mode.
pause_in_user() {
    tries=0
    while :; do
        before=$(grep -c '^cs=' "$o" || true)
        send 'pause'
        v=0
        while [ "$v" -lt "$1" ]; do
            send "~ $v" 'r cs'
            v=$((v + 1))
        done
        i=0
        while [ "$(grep -c '^cs=' "$o" || true)" -lt $((before + $1)) ]; do
            i=$((i + 1))
            [ "$i" -le 300 ] || fail "vmdbg did not answer r cs"
            sleep 0.1
        done
        grep '^cs=' "$o" | tail -n "$1" | grep -q '^cs=0000000000000033$' && return 0
        tries=$((tries + 1))
        [ "$tries" -lt 20 ] || fail "20 pauses did not find a vCPU in user mode"
        send 'g'
        settle 3
    done
}

# linux_check NAME SMP [vmdbg options]: boot, pause in a user-mode busy loop (modeloop) and
# in a syscall loop (sysloop; SYSLOOP_N calls, default 8000000), and check what .process,
# .thread and .process list say against the pids the workloads print themselves.
linux_check() {
    name=$1
    smp=$2
    shift 2
    o=$work/$name.out.txt
    c=$work/$name.console.txt
    mkfifo "$work/$name.cmds"
    timeout 120 "$VMDBG" --console "$c" --smp "$smp" "$@" \
        --guest-run 'echo lnx-busy; /bin/modeloop -s 0 -p 0 -g 0 -l 2750000000 -b 1;
echo lnx-sys; /bin/sysloop '"${SYSLOOP_N:-8000000}"'; sleep 600' \
        -x "$work/$name.cmds" >"$o" 2>"$work/$name.err.txt" &
    vmdbg_pid=$!
    exec 3>"$work/$name.cmds"

    send '.process' 'g'
    await "$c" '^lnx-busy' 60
    settle 10
    pause_in_user "$smp"
    show_vcpus "$smp"
    send '.process list' '.thread list' 'g'
    await "$c" '^modeloop pid=' 60
    await "$c" '^lnx-sys' 20
    settle 10
    send 'pause'
    show_vcpus "$smp"
    send 'g'
    await "$c" '^sysloop pid=' 60
    send 'q'
    exec 3>&-
    status=0
    wait "$vmdbg_pid" || status=$?
    [ "$status" -eq 0 ] || fail "vmdbg exited with $status"

    e=$work/$name.err.txt
    expect "$e" '^error: the guest kernel is not up yet' ".process before boot was not refused"
    expect_not "$e" 'does not fit' "the profile was reported as not fitting"
    mp=$(grep -Eo '^modeloop pid=[0-9]+' "$c" | sed 's/.*=//')
    sp=$(grep -Eo '^sysloop pid=[0-9]+' "$c" | sed 's/.*=//')
    [ -n "$mp" ] && [ -n "$sp" ] || fail "the workloads did not report their pids"
    expect "$o" "^vcpu [0-9]+ \\(user\\): process pid=$mp name=modeloop proc=[0-9a-f]{16} cr3=[0-9a-f]{16} ppid=[0-9]+\$" \
        "no vCPU shows modeloop (pid $mp) in user mode"
    expect "$o" "^vcpu [0-9]+ \\(user\\): thread tid=$mp pid=$mp name=modeloop " \
        ".thread does not show modeloop's thread"
    expect "$o" '^cs=0000000000000033' "no vCPU was paused in user mode"
    expect "$o" "^vcpu [0-9]+ \\((user|kernel)\\): process pid=$sp name=sysloop " \
        "no vCPU shows sysloop (pid $sp)"
    expect "$o" '^ +0 +0 +0  swapper/0 +ffffffff[0-9a-f]{8}  -$' ".process list lacks swapper/0"
    expect "$o" '^ +1 +1 +0  init +[0-9a-f]{16}  [0-9a-f]{16}$' ".process list lacks init (pid 1)"
    expect "$o" '^ +[0-9]+ +[0-9]+ +1  sh +' ".process list lacks the shell"
    expect "$o" "^ +$mp +$mp +[0-9]+  modeloop +[0-9a-f]{16}  [0-9a-f]{16}\$" \
        ".process list lacks modeloop"
    expect "$o" '^ +2 +2 +0  kthreadd +[0-9a-f]{16}  -$' "kthreadd is not shown without mm"
    echo "ok: $name: modeloop $mp (user mode) and sysloop $sp found, process list right"
}

# init_task_at FILE: the task address .process list shows for swapper/0.
init_task_at() {
    grep -E '^ +0 +0 +0  swapper/0 ' "$1" | head -n 1 | awk '{print $5}'
}

# map_init_task: init_task's link-time address in the default guest's System.map.
map_init_task() {
    awk '$3 == "init_task" {print $1}' "$GUEST_DIR/System.map"
}

# user_cr3_check FILE PTI(0|1): at each user-mode stop, the vCPU's CR3 (without PCID bits) must
# be the process's page-table root that .process shows, + 4 KiB with PTI (the user copy).
user_cr3_check() {
    seen=0
    cs=
    cr3=
    while IFS= read -r line; do
        case $line in
        cs=*) cs=${line#cs=} ;;
        cr3=*) cr3=${line#cr3=} ;;
        "vcpu "*" (user): process "*)
            shown=$(printf '%s\n' "$line" | grep -Eo 'cr3=[0-9a-f]+' | sed 's/cr3=//')
            want=$(($(printf '%d' "0x$shown") + $2 * 4096))
            got=$(($(printf '%d' "0x$cr3") & ~4095))
            [ "$got" -eq "$want" ] || fail "user-mode CR3 $cr3 does not fit the mm's root $shown (pti=$2)"
            seen=$((seen + 1))
            ;;
        esac
    done <"$1"
    [ "$seen" -gt 0 ] || fail "no user-mode stop to check CR3 at"
    echo "ok: CR3 at $seen user-mode stop(s) is the process's root (pti=$2)"
}
