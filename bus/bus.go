// Package bus is Maopao's adapter for NATS: it runs the embedded NATS server
// (with JetStream, stored in the data folder) when no external one is given,
// connects clients, and declares the JetStream streams the platform needs.
// Subjects and message shapes live in package protocol, not here.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maopao/maopao/protocol"
)

// Embedded is a NATS server running inside this process.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream storing its data under
// dir. It listens on a random loopback port so that other processes on
// the machine (and tests) can connect with URL.
func StartEmbedded(dir string) (*Embedded, error) {
	jsDir := filepath.Join(dir, "nats")
	if err := os.MkdirAll(jsDir, 0o700); err != nil {
		return nil, fmt.Errorf("bus: create JetStream folder: %w", err)
	}
	opts := &server.Options{
		ServerName: "maopao-embedded",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   jsDir,
		NoSigs:     true,
		NoLog:      true,
		// The JetStream store must not be shared by two processes; the
		// data-folder lock in package app makes sure it is not.
		MaxPayload: 1 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: configure embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("bus: embedded NATS did not become ready within 10s")
	}
	return &Embedded{srv: srv}, nil
}

// URL is the client URL of the embedded server.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Connect opens a client connection that keeps reconnecting forever, which
// is what a long-running role wants when the NATS cluster restarts.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	if log == nil {
		log = slog.Default()
	}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}

// EnsureStreams declares the platform's JetStream streams, creating or
// updating them so that every role can call it at start-up.
func EnsureStreams(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        protocol.InputStream,
		Description: "accepted player messages waiting for a world simulation",
		Subjects:    []string{protocol.InputSubjects},
		Storage:     jetstream.FileStorage,
		// Work-queue retention: a line leaves the stream once a world
		// simulation has answered it and acked.
		Retention:  jetstream.WorkQueuePolicy,
		Duplicates: 2 * time.Minute,
		MaxAge:     7 * 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("bus: declare stream %s: %w", protocol.InputStream, err)
	}
	return nil
}

// ChatConsumer returns the durable pull consumer that world simulations
// share for chat lines.
func ChatConsumer(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, protocol.InputStream, jetstream.ConsumerConfig{
		Durable:       protocol.ChatWorkerConsumer,
		FilterSubject: protocol.ChatInputSubject("*"),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: declare consumer %s: %w", protocol.ChatWorkerConsumer, err)
	}
	return c, nil
}

// EnsureWorldLog declares the stream holding every world's input log. It
// keeps entries by limits, not work-queue: a new owner reads a world's log
// from its latest snapshot on, and owners purge what snapshots cover.
func EnsureWorldLog(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        protocol.WorldLogStream,
		Description: "every input of every world, in order",
		Subjects:    []string{protocol.WorldLogSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  2 * time.Minute,
		MaxAge:      30 * 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: declare stream %s: %w", protocol.WorldLogStream, err)
	}
	return st, nil
}
