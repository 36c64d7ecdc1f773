// Package bench is esphub's throughput and scale benchmark: the scenarios of
// issue 9, the references measured in the same run (the AES-GCM crypto
// ceiling, the AF_XDP I/O ceiling, strongSwan's kernel-libipsec), our own
// AF_XDP traffic generator, and the report (Markdown table, JSON, PNG plot).
//
// The devices under test are esphub's own code without the daemon's process
// around it: the packet engine in process; the AF_XDP backend (dataplane/xdp,
// 1 or 2 workers, frames processed in place in UMEM) and the portable backend
// in lab namespaces between our generator and sink; esphubd's control process
// (control.Daemon) as the FlexVPN hub of scenario 6. Scenario 7 runs the
// esphubd binary itself (internal/s2s). Decrypting paths run with anti-replay
// on: the generator seals every packet just before sending it.
//
// Scenarios return Results; a Report collects them with the machine's facts
// and renders them. The Markdown report opens with a summary of headline
// figures (WriteSummary), which is also what the README shows: ReplaceSummary
// puts it between the README's markers (esphub-bench -readme, make
// bench-readme), from the newest full report (LatestFullReport). Every packet-rate figure is the median of Options.Runs
// runs with the minimum and maximum beside it. CPU per packet is the CPU time
// of the thread doing the work (getrusage RUSAGE_THREAD, user+sys) divided by
// the packets it handled, so that other load on a shared machine does not
// inflate it; for a backend whose workers are not the measuring thread, it
// is the process's CPU minus the generator's and the sink's threads, whose
// own CPU each packet row reports too (percent of a core: what the device
// under test did not get on a small machine). Kernel
// work charged to other threads (softirq on the peer's CPU) is not in it.
//
// The package never exits or parses flags; cmd/esphub-bench does. Functions
// that build namespaces need root and Linux, and say so in their errors.
package bench
