package bench

import (
	"strings"
	"testing"
)

// iperf3Golden is the shape of iperf3 3.12 -J output, trimmed to the
// fields we read plus neighbours.
const iperf3Golden = `{
	"start": {"connected": [{"socket": 5, "local_host": "198.19.111.1", "local_port": 40000, "remote_host": "198.19.112.1", "remote_port": 5201}]},
	"intervals": [],
	"end": {
		"sum_sent": {"start": 0, "end": 2.0, "seconds": 2.0, "bytes": 58982400, "bits_per_second": 235929600.0, "retransmits": 3},
		"sum_received": {"start": 0, "end": 2.04, "seconds": 2.04, "bytes": 58064896, "bits_per_second": 227705474.5}
	}
}`

func TestParseIperf3(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     float64
		err      string
	}{
		{"golden", iperf3Golden, 227.7054745, ""},
		{"error", `{"start":{},"error":"unable to connect to server: Connection refused"}`, 0, "Connection refused"},
		{"no end", `{"start":{}}`, 0, "no received throughput"},
		{"not json", `iperf3: error`, 0, "iperf3 output"},
	} {
		got, err := parseIperf3([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got < tc.want-1e-6 || got > tc.want+1e-6 {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func FuzzParseIperf3(f *testing.F) {
	f.Add([]byte(iperf3Golden))
	f.Add([]byte(`{"error":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseIperf3(b)
		if err == nil && v <= 0 {
			t.Fatalf("accepted %v Mbit/s", v)
		}
	})
}

func FuzzBatchSizes(f *testing.F) {
	for _, s := range []string{"64", "1400", "imix", "27", "1501", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, label string) {
		s, err := batchSizes(label, 12)
		if err != nil {
			return
		}
		for _, n := range s {
			if n < 28 || n > 1500 {
				t.Fatalf("%q gave size %d", label, n)
			}
		}
	})
}
