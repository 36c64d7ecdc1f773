// Package bench is esphub's throughput and scale benchmark: the scenarios of
// issue 9, the references measured in the same run (the AES-GCM crypto
// ceiling, the AF_XDP I/O ceiling, strongSwan's kernel-libipsec), our own
// AF_XDP traffic generator, and the report (Markdown table, JSON, PNG plot).
//
// Scenarios return Results; a Report collects them with the machine's facts
// and renders them. Every packet-rate figure is the median of Config.Runs runs
// with the minimum and maximum beside it. CPU per packet is the CPU time of
// the thread doing the work (getrusage RUSAGE_THREAD, user+sys) divided by
// the packets it handled, so that other load on a shared machine does not
// inflate it; kernel work charged to other threads (softirq on the peer's CPU)
// is not in it.
//
// The package never exits or parses flags; cmd/esphub-bench does. Functions
// that build namespaces need root and Linux, and say so in their errors.
package bench
