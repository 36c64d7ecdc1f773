package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Machine describes where a benchmark ran.
type Machine struct {
	Hostname      string   `json:"hostname"`
	CPUModel      string   `json:"cpu_model"`
	LogicalCores  int      `json:"logical_cores"`
	PhysicalCores int      `json:"physical_cores"`
	GOMAXPROCS    int      `json:"gomaxprocs"`
	Flags         []string `json:"cpu_flags"`
	// RelevantFlags are the flags that decide crypto and copy speed
	// (AES-NI, VAES, PCLMULQDQ, AVX2, AVX-512), for the summary table.
	RelevantFlags []string `json:"relevant_flags"`
	Kernel        string   `json:"kernel"`
	GoVersion     string   `json:"go_version"`
	GOOS          string   `json:"goos"`
	GOARCH        string   `json:"goarch"`
	// LoadStart and LoadEnd are /proc/loadavg's three averages at the start
	// and end of the run: other load on the machine shows here.
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

// relevantFlags are looked up by name in cpuid's feature list.
var relevantFlags = []string{"AESNI", "VAES", "PCLMULQDQ", "VPCLMULQDQ", "AVX", "AVX2", "AVX512F", "SHA", "BMI2"}

// CollectMachine gathers the facts of the running machine.
func CollectMachine() Machine {
	host, _ := os.Hostname()
	m := Machine{
		Hostname:      host,
		CPUModel:      cpuid.CPU.BrandName,
		LogicalCores:  runtime.NumCPU(),
		PhysicalCores: cpuid.CPU.PhysicalCores,
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		Flags:         cpuid.CPU.FeatureSet(),
		Kernel:        kernelRelease(),
		GoVersion:     runtime.Version(),
		GOOS:          runtime.GOOS,
		GOARCH:        runtime.GOARCH,
		LoadStart:     LoadAverage(),
	}
	if m.CPUModel == "" {
		m.CPUModel = "unknown"
	}
	for _, f := range relevantFlags {
		for _, have := range m.Flags {
			if have == f {
				m.RelevantFlags = append(m.RelevantFlags, f)
			}
		}
	}
	return m
}

// Shared reports whether the one-minute load average at the start or end
// exceeded the number of cores, i.e. other work competed with the benchmark.
func (m Machine) Shared() bool {
	for _, s := range []string{m.LoadStart, m.LoadEnd} {
		f := strings.Fields(s)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil && v > float64(m.LogicalCores) {
			return true
		}
	}
	return false
}

// LoadAverage returns the first three fields of /proc/loadavg, or "" when
// it cannot be read (not Linux).
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return strings.TrimSpace(string(b))
}
