package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/maopao/maopao/bus"
)

// proc is one child process of the bench: a NATS node, the engine
// stand-in, a gateway or a world simulation. Kill is kill -9.
type proc struct {
	name  string
	bin   string
	args  []string
	ready func(ctx context.Context) error // returns once the process serves
	log   *os.File
	cmd   *exec.Cmd
	exit  chan struct{}
}

func (p *proc) start(ctx context.Context) error {
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.exit = make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) { _ = cmd.Wait(); close(exit) }(p.cmd, p.exit)
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.ready(rctx); err != nil {
		return fmt.Errorf("%s did not become ready: %w (log: %s)", p.name, err, p.log.Name())
	}
	return nil
}

// kill stops the process at once, as a crash would.
func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exit
	}
}

// stop asks the process to end and waits a while.
func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exit:
	case <-time.After(20 * time.Second):
		p.kill()
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHTTP polls url until it answers 200.
func waitHTTP(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %v", url, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// waitTCP polls addr until it accepts connections.
func waitTCP(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %v", addr, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// runNATSNode is `chaos nats`: one node of the bench's NATS cluster,
// until it is killed or told to stop.
func runNATSNode(args []string) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	name := fs.String("name", "n1", "server name")
	port := fs.Int("port", 4222, "client port")
	clusterPort := fs.Int("cluster-port", 6222, "route port")
	routes := fs.String("routes", "", "comma-separated nats-route:// URLs of the cluster")
	dir := fs.String("dir", "", "JetStream folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := bus.StartEmbeddedWith(bus.EmbeddedOptions{Name: *name, Port: *port, StoreDir: *dir,
		Cluster: "chaos", ClusterPort: *clusterPort, Routes: strings.Split(*routes, ",")})
	if err != nil {
		return err
	}
	fmt.Println("nats ready", srv.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// runEngine is `chaos engine`: an OpenAI-compatible stand-in that streams
// "heard: <the last message>" in three pieces.
func runEngine(args []string) error {
	fs := flag.NewFlagSet("engine", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"data":[{"id":"chaos"}]}`))
	})
	mux.HandleFunc("/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		last := req.Messages[len(req.Messages)-1].Content
		w.Header().Set("Content-Type", "text/event-stream")
		for _, piece := range []string{"heard", ": ", last} {
			b, _ := json.Marshal(piece)
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%s}}]}\n\n", b)
			w.(http.Flusher).Flush()
			time.Sleep(15 * time.Millisecond)
		}
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println("engine ready", ln.Addr())
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

func logFile(dir, name string) *os.File {
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		panic(err)
	}
	return f
}
