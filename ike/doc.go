// Package ike is esphub's IKEv2 protocol engine (RFC 7296).
//
// The engine knows nothing of configuration files or the dataplane. It asks
// its caller for policy through [Policy] (responder proposals, profile match
// by identity) and [Profile] (identities, pre-shared keys, Child SA policy,
// lifetimes, liveness, NAT keepalives, configuration payloads), and reports what it negotiates through
// [SAInstaller] (Child SAs with their keys, SPIs, selectors and UDP
// encapsulation) and Config.OnEvent ([Event]: IKE and Child SAs up, down and
// rekeyed, unknown vendor IDs).
//
// Use:
//
//	tr, _ := transport.ListenUDP(transport.UDPConfig{Addrs: addrs})
//	e, _ := ike.New(ike.Config{Transport: tr, Policy: p, Installer: dp, OnEvent: ev, Logger: log})
//	go e.Run(ctx)
//	info, err := e.Initiate(ctx, ike.InitiateRequest{Local: l, Remote: r, Profile: prof})
//	e.RekeyChildSA / RekeyIKESA / CreateChildSA / DeleteChildSA / DeleteIKESA / CheckLiveness
//	e.IKESAs(ctx) and e.Stats() for show commands and metrics
//
// Structure, modelled on strongSwan's libcharon sa/ikev2 layout:
//
//   - [Engine] owns every IKE SA of a daemon. One goroutine (Run) owns all
//     protocol state: received datagrams, timers and API calls are events
//     that this goroutine processes one at a time, so no SA needs a lock.
//     IKE SAs are found by our SPI; IKE_SA_INIT requests by (peer, SPIi).
//   - Each exchange we start is a task whose role (initiator) is fixed by
//     its type: initTask (with the COOKIE and INVALID_KE_PAYLOAD rounds),
//     authTask (PSK, first Child SA, configuration payload), childCreateTask,
//     childRekeyTask, ikeRekeyTask, deleteIKETask, deleteChildTask, dpdTask.
//     Requests from the peer are answered by the responder half
//     (handleInitRequest, respondAuth, respondCreateChild,
//     respondInformational).
//   - Each IKE SA has a request window (msg.go): message IDs, the
//     retransmission timer with exponential back-off, the peer's
//     SET_WINDOW_SIZE, and the cached responses that duplicate requests get
//     again (kept briefly after the SA is gone, for a lost Delete answer).
//   - Simultaneous Child SA and IKE SA rekeys are resolved by the lowest
//     nonce (RFC 7296 §2.8.1, §2.8.2): the redundant SA is deleted by the
//     initiator of the exchange that made it, the loser never deletes the
//     winner's SA or the old one, a peer's Delete of the old SA during our
//     rekey makes ours redundant, and an SA replaced by the peer's rekey
//     refuses further rekeys (TEMPORARY_FAILURE) until the peer deletes it
//     (or, after two retransmission cycles, we do). Lifetime rekeys the
//     peer refuses are retried after a random pause; requests queued
//     behind an IKE SA rekey move to the new IKE SA.
//   - index.go indexes the SAs by peer address and identity and the Child
//     SAs by inbound SPI, so an IKE_AUTH costs the same with 50,000
//     sessions as with one.
//   - NAT-T (RFC 7296 §2.23, RFC 3948): NAT detection hashes, the move to
//     port 4500, following the peer's address when it sits behind a NAT,
//     keepalives through [KeepaliveSender], and ChildSA.UDPEncap.
//   - Extensions, each in its own file: IKE fragmentation, RFC 7383
//     (frag.go: Config.Fragmentation, FragmentMTU); cookies with a
//     rotating secret and call admission control (cookie.go:
//     CookieThreshold, MaxSAs, MaxHalfOpen, MaxHalfOpenPerSource,
//     MaxInNegotiationOutgoing); dead peer detection per profile,
//     periodic or on-demand, fed by [Engine.ReportTraffic] (dpd.go);
//     redirect, RFC 5685, as gateway through [Redirector] and as client
//     with Config.FollowRedirects (redirect.go); certificate
//     authentication with package pki and ike/sig (certauth.go:
//     Profile.LocalCredential, Trustpoint, CertificateMap).
//
// The engine never logs keys or pre-shared keys, compares AUTH payloads in
// constant time, and counts every dropped datagram by reason ([Counter])
// instead of logging it.
package ike
