#!/bin/bash
# lab-seconds: 52 (alone, on an idle 2-core machine; the runner starts the longest first)
# Lab harness self-test, independent of pxed: dnsmasq plays the PXE server
# (ProxyDHCP + TFTP) and busybox httpd serves the iPXE script, kernel and
# initramfs.  Proves that the namespaces, the site DHCP server, the BIOS
# (SeaBIOS + iPXE ROM) and UEFI (OVMF, EDK2 PXE -> snponly.efi -> iPXE) VMs
# work here, so that a failing pxed lab test points at pxed.
# LAB_ONLY=bios|uefi runs one of the two.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lablib.sh"
lab_require
lab_assets
lab_net_up

www=$TMP/www
mkdir -p "$www"
cp "$LAB_KERNEL" "$www/vmlinuz"
cp "$LAB_INITRD" "$www/initrd.gz"
cp "$IPXE_DIR/undionly.kpxe" "$www/undionly.0"
cp "$IPXE_DIR/snponly.efi" "$www/snponly.efi"
token=harness$$
# initrd= names the initrd for the kernel's EFI stub (iPXE 1.0.0 on UEFI); harmless on BIOS.
cat >"$www/boot.ipxe" <<EOF
#!ipxe
kernel http://$LAB_PXE_ADDR:8080/vmlinuz initrd=initrd.gz console=ttyS0 pxedtest=$token
initrd http://$LAB_PXE_ADDR:8080/initrd.gz
boot
EOF

ip netns exec "$LAB_NS_PXE" busybox httpd -f -vv -p "$LAB_PXE_ADDR:8080" -h "$www" >"$TMP/httpd.log" 2>&1 &
on_exit "kill $!"
ip netns exec "$LAB_NS_PXE" dnsmasq --no-daemon --conf-file=/dev/null --pid-file= \
	--user=root --port=0 --interface=eth0 --bind-interfaces --log-dhcp \
	--dhcp-range=10.77.0.0,proxy --enable-tftp --tftp-root="$www" \
	--dhcp-userclass=set:ipxe,iPXE \
	--pxe-service=tag:!ipxe,x86PC,"lab",undionly \
	--pxe-service=tag:!ipxe,x86-64_EFI,"lab",snponly.efi \
	--pxe-service=tag:ipxe,x86PC,"lab",http://$LAB_PXE_ADDR:8080/boot.ipxe \
	--pxe-service=tag:ipxe,x86-64_EFI,"lab",http://$LAB_PXE_ADDR:8080/boot.ipxe \
	>"$TMP/proxy.log" 2>&1 &
on_exit "kill $!"
wait_for 5 grep -q "TFTP root" "$TMP/proxy.log" || { cat "$TMP/proxy.log" >&2; fail "proxy dnsmasq did not start"; }

run() { # run KIND
	local kind=$1 log=$TMP/$1.log
	"lab_vm_$kind" "vm$kind" 52:54:00:77:00:0$([ "$kind" = bios ] && echo 1 || echo 2) \
		"11111111-2222-3333-4444-55555555550$([ "$kind" = bios ] && echo 1 || echo 2)" "$log"
	if ! lab_vm_wait "$log" "$LAB_MARKER cmdline=" "$LAB_BOOT_TIMEOUT"; then
		tail -c 2000 "$log" >&2
		fail "$kind VM did not reach the marker ($LAB_VM_WHY, ${LAB_BOOT_TIMEOUT}s max)"
	fi
	local t=$((SECONDS - LAB_VM_START)) cl
	cl=$(lab_marker_cmdline "$log")
	case " $cl " in *" pxedtest=$token "*) ;; *) fail "$kind cmdline lacks pxedtest=$token: $cl" ;; esac
	wait_for 20 eval "! kill -0 $LAB_VM_PID" || fail "$kind VM did not power off"
	pass "$kind VM booted the kernel via dnsmasq in ${t}s: $cl"
}
[ "${LAB_ONLY:-bios}" = bios ] && run bios
[ "${LAB_ONLY:-uefi}" = uefi ] && run uefi
exit 0
