package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/maopao/maopao/bus"
)

// runNATS runs a NATS server with JetStream (Maopao declares its input
// stream on start) in this process until ctx ends. Running it apart from
// both servers keeps the NATS routing work out of their CPU figures.
func runNATS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:14222", "host:port to listen on")
	dir := fs.String("dir", "", "JetStream storage folder (default: a new temporary folder, removed on exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, portText, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("nats -addr %q: %w", *addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("nats -addr %q: bad port", *addr)
	}
	storeDir := *dir
	if storeDir == "" {
		if storeDir, err = os.MkdirTemp("", "bench-nats-"); err != nil {
			return err
		}
		defer os.RemoveAll(storeDir)
	}
	srv, err := bus.StartEmbeddedWith(bus.EmbeddedOptions{Host: host, Port: port, StoreDir: storeDir})
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	fmt.Printf("nats ready url=%s pid=%d\n", srv.URL(), os.Getpid())
	<-ctx.Done()
	srv.Shutdown()
	return nil
}
