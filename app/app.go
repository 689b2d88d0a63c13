// Package app wires Maopao's parts into running roles: the all-in-one
// server (`maopao serve`), a gateway, a world simulation. It owns start-up
// order, defaults (embedded NATS, the embedded store, the bundled model)
// and shutdown; every part it starts lives in its own package.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/web"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/announce"
	"github.com/maopao/maopao/engine/local"
	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/models"
	"github.com/maopao/maopao/engine/openai"
	"github.com/maopao/maopao/engine/pool"
	"github.com/maopao/maopao/engine/speech"
	"github.com/maopao/maopao/gateway"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage"
	"github.com/maopao/maopao/storage/bolt"
	"github.com/maopao/maopao/storage/mongo"
	"github.com/maopao/maopao/worldsim"
)

// Config says where each part is. Empty fields mean "embedded / default".
type Config struct {
	Addr     string // HTTP listen address; "127.0.0.1:0" picks a free port
	DataDir  string // data folder (embedded store, JetStream, generated model, lock)
	NATSURL  string // external NATS; "" starts an embedded server
	MongoURI string // MongoDB; "" uses the embedded store in DataDir
	// Replicas is how many NATS servers keep each stream and bucket; 0
	// picks 3 when the cluster has 3 servers or more, else 1.
	Replicas int
	MongoDB  string // database name (default from the URI, else "maopao")

	LLMURL string // OpenAI-compatible server; "" uses the in-process engine
	// MetricsPublic serves /metrics to every address, not only loopback.
	MetricsPublic bool
	// MaxConnsPerAddress bounds the WebSockets one address may hold
	// (default 200).
	MaxConnsPerAddress int
	// HelloTimeout closes WebSockets that have not said hello by then
	// (default 10s).
	HelloTimeout time.Duration
	// HTTPReadTimeout bounds reading one request, body included (default
	// 30s); HTTPIdleTimeout closes keep-alive connections left idle
	// (default 2m).
	HTTPReadTimeout, HTTPIdleTimeout time.Duration
	// LinesPerSecond and LineBurst bound each connection's lines and chat
	// requests (defaults 4 and 8).
	LinesPerSecond float64
	LineBurst      int
	// MemoryWorkAfter is how long a chat is quiet before the engine rates
	// its memories, reflects and summarizes (0: 10s; negative: never).
	MemoryWorkAfter time.Duration
	LLMModel        string
	LLMAPIKey       string
	// TTSURL is an OpenAI-compatible speech server that speaks replies
	// (TTSModel, TTSVoice, TTSAPIKey go with it); "" leaves it to the
	// browsers.
	TTSURL, TTSModel, TTSVoice, TTSAPIKey string
	ModelPath                             string // GGUF model for the in-process engine; "" = bundled model
	Threads                               int    // engine threads (0 = all cores)
	// CacheTypeK and CacheTypeV are how the in-process engine's KV cache
	// stores keys and values (zero: float16).
	CacheTypeK, CacheTypeV model.CacheType
	// EngineParallel, EnginePrefixCacheBytes and EngineMaxQueue are the
	// in-process engine's local.Options MaxConcurrent, PrefixCacheBytes
	// and MaxQueue (zero: the engine's defaults).
	EngineParallel, EngineMaxQueue int
	EnginePrefixCacheBytes         int64

	Secret         string   // token-signing secret; "" = generated once and kept in the store
	AllowedOrigins []string // extra WebSocket origins
	Log            *slog.Logger
}

func (c *Config) defaults(role Role) error {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	switch {
	case c.Addr != "":
	case role == RoleWorldsim:
		// Probes only: any free port unless the operator names one.
		c.Addr = "127.0.0.1:0"
	default:
		c.Addr = "127.0.0.1:8080"
	}
	if c.HTTPReadTimeout <= 0 {
		c.HTTPReadTimeout = 30 * time.Second
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = 2 * time.Minute
	}
	if c.DataDir == "" {
		return errors.New("app: a data folder is required (--data)")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("app: data folder %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("app: create data folder: %w", err)
	}
	return nil
}

// Server is a running role.
type Server struct {
	cfg     Config
	log     *slog.Logger
	closers []func(context.Context) error // run in reverse order by Close
	url     string
	store   storage.Store
	gen     engine.Generator
	models  *modelManager // nil unless the in-process engine runs here
	gw      *gateway.Server
	front   *front       // the HTTP listener's handler
	http    *http.Server // stopped first by Close
	cancel  context.CancelFunc
	done    chan struct{}
}

// URL is the base URL of the HTTP surface ("" for roles without one).
func (s *Server) URL() string { return s.url }

// Store is the store the server uses (tests inspect it).
func (s *Server) Store() storage.Store { return s.store }

// Engine is what generates replies ("" for roles without one).
func (s *Server) Engine() engine.Generator { return s.gen }

func (s *Server) onClose(f func(context.Context) error) { s.closers = append(s.closers, f) }

// Close stops every part in reverse start order.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if s.cancel != nil {
		s.cancel()
	}
	var errs []error
	// Players first: their connections are told to go elsewhere, and no
	// request reaches a part that is stopping.
	if s.gw != nil {
		s.gw.Shutdown()
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		s.http = nil
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Role selects what Start runs.
type Role int

const (
	RoleAll      Role = iota // gateway + world simulation + engine in one process
	RoleGateway              // the player-facing edge only
	RoleWorldsim             // world simulation (with its engine client) only
)

// Start runs everything in one process: `maopao serve`.
func Start(ctx context.Context, cfg Config) (*Server, error) { return StartRole(ctx, RoleAll, cfg) }

// StartRole starts one role. On error, whatever was started is stopped.
func StartRole(ctx context.Context, role Role, cfg Config) (srv *Server, err error) {
	if err := cfg.defaults(role); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, done: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if role != RoleAll && (cfg.NATSURL == "" || cfg.MongoURI == "") {
		return nil, errors.New("app: a single role shares its work with other processes, so it needs an external NATS (--nats) and MongoDB (--mongo); use `maopao serve` for everything in one process")
	}
	if cfg.NATSURL == "" || cfg.MongoURI == "" || role == RoleWorldsim {
		// The embedded store and JetStream files live in the data folder;
		// two processes sharing them would corrupt both. A world
		// simulation keeps its name there (processID).
		unlock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		s.onClose(func(context.Context) error { unlock(); return nil })
	}

	// Every role listens from the start: /readyz says what it waits for.
	if err := s.listen(); err != nil {
		return nil, err
	}

	// Storage.
	if err := s.retry(ctx, "the store", s.openStore); err != nil {
		return nil, err
	}
	if err := s.retry(ctx, "the store (seeding)", func(ctx context.Context) error {
		if err := seedSamples(ctx, s.store); err != nil {
			return err
		}
		return seedWorlds(ctx, s.store)
	}); err != nil {
		return nil, err
	}

	// NATS.
	natsURL := cfg.NATSURL
	if natsURL == "" {
		emb, err := bus.StartEmbedded(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		s.onClose(func(context.Context) error { emb.Shutdown(); return nil })
		natsURL = emb.URL()
		s.log.Info("embedded NATS with JetStream started", "url", natsURL, "store", filepath.Join(cfg.DataDir, "nats"))
	}
	var nc *bus.NATS
	if err := s.retry(ctx, "NATS", func(context.Context) error {
		var err error
		nc, err = bus.Connect(natsURL, "maopao", s.log)
		return err
	}); err != nil {
		return nil, err
	}
	s.onClose(func(context.Context) error { _ = nc.Drain(); return nil })
	replicas := cfg.Replicas
	if replicas <= 0 {
		replicas = bus.AutoReplicas(nc.ClusterSize())
	}
	nc.SetReplicas(replicas)
	s.log.Info("message bus", "servers", nc.ClusterSize(), "replicas", replicas)
	if err := s.retry(ctx, "the NATS streams", func(ctx context.Context) error {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return bus.DeclareStreams(dctx, nc)
	}); err != nil {
		return nil, err
	}

	// Engine and world simulation.
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if role == RoleAll || role == RoleWorldsim {
		if err := s.openEngine(runCtx, nc); err != nil {
			return nil, err
		}
		svc := &worldsim.ChatService{Store: s.store, Engine: s.gen, Bus: nc, Log: s.log.With("part", "worldsim"),
			Config:          worldsim.ChatConfig{MaxTokens: 200, Sampling: engine.Request{Temperature: 0.8, TopP: 0.95, TopK: 40, RepeatPenalty: 1.1}},
			MemoryWorkAfter: s.cfg.MemoryWorkAfter}
		worlds := &worldsim.WorldService{Store: s.store, Engine: s.gen, Bus: nc, Log: s.log.With("part", "worlds")}
		// A stable name lets a restart after a crash take its chat
		// partitions and worlds back at once instead of waiting for their
		// leases to lapse.
		owner, err := s.processID(role)
		if err != nil {
			return nil, err
		}
		svc.Owner, worlds.Owner = owner, owner
		preview := &worldsim.PreviewService{Bus: nc, Engine: s.gen, Log: s.log.With("part", "preview")}
		wsDone := make(chan error, 3)
		go func() { wsDone <- svc.Run(runCtx) }()
		go func() { wsDone <- worlds.Run(runCtx) }()
		go func() { wsDone <- preview.Run(runCtx) }()
		s.onClose(func(ctx context.Context) error {
			cancel()
			var errs []error
			for range 3 {
				select {
				case err := <-wsDone:
					errs = append(errs, err)
				case <-ctx.Done():
					return errors.New("app: world simulation did not stop in time")
				}
			}
			return errors.Join(errs...)
		})
	}

	// Gateway.
	if role == RoleAll || role == RoleGateway {
		if err := s.startGateway(ctx, nc); err != nil {
			return nil, err
		}
	} else {
		s.front.ready(s.probes())
		s.log.Info("world simulation ready", "probes", s.url)
	}
	return s, nil
}

func (s *Server) openStore(ctx context.Context) error {
	if s.cfg.MongoURI != "" {
		st, err := mongo.Open(ctx, s.cfg.MongoURI, s.cfg.MongoDB)
		if err != nil {
			return fmt.Errorf("app: MongoDB: %w", err)
		}
		s.store = st
		s.log.Info("store: MongoDB", "uri", redactURI(s.cfg.MongoURI))
	} else {
		path := filepath.Join(s.cfg.DataDir, "maopao.db")
		st, err := bolt.Open(path)
		if err != nil {
			return fmt.Errorf("app: embedded store: %w", err)
		}
		s.store = st
		s.log.Info("store: embedded", "path", path)
	}
	st := s.store
	s.onClose(func(ctx context.Context) error { return st.Close(ctx) })
	return nil
}

// openRemoteEngines uses the OpenAI-compatible servers of --llm-url: one,
// or several serving the same model, which a pool routes among with cache
// affinity.
// followAnnouncedEngines uses the engines that announce themselves on the
// bus (`maopao engine serve --nats`), as a pool that follows them.
func (s *Server) followAnnouncedEngines(ctx context.Context, b bus.Bus) error {
	kv, err := announce.Open(ctx, b)
	if err != nil {
		return fmt.Errorf("app: engines bucket: %w", err)
	}
	p, _ := pool.New()
	clients := map[string]*openai.Client{}
	apply := func(list []protocol.EngineAnnouncement) {
		var members []pool.Member
		seen := map[string]bool{}
		for _, a := range list {
			if seen[a.URL] {
				continue // a restarted engine's old entry, until it lapses
			}
			seen[a.URL] = true
			c := clients[a.URL]
			if c == nil {
				c = openai.New(a.URL)
				c.Model, c.APIKey = a.Model, s.cfg.LLMAPIKey
				clients[a.URL] = c
			}
			members = append(members, pool.Member{Name: a.URL, Gen: c})
		}
		before := strings.Join(p.Names(), ",")
		if err := p.SetMembers(members); err != nil {
			s.log.Error("engines", "err", err)
			return
		}
		if after := strings.Join(p.Names(), ","); after != before {
			s.log.Info("engines announced on the bus", "urls", after)
		}
	}
	// The first list before serving, so the first replies need not wait.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if list, err := announce.List(lctx, kv); err == nil {
		apply(list)
	}
	cancel()
	go announce.Follow(ctx, kv, protocol.EngineAnnounceEvery, apply, s.log)
	s.gen = p
	s.log.Info("engine: the OpenAI-compatible engines announced on the bus, with cache affinity")
	return nil
}

func (s *Server) openRemoteEngines() error {
	var members []pool.Member
	for _, u := range strings.Split(s.cfg.LLMURL, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		c := openai.New(u)
		c.Model, c.APIKey = s.cfg.LLMModel, s.cfg.LLMAPIKey
		members = append(members, pool.Member{Name: u, Gen: c})
	}
	switch len(members) {
	case 0:
		return fmt.Errorf("app: --llm-url %q names no server", s.cfg.LLMURL)
	case 1:
		s.gen = members[0].Gen
		s.log.Info("engine: OpenAI-compatible server", "url", members[0].Name)
		return nil
	}
	p, err := pool.New(members...)
	if err != nil {
		return fmt.Errorf("app: --llm-url: %w", err)
	}
	s.gen = p
	s.log.Info("engine: OpenAI-compatible servers with cache affinity", "urls", s.cfg.LLMURL)
	return nil
}

func (s *Server) openEngine(ctx context.Context, b bus.Bus) error {
	if strings.EqualFold(strings.TrimSpace(s.cfg.LLMURL), "nats") {
		return s.followAnnouncedEngines(ctx, b)
	}
	if s.cfg.LLMURL != "" {
		return s.openRemoteEngines()
	}
	path := s.cfg.ModelPath
	if path == "" {
		path = filepath.Join(s.cfg.DataDir, "models", "maopao-bundled-untrained.gguf")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("app: create model folder: %w", err)
		}
		wrote, err := modelgen.EnsureBundled(path)
		if err != nil {
			return fmt.Errorf("app: write bundled model: %w", err)
		}
		if wrote {
			s.log.Warn("no model given: wrote a small RANDOM-WEIGHT MoE model; replies will be gibberish until you pass --model PATH.gguf or --llm-url URL", "path", path)
		}
	}
	e, err := local.Open(path, s.engineOptions())
	if err != nil {
		return fmt.Errorf("app: load model %s: %w", path, err)
	}
	if e.Untrained() {
		s.log.Warn("the model has UNTRAINED random weights: replies are not real dialogue; install a real model with `maopao model pull` (or from the page) and use --model NAME, or --llm-url", "model", path)
	}
	// The engine can change model while it serves (an install from the
	// page): the services hold the swappable, not the model.
	swap := &engine.Swappable{}
	swap.Swap(e, e.Close)
	s.gen = swap
	bg, stop := context.WithCancel(context.Background())
	s.models = &modelManager{s: s, swap: swap, dir: filepath.Join(s.cfg.DataDir, "models"), hub: models.FromEnv(), ctx: bg, active: path}
	s.log.Info("engine: local MoE", "model", path, "describe", e.Describe())
	s.onClose(func(context.Context) error {
		stop()
		s.models.wg.Wait()
		return swap.Close()
	})
	return nil
}

func (s *Server) startGateway(ctx context.Context, b bus.Bus) error {
	secret := []byte(s.cfg.Secret)
	if len(secret) == 0 {
		var err error
		if secret, err = gateway.LoadOrCreateSecret(ctx, s.store); err != nil {
			return err
		}
	}
	desc := "replies come from the world simulation"
	if s.gen != nil {
		desc = s.gen.Describe()
	}
	gw := &gateway.Server{
		Store: s.store, Bus: b, Secret: secret, AllowedOrigins: s.cfg.AllowedOrigins,
		Engine: desc, Untrained: s.untrained(), Web: web.Handler(), Log: s.log.With("part", "gateway"), Health: s.engineHealth,
		LinesPerSecond: s.cfg.LinesPerSecond, LineBurst: s.cfg.LineBurst, HelloTimeout: s.cfg.HelloTimeout,
		MaxConnsPerAddress: s.cfg.MaxConnsPerAddress,
	}
	if s.models != nil {
		gw.Models = s.models
	}
	if s.cfg.TTSURL != "" {
		gw.Speech = &speech.Client{BaseURL: s.cfg.TTSURL, Model: s.cfg.TTSModel, Voice: s.cfg.TTSVoice, APIKey: s.cfg.TTSAPIKey}
	}
	gw.MetricsPublic = s.cfg.MetricsPublic
	if host, _, err := net.SplitHostPort(s.cfg.Addr); err == nil {
		ip := net.ParseIP(host)
		gw.LoopbackOnly = host == "localhost" || (ip != nil && ip.IsLoopback())
	}
	if err := gw.Init(); err != nil {
		return err
	}
	s.gw = gw
	s.front.ready(gw.Handler())
	s.log.Info("gateway listening", "url", s.url)
	return nil
}

// untrained reports whether the in-process engine's model has random weights.
func (s *Server) untrained() bool {
	if s.models == nil {
		return false
	}
	e, ok := s.models.swap.Current().(*local.Engine)
	return ok && e.Untrained()
}

// engineHealth reports whether the engine answers, for /healthz: an
// OpenAI-compatible server may be down; the in-process engine is up
// whenever this process is.
func (s *Server) engineHealth(ctx context.Context) error {
	if p, ok := s.gen.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// seedSamples stores the built-in characters that are missing, so a fresh
// installation has someone to talk to. Edited built-ins are left alone.
func seedSamples(ctx context.Context, st storage.Store) error {
	for _, c := range characters.Samples() {
		_, err := st.GetCharacter(ctx, c.ID)
		if err == nil {
			continue
		}
		if !errors.Is(err, maopao.ErrNotFound) {
			return fmt.Errorf("app: look up sample character %s: %w", c.Name, err)
		}
		if err := st.PutCharacter(ctx, c); err != nil {
			return fmt.Errorf("app: store sample character %s: %w", c.Name, err)
		}
	}
	return nil
}

// seedWorlds stores the built-in worlds that are missing.
func seedWorlds(ctx context.Context, st storage.Worlds) error {
	for _, w := range characters.SampleWorlds() {
		_, err := st.GetWorld(ctx, w.ID)
		if err == nil {
			continue
		}
		if !errors.Is(err, maopao.ErrNotFound) {
			return fmt.Errorf("app: look up sample world %s: %w", w.Name, err)
		}
		if err := st.PutWorld(ctx, w); err != nil {
			return fmt.Errorf("app: store sample world %s: %w", w.Name, err)
		}
	}
	return nil
}

func redactURI(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "…@" + u[at+1:]
		}
	}
	return u
}

// engineOptions are the in-process engine's settings from the config.
func (s *Server) engineOptions() local.Options {
	return local.Options{Threads: s.cfg.Threads, CacheTypeK: s.cfg.CacheTypeK, CacheTypeV: s.cfg.CacheTypeV, Log: s.log,
		MaxConcurrent: s.cfg.EngineParallel, MaxQueue: s.cfg.EngineMaxQueue, PrefixCacheBytes: s.cfg.EnginePrefixCacheBytes}
}
