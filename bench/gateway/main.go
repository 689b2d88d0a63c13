// Command gateway is the WebSocket fan-out load tool that measures a running
// Maopao gateway side by side with Centrifugo on the same scenario: N
// WebSocket connections grouped into G conversations (channels), reply
// events published through NATS at a fixed rate, and per-delivery latency,
// achieved deliveries/s, server CPU seconds per delivery and server RSS per
// idle connection measured from the outside. It starts neither server; the
// compare script (compare.sh) does, and this tool can run the NATS server
// both share (`nats` subcommand), so NATS costs land in neither server's
// CPU figures.
//
//	go run ./bench/gateway nats -addr 127.0.0.1:14222 -dir /tmp/nats
//	go run ./bench/gateway maopao -url http://127.0.0.1:18080 -nats nats://127.0.0.1:14222 -pid PID -conns 2000 -rate 5000
//	go run ./bench/gateway centrifugo -url ws://127.0.0.1:18000/connection/websocket -secret S -nats ... -pid PID ...
//	go run ./bench/gateway summary results.jsonl
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: gateway <command> [flags]

commands:
  nats        run a NATS server with JetStream until interrupted (shared by both systems)
  maopao      load a running "maopao serve" and print one JSON result line
  centrifugo  load a running Centrifugo (NATS broker in raw mode) and print one JSON result line
  summary     read JSON result lines (files or stdin) and print a markdown table of medians

run "gateway <command> -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprint(os.Stderr, usage)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "nats":
		err = runNATS(ctx, args)
	case "maopao", "centrifugo":
		err = runLoad(ctx, cmd, args)
	case "summary":
		err = runSummary(args, os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "gateway: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
