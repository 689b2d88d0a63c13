// Command chaos runs the scaled-out platform on loopback (a 3-node NATS
// cluster, a MongoDB-wire store, two gateways, two world simulations and an
// engine stand-in, each its own process but the store) with players sending
// numbered lines, kills -9 one part after another while they do, restarts
// it, and checks from the store that every accepted line was stored once,
// in order, and answered once.
//
//	go run ./bench/chaos -rate 20 -duration 90s -out chaos.json
//
// The store is FerretDB (SQLite) embedded in this process: it is the one
// part not killed. The JSON summary says what was accepted, lost,
// duplicated, reordered and left unanswered, and per fault how long until
// lines flowed again; the exit status is 1 on any loss, duplicate, reorder
// or unanswered line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage/mongo"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "nats" {
		err = runNATSNode(os.Args[2:])
	} else if len(os.Args) > 1 && os.Args[1] == "engine" {
		err = runEngine(os.Args[2:])
	} else {
		var ok bool
		ok, err = runChaos(os.Args[1:])
		if err == nil && !ok {
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
}

type config struct {
	rate     float64
	players  int
	duration time.Duration
	faults   []string
	every    time.Duration
	down     time.Duration
	out      string
	maopao   string
	keep     bool
}

// Summary is what the bench writes to -out.
type Summary struct {
	Players    int       `json:"players"`
	Rate       float64   `json:"rate"`
	DurationS  float64   `json:"duration_s"`
	DrainS     float64   `json:"drain_s"` // after the players stopped, until every accepted line was taken
	Accepted   int       `json:"accepted"`
	Lost       int       `json:"lost"`
	Duplicated int       `json:"duplicated"`
	Reordered  int       `json:"reordered"`
	Unanswered int       `json:"unanswered"`
	Faults     []Fault   `json:"faults"`
	Problems   []string  `json:"problems,omitempty"`
	Finished   time.Time `json:"finished"`
}

// Fault is one kill: which part, when (seconds into the run), and how long
// until every player had a reply again.
type Fault struct {
	Kill      string  `json:"kill"`
	AtS       float64 `json:"at_s"`
	RecoveryS float64 `json:"recovery_s"`
}

func runChaos(args []string) (bool, error) {
	var c config
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.Float64Var(&c.rate, "rate", 20, "lines per second over all players (an upper bound: a player waits for each reply)")
	fs.IntVar(&c.players, "players", 10, "players, one conversation each (at most 20: guest sessions are rate limited per address)")
	fs.DurationVar(&c.duration, "duration", 90*time.Second, "how long players send lines")
	faults := fs.String("faults", "worldsim,gateway,nats,engine", "what to kill -9, in turn (worldsim, gateway, nats, engine); empty for none")
	fs.DurationVar(&c.every, "every", 15*time.Second, "time between faults")
	fs.DurationVar(&c.down, "down", 4*time.Second, "how long a killed part stays down")
	fs.StringVar(&c.out, "out", "", "file for the JSON summary (default: stdout)")
	fs.StringVar(&c.maopao, "maopao", "", "maopao binary (default: go build ./cmd/maopao)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working folder (logs, data)")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if c.players < 1 || c.players > 20 {
		return false, errors.New("-players must be 1 to 20")
	}
	for _, f := range strings.Split(*faults, ",") {
		if f = strings.TrimSpace(f); f != "" {
			if !slices.Contains([]string{"worldsim", "gateway", "nats", "engine"}, f) {
				return false, fmt.Errorf("-faults: unknown part %q", f)
			}
			c.faults = append(c.faults, f)
		}
	}
	dir, err := os.MkdirTemp("", "maopao-chaos-")
	if err != nil {
		return false, err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	fmt.Fprintln(os.Stderr, "chaos: working in", dir)
	ctx := context.Background()

	if c.maopao == "" {
		c.maopao = filepath.Join(dir, "maopao")
		build := exec.Command("go", "build", "-o", c.maopao, "./cmd/maopao")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return false, fmt.Errorf("build maopao (run from the repository root): %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}
	storeURI, stopStore, err := startStore(ctx, dir)
	if err != nil {
		return false, err
	}
	defer stopStore()

	cl, err := startCluster(ctx, dir, self, c.maopao, storeURI)
	if err != nil {
		return false, err
	}
	defer cl.stopAll()

	started := time.Now()
	run := newPlayers(cl, c)
	if err := run.start(ctx); err != nil {
		return false, err
	}
	sum := Summary{Players: c.players, Rate: c.rate}
	sum.Faults = cl.inflict(ctx, c, started, run)
	run.stop()
	sum.DurationS = time.Since(started).Seconds()
	// Lines accepted faster than this machine answers them wait in the
	// stream: the check is of what was answered, so it waits for the
	// stream to empty first.
	drained := time.Now()
	if err := waitDrained(ctx, cl.natsURLs, 10*time.Minute); err != nil {
		sum.Problems = append(sum.Problems, err.Error())
	}
	sum.DrainS = time.Since(drained).Seconds()

	st, err := mongo.Open(ctx, storeURI, "")
	if err != nil {
		return false, err
	}
	defer st.Close(ctx)
	check(ctx, st, run, &sum)
	sum.Finished = time.Now().UTC()
	b, _ := json.MarshalIndent(sum, "", "  ")
	if c.out == "" {
		fmt.Println(string(b))
	} else if err := os.WriteFile(c.out, append(b, '\n'), 0o644); err != nil {
		return false, err
	}
	ok := sum.Lost == 0 && sum.Duplicated == 0 && sum.Reordered == 0 && sum.Unanswered == 0
	fmt.Fprintf(os.Stderr, "chaos: accepted %d, lost %d, duplicated %d, reordered %d, unanswered %d\n",
		sum.Accepted, sum.Lost, sum.Duplicated, sum.Reordered, sum.Unanswered)
	return ok, nil
}

// waitDrained waits until the input stream holds no line.
func waitDrained(ctx context.Context, natsURLs string, limit time.Duration) error {
	nc, err := bus.Connect(natsURLs, "chaos-check", slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer nc.Close()
	deadline := time.Now().Add(limit)
	for {
		n, err := nc.Len(ctx, protocol.InputStream)
		if err == nil && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the input stream still holds %d lines (%v) %v after the players stopped", n, err, limit)
		}
		time.Sleep(time.Second)
	}
}

// startStore runs FerretDB (SQLite) in this process and returns its URI.
func startStore(ctx context.Context, dir string) (string, func(), error) {
	sqlite := filepath.Join(dir, "store") + "/"
	if err := os.MkdirAll(sqlite, 0o700); err != nil {
		return "", nil, err
	}
	f, err := ferretdb.New(&ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger: slog.New(slog.DiscardHandler), Handler: "sqlite", SQLiteURL: "file:" + sqlite})
	if err != nil {
		return "", nil, fmt.Errorf("start FerretDB: %w", err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = f.Run(fctx); close(done) }()
	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		cancel()
		return "", nil, err
	}
	u.Path = "/maopao_chaos"
	return u.String(), func() { cancel(); <-done }, nil
}

// check reads every player's conversation from the store.
func check(ctx context.Context, st *mongo.Store, run *players, sum *Summary) {
	// Replies may still be on their way: wait for them a while.
	deadline := time.Now().Add(2 * time.Minute)
	for _, p := range run.all {
		sum.Accepted += p.accepted()
		for {
			msgs, err := st.RecentMessages(ctx, p.conv, 0)
			if err != nil {
				sum.Problems = append(sum.Problems, fmt.Sprintf("%s: read conversation: %v", p.name, err))
				break
			}
			v := verify(p, msgs)
			if v.unanswered == 0 && v.lost == 0 || time.Now().After(deadline) {
				sum.Lost += v.lost
				sum.Duplicated += v.duplicated
				sum.Reordered += v.reordered
				sum.Unanswered += v.unanswered
				sum.Problems = append(sum.Problems, v.problems...)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

type verdict struct {
	lost, duplicated, reordered, unanswered int
	problems                                []string
}

// verify compares what player p had accepted with its conversation: each
// accepted line stored once, in the order sent, and answered once.
func verify(p *player, msgs []maopao.Message) verdict {
	var v verdict
	seen := map[int]int{}
	replies := map[string]int{}
	last := 0
	for _, m := range msgs {
		if m.Role == maopao.RoleCharacter && m.ReplyTo != "" {
			replies[m.ReplyTo]++
		}
	}
	for _, m := range msgs {
		if m.Role != maopao.RoleUser {
			continue
		}
		n, ok := p.lineNumber(m.Content)
		if !ok {
			continue
		}
		seen[n]++
		if seen[n] > 1 {
			v.duplicated++
			v.problems = append(v.problems, fmt.Sprintf("%s: line %d stored %d times", p.name, n, seen[n]))
			continue
		}
		if n < last {
			v.reordered++
			v.problems = append(v.problems, fmt.Sprintf("%s: line %d stored after line %d", p.name, n, last))
		}
		last = max(last, n)
		switch replies[m.ID] {
		case 0:
			v.unanswered++
		case 1:
		default:
			v.duplicated++
			v.problems = append(v.problems, fmt.Sprintf("%s: line %d answered %d times", p.name, n, replies[m.ID]))
		}
	}
	for _, n := range p.acceptedLines() {
		if seen[n] == 0 {
			v.lost++
			v.problems = append(v.problems, fmt.Sprintf("%s: accepted line %d is not stored", p.name, n))
		}
	}
	return v
}

// lockedTimes is a list of times shared by goroutines.
type lockedTimes struct {
	mu sync.Mutex
	t  []time.Time
}

func (l *lockedTimes) add(t time.Time) {
	l.mu.Lock()
	l.t = append(l.t, t)
	l.mu.Unlock()
}

// firstAfter is the first time at or after t, or the zero time.
func (l *lockedTimes) firstAfter(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.t {
		if !x.Before(t) {
			return x
		}
	}
	return time.Time{}
}
