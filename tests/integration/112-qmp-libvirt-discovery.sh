#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libvirt's view of the control socket (tests/lib/libvirt_monitor.py frames
# as libvirt's monitor does: compact commands ending in CRLF, input split on
# CRLF only) and its balloon discovery: qom-list /machine/peripheral for
# balloon0 of type child<virtio-balloon-pci>, qom-set of the polling
# interval, qom-get guest-stats, query-balloon.  vballoond's bytes are
# checked literally, and against QEMU 7.2's monitor (virtio-balloon-pci,
# id balloon0) byte for byte for every reply both must give alike.  No
# guest drives the balloon: discovery comes before any driver.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond"
MON=$TOP/tests/lib/libvirt_monitor.py

vb_start_daemon --ram-size 512M || vb_fail "daemon did not start"
/usr/bin/python3 "$MON" "$VB_QMP" "$T/ours.json" || vb_fail "libvirt's discovery failed on vballoond"
# raw FILE KEY: the bytes received for KEY, with their CRLF (kept by the x).
raw() {
	local v
	v=$(jq -j --arg k "$2" '.[$k]' "$1"; printf x)
	printf '%s' "${v%x}"
}
expect() {
	[ "$(raw "$T/ours.json" "$1"; printf x)" = "$2"$'\r\nx' ] ||
		vb_fail "$1: got $(raw "$T/ours.json" "$1" | od -c | tail -n 3)"
}
expect greeting '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "vballoond"}, "capabilities": []}}'
expect libvirt-1 '{"return": {}, "id": "libvirt-1"}'
expect libvirt-2 '{"return": [{"name": "type", "type": "string"}, {"name": "balloon0", "type": "child<virtio-balloon-pci>"}], "id": "libvirt-2"}'
expect libvirt-3 '{"return": {}, "id": "libvirt-3"}'
expect libvirt-5 '{"id": "libvirt-5", "error": {"class": "DeviceNotActive", "desc": "Guest '"'balloon0'"' is not connected"}}'
expect libvirt-6 '{"return": 5, "id": "libvirt-6"}'
expect libvirt-7 '{"return": {}, "id": "libvirt-7"}'
vb_log "vballoond: libvirt's framing and discovery, byte for byte"

vb_start_qemu_monitor || vb_fail "QEMU's monitor did not start"
/usr/bin/python3 "$MON" "$VB_QEMU_QMP" "$T/qemu.json" || vb_fail "libvirt's discovery failed on QEMU"
for k in libvirt-1 libvirt-2 libvirt-3 libvirt-6 libvirt-7; do
	[ "$(raw "$T/qemu.json" $k; printf x)" = "$(raw "$T/ours.json" $k; printf x)" ] ||
		vb_fail "$k differs: QEMU $(raw "$T/qemu.json" $k) / vballoond $(raw "$T/ours.json" $k)"
done
# The greeting's shape (its version and capabilities differ, docs/qmp.md).
[ "$(jq -c '.greeting | fromjson | [keys, (.QMP | keys), (.QMP.version | keys)]' "$T/qemu.json")" = \
  "$(jq -c '.greeting | fromjson | [keys, (.QMP | keys), (.QMP.version | keys)]' "$T/ours.json")" ] ||
	vb_fail "greeting shapes differ"
vb_term_daemon
vb_log "ok: replies identical to QEMU's for libvirt-1,2,3,6,7"
