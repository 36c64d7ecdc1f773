// Package ike is esphub's IKEv2 protocol engine (RFC 7296).
//
// The engine knows nothing of configuration files or the dataplane. It asks
// its caller for policy through [Policy] (proposals, identities, pre-shared
// keys, traffic selectors, profile match) and reports what it negotiates
// through [SAInstaller] (Child SAs with their keys) and [Events] (IKE and Child
// SAs coming up and going down, with reasons).
//
// Structure, modelled on strongSwan's libcharon sa/ikev2 layout:
//
//   - [Engine] owns every IKE SA of a daemon. One goroutine (Run) owns all
//     protocol state: received datagrams, timers and API calls are events
//     that this goroutine processes one at a time, so no SA needs a lock.
//   - Each exchange an SA starts is a task (initTask, authTask,
//     childCreateTask, childRekeyTask, ikeRekeyTask, deleteTask, dpdTask)
//     whose role is fixed when it is built. Requests from the peer are
//     answered by the responder half (respond*.go).
//   - Each IKE SA has a request window (msgwindow.go): message IDs, the
//     retransmission timer with exponential back-off, the cached responses
//     that duplicate requests get again, and the peer's SET_WINDOW_SIZE.
package ike
