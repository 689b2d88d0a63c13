package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/maopao/maopao/bus"
)

// Bounds every run keeps: the machine is shared, and one server process
// holds at most ~19.9k sockets anyway.
const (
	maxConns    = 2000
	maxDuration = 30 * time.Second
	payloadSize = 128 // bytes of each event on NATS, the same for both systems
)

type loadConfig struct {
	system   string
	url      string
	natsURL  string
	pid      int
	conns    int
	rooms    int
	rate     float64
	duration time.Duration
	idle     time.Duration
	drain    time.Duration
	par      int
	scenario string
	secret   string
	metrics  string
}

func parseLoadFlags(system string, args []string) (loadConfig, error) {
	c := loadConfig{system: system}
	fs := flag.NewFlagSet(system, flag.ContinueOnError)
	defURL := "http://127.0.0.1:18080"
	if system == "centrifugo" {
		defURL = "ws://127.0.0.1:18000/connection/websocket"
	}
	fs.StringVar(&c.url, "url", defURL, "server URL (maopao: base http URL; centrifugo: its WebSocket endpoint)")
	fs.StringVar(&c.natsURL, "nats", "nats://127.0.0.1:14222", "NATS URL the server listens to; events are published here")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for CPU (/proc/PID/stat) and RSS (/proc/PID/status); 0 skips both")
	fs.IntVar(&c.conns, "conns", 2000, "WebSocket connections (at most 2000)")
	fs.IntVar(&c.rooms, "rooms", 0, "conversations/channels shared by conns/rooms connections each; 0 gives every connection its own")
	fs.Float64Var(&c.rate, "rate", 5000, "deliveries per second in total (events published per second = rate / connections per room); 0 measures idle memory only")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long events are published (at most 30s)")
	fs.DurationVar(&c.idle, "idle", 3*time.Second, "wait after the last connection is set up before reading RSS")
	fs.DurationVar(&c.drain, "drain", 2*time.Second, "wait after the last publish for deliveries still in flight")
	fs.IntVar(&c.par, "setup-par", 32, "connections set up concurrently")
	fs.StringVar(&c.scenario, "scenario", "", "label copied into the result line")
	fs.StringVar(&c.metrics, "metrics", "", "the server's Prometheus URL with Go runtime metrics, for goroutines and heap/stack per connection (\"\" skips)")
	if system == "centrifugo" {
		fs.StringVar(&c.secret, "secret", "", "HMAC secret of the Centrifugo config (client.token.hmac_secret_key)")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.conns < 1 || c.conns > maxConns:
		return c, fmt.Errorf("-conns %d: want 1..%d", c.conns, maxConns)
	case c.rooms < 0 || (c.rooms > 0 && c.conns%c.rooms != 0):
		return c, fmt.Errorf("-rooms %d: must be 0 or divide -conns %d", c.rooms, c.conns)
	case c.rate < 0:
		return c, fmt.Errorf("-rate %v: must not be negative", c.rate)
	case c.duration <= 0 || c.duration > maxDuration:
		return c, fmt.Errorf("-duration %v: want more than 0 and at most %v", c.duration, maxDuration)
	case c.par < 1:
		return c, fmt.Errorf("-setup-par %d: want at least 1", c.par)
	case system == "centrifugo" && c.secret == "":
		return c, errors.New("-secret is required: the HMAC secret from the Centrifugo config")
	}
	return c, nil
}

func (c loadConfig) groups() int {
	if c.rooms == 0 {
		return c.conns
	}
	return c.rooms
}

// target is one system under test: it prepares what connections need and
// sets up one connection subscribed to a group's conversation or channel.
type target interface {
	prepare(ctx context.Context, groups int) error
	// dial returns a connection ready to receive the group's events, the
	// NATS subject they are published on, and a 36-character id written
	// into the event (so events have the same size for both systems).
	dial(ctx context.Context, i, group int) (ws *websocket.Conn, subject, eventID string, err error)
	// pingReply answers a server keepalive frame, or is nil when the
	// WebSocket library answers the server's pings itself.
	pingReply(frame []byte) []byte
}

// Result is one run, printed as one JSON line.
type Result struct {
	System       string    `json:"system"`
	Scenario     string    `json:"scenario"`
	At           time.Time `json:"at"`
	Load1        float64   `json:"load1"` // 1-minute load average before the run: other work on the machine
	Conns        int       `json:"conns"`
	Groups       int       `json:"groups"`
	TargetRate   float64   `json:"target_deliveries_per_s"`
	DurationS    float64   `json:"duration_s"`
	ConnectPerS  float64   `json:"connect_per_s"`
	RSSBaseKB    int64     `json:"rss_base_kb"`
	RSSConnKB    int64     `json:"rss_conn_kb"`
	RSSPerConnKB float64   `json:"rss_per_conn_kb"`
	GoroutinesPC float64   `json:"goroutines_per_conn,omitempty"`
	HeapKBPC     float64   `json:"heap_inuse_per_conn_kb,omitempty"`
	StackKBPC    float64   `json:"stack_inuse_per_conn_kb,omitempty"`
	IdleCPUPct   float64   `json:"idle_cpu_pct"` // server CPU while the connections sit idle, % of one core
	Published    int64     `json:"published"`
	Expected     int64     `json:"expected"`
	Delivered    int64     `json:"delivered"`
	DeliveriesPS float64   `json:"deliveries_per_s"`
	P50ms        float64   `json:"p50_ms"`
	P90ms        float64   `json:"p90_ms"`
	P99ms        float64   `json:"p99_ms"`
	MaxMs        float64   `json:"max_ms"`
	CPUSeconds   float64   `json:"cpu_s"`
	CPUusPerDel  float64   `json:"cpu_us_per_delivery"`
	Closed       int64     `json:"closed_during_run"` // connections the server closed while measuring
}

type client struct {
	ws    *websocket.Conn
	group int
	lat   []uint32 // microseconds, only while measuring
}

func runLoad(ctx context.Context, system string, args []string) error {
	cfg, err := parseLoadFlags(system, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var t target
	if system == "maopao" {
		t = &maopaoTarget{base: cfg.url, rooms: cfg.rooms > 0, http: &http.Client{Timeout: 10 * time.Second}}
	} else {
		t = &centrifugoTarget{url: cfg.url, secret: []byte(cfg.secret)}
	}
	res, err := measure(ctx, cfg, t)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	fmt.Fprintf(os.Stderr, "%s %s: %d conns/%d groups, connect %.0f/s, %.1f KB/conn, %.0f deliveries/s of %.0f, p50 %.2f p99 %.2f max %.1f ms, %.1f µs CPU/delivery, load %.1f\n",
		res.System, res.Scenario, res.Conns, res.Groups, res.ConnectPerS, res.RSSPerConnKB, res.DeliveriesPS, res.TargetRate,
		res.P50ms, res.P99ms, res.MaxMs, res.CPUusPerDel, res.Load1)
	return nil
}

func measure(ctx context.Context, cfg loadConfig, t target) (Result, error) {
	res := Result{System: cfg.system, Scenario: cfg.scenario, At: time.Now().UTC(), Conns: cfg.conns, Groups: cfg.groups(), TargetRate: cfg.rate}
	res.Load1, _ = loadAvg()
	groups := cfg.groups()
	if err := t.prepare(ctx, groups); err != nil {
		return res, err
	}
	if cfg.pid > 0 {
		kb, err := rssKB(cfg.pid)
		if err != nil {
			return res, err
		}
		res.RSSBaseKB = kb
	}
	var rt0 goRuntime
	if cfg.metrics != "" {
		var err error
		if rt0, err = scrapeRuntime(ctx, cfg.metrics); err != nil {
			return res, err
		}
	}

	clients := make([]*client, cfg.conns)
	subjects := make([]string, groups)
	eventIDs := make([]string, groups)
	var measuring atomic.Bool
	var closed atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.ws.Close()
			}
		}
		wg.Wait()
	}()

	start := time.Now()
	// Rooms: the first connection of each group goes first, so the rest
	// join a conversation that already exists.
	order := make([]int, 0, cfg.conns)
	for i := 0; i < cfg.conns; i++ {
		if i < groups {
			order = append(order, i)
		}
	}
	var mu sync.Mutex
	setup := func(idx []int) error {
		sem := make(chan struct{}, cfg.par)
		errc := make(chan error, len(idx))
		var swg sync.WaitGroup
		for _, i := range idx {
			sem <- struct{}{}
			swg.Add(1)
			go func(i int) {
				defer func() { <-sem; swg.Done() }()
				g := i % groups
				ws, subj, id, err := t.dial(ctx, i, g)
				if err != nil {
					errc <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				c := &client{ws: ws, group: g}
				mu.Lock()
				clients[i] = c
				switch {
				case subjects[g] == "":
					subjects[g], eventIDs[g] = subj, id
				case subjects[g] != subj:
					mu.Unlock()
					errc <- fmt.Errorf("connection %d of group %d got subject %s, the group's first got %s: the room is not shared", i, g, subj, subjects[g])
					return
				}
				mu.Unlock()
				wg.Add(1)
				go func() { defer wg.Done(); c.read(t, &measuring, &closed) }()
			}(i)
		}
		swg.Wait()
		close(errc)
		return <-errc // the first error, if any
	}
	if err := setup(order); err != nil {
		return res, err
	}
	rest := make([]int, 0, cfg.conns-groups)
	for i := groups; i < cfg.conns; i++ {
		rest = append(rest, i)
	}
	if err := setup(rest); err != nil {
		return res, err
	}
	res.ConnectPerS = float64(cfg.conns) / time.Since(start).Seconds()

	var idleCPU0 float64
	if cfg.pid > 0 {
		var err error
		if idleCPU0, err = cpuSeconds(cfg.pid); err != nil {
			return res, err
		}
	}
	if err := sleep(ctx, cfg.idle); err != nil {
		return res, err
	}
	if cfg.pid > 0 {
		cpu, err := cpuSeconds(cfg.pid)
		if err != nil {
			return res, err
		}
		res.IdleCPUPct = (cpu - idleCPU0) / cfg.idle.Seconds() * 100
		kb, err := rssKB(cfg.pid)
		if err != nil {
			return res, err
		}
		res.RSSConnKB = kb
		res.RSSPerConnKB = float64(kb-res.RSSBaseKB) / float64(cfg.conns)
	}
	if cfg.metrics != "" {
		rt1, err := scrapeRuntime(ctx, cfg.metrics)
		if err != nil {
			return res, err
		}
		n := float64(cfg.conns)
		res.GoroutinesPC = (rt1.goroutines - rt0.goroutines) / n
		res.HeapKBPC = (rt1.heapInuse - rt0.heapInuse) / 1024 / n
		res.StackKBPC = (rt1.stackInuse - rt0.stackInuse) / 1024 / n
	}
	if cfg.rate == 0 {
		return res, nil
	}

	nc, err := bus.Connect(cfg.natsURL, "bench-gateway-publisher", nil)
	if err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	defer nc.Close()
	perGroup := float64(cfg.conns / groups)
	var cpu0 float64
	if cfg.pid > 0 {
		if cpu0, err = cpuSeconds(cfg.pid); err != nil {
			return res, err
		}
	}
	measuring.Store(true)
	pubStart := time.Now()
	published, err := publish(ctx, nc, subjects, eventIDs, cfg.rate/perGroup, cfg.duration)
	pubDur := time.Since(pubStart)
	if err != nil {
		return res, err
	}
	if err := sleep(ctx, cfg.drain); err != nil {
		return res, err
	}
	measuring.Store(false)
	if cfg.pid > 0 {
		cpu1, err := cpuSeconds(cfg.pid)
		if err != nil {
			return res, err
		}
		res.CPUSeconds = cpu1 - cpu0
	}
	res.Closed = closed.Load()
	res.DurationS = pubDur.Seconds()
	res.Published = published
	res.Expected = published * int64(perGroup)

	// The readers may still be appending; take the samples only once they
	// have stopped counting (measuring is false, so no new appends start,
	// and the lock in read makes the hand-over safe).
	var all []uint32
	for _, c := range clients {
		all = append(all, c.samples()...)
	}
	res.Delivered = int64(len(all))
	res.DeliveriesPS = float64(len(all)) / pubDur.Seconds()
	if len(all) > 0 {
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		res.P50ms = float64(percentile(all, 50)) / 1000
		res.P90ms = float64(percentile(all, 90)) / 1000
		res.P99ms = float64(percentile(all, 99)) / 1000
		res.MaxMs = float64(all[len(all)-1]) / 1000
		res.CPUusPerDel = res.CPUSeconds * 1e6 / float64(len(all))
	}
	return res, nil
}

var clientMu sync.Mutex // guards every client's lat; contention is negligible next to a socket read

func (c *client) samples() []uint32 {
	clientMu.Lock()
	defer clientMu.Unlock()
	return c.lat
}

func (c *client) read(t target, measuring *atomic.Bool, closed *atomic.Int64) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if measuring.Load() {
				closed.Add(1)
			}
			return
		}
		if r := t.pingReply(data); r != nil {
			_ = c.ws.WriteMessage(websocket.TextMessage, r)
		}
		if !measuring.Load() {
			continue
		}
		now := time.Now().UnixNano()
		clientMu.Lock()
		scanStamps(data, func(sent int64) {
			d := (now - sent) / 1000
			if d < 0 {
				d = 0
			}
			c.lat = append(c.lat, uint32(min(d, 1<<32-1)))
		})
		clientMu.Unlock()
	}
}

// percentile of sorted values by the nearest-rank method.
func percentile(sorted []uint32, p float64) uint32 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// publish sends events round-robin over the subjects at msgRate per second
// for dur, each stamped with its send time, and returns how many it sent.
func publish(ctx context.Context, nc bus.PubSub, subjects, eventIDs []string, msgRate float64, dur time.Duration) (int64, error) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var sent int64
	buf := make([]byte, 0, 2*payloadSize)
	for {
		elapsed := time.Since(start)
		if elapsed >= dur {
			break
		}
		due := int64(elapsed.Seconds() * msgRate)
		for ; sent < due; sent++ {
			g := int(sent % int64(len(subjects)))
			buf = appendEvent(buf[:0], eventIDs[g], sent, time.Now().UnixNano())
			if err := nc.Publish(subjects[g], buf); err != nil {
				return sent, fmt.Errorf("publish to %s: %w", subjects[g], err)
			}
		}
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-tick.C:
		}
	}
	return sent, nc.Flush(ctx)
}

// appendEvent appends a protocol.ReplyEvent of kind delta, padded to
// payloadSize bytes, whose text carries the send time as "@T<ns>@".
func appendEvent(b []byte, convID string, seq, ns int64) []byte {
	start := len(b)
	b = append(b, `{"kind":"delta","conversation_id":"`...)
	b = append(b, convID...)
	b = append(b, `","seq":`...)
	b = strconv.AppendInt(b, seq%1000000, 10)
	b = append(b, `,"text":"@T`...)
	b = strconv.AppendInt(b, ns, 10)
	b = append(b, '@')
	for len(b)-start < payloadSize-2 {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// scanStamps calls f with every "@T<ns>@" send time in a frame; a frame may
// batch several events (Centrifugo joins pushes with newlines).
func scanStamps(frame []byte, f func(ns int64)) int {
	n := 0
	for i := 0; i+2 < len(frame); i++ {
		if frame[i] != '@' || frame[i+1] != 'T' {
			continue
		}
		j := i + 2
		var v int64
		overflow := false
		for j < len(frame) && frame[j] >= '0' && frame[j] <= '9' {
			d := int64(frame[j] - '0')
			if v > (math.MaxInt64-d)/10 {
				overflow = true
			}
			v = v*10 + d
			j++
		}
		if overflow || j == i+2 || j >= len(frame) || frame[j] != '@' {
			continue
		}
		f(v)
		n++
		i = j
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
