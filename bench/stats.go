package bench

import (
	"math"
	"slices"
	"time"
)

// Stat is the summary of repeated measurements: the median with the
// smallest and largest value seen.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Summarize returns the median, minimum and maximum of xs, ignoring NaNs.
// The median of an even count is the mean of the two middle values.
func Summarize(xs []float64) Stat {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Stat{}
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Stat{Median: m, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// IsZero reports whether the stat holds no measurement.
func (s Stat) IsZero() bool { return s.N == 0 }

// Sample is one run of a packet scenario.
type Sample struct {
	// Packets and Bytes are what the measuring end counted (received at
	// the sink, or processed by the engine); Bytes counts the packet sizes
	// the scenario is labelled with (the inner/offered size), so that Gbit/s
	// compares across paths.
	Packets, Bytes uint64
	// Offered is how many packets the generator sent (0 when not
	// applicable).
	Offered uint64
	Elapsed time.Duration
	// CPU is the CPU time (user+sys) of the thread(s) doing the measured
	// work; zero when not measured.
	CPU time.Duration
	// GenCPU and SinkCPU are the CPU times of the traffic generator's and
	// the sink's threads during the run (zero when there are none): CPU
	// that, on a small machine, the device under test did not get.
	GenCPU, SinkCPU time.Duration
}

// cpuPct returns d as a percentage of one core over the sample's elapsed
// time, NaN when d is zero.
func (s Sample) cpuPct(d time.Duration) float64 {
	if d == 0 || s.Elapsed <= 0 {
		return math.NaN()
	}
	return float64(d) / float64(s.Elapsed) * 100
}

// PPS returns packets per second.
func (s Sample) PPS() float64 { return float64(s.Packets) / s.Elapsed.Seconds() }

// Gbps returns gigabits per second of Bytes.
func (s Sample) Gbps() float64 { return float64(s.Bytes) * 8 / s.Elapsed.Seconds() / 1e9 }

// CPUPerPacket returns nanoseconds of CPU per packet, NaN when unmeasured.
func (s Sample) CPUPerPacket() float64 {
	if s.CPU == 0 || s.Packets == 0 {
		return math.NaN()
	}
	return float64(s.CPU.Nanoseconds()) / float64(s.Packets)
}

// Loss returns the fraction of offered packets that did not arrive, NaN when
// nothing was offered.
func (s Sample) Loss() float64 {
	if s.Offered == 0 {
		return math.NaN()
	}
	return 1 - float64(s.Packets)/float64(s.Offered)
}

// PacketResult summarizes samples into a Result for one path and size.
func PacketResult(scenario int, path, size string, samples []Sample) Result {
	r := Result{Scenario: scenario, Path: path, Size: size, Runs: len(samples)}
	var pps, gbps, cpu, off, loss, gen, sink []float64
	for _, s := range samples {
		if s.Elapsed <= 0 {
			continue
		}
		pps = append(pps, s.PPS())
		gbps = append(gbps, s.Gbps())
		cpu = append(cpu, s.CPUPerPacket())
		gen = append(gen, s.cpuPct(s.GenCPU))
		sink = append(sink, s.cpuPct(s.SinkCPU))
		if s.Offered > 0 {
			off = append(off, float64(s.Offered)/s.Elapsed.Seconds())
			loss = append(loss, s.Loss()*100)
		}
	}
	r.PPS, r.Gbps, r.CPUNsPerPkt = Summarize(pps), Summarize(gbps), Summarize(cpu)
	r.OfferedPPS, r.LossPct = Summarize(off), Summarize(loss)
	r.GenCPUPct, r.SinkCPUPct = Summarize(gen), Summarize(sink)
	return r
}
