package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Embedded is a NATS server running inside this process.
type Embedded struct {
	srv *server.Server
}

// EmbeddedOptions says where an embedded server listens and stores.
type EmbeddedOptions struct {
	// Host and Port to listen on (default: a random loopback port, so
	// that other processes on the machine and tests can connect with URL).
	Host string
	Port int
	// StoreDir holds JetStream's files. It must not be shared by two
	// processes; the data-folder lock in package app makes sure of that.
	StoreDir string
	// Log lets the server log to stderr (it is quiet by default).
	Log bool
	// Name names the server (default "maopao-embedded"); the servers of a
	// cluster need names of their own.
	Name string
	// Cluster, when set, joins the server to the cluster of that name: it
	// listens for routes on ClusterPort (127.0.0.1) and dials Routes
	// (nats-route://host:port).
	Cluster     string
	ClusterPort int
	Routes      []string
}

// StartEmbedded starts a NATS server with JetStream storing its data under
// dir/nats, listening on a random loopback port.
func StartEmbedded(dir string) (*Embedded, error) {
	return StartEmbeddedWith(EmbeddedOptions{StoreDir: filepath.Join(dir, "nats")})
}

// StartEmbeddedWith starts a NATS server with JetStream as o says.
func StartEmbeddedWith(o EmbeddedOptions) (*Embedded, error) {
	if err := os.MkdirAll(o.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("bus: create JetStream folder: %w", err)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	if o.Name == "" {
		o.Name = "maopao-embedded"
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      !o.Log,
		MaxPayload: 1 << 20,
	}
	if o.Cluster != "" {
		opts.Cluster = server.ClusterOpts{Name: o.Cluster, Host: "127.0.0.1", Port: o.ClusterPort}
		opts.Routes = server.RoutesFromStr(strings.Join(o.Routes, ","))
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: configure embedded NATS: %w", err)
	}
	if o.Log {
		srv.ConfigureLogger()
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: embedded NATS did not become ready on %s:%d within 10s", o.Host, o.Port)
	}
	return &Embedded{srv: srv}, nil
}

// StartEmbeddedCluster starts n servers with JetStream in one cluster on
// loopback, storing under dir/<name>, and waits until JetStream has a
// leader. For tests and the chaos bench: a real cluster in one process.
func StartEmbeddedCluster(dir string, n int) ([]*Embedded, error) {
	ports := make([]int, n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var out []*Embedded
	for i := range n {
		name := fmt.Sprintf("maopao-%d", i+1)
		e, err := StartEmbeddedWith(EmbeddedOptions{StoreDir: filepath.Join(dir, name), Name: name,
			Cluster: "maopao", ClusterPort: ports[i], Routes: routes})
		if err != nil {
			for _, s := range out {
				s.Shutdown()
			}
			return nil, err
		}
		out = append(out, e)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, e := range out {
		for !e.srv.JetStreamIsLeader() && !e.srv.JetStreamIsCurrent() {
			if time.Now().After(deadline) {
				for _, s := range out {
					s.Shutdown()
				}
				return nil, errors.New("bus: the embedded cluster's JetStream found no leader within 30s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return out, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bus: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the client URL of the embedded server.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// NATS is the Bus over a NATS connection with JetStream.
type NATS struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
	streams  sync.Map // name → jetstream.Stream, looked up once
}

// stream returns the handle of a declared stream; the lookup is a request
// to the server, so it is made once per name.
func (n *NATS) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if st, ok := n.streams.Load(name); ok {
		return st.(jetstream.Stream), nil
	}
	st, err := n.js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	n.streams.Store(name, st)
	return st, nil
}

// SetReplicas sets how many servers keep a copy of every stream and
// bucket this connection declares (0 or 1: one copy). A stream declared
// with more than one waits for a quorum of them on every append, so an
// accepted line survives the loss of a server.
func (n *NATS) SetReplicas(r int) { n.replicas = r }

// ClusterSize is how many servers this connection knows of: the one it
// talks to and the others of its cluster.
func (n *NATS) ClusterSize() int { return max(len(n.nc.Servers()), 1) }

// AutoReplicas is the replica count for a cluster of size servers: three
// copies where there are three servers or more, else one.
func AutoReplicas(size int) int {
	if size >= 3 {
		return 3
	}
	return 1
}

var _ Bus = (*NATS)(nil)

// Connect opens a client connection that keeps reconnecting forever, which
// is what a long-running role wants when the NATS cluster restarts.
func Connect(url, name string, log *slog.Logger) (*NATS, error) {
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
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: JetStream at %s: %w", url, err)
	}
	return &NATS{nc: nc, js: js}, nil
}

// Drain lets the subscriptions finish what they hold, then closes.
func (n *NATS) Drain() error { return n.nc.Drain() }

// Close closes the connection at once.
func (n *NATS) Close() { n.nc.Close() }

func (n *NATS) Publish(subject string, data []byte) error {
	return n.nc.Publish(subject, data)
}

func (n *NATS) PublishRequest(subject, reply string, data []byte) error {
	return n.nc.PublishRequest(subject, reply, data)
}

func (n *NATS) Subscribe(subject string, h Handler) (Subscription, error) {
	return n.nc.Subscribe(subject, func(m *nats.Msg) { h(fromNATS(m)) })
}

func (n *NATS) QueueSubscribe(subject, queue string, h Handler) (Subscription, error) {
	return n.nc.QueueSubscribe(subject, queue, func(m *nats.Msg) { h(fromNATS(m)) })
}

func (n *NATS) Request(ctx context.Context, subject string, data []byte) (Msg, error) {
	m, err := n.nc.RequestWithContext(ctx, subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return Msg{}, fmt.Errorf("bus: request %s: %w", subject, ErrNoResponders)
	}
	if err != nil {
		return Msg{}, fmt.Errorf("bus: request %s: %w", subject, err)
	}
	return fromNATS(m), nil
}

func (n *NATS) NewInbox() string  { return n.nc.NewInbox() }
func (n *NATS) MaxPayload() int64 { return n.nc.MaxPayload() }
func (n *NATS) Connected() bool   { return n.nc.IsConnected() }

func (n *NATS) Flush(ctx context.Context) error {
	return n.nc.FlushWithContext(ctx)
}

// fromNATS reads NATS's "no responders" status, which the server sends to
// a request's inbox when nobody subscribes to the request subject.
func fromNATS(m *nats.Msg) Msg {
	return Msg{Subject: m.Subject, Reply: m.Reply, Data: m.Data,
		NoResponders: len(m.Data) == 0 && m.Header.Get("Status") == "503"}
}

func (n *NATS) DeclareStream(ctx context.Context, cfg StreamConfig) error {
	sc := jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: cfg.Description,
		Subjects:    cfg.Subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  cfg.Duplicates,
		MaxAge:      cfg.MaxAge,
		Replicas:    max(n.replicas, 1),
	}
	if cfg.WorkQueue {
		sc.Retention = jetstream.WorkQueuePolicy
	}
	// Every role declares the streams it uses when it starts. Updating a
	// stream while a consumer of it is being created races inside the
	// NATS server (its file store reads the config unlocked), so a stream
	// that already has this configuration is left alone.
	if st, err := n.js.Stream(ctx, cfg.Name); err == nil {
		if info, err := st.Info(ctx); err == nil && sameStream(info.Config, sc) {
			return nil
		}
	}
	_, err := n.js.CreateOrUpdateStream(ctx, sc)
	return err
}

func sameStream(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention && have.Storage == want.Storage &&
		have.Duplicates == want.Duplicates && have.MaxAge == want.MaxAge && have.Replicas == want.Replicas
}

func (n *NATS) Append(ctx context.Context, subject, id string, data []byte) (uint64, error) {
	m := &nats.Msg{Subject: subject, Data: data}
	if id != "" {
		m.Header = nats.Header{nats.MsgIdHdr: []string{id}}
	}
	ack, err := n.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("bus: append to %s: %w", subject, err)
	}
	return ack.Sequence, nil
}

func (n *NATS) Consume(ctx context.Context, stream string, cfg ConsumerConfig, h func(Delivery)) (<-chan struct{}, error) {
	cons, err := n.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: declare consumer %s: %w", cfg.Durable, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { h(natsDelivery{m}) },
		jetstream.PullMaxMessages(256),
		// Fetch errors while NATS restarts are retried by the client;
		// nobody can act on them here.
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) {}))
	if err != nil {
		return nil, fmt.Errorf("bus: consume %s: %w", cfg.Durable, err)
	}
	done := make(chan struct{})
	go func() {
		<-ctx.Done()
		// Drain, not Stop: what the client fetched already still reaches
		// h, which can hand it back at once rather than leave it to time
		// out (and come after newer entries).
		cc.Drain()
		select {
		case <-cc.Closed():
		case <-time.After(10 * time.Second):
			cc.Stop()
		}
		close(done)
	}()
	return done, nil
}

type natsDelivery struct{ m jetstream.Msg }

func (d natsDelivery) Seq() uint64 {
	meta, err := d.m.Metadata()
	if err != nil {
		return 0
	}
	return meta.Sequence.Stream
}

func (d natsDelivery) Redelivered() bool {
	meta, err := d.m.Metadata()
	return err == nil && meta.NumDelivered > 1
}

func (d natsDelivery) Subject() string               { return d.m.Subject() }
func (d natsDelivery) Data() []byte                  { return d.m.Data() }
func (d natsDelivery) Ack(ctx context.Context) error { return d.m.DoubleAck(ctx) }
func (d natsDelivery) Nak(delay time.Duration) error { return d.m.NakWithDelay(delay) }
func (d natsDelivery) InProgress() error             { return d.m.InProgress() }
func (d natsDelivery) Term() error                   { return d.m.Term() }

func (n *NATS) Read(ctx context.Context, stream, subject string, from uint64) (<-chan Entry, error) {
	st, err := n.stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("bus: read %s: %w", stream, err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    max(from, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("bus: read %s from %d: %w", subject, from, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("bus: read %s from %d: %w", subject, from, err)
	}
	out := make(chan Entry)
	go func() {
		defer close(out)
		defer msgs.Stop()
		stop := context.AfterFunc(ctx, msgs.Stop)
		defer stop()
		for {
			m, err := msgs.Next()
			if err != nil {
				return
			}
			meta, err := m.Metadata()
			if err != nil {
				return
			}
			select {
			case out <- Entry{Seq: meta.Sequence.Stream, Subject: m.Subject(), Data: m.Data()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (n *NATS) Purge(ctx context.Context, stream, subject string, before uint64) error {
	st, err := n.stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("bus: purge %s: %w", stream, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(before)); err != nil {
		return fmt.Errorf("bus: purge %s below %d: %w", subject, before, err)
	}
	return nil
}

func (n *NATS) Len(ctx context.Context, stream string) (uint64, error) {
	st, err := n.stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	return info.State.Msgs, nil
}

func (n *NATS) OpenKV(ctx context.Context, bucket string, ttl time.Duration) (KV, error) {
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   bucket,
		TTL:      ttl,
		History:  1,
		Storage:  jetstream.FileStorage,
		Replicas: max(n.replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("bus: open bucket %s: %w", bucket, err)
	}
	return natsKV{kv}, nil
}

type natsKV struct{ kv jetstream.KeyValue }

func (k natsKV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := k.kv.Create(ctx, key, value)
	return rev, kvErr(err, ErrKeyExists)
}

func (k natsKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	next, err := k.kv.Update(ctx, key, value, rev)
	return next, kvErr(err, ErrWrongRevision)
}

func (k natsKV) Delete(ctx context.Context, key string, rev uint64) error {
	return kvErr(k.kv.Delete(ctx, key, jetstream.LastRevision(rev)), ErrWrongRevision)
}

func (k natsKV) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := k.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, kvErr(err, ErrWrongRevision)
	}
	return e.Value(), e.Revision(), nil
}

func (k natsKV) Keys(ctx context.Context) ([]string, error) {
	keys, err := k.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	return keys, err
}

// kvErr maps JetStream's key-value errors onto the bus's own. JetStream
// answers a write at the wrong revision with one error whatever the call;
// conflict says what it means for this one (a create finds the key there).
func kvErr(err, conflict error) error {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return ErrKeyNotFound
	case errors.Is(err, jetstream.ErrKeyExists),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return conflict
	}
	return err
}
