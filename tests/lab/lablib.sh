# Lab helpers: real firmware (SeaBIOS + iPXE ROM, OVMF/EDK2 PXE) under QEMU
# TCG, on a private bridge inside network namespaces, beside a site DHCP
# server (dnsmasq, leases only) and a PXE server namespace.
# Source after tests/lib.sh.
#
#   lab_require            skip (77) unless root, qemu, firmware, tools exist
#   lab_assets             build/lab/{vmlinuz,initrd.gz,disk-bios.img,disk-uefi.img}
#                          (cached)
#   lab_net_up             namespaces, bridge, veths, site DHCP, capture
#   lab_ns_add NS VETH ADDR  one more namespace on the bridge (a second server)
#   lab_vm_bios NAME MAC UUID LOG   start a BIOS VM (sets LAB_VM_PID)
#   lab_vm_uefi NAME MAC UUID LOG   start a UEFI VM (sets LAB_VM_PID)
#   lab_vm_wait LOG PATTERN TIMEOUT wait for a console line
#   lab_vm_kill [PID]      stop a VM (default: the last started)
#
# Variables after lab_net_up: LAB_NS_BR (bridge + taps + QEMU), LAB_NS_DHCP
# (site DHCP, 10.77.0.1), LAB_NS_PXE (PXE server, $LAB_PXE_ADDR on eth0),
# LAB_PCAP (capture of the bridge).  When the test fails, $TMP (serial logs,
# pxed.log, capture) is kept under /tmp/pxed-lab-fail.* and its path printed
# (LAB_KEEP=1: also when it passes).

LAB_DIR=$ROOT/build/lab
LAB_MARKER=PXED-LAB-MARKER
# What a lab VM's local disk prints when the firmware boots it.
LAB_DISK_MARKER=PXED-LAB-DISK
LAB_PXE_ADDR=10.77.0.2
LAB_DHCP_ADDR=10.77.0.1
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-150}
# LAB_TIME_SCALE (default 1): every wait of a lab script may take this many
# times longer.  The test runner sets 2 when it runs two lab scripts side by
# side: under TCG a VM's speed is the CPU it gets.  A longer wait costs time
# only when the test is failing anyway.
LAB_TIME_SCALE=${LAB_TIME_SCALE:-1}
eval "_lib_$(declare -f wait_for)"
wait_for() { local t=$1; shift; _lib_wait_for $((t * LAB_TIME_SCALE)) "$@"; }
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
IPXE_DIR=${IPXE_DIR:-/usr/lib/ipxe}
LAB_BIOS_ROM=${LAB_BIOS_ROM:-/usr/lib/ipxe/qemu/pxe-e1000.rom}
LAB_UEFI_ROM=${LAB_UEFI_ROM:-/usr/lib/ipxe/qemu/efi-e1000.rom}

exec {LAB_ERR}>&2

lab_log() { echo "lab: $*" >&2; }

lab_require() {
	need_root
	local t
	for t in qemu-system-x86_64 ip dnsmasq tcpdump cpio gzip busybox curl dpkg \
		grub-mkstandalone mkfs.vfat mmd mcopy sfdisk; do
		command -v "$t" >/dev/null 2>&1 || skip "lab needs $t"
	done
	[ -e /dev/net/tun ] || skip "lab needs /dev/net/tun"
	[ -r "$LAB_BIOS_ROM" ] || skip "lab needs $LAB_BIOS_ROM (ipxe-qemu)"
	[ -r "$OVMF_CODE" ] && [ -r "$OVMF_VARS" ] || skip "lab needs OVMF (ovmf)"
	[ -r "$IPXE_DIR/undionly.kpxe" ] && [ -r "$IPXE_DIR/snponly.efi" ] || skip "lab needs ipxe"
	ip netns add "pxedlab-probe-$$" 2>/dev/null || skip "lab needs network namespaces"
	ip netns delete "pxedlab-probe-$$"
}

# lab_require_sb: skip unless the Secure Boot pieces are installed.
lab_require_sb() {
	[ -r "$OVMF_SB_CODE" ] && [ -r "$OVMF_SB_VARS" ] || skip "lab needs OVMF's Secure Boot firmware (ovmf)"
	[ -r /usr/lib/shim/shimx64.efi.signed ] || skip "lab needs shim-signed"
	[ -r /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed ] || skip "lab needs grub-efi-amd64-signed"
	command -v sbattach >/dev/null || skip "lab needs sbattach (sbsigntool)"
}

# lab_assets_sb: build/lab/{vmlinuz-unsigned,disk-uefi-sb.img} (cached): the
# lab kernel without its signature, and a disk that boots under Secure Boot.
lab_assets_sb() {
	(
		flock 9
		if [ ! -s "$LAB_DIR/vmlinuz-unsigned" ]; then
			cp "$LAB_DIR/vmlinuz" "$LAB_DIR/vmlinuz-unsigned.tmp" &&
				sbattach --remove "$LAB_DIR/vmlinuz-unsigned.tmp" >&2 &&
				mv "$LAB_DIR/vmlinuz-unsigned.tmp" "$LAB_DIR/vmlinuz-unsigned" || exit 1
		fi
		if [ ! -s "$LAB_DIR/disk-uefi-sb.img" ]; then
			_lab_disk_uefi_sb || exit 1
		fi
	) 9>"$LAB_DIR/.lock" || fail "lab Secure Boot assets could not be built"
	LAB_KERNEL_UNSIGNED=$LAB_DIR/vmlinuz-unsigned
	LAB_DISK_UEFI_SB=$LAB_DIR/disk-uefi-sb.img
}

# The Secure Boot disk: \EFI\BOOT\BOOTX64.EFI is Debian's signed shim, which
# loads the signed GRUB beside it, whose grub.cfg (found beside it too)
# prints "PXED-LAB-DISK uefi" and powers the VM off.
_lab_disk_uefi_sb() {
	local d img esp
	d=$(mktemp -d "$LAB_DIR/disksb.XXXXXX")
	printf 'echo "%s uefi"\nsleep 1\nhalt\n' "$LAB_DISK_MARKER" >"$d/grub.cfg"
	esp=$d/esp.img
	mkfs.vfat -C -n PXEDLABSB "$esp" 30720 >/dev/null || return 1
	mmd -i "$esp" ::/EFI ::/EFI/BOOT || return 1
	mcopy -i "$esp" /usr/lib/shim/shimx64.efi.signed ::/EFI/BOOT/BOOTX64.EFI || return 1
	mcopy -i "$esp" /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ::/EFI/BOOT/grubx64.efi || return 1
	mcopy -i "$esp" "$d/grub.cfg" ::/EFI/BOOT/grub.cfg || return 1
	img=$d/disk.img
	truncate -s 34M "$img"
	printf 'label: gpt\nstart=2048, size=61440, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"\n' |
		sfdisk -q "$img" >&2 || return 1
	dd if="$esp" of="$img" bs=512 seek=2048 conv=notrunc status=none || return 1
	mv "$img" "$LAB_DIR/disk-uefi-sb.img"
	rm -rf "$d"
}

# lab_assets: kernel and initramfs, built once into build/lab/.
lab_assets() {
	mkdir -p "$LAB_DIR"
	(
		flock 9
		if [ ! -s "$LAB_DIR/vmlinuz" ]; then
			_lab_kernel || exit 1
		fi
		if [ ! -s "$LAB_DIR/initrd.gz" ]; then
			_lab_initrd || exit 1
		fi
		if [ ! -s "$LAB_DIR/disk-bios.img" ]; then
			_lab_disk_bios || exit 1
		fi
		if [ ! -s "$LAB_DIR/disk-uefi.img" ]; then
			_lab_disk_uefi || exit 1
		fi
	) 9>"$LAB_DIR/.lock" || fail "lab assets could not be built"
	LAB_KERNEL=$LAB_DIR/vmlinuz
	LAB_INITRD=$LAB_DIR/initrd.gz
	LAB_DISK_BIOS=$LAB_DIR/disk-bios.img
	LAB_DISK_UEFI=$LAB_DIR/disk-uefi.img
}

# The BIOS disk: a 1 MiB raw image whose master boot record writes
# "PXED-LAB-DISK bios" to COM1 and halts.  Hand-assembled 16-bit code, loaded
# by the BIOS at 0000:7C00:
#   31 C0     xor ax,ax          8E D8  mov ds,ax
#   BA F8 03  mov dx,0x3F8       BE 17 7C  mov si,0x7C17 (the text)
#   FC        cld
#   AC        lodsb              (next:)
#   84 C0     test al,al         74 03  jz halt
#   EE        out dx,al          EB F8  jmp next
#   FA        cli                (halt:)
#   F4        hlt                EB FD  jmp hlt
# then the text, NUL-terminated, and the 55 AA signature at offset 510.
_lab_disk_bios() {
	local img=$LAB_DIR/disk-bios.img.tmp
	{
		printf '\x31\xc0\x8e\xd8\xba\xf8\x03\xbe\x17\x7c\xfc\xac\x84\xc0\x74\x03\xee\xeb\xf8\xfa\xf4\xeb\xfd'
		printf '\r\n%s bios\r\n\0' "$LAB_DISK_MARKER"
	} >"$img" || return 1
	truncate -s 510 "$img"
	printf '\x55\xaa' >>"$img"
	truncate -s 1M "$img"
	mv "$img" "$LAB_DIR/disk-bios.img"
}

# The UEFI disk: a GPT image with one EFI system partition holding the
# removable-media boot path \EFI\BOOT\BOOTX64.EFI, a standalone GRUB whose
# embedded grub.cfg prints "PXED-LAB-DISK uefi" and powers the VM off.
_lab_disk_uefi() {
	local d img esp cfg
	d=$(mktemp -d "$LAB_DIR/disk.XXXXXX")
	cfg=$d/grub.cfg
	printf 'echo "%s uefi"\nsleep 1\nhalt\n' "$LAB_DISK_MARKER" >"$cfg"
	grub-mkstandalone -O x86_64-efi --modules="echo sleep halt" --install-modules="echo sleep halt" \
		--locales= --fonts= --themes= -o "$d/BOOTX64.EFI" "boot/grub/grub.cfg=$cfg" >&2 || return 1
	esp=$d/esp.img
	mkfs.vfat -C -n PXEDLAB "$esp" 30720 >/dev/null || return 1
	mmd -i "$esp" ::/EFI ::/EFI/BOOT || return 1
	mcopy -i "$esp" "$d/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI || return 1
	img=$d/disk.img
	truncate -s 34M "$img"
	printf 'label: gpt\nstart=2048, size=61440, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"\n' |
		sfdisk -q "$img" >&2 || return 1
	dd if="$esp" of="$img" bs=512 seek=2048 conv=notrunc status=none || return 1
	mv "$img" "$LAB_DIR/disk-uefi.img"
	rm -rf "$d"
}

_lab_kernel() {
	local pkg work deb
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	work=$(mktemp -d "$LAB_DIR/kernel.XXXXXX")
	if [ -z "$pkg" ] || ! (cd "$work" && apt-get download "$pkg") >&2; then
		lab_log "apt-get download failed, running apt-get update"
		apt-get update >&2 || return 1
		pkg=$(apt-cache depends linux-image-cloud-amd64 |
			awk '/Depends: linux-image-[0-9]/{print $2; exit}')
		[ -n "$pkg" ] || { lab_log "no linux-image-cloud-amd64 dependency"; return 1; }
		(cd "$work" && apt-get download "$pkg") >&2 || return 1
	fi
	deb=$(ls "$work"/*.deb | head -n1)
	dpkg -x "$deb" "$work/x" || return 1
	cp "$work"/x/boot/vmlinuz-* "$LAB_DIR/vmlinuz.tmp" || return 1
	mv "$LAB_DIR/vmlinuz.tmp" "$LAB_DIR/vmlinuz"
	echo "$pkg" >"$LAB_DIR/vmlinuz.package"
	rm -rf "$work"
}

_lab_initrd() {
	local d
	d=$(mktemp -d "$LAB_DIR/initrd.XXXXXX")
	mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev"
	cp "$(command -v busybox)" "$d/bin/busybox"
	for a in sh mount cat echo poweroff sleep; do ln -s busybox "$d/bin/$a"; done
	mknod -m 600 "$d/dev/console" c 5 1 2>/dev/null || true
	mknod -m 660 "$d/dev/ttyS0" c 4 64 2>/dev/null || true
	cat >"$d/init" <<-'EOF'
	#!/bin/sh
	export PATH=/bin
	mount -t proc proc /proc
	mount -t devtmpfs devtmpfs /dev 2>/dev/null
	line="PXED-LAB-MARKER cmdline=$(cat /proc/cmdline)"
	echo "$line" >/dev/console
	echo "$line" >/dev/ttyS0
	poweroff -f
	sleep 5
	EOF
	chmod 755 "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet | gzip -9) >"$LAB_DIR/initrd.gz.tmp" || return 1
	mv "$LAB_DIR/initrd.gz.tmp" "$LAB_DIR/initrd.gz"
	rm -rf "$d"
}

# Keep $TMP when the test fails (rc is _run_exit's exit status).
_lab_keep_on_fail() {
	local code=${rc:-1}
	[ "$code" = 0 ] && [ -z "${LAB_KEEP:-}" ] && return 0
	[ "$code" = 77 ] && return 0
	local keep
	keep=$(mktemp -d /tmp/pxed-lab-fail.XXXXXX) || return 0
	cp -a "$TMP"/. "$keep"/ 2>/dev/null
	echo "lab: test ended with $code; logs and capture kept in $keep (capture: $keep/$(basename "${LAB_PCAP:-lab.pcap}"))" >&$LAB_ERR
}

_lab_ns_down() {
	local ns=$1 p
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	ip netns delete "$ns" 2>/dev/null
}

# lab_net_up: per-run namespaces (the interfaces live only inside them, so
# their names need not be unique across runs; the namespace names are).
lab_net_up() {
	local s=$$
	LAB_NS_BR=pxedlab-$s-br
	LAB_NS_DHCP=pxedlab-$s-dhcp
	LAB_NS_PXE=pxedlab-$s-pxe
	LAB_PCAP=$TMP/lab.pcap
	on_exit _lab_keep_on_fail
	local ns
	for ns in "$LAB_NS_BR" "$LAB_NS_DHCP" "$LAB_NS_PXE"; do
		ip netns add "$ns" || fail "ip netns add $ns"
		on_exit "_lab_ns_down $ns"
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
	done
	ip -n "$LAB_NS_BR" link add br0 type bridge || fail "bridge"
	ip -n "$LAB_NS_BR" link set br0 type bridge stp_state 0 forward_delay 0 2>/dev/null
	ip -n "$LAB_NS_BR" link set br0 up
	ip -n "$LAB_NS_BR" link add vdhcp type veth peer name eth0 netns "$LAB_NS_DHCP" || fail "veth dhcp"
	ip -n "$LAB_NS_BR" link add vpxe type veth peer name eth0 netns "$LAB_NS_PXE" || fail "veth pxe"
	local v
	for v in vdhcp vpxe; do
		ip -n "$LAB_NS_BR" link set dev "$v" master br0
		ip -n "$LAB_NS_BR" link set dev "$v" up
	done
	ip -n "$LAB_NS_DHCP" addr add "$LAB_DHCP_ADDR/24" dev eth0
	ip -n "$LAB_NS_DHCP" link set eth0 up
	ip -n "$LAB_NS_PXE" addr add "$LAB_PXE_ADDR/24" dev eth0
	ip -n "$LAB_NS_PXE" link set eth0 up

	# IPv4 only, and no bulk HTTP data (kernel downloads): keeps it small.
	ip netns exec "$LAB_NS_BR" tcpdump -i br0 -U -s 0 -w "$LAB_PCAP" \
		'not ip6 and not (tcp and greater 700)' >"$TMP/tcpdump.log" 2>&1 &
	LAB_TCPDUMP_PID=$!
	on_exit "kill $LAB_TCPDUMP_PID; sleep 0.3"

	lab_site_dhcp "${LAB_SITE_DHCP_OPTS[@]}"
	wait_for 5 test -s "$LAB_PCAP" || true
}

# lab_ns_add NS VETH ADDR: one more namespace on the lab segment (a second
# PXE server): its eth0 joined to br0 through VETH (the bridge side's name,
# at most 15 characters) with ADDR/24; removed on exit.  After lab_net_up.
lab_ns_add() {
	local ns=$1 veth=$2 addr=$3
	ip netns add "$ns" || fail "ip netns add $ns"
	on_exit "_lab_ns_down $ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
	ip -n "$LAB_NS_BR" link add "$veth" type veth peer name eth0 netns "$ns" || fail "veth $veth"
	ip -n "$LAB_NS_BR" link set dev "$veth" master br0
	ip -n "$LAB_NS_BR" link set dev "$veth" up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
}

# LAB_SITE_DHCP_OPTS (array): extra dnsmasq options for the site DHCP
# server lab_net_up starts, e.g. (--dhcp-option=option:server-ip-address,10.77.0.2)
# to name pxed as next-server in its ACKs (what GRUB needs).
LAB_SITE_DHCP_OPTS=()

# lab_site_dhcp [DNSMASQ_OPTION...]: (re)start the site DHCP server with
# these extra options (leases are kept).
lab_site_dhcp() {
	if [ -n "${LAB_DHCP_PID:-}" ]; then
		kill "$LAB_DHCP_PID" 2>/dev/null
		wait "$LAB_DHCP_PID" 2>/dev/null
	fi
	: >"$TMP/site-dhcp.log"
	ip netns exec "$LAB_NS_DHCP" dnsmasq --no-daemon --conf-file=/dev/null \
		--pid-file= --user=root --port=0 --interface=eth0 --bind-interfaces \
		--dhcp-range=10.77.0.100,10.77.0.200,5m \
		--dhcp-leasefile="$TMP/leases" --log-dhcp "$@" \
		>>"$TMP/site-dhcp.log" 2>&1 &
	LAB_DHCP_PID=$!
	on_exit "kill $LAB_DHCP_PID"
	wait_for 5 grep -q "DHCP, IP range" "$TMP/site-dhcp.log" ||
		{ cat "$TMP/site-dhcp.log" >&2; fail "site DHCP server did not start"; }
}

# lab_tap NAME: a tap for the VM NAME on the bridge; prints its name.
_lab_tap() {
	local tap
	tap=t$(echo "$1" | tr -cd 'a-zA-Z0-9' | cut -c1-13)
	ip -n "$LAB_NS_BR" link del dev "$tap" 2>/dev/null
	ip -n "$LAB_NS_BR" tuntap add dev "$tap" mode tap || return 1
	ip -n "$LAB_NS_BR" link set dev "$tap" master br0
	ip -n "$LAB_NS_BR" link set dev "$tap" up
	echo "$tap"
}

# LAB_QEMU_EXTRA (array): more QEMU arguments for the next VMs started, e.g.
# (-monitor unix:$TMP/mon.sock,server,nowait) for lab_vm_sendkeys.  A
# -monitor there replaces the default "-monitor none".
LAB_QEMU_EXTRA=()
_lab_qemu() {
	local log=$1; shift
	local mon=(-monitor none) a
	for a in "${LAB_QEMU_EXTRA[@]}"; do [ "$a" = -monitor ] && mon=(); done
	: >"$log"
	ip netns exec "$LAB_NS_BR" qemu-system-x86_64 -accel tcg -m "${LAB_VM_MEM:-256}" \
		-nographic "${mon[@]}" -serial "file:$log" -no-reboot "$@" "${LAB_QEMU_EXTRA[@]}" \
		</dev/null >"$log.qemu" 2>&1 &
	LAB_VM_PID=$!
	LAB_VM_START=$SECONDS
	on_exit "lab_vm_kill $LAB_VM_PID"
}

# Every lab VM has a local disk that says when it was booted
# (LAB_DISK_MARKER), behind the NIC in the boot order: the NIC is
# bootindex=1, the disk bootindex=2, as a managed machine is set up (a
# firmware that tries its disk first never asks pxed).  snapshot=on: the
# image is shared and never written.  LAB_NO_DISK=1: no disk.
_lab_disk_args() { # IMAGE
	[ -n "${LAB_NO_DISK:-}" ] && return 0
	LAB_DISK_ARGS=(-drive "if=none,id=d0,format=raw,snapshot=on,file=$1"
		-device "ide-hd,drive=d0,bus=ide.0,bootindex=2")
}

# OVMF's flash and the settings every UEFI VM shares.  PXE over IPv6 is
# turned off (the lab is IPv4): else OVMF spends about a minute on it after
# PXEv4 and before the disk.
_lab_ovmf_args() { # NAME
	local vars=$TMP/$1-OVMF_VARS.fd
	cp "$OVMF_VARS" "$vars"
	LAB_OVMF_ARGS=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
		-drive "if=pflash,format=raw,unit=1,file=$vars"
		-fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no)
}

# lab_vm_bios NAME MAC UUID LOG: SeaBIOS with the iPXE e1000 ROM, network
# boot first, then the disk.
lab_vm_bios() {
	local name=$1 mac=$2 uuid=$3 log=$4 tap
	tap=$(_lab_tap "$name") || fail "tap for $name"
	LAB_DISK_ARGS=()
	_lab_disk_args "$LAB_DISK_BIOS"
	_lab_qemu "$log" -smbios "type=1,uuid=$uuid" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "e1000,netdev=n0,mac=$mac,romfile=$LAB_BIOS_ROM,bootindex=1" \
		"${LAB_DISK_ARGS[@]}"
	LAB_VM_FATAL='No bootable device'
	LAB_VM_DISK="$LAB_DISK_MARKER bios"
}

# lab_vm_uefi NAME MAC UUID LOG: OVMF, EDK2's own PXE on virtio-net (no ROM),
# then the disk.
lab_vm_uefi() {
	local name=$1 mac=$2 uuid=$3 log=$4 tap
	tap=$(_lab_tap "$name") || fail "tap for $name"
	LAB_DISK_ARGS=()
	_lab_disk_args "$LAB_DISK_UEFI"
	_lab_ovmf_args "$name"
	_lab_qemu "$log" -smbios "type=1,uuid=$uuid" "${LAB_OVMF_ARGS[@]}" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=,bootindex=1" \
		"${LAB_DISK_ARGS[@]}"
	_lab_uefi_fatal
}

# lab_vm_uefi_sb NAME MAC UUID LOG: OVMF with Secure Boot enforced and
# Microsoft's keys enrolled (what most company machines have), EDK2's own PXE
# on virtio-net, then a disk whose loader is Debian's signed shim + GRUB.
OVMF_SB_CODE=${OVMF_SB_CODE:-/usr/share/OVMF/OVMF_CODE_4M.secboot.fd}
OVMF_SB_VARS=${OVMF_SB_VARS:-/usr/share/OVMF/OVMF_VARS_4M.ms.fd}
lab_vm_uefi_sb() {
	local name=$1 mac=$2 uuid=$3 log=$4 tap vars
	tap=$(_lab_tap "$name") || fail "tap for $name"
	LAB_DISK_ARGS=()
	_lab_disk_args "$LAB_DISK_UEFI_SB"
	vars=$TMP/$name-OVMF_VARS.ms.fd
	cp "$OVMF_SB_VARS" "$vars"
	LAB_QEMU_MACHINE=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on)
	LAB_VM_MEM=512 _lab_qemu "$log" "${LAB_QEMU_MACHINE[@]}" -smbios "type=1,uuid=$uuid" \
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_SB_CODE" \
		-drive "if=pflash,format=raw,unit=1,file=$vars" \
		-fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=,bootindex=1" \
		"${LAB_DISK_ARGS[@]}"
	_lab_uefi_fatal
}

# lab_vm_uefi_ipxe NAME MAC UUID LOG: OVMF with iPXE's EFI ROM on e1000 (the
# NIC's own iPXE, as on machines flashed with it), then the disk.
lab_vm_uefi_ipxe() {
	local name=$1 mac=$2 uuid=$3 log=$4 tap
	tap=$(_lab_tap "$name") || fail "tap for $name"
	LAB_DISK_ARGS=()
	_lab_disk_args "$LAB_DISK_UEFI"
	_lab_ovmf_args "$name"
	_lab_qemu "$log" -smbios "type=1,uuid=$uuid" "${LAB_OVMF_ARGS[@]}" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "e1000,netdev=n0,mac=$mac,romfile=$LAB_UEFI_ROM,bootindex=1" \
		"${LAB_DISK_ARGS[@]}"
	_lab_uefi_fatal
}

_lab_uefi_fatal() {
	# BdsDxe says this once the IPv4 PXE boot option (EDK2 PXE, or the
	# iPXE it loaded) has failed; with a disk the firmware goes on, so
	# it is fatal only without one.  "UiApp": the firmware opened its
	# setup menu, where a machine stays until someone comes by.
	if [ -n "${LAB_NO_DISK:-}" ]; then
		LAB_VM_FATAL='failed to load Boot[0-9A-Fa-f]+ "UEFI PXEv4[^"]*"|PXE-E[0-9A-F]+: [A-Za-z ]+|starting Boot[0-9A-Fa-f]+ "UiApp"'
	else
		LAB_VM_FATAL='starting Boot[0-9A-Fa-f]+ "UiApp"'
	fi
	LAB_VM_DISK="$LAB_DISK_MARKER uefi"
}

# lab_vm_wait LOG PATTERN TIMEOUT: until an (extended) regex shows up in LOG.
# Returns 1 at the timeout, and early when the last VM started has exited,
# its kernel panicked, or its firmware gave up network boot (LAB_VM_FATAL,
# set by lab_vm_bios/lab_vm_uefi); LAB_VM_WHY says which.
lab_vm_wait() {
	local log=$1 pat=$2 end=$((SECONDS + $3 * LAB_TIME_SCALE))
	LAB_VM_WHY=timeout
	while :; do
		grep -qaE -- "$pat" "$log" && return 0
		if grep -qa "Kernel panic" "$log"; then LAB_VM_WHY="kernel panic"; return 1; fi
		if [ -n "${LAB_VM_DISK:-}" ] && grep -qa -- "$LAB_VM_DISK" "$log"; then
			LAB_VM_WHY="the firmware booted its local disk instead"
			return 1
		fi
		if [ -n "${LAB_VM_FATAL:-}" ] && grep -qaE -- "$LAB_VM_FATAL" "$log"; then
			LAB_VM_WHY="firmware gave up: $(grep -aoE -- "$LAB_VM_FATAL" "$log" | head -n1)"
			return 1
		fi
		if [ -n "${LAB_VM_PID:-}" ] && ! kill -0 "$LAB_VM_PID" 2>/dev/null; then
			grep -qaE -- "$pat" "$log" && return 0
			LAB_VM_WHY="VM exited"; return 1
		fi
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# lab_vm_alive [PID]
lab_vm_alive() { kill -0 "${1:-$LAB_VM_PID}" 2>/dev/null; }

# lab_vm_kill [PID]
lab_vm_kill() {
	local pid=${1:-${LAB_VM_PID:-}}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# lab_marker_cmdline LOG: the cmdline the initramfs printed.
lab_marker_cmdline() {
	grep -a "$LAB_MARKER cmdline=" "$1" | head -n1 | sed 's/.*cmdline=//' | tr -d '\r'
}

# --- the capture -----------------------------------------------------------

# lab_pcap_count FILTER...: packets in the capture so far matching a tcpdump filter.
lab_pcap_count() {
	tcpdump -nr "$LAB_PCAP" "$@" 2>/dev/null | wc -l
}

# lab_pcap_gets REGEX: HTTP requests (to pxed's port 8080) whose request line
# matches REGEX, e.g. 'GET /files/lab/vmlinuz'.
lab_pcap_gets() {
	# Payload lines only: tcpdump's summary line repeats the request line.
	tcpdump -nr "$LAB_PCAP" -A 'tcp dst port 8080' 2>/dev/null | grep -av 'Flags \[' | grep -aoE -- "$1" | wc -l
}

# lab_pcap_tftp_reads REGEX: TFTP read requests naming a file matching REGEX.
lab_pcap_tftp_reads() {
	tcpdump -nr "$LAB_PCAP" 'udp dst port 69' 2>/dev/null | grep -aE -- "RRQ \"?[^ ]*($1)" | wc -l
}

# --- pxed --------------------------------------------------------------------

LAB_PXED_PORT=8080
# LAB_PXED / LAB_PXECTL: run the lab against other pxed/pxectl binaries.
PXED=${LAB_PXED:-$PXED}
PXECTL=${LAB_PXECTL:-$PXECTL}

# lab_pxed_up [EXTRA_INI_LINES]: pxed in $LAB_NS_PXE with its TFTP/HTTP root
# ($LAB_ROOT) holding lab/vmlinuz and lab/initrd.gz.  Skips when pxed is not
# built.
lab_pxed_up() {
	[ -x "$PXED" ] && [ -x "$PXECTL" ] || skip "build/pxed and build/pxectl are not built"
	LAB_ROOT=$TMP/root
	mkdir -p "$LAB_ROOT/lab"
	cp "$LAB_KERNEL" "$LAB_ROOT/lab/vmlinuz"
	cp "$LAB_INITRD" "$LAB_ROOT/lab/initrd.gz"
	# SupportUnknownMachines=no unless EXTRA_INI_LINES say otherwise.
	local unk=SupportUnknownMachines=no
	case "${1:-}" in *SupportUnknownMachines*) unk= ;; esac
	cat >"$TMP/pxed.conf" <<-CONF
	[pxe]
	IsActive=yes
	$unk
	${1:-}
	[tftp]
	Root=$LAB_ROOT
	Port=69
	[http]
	Port=$LAB_PXED_PORT
	Address=
	[store]
	URL=sqlite:$TMP/pxed.db
	[log]
	Level=debug
	CONF
	ip netns exec "$LAB_NS_PXE" ip link set lo up
	start_pxed "$TMP/pxed.conf" "$LAB_NS_PXE"
}

# pxectl ARGS...: the admin CLI against the lab's pxed (output also in $TMP/pxectl.log).
pxectl() {
	echo "+ pxectl $*" >>"$TMP/pxectl.log"
	# The admin token pxed writes beside its database (TokenFile default).
	PXED_TOKEN_FILE=$TMP/api.token ip netns exec "$LAB_NS_PXE" "$PXECTL" --server "http://127.0.0.1:$LAB_PXED_PORT" "$@" 2>&1 |
		tee -a "$TMP/pxectl.log"
	return "${PIPESTATUS[0]}"
}

# lab_decisions MAC OUTCOME: how many decision lines pxed logged for MAC with
# OUTCOME (boot, local, ignore).
lab_decisions() {
	grep -aciE -- "$1, [^ ]+: $2( |$)" "$TMP/pxed.log"
}

# lab_dump: what to look at when a pxed lab test fails.
lab_dump() {
	{
		echo "--- pxed.log (last 40):"; tail -n 40 "$TMP/pxed.log" 2>/dev/null
		echo "--- pxectl events:"; pxectl events 2>&1 | tail -n 20
		echo "--- DHCP/TFTP/HTTP on the bridge:"
		tcpdump -nr "$LAB_PCAP" 'udp port 67 or udp port 68 or udp port 69 or udp port 4011 or (tcp port 8080 and tcp[tcpflags] & tcp-syn != 0)' 2>/dev/null | tail -n 30
		tcpdump -nr "$LAB_PCAP" -A 'tcp dst port 8080' 2>/dev/null | grep -av 'Flags \[' | grep -aoE '(GET|HEAD) [^ ]+' | tail -n 10
	} >&2
}

# --- whole boots (one VM at a time) -------------------------------------------

# lab_boot_marker START_CMD NAME MAC UUID LOG TOKEN: start the VM (START_CMD is
# lab_vm_bios or lab_vm_uefi), wait for the initramfs marker, check that its
# cmdline has pxedtest=TOKEN, wait for the VM to power off.  Sets LAB_BOOT_T
# (seconds from power-on to the marker) and LAB_BOOT_CMDLINE.
lab_boot_marker() {
	local start=$1 name=$2 mac=$3 uuid=$4 log=$5 token=$6
	"$start" "$name" "$mac" "$uuid" "$log"
	if ! lab_vm_wait "$log" "$LAB_MARKER cmdline=" "$LAB_BOOT_TIMEOUT"; then
		tail -c 1500 "$log" | tr -d '\033' >&2
		lab_dump
		fail "$name did not reach the deployment's initramfs ($LAB_VM_WHY)"
	fi
	LAB_BOOT_T=$((SECONDS - LAB_VM_START))
	LAB_BOOT_CMDLINE=$(lab_marker_cmdline "$log")
	case " $LAB_BOOT_CMDLINE " in
	*" pxedtest=$token "*) ;;
	*) lab_dump; fail "$name booted a kernel whose cmdline lacks pxedtest=$token: '$LAB_BOOT_CMDLINE'" ;;
	esac
	wait_for 30 eval "! kill -0 $LAB_VM_PID" || fail "$name did not power off after the marker"
	lab_vm_kill
}

# lab_boot_local START_CMD NAME MAC UUID LOG: start the VM, wait for a new
# `local` decision for MAC in pxed's log, then for the VM's local disk to
# boot (its marker on the console); fail if the deployment's initramfs
# starts or the firmware stops in its setup menu.  Sets LAB_BOOT_T (seconds
# from power-on to the disk's marker).
lab_boot_local() {
	local start=$1 name=$2 mac=$3 uuid=$4 log=$5 locals
	locals=$(lab_decisions "$mac" local)
	"$start" "$name" "$mac" "$uuid" "$log"
	wait_for "$LAB_BOOT_TIMEOUT" eval '[ "$(lab_decisions "'"$mac"'" local)" -gt '"$locals"' ]' ||
		{ tail -c 1500 "$log" | tr -d '\033' >&2; lab_dump; fail "pxed logged no local decision for $mac ($name)"; }
	lab_wait_disk "$name" "$log"
}

# lab_wait_disk NAME LOG [TIMEOUT]: the last VM started boots its local
# disk (within TIMEOUT seconds of its start, default LAB_BOOT_TIMEOUT), and
# not a deployment.  Sets LAB_BOOT_T.
lab_wait_disk() {
	local name=$1 log=$2 disk=$LAB_VM_DISK tmo=${3:-$LAB_BOOT_TIMEOUT}
	LAB_VM_DISK=
	lab_vm_wait "$log" "$disk|$LAB_MARKER" $((tmo - (SECONDS - LAB_VM_START))) || true
	LAB_VM_DISK=$disk
	LAB_BOOT_T=$((SECONDS - LAB_VM_START))
	grep -qa "$LAB_MARKER" "$log" && { lab_dump; fail "$name started a deployment instead of its local disk"; }
	grep -qa -- "$disk" "$log" ||
		{ tail -c 2000 "$log" | tr -d '\033' >&2; lab_dump; fail "$name did not boot its local disk ($LAB_VM_WHY after ${LAB_BOOT_T}s)"; }
	lab_vm_kill
}

# lab_kernel_fetches: HTTP GETs plus TFTP reads of any vmlinuz* seen so far.
lab_kernel_fetches() {
	echo $(($(lab_pcap_gets 'GET /files/lab/vmlinuz[^ ]*') + $(lab_pcap_tftp_reads 'vmlinuz')))
}

# --- the keyboard --------------------------------------------------------------

# lab_vm_monitor SOCK: the next VMs get a QEMU human monitor on unix socket SOCK.
lab_vm_monitor() {
	LAB_MON=$1
	LAB_QEMU_EXTRA=(-monitor "unix:$LAB_MON,server,nowait")
}

# lab_vm_type TEXT...: type each TEXT on the VM's PS/2 keyboard through the
# monitor (lowercase letters, digits, space, '-', '.'); the word "<ret>" is
# the Enter key, "<tab>" Tab, "<esc>" Escape, "<bs>" Backspace, "<down>" the
# down arrow.
lab_vm_type() {
	python3 - "$LAB_MON" "$@" <<-'PY'
	import socket, sys, time
	names = {" ": "spc", "-": "minus", ".": "dot", "<ret>": "ret", "<tab>": "tab", "<esc>": "esc", "<bs>": "backspace", "<down>": "down"}
	s = socket.socket(socket.AF_UNIX)
	s.connect(sys.argv[1])
	s.settimeout(0.3)
	def drain():
	    try:
	        while s.recv(4096):
	            pass
	    except OSError:
	        pass
	drain()
	for word in sys.argv[2:]:
	    keys = [names[word]] if word in names else [names.get(c, c) for c in word]
	    for k in keys:
	        s.sendall(("sendkey %s\n" % k).encode())
	        time.sleep(0.25)
	        drain()
	s.close()
	PY
}

# --- ARM64 (AAVMF) --------------------------------------------------------------

AAVMF_CODE=${AAVMF_CODE:-/usr/share/AAVMF/AAVMF_CODE.fd}
AAVMF_VARS=${AAVMF_VARS:-/usr/share/AAVMF/AAVMF_VARS.fd}

# lab_require_arm64: skip unless qemu-system-aarch64 and AAVMF are installed.
lab_require_arm64() {
	command -v qemu-system-aarch64 >/dev/null || skip "lab needs qemu-system-aarch64 (qemu-system-arm)"
	[ -r "$AAVMF_CODE" ] && [ -r "$AAVMF_VARS" ] || skip "lab needs AAVMF (qemu-efi-aarch64)"
}

# lab_assets_arm64: build/lab/arm64/{vmlinuz,initrd.gz,grub/} (cached): Debian's
# arm64 kernel, a busybox initramfs printing the marker on ttyAMA0, and the
# arm64 GRUB files (grub-efi-arm64-bin, an arm64-only package: fetched with
# apt-get download after `dpkg --add-architecture arm64`, unpacked with
# dpkg -x, never installed).
lab_assets_arm64() {
	LAB_ARM64=$LAB_DIR/arm64
	mkdir -p "$LAB_ARM64"
	(
		flock 9
		[ -s "$LAB_ARM64/vmlinuz" ] && [ -s "$LAB_ARM64/initrd.gz" ] &&
			[ -s "$LAB_ARM64/grub/arm64-efi/monolithic/grubnetaa64.efi" ] && exit 0
		_lab_arm64_fetch || exit 1
	) 9>"$LAB_DIR/.lock" || fail "lab arm64 assets could not be built"
}

_lab_arm64_fetch() {
	local work pkg deb
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 || return 1
	apt-cache show busybox-static:arm64 >/dev/null 2>&1 || apt-get update >&2 || return 1
	pkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	[ -n "$pkg" ] || { lab_log "no linux-image-arm64 dependency"; return 1; }
	pkg=${pkg%:arm64}
	work=$(mktemp -d "$LAB_DIR/arm64.XXXXXX")
	(cd "$work" && apt-get download "$pkg:arm64" busybox-static:arm64 grub-efi-arm64-bin:arm64) >&2 || return 1
	for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/x" || return 1; done
	cp "$work"/x/boot/vmlinuz-* "$LAB_ARM64/vmlinuz" || return 1
	rm -rf "$LAB_ARM64/grub"
	cp -a "$work/x/usr/lib/grub" "$LAB_ARM64/grub" || return 1
	local d=$work/initrd
	mkdir -p "$d/bin" "$d/proc" "$d/dev"
	cp "$work/x/bin/busybox" "$d/bin/busybox" || return 1
	for a in sh mount cat echo poweroff sleep; do ln -s busybox "$d/bin/$a"; done
	cat >"$d/init" <<-'INIT'
	#!/bin/sh
	export PATH=/bin
	mount -t proc proc /proc
	mount -t devtmpfs devtmpfs /dev 2>/dev/null
	line="PXED-LAB-MARKER cmdline=$(cat /proc/cmdline)"
	echo "$line" >/dev/console
	echo "$line" >/dev/ttyAMA0
	poweroff -f
	sleep 5
	INIT
	chmod 755 "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet | gzip -9) >"$LAB_ARM64/initrd.gz" || return 1
	echo "$pkg" >"$LAB_ARM64/vmlinuz.package"
	rm -rf "$work"
}

# lab_vm_arm64 NAME MAC UUID LOG: AAVMF (EDK2 for ARM64) on QEMU's virt
# machine, EDK2's own PXE on virtio-net, no disk.
lab_vm_arm64() {
	local name=$1 mac=$2 uuid=$3 log=$4 tap vars
	tap=$(_lab_tap "$name") || fail "tap for $name"
	vars=$TMP/$name-AAVMF_VARS.fd
	cp "$AAVMF_VARS" "$vars"
	: >"$log"
	ip netns exec "$LAB_NS_BR" qemu-system-aarch64 -machine virt -cpu cortex-a57 -m 512 \
		-nographic -monitor none -serial "file:$log" -no-reboot \
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$AAVMF_CODE" \
		-drive "if=pflash,format=raw,unit=1,file=$vars" \
		-fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no \
		-smbios "type=1,uuid=$uuid" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=,bootindex=1" \
		</dev/null >"$log.qemu" 2>&1 &
	LAB_VM_PID=$!
	LAB_VM_START=$SECONDS
	on_exit "lab_vm_kill $LAB_VM_PID"
	LAB_VM_FATAL='starting Boot[0-9A-Fa-f]+ "UiApp"'
	LAB_VM_DISK=
}

# lab_vm_uefi_http NAME MAC UUID LOG: OVMF that boots by UEFI HTTP boot
# first (PXE over IPv4 and IPv6 turned off), then the disk.
lab_vm_uefi_http() {
	local name=$1 mac=$2 uuid=$3 log=$4 tap
	tap=$(_lab_tap "$name") || fail "tap for $name"
	LAB_DISK_ARGS=()
	_lab_disk_args "$LAB_DISK_UEFI"
	_lab_ovmf_args "$name"
	_lab_qemu "$log" -smbios "type=1,uuid=$uuid" "${LAB_OVMF_ARGS[@]}" \
		-fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=no \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=,bootindex=1" \
		"${LAB_DISK_ARGS[@]}"
	_lab_uefi_fatal
}
