package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/maopao/maopao/protocol"
)

func TestEventIsAReplyEventOfFixedSize(t *testing.T) {
	for _, id := range []string{"3f1c2a9e-9a7b-4c1d-8e2f-0123456789ab", eventID(1999)} {
		b := appendEvent(nil, id, 123456789, 1732838400123456789)
		if len(b) != payloadSize {
			t.Fatalf("event is %d bytes, want %d: %s", len(b), payloadSize, b)
		}
		var ev protocol.ReplyEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("event is not a ReplyEvent: %v: %s", err, b)
		}
		if ev.Kind != protocol.EventDelta || ev.ConversationID != id || !strings.HasPrefix(ev.Text, "@T1732838400123456789@") {
			t.Fatalf("event %+v does not carry the delta, id and stamp", ev)
		}
	}
}

func TestScanStampsFindsEveryBatchedStamp(t *testing.T) {
	a := appendEvent(nil, eventID(1), 1, 1000)
	b := appendEvent(nil, eventID(2), 2, 2000)
	frame := []byte(`{"push":{"channel":"bench.g1","pub":{"data":` + string(a) + `}}}` + "\n" +
		`{"push":{"channel":"bench.g2","pub":{"data":` + string(b) + `}}}`)
	var got []int64
	if n := scanStamps(frame, func(ns int64) { got = append(got, ns) }); n != 2 || len(got) != 2 || got[0] != 1000 || got[1] != 2000 {
		t.Fatalf("scanStamps found %d: %v, want [1000 2000]", n, got)
	}
	for _, bad := range []string{"", "@T", "@T@", "@T12", "@Tx@", "@T12x@", "@T99999999999999999999999@", "T12@"} {
		if n := scanStamps([]byte(bad), func(int64) {}); n != 0 {
			t.Errorf("scanStamps(%q) found %d stamps, want none", bad, n)
		}
	}
}

func FuzzScanStamps(f *testing.F) {
	f.Add(appendEvent(nil, eventID(0), 0, 1732838400123456789))
	f.Add([]byte("@T1@@T2@\n{}"))
	f.Add([]byte("@T@T@T"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		n := scanStamps(frame, func(ns int64) {
			if ns < 0 {
				t.Fatalf("negative stamp %d from %q", ns, frame)
			}
		})
		if n > bytes.Count(frame, []byte("@T")) {
			t.Fatalf("%d stamps from %d markers", n, bytes.Count(frame, []byte("@T")))
		}
	})
}

func TestPercentileNearestRank(t *testing.T) {
	v := make([]uint32, 100)
	for i := range v {
		v[i] = uint32(i + 1)
	}
	for _, c := range []struct {
		p    float64
		want uint32
	}{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {0, 1}} {
		if got := percentile(v, c.p); got != c.want {
			t.Errorf("p%v = %d, want %d", c.p, got, c.want)
		}
	}
	if got := percentile([]uint32{7}, 99); got != 7 {
		t.Errorf("p99 of one = %d, want 7", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of none = %d, want 0", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (we ird) nam) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1000 1000000 2000 18446744073709551615\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil || got != 3.25 {
		t.Fatalf("parseStatCPU = %v, %v; want 3.25 s (325 ticks)", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 ten 12 13"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) gave no error", bad)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS([]byte("Name:\tmaopao\nVmHWM:\t  9000 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n"))
	if err != nil || got != 51234 {
		t.Fatalf("parseVmRSS = %d, %v; want 51234", got, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tmany kB\n"} {
		if _, err := parseVmRSS([]byte(bad)); err == nil {
			t.Errorf("parseVmRSS(%q) gave no error", bad)
		}
	}
}

func TestCentrifugoPingReply(t *testing.T) {
	c := &centrifugoTarget{}
	if r := c.pingReply([]byte("{}")); string(r) != "{}" {
		t.Errorf("ping frame answered with %q, want {}", r)
	}
	if r := c.pingReply([]byte(`{"push":{}}` + "\n{}")); string(r) != "{}" {
		t.Errorf("batched ping answered with %q, want {}", r)
	}
	if r := c.pingReply([]byte(`{"push":{"channel":"x"}}`)); r != nil {
		t.Errorf("push answered with %q, want nothing", r)
	}
}

func TestSummaryMediansAndRatio(t *testing.T) {
	var rs []Result
	for i, p50 := range []float64{1, 3, 2} {
		rs = append(rs, Result{System: "maopao", Scenario: "s", TargetRate: 1, P50ms: p50, RSSPerConnKB: float64(10 * (i + 1))})
		rs = append(rs, Result{System: "centrifugo", Scenario: "s", TargetRate: 1, P50ms: p50 * 2, RSSPerConnKB: 40})
	}
	var b strings.Builder
	if err := writeSummary(&b, rs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| latency p50, ms | 2.00 | 4.00 | 0.50 |", "| RSS per connection, KB | 20.0 | 40.0 | 0.50 |", "| runs | 3 | 3 | — |"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestLoadFlagsAreBounded(t *testing.T) {
	for _, args := range [][]string{{"-conns", "2001"}, {"-duration", "31s"}, {"-conns", "100", "-rooms", "3"}, {"-rate", "-1"}} {
		if _, err := parseLoadFlags("maopao", args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if _, err := parseLoadFlags("centrifugo", nil); err == nil {
		t.Error("centrifugo without -secret accepted")
	}
	c, err := parseLoadFlags("maopao", []string{"-conns", "2000", "-rooms", "20"})
	if err != nil || c.groups() != 20 {
		t.Fatalf("2000 conns in 20 rooms: groups %d, err %v", c.groups(), err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 4021\ngo_memstats_heap_inuse_bytes 1.2e+07\n" +
		"go_gc_duration_seconds{quantile=\"0\"} 1e-05\ngo_memstats_stack_inuse_bytes 3.2768e+06\n"
	v, err := parseMetrics(strings.NewReader(text), runtimeMetrics)
	if err != nil || v[0] != 4021 || v[1] != 1.2e7 || v[2] != 3.2768e6 {
		t.Fatalf("parseMetrics = %v, %v", v, err)
	}
	for _, bad := range []string{"go_goroutines 1\n", "go_goroutines\ngo_memstats_heap_inuse_bytes 1\ngo_memstats_stack_inuse_bytes 1\n", "go_goroutines many\n"} {
		if _, err := parseMetrics(strings.NewReader(bad), runtimeMetrics); err == nil {
			t.Errorf("parseMetrics(%q) gave no error", bad)
		}
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add("go_goroutines 1\ngo_memstats_heap_inuse_bytes 2\ngo_memstats_stack_inuse_bytes 3\n")
	f.Add("# x\n\n go_goroutines NaN")
	f.Fuzz(func(t *testing.T, text string) {
		v, err := parseMetrics(strings.NewReader(text), runtimeMetrics)
		if err == nil && len(v) != len(runtimeMetrics) {
			t.Fatalf("%d values for %d names", len(v), len(runtimeMetrics))
		}
	})
}
