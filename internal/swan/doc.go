// Package swan runs strongSwan (charon with kernel-libipsec, driven by
// swanctl) inside a network namespace, as the independent IKEv2/ESP peer of
// esphub's interop tests (see docs/strongswan-peer.md).
//
// Each Instance has its own directory holding strongswan.conf,
// swanctl.conf, a private /run (charon's pid file path is fixed), the vici
// socket and charon.log, logged at ike = 4 / chd = 4 so that Keys can read
// the IKE and Child SA keys both sides derived. swanctl runs from the
// caller's namespace and reaches charon through the vici socket.
package swan
