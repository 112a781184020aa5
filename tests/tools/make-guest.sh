#!/usr/bin/env bash
# make-guest.sh OUT_DIR: the end-to-end tests' Linux guest, a kernel and an initramfs
# that run the real QEMU guest agent (qemu-ga) on a TCG domain.
#
# Writes OUT_DIR/vmlinuz (a copy of the newest installed Debian cloud kernel) and
# OUT_DIR/initrd.gz, both 0644 in a 0755 OUT_DIR so that QEMU's user can read them, and
# prints the kernel's path. Does nothing but print it when both are there, initrd.gz is
# newer than this script and the kernel is still the newest installed one; concurrent
# runs on one OUT_DIR wait for each other (flock) and files are replaced by rename, so a
# domain that is starting never reads half a file.
#
# Needs: linux-image-cloud-amd64 busybox-static qemu-guest-agent cpio (and kmod, which
# the kernel pulls in); scripts/install-deps.sh installs them.
#
# The guest (its /init is a busybox shell script, PATH=/bin):
#   - loads the virtio modules (virtio_ring virtio virtio_pci_modern_dev
#     virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console and what they need;
#     those built into the kernel are left out, and a failing insmod is only logged);
#   - mounts /dev/vda (ext4, no partition table) on /mnt;
#   - runs qemu-ga on the virtio port org.qemu.guest_agent.0, every RPC allowed, its PID
#     in /run/qemu-ga.pid, with the freeze hook /bin/freeze-hook, which appends
#     "freeze EPOCH" / "thaw EPOCH" to /mnt/.freeze-hook.log and syncs it;
#   - with workload=1 on the kernel command line, appends a record to /mnt/workload.log
#     every 0.2 s, each fsync'ed: "rec N EPOCH CHECK", N counting on from the records
#     already there (1 on an empty disk), CHECK the first 16 hex digits of the sha256 of
#     "rec N EPOCH" (no newline), so that a torn record shows;
#   - has every busybox applet in /bin (sh, echo, cat, date, sleep, sync, touch, rm,
#     mkdir, ls, test, [, printf, grep, kill, pidof, ...) for scripts run by guest-exec;
#   - prints "GUEST: ..." progress lines on its console (ttyS0), and "GUEST: qemu-ga
#     exited (status N)" when the agent ends; the guest then idles, still running.
set -euo pipefail

out=${1:-}
[ -n "$out" ] && [ $# = 1 ] || { echo "usage: make-guest.sh OUT_DIR" >&2; exit 2; }
self=$(readlink -f "${BASH_SOURCE[0]}")

die() { echo "make-guest.sh: $*" >&2; exit 1; }

for t in busybox cpio gzip modprobe; do
    command -v "$t" >/dev/null 2>&1 ||
        die "$t is missing (scripts/install-deps.sh installs busybox-static cpio and the kernel)"
done
[ -x /usr/sbin/qemu-ga ] || die "/usr/sbin/qemu-ga is missing (package qemu-guest-agent)"
# the static busybox: the initramfs has no libraries for a dynamic one
bb=$(command -v busybox)
! ldd "$bb" >/dev/null 2>&1 || die "$bb is not static (package busybox-static)"

kver=$(find /lib/modules -mindepth 1 -maxdepth 1 -name '*-cloud-amd64' -printf '%f\n' 2>/dev/null |
       sort -V | tail -n 1)
[ -n "$kver" ] && [ -f "/boot/vmlinuz-$kver" ] ||
    die "no Debian cloud kernel (package linux-image-cloud-amd64)"

mkdir -p "$out"
chmod 755 "$out"
exec 9>"$out/.lock"
flock 9

if [ -f "$out/initrd.gz" ] && [ -f "$out/vmlinuz" ] && [ "$out/initrd.gz" -nt "$self" ] &&
   [ "$(cat "$out/kernel-version" 2>/dev/null)" = "$kver" ]; then
    echo "$out/vmlinuz"
    exit 0
fi

root=$(mktemp -d "$out/.root-XXXXXX")
trap 'rm -rf "$root" "$out"/.initrd.gz.* "$out"/.vmlinuz.*' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,mnt,run,tmp,lib/modules}
chmod 1777 "$root/tmp"

cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do
    [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done

# qemu-ga and the libraries (and loader) it links, at the paths ldd names
cp /usr/sbin/qemu-ga "$root/bin/qemu-ga"
for l in $(ldd /usr/sbin/qemu-ga | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$l")"
    cp -L "$l" "$root$l"
done

# modules in load order (dependencies first), unpacked for busybox insmod
deps=$(modprobe -S "$kver" -a --show-depends virtio_ring virtio virtio_pci_modern_dev \
           virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console 2>&1) ||
    die "modprobe --show-depends for kernel $kver: $deps"
: > "$root/lib/modules/order"
while read -r how path _; do
    [ "$how" = insmod ] || continue
    m=$(basename "$path"); m=${m%%.ko*}
    grep -qx "$m" "$root/lib/modules/order" && continue
    case $path in
        *.ko) cp "$path" "$root/lib/modules/$m.ko" ;;
        *.ko.xz) xz -dc "$path" > "$root/lib/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$path" > "$root/lib/modules/$m.ko" ;;
        *.ko.gz) gzip -dc "$path" > "$root/lib/modules/$m.ko" ;;
        *) die "cannot unpack module $path" ;;
    esac
    echo "$m" >> "$root/lib/modules/order"
done <<<"$deps"

cat > "$root/bin/freeze-hook" <<'EOF'
#!/bin/sh
# qemu-ga runs this with "freeze" before it freezes the file systems and with "thaw"
# after it thawed them.
echo "$1 $(date +%s)" >> /mnt/.freeze-hook.log
sync /mnt/.freeze-hook.log
EOF

cat > "$root/bin/workload" <<'EOF'
#!/bin/sh
# Appends a checksummed record to /mnt/workload.log every 0.2 s, each one fsync'ed.
log=/mnt/workload.log
n=0
[ -f $log ] && n=$(wc -l < $log)
while :; do
    n=$((n + 1))
    line="rec $n $(date +%s)"
    sum=$(printf '%s' "$line" | sha256sum | cut -c1-16)
    echo "$line $sum" >> $log
    sync $log
    sleep 0.2
done
EOF

cat > "$root/init" <<'EOF'
#!/bin/sh
export PATH=/bin HOME=/ TERM=linux
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=755 tmpfs /run
for m in $(cat /lib/modules/order); do
    grep -q "^$m " /proc/modules || insmod /lib/modules/$m.ko ||
        echo "GUEST: insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if mount -t ext4 /dev/vda /mnt; then
    echo "GUEST: mounted vda"
    if grep -qw 'workload=1' /proc/cmdline; then
        /bin/workload </dev/null >/dev/null 2>&1 &
        echo "GUEST: workload started"
    fi
else
    echo "GUEST: cannot mount /dev/vda"
fi
port=
i=0
while [ -z "$port" ] && [ $i -lt 100 ]; do
    for d in /sys/class/virtio-ports/vport*; do
        [ "$(cat $d/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${d##*/}
    done
    [ -n "$port" ] || { sleep 0.1; i=$((i + 1)); }
done
if [ -z "$port" ]; then
    echo "GUEST: no org.qemu.guest_agent.0 port"
else
    echo "GUEST: qemu-ga on $port"
    cd /
    /bin/qemu-ga -m virtio-serial -p "$port" -t /run -F/bin/freeze-hook </dev/null &
    echo $! > /run/qemu-ga.pid
    wait $!
    echo "GUEST: qemu-ga exited (status $?)"
fi
while :; do sleep 3600; done
EOF
chmod 755 "$root/init" "$root/bin/freeze-hook" "$root/bin/workload"

# cpio takes the archive's file modes from the tree; root owns everything in it
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0) | gzip -6 > "$out/.initrd.gz.$$"
cp "/boot/vmlinuz-$kver" "$out/.vmlinuz.$$"
chmod 644 "$out/.initrd.gz.$$" "$out/.vmlinuz.$$"
mv -f "$out/.vmlinuz.$$" "$out/vmlinuz"
echo "$kver" > "$out/kernel-version"
mv -f "$out/.initrd.gz.$$" "$out/initrd.gz"
echo "$out/vmlinuz"
