package xdp

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// WriteText renders the status as `esphubctl show dataplane` prints it:
// the backend and why, the interfaces, one line per queue, the steering
// verdicts and the drop reasons (only non-zero counters, sorted by name).
func (s Status) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Dataplane backend: %s\n", s.Backend)
	if s.Reason != "" {
		fmt.Fprintf(tw, "  Selected because: %s\n", s.Reason)
	}
	f := s.Features
	fmt.Fprintf(tw, "  CPU: AES-NI %s, PCLMULQDQ %s, AVX2 %s, VAES %s\n", yesNo(f.AESNI), yesNo(f.PCLMULQDQ), yesNo(f.AVX2), yesNo(f.VAES))
	if len(s.Interfaces) > 0 {
		fmt.Fprintf(tw, "\nInterface\tRole\tXDP mode\tVRF\n")
		for _, i := range s.Interfaces {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", i.Name, i.Role, i.XDPMode, i.VRF)
		}
	}
	if len(s.Queues) > 0 {
		fmt.Fprintf(tw, "\nQueue\tCPU\tZC\tRx WAN\tRx LAN\tTx WAN\tTx LAN\tTo kernel\tPunted\tDropped\tHanded off\tFrames used\n")
		for _, q := range s.Queues {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", q.Queue, q.CPU, yesNo(q.ZeroCopy),
				q.RxWAN, q.RxLAN, q.TxWAN, q.TxLAN, q.ToKernel, q.Punted, q.Dropped, q.HandedOff, q.FramesInUse)
		}
	}
	if len(s.Verdicts) > 0 {
		fmt.Fprintf(tw, "\nSteering verdict\tPackets\tBytes\n")
		for _, name := range sortedKeys(s.Verdicts) {
			if c := s.Verdicts[name]; c.Packets != 0 {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", name, c.Packets, c.Bytes)
			}
		}
	}
	drops := map[string]uint64{}
	for k, v := range s.Drops {
		drops[k] = v
	}
	for _, q := range s.Queues {
		for name, v := range map[string]uint64{"not-ip": q.NotIP, "tx-ring-full": q.TXRingFull, "handoff-full": q.HandoffFull,
			"no-frame": q.NoFrame, "ttl-expired": q.TTLExpired, "socket-rx-dropped": q.KernelRxDrop} {
			drops[name] += v
		}
	}
	fmt.Fprintf(tw, "\nDrop reason\tPackets\n")
	any := false
	for _, name := range sortedKeys(drops) {
		if drops[name] != 0 {
			fmt.Fprintf(tw, "%s\t%d\n", name, drops[name])
			any = true
		}
	}
	if !any {
		fmt.Fprintf(tw, "(none)\t\n")
	}
	if s.Backend == NameAFXDP {
		fmt.Fprintf(tw, "\nKernel path: %d packets, %d errors; neighbour cache %d entries, %d refreshes\n",
			s.KernelPath, s.KernelPathError, s.Neighbours, s.NeighbourRefreshes)
		fmt.Fprintf(tw, "Control packets dropped (control plane lagging): %d\n", s.PuntDropped)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
