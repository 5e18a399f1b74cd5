#!/bin/sh
# Install the Debian packages pxed needs to build (and, with --test, to run
# its whole test suite), only those missing.  Debian 12, as root.
set -eu
# One package a line (merges stay easy).
BUILD_PKGS="
	make
	gcc
	pkg-config
	libsqlite3-dev
	libpq-dev
	libmicrohttpd-dev
	libgnutls28-dev
	libjansson-dev
	libinih-dev
	libcurl4-gnutls-dev
	libcrypt-dev
	ipxe
	python3
"
TEST_PKGS="
	libcmocka-dev
	clang
	libclang-rt-14-dev
	openssl
	sqlite3
	postgresql
	curl
	atftp
	tftp-hpa
	busybox-static
	iproute2
	dnsmasq-base
	tcpdump
	qemu-system-x86
	ipxe-qemu
	ovmf
	cpio
	gnutls-bin
	python3
	grub-efi-amd64-bin
	dosfstools
	mtools
	fdisk
	debhelper
	dpkg-dev
	fakeroot
	lintian
	man-db
	groff-base
	systemd
	systemd-container
	chromium
	chromium-driver
	python3-selenium
	shim-signed
	grub-efi-amd64-signed
	sbsigntool
	qemu-system-arm
	qemu-efi-aarch64
"
pkgs="$BUILD_PKGS"
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
