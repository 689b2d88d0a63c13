package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cluster is every process of the bench but the store.
type cluster struct {
	nats        []*proc
	natsURLs    string
	engine      *proc
	gateways    []*proc
	gatewayURLs []string
	worldsims   []*proc
}

func startCluster(ctx context.Context, dir, self, maopaoBin, storeURI string) (*cluster, error) {
	cl := &cluster{}
	ports, routePorts := make([]int, 3), make([]int, 3)
	var routes, urls []string
	for i := range 3 {
		ports[i], routePorts[i] = freePort(), freePort()
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[i]))
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	cl.natsURLs = strings.Join(urls, ",")
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		cl.nats = append(cl.nats, &proc{name: name, bin: self, log: logFile(dir, name),
			args: []string{"nats", "-name", name, "-port", fmt.Sprint(ports[i]), "-cluster-port", fmt.Sprint(routePorts[i]),
				"-routes", strings.Join(routes, ","), "-dir", filepath.Join(dir, name)},
			ready: waitTCP(fmt.Sprintf("127.0.0.1:%d", ports[i]))})
	}
	enginePort := freePort()
	engineURL := fmt.Sprintf("http://127.0.0.1:%d", enginePort)
	cl.engine = &proc{name: "engine", bin: self, log: logFile(dir, "engine"),
		args: []string{"engine", "-addr", fmt.Sprintf("127.0.0.1:%d", enginePort)}, ready: waitHTTP(engineURL + "/health")}
	for i := range 2 {
		name := fmt.Sprintf("worldsim-%d", i+1)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort())
		cl.worldsims = append(cl.worldsims, &proc{name: name, bin: maopaoBin, log: logFile(dir, name),
			args: []string{"worldsim", "--nats", cl.natsURLs, "--mongo", storeURI, "--llm-url", engineURL,
				"--addr", addr, "--data", filepath.Join(dir, name)},
			ready: waitHTTP("http://" + addr + "/readyz")})
	}
	for i := range 2 {
		name := fmt.Sprintf("gateway-%d", i+1)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort())
		cl.gatewayURLs = append(cl.gatewayURLs, "http://"+addr)
		cl.gateways = append(cl.gateways, &proc{name: name, bin: maopaoBin, log: logFile(dir, name),
			args: []string{"gateway", "--nats", cl.natsURLs, "--mongo", storeURI, "--addr", addr, "--data", filepath.Join(dir, name),
				"--lines-per-second", "50", "--line-burst", "50"},
			ready: waitHTTP("http://" + addr + "/readyz")})
	}
	// The NATS nodes start together: each waits for the others' routes.
	for _, p := range cl.nats {
		if err := p.start(ctx); err != nil {
			cl.stopAll()
			return nil, err
		}
	}
	for _, p := range append(append([]*proc{cl.engine}, cl.worldsims...), cl.gateways...) {
		if err := p.start(ctx); err != nil {
			cl.stopAll()
			return nil, err
		}
	}
	return cl, nil
}

func (cl *cluster) stopAll() {
	for _, group := range [][]*proc{cl.gateways, cl.worldsims, {cl.engine}, cl.nats} {
		for _, p := range group {
			if p != nil {
				p.stop()
				p.log.Close()
			}
		}
	}
}

// inflict kills a part every c.every, in the order of c.faults, keeps it
// down for c.down, starts it again and measures how long until every
// player had a reply again. It returns when c.duration is over.
func (cl *cluster) inflict(ctx context.Context, c config, started time.Time, run *players) []Fault {
	var out []Fault
	end := started.Add(c.duration)
	for i := 0; len(c.faults) > 0 && time.Now().Add(c.every).Before(end); i++ {
		time.Sleep(c.every)
		var p *proc
		switch c.faults[i%len(c.faults)] {
		case "worldsim":
			p = cl.worldsims[i%len(cl.worldsims)]
		case "gateway":
			p = cl.gateways[i%len(cl.gateways)]
		case "nats":
			p = cl.nats[i%len(cl.nats)]
		case "engine":
			p = cl.engine
		}
		at := time.Now()
		fmt.Fprintf(os.Stderr, "chaos: kill -9 %s at %.1fs\n", p.name, at.Sub(started).Seconds())
		p.kill()
		time.Sleep(c.down)
		if err := p.start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: restart %s: %v\n", p.name, err)
		}
		f := Fault{Kill: p.name, AtS: at.Sub(started).Seconds(), RecoveryS: -1}
		if back, ok := run.recoveredAfter(at, 90*time.Second); ok {
			f.RecoveryS = back.Sub(at).Seconds()
		}
		fmt.Fprintf(os.Stderr, "chaos: lines flow again %.1fs after the kill of %s\n", f.RecoveryS, p.name)
		out = append(out, f)
	}
	if d := time.Until(end); d > 0 {
		time.Sleep(d)
	}
	return out
}
