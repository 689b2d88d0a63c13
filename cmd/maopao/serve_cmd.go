package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/local"
)

// serverFlags are the flags shared by the roles that run servers. Each can
// also come from an environment variable, MAOPAO_ plus the flag's name in
// upper case with dashes as underscores (--llm-url: MAOPAO_LLM_URL).
type serverFlags struct {
	cfg     app.Config
	origins string
	verbose bool
	serving servingFlags
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "maopao")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "maopao")
	}
	return "maopao-data"
}

func (f *serverFlags) register(fs *pflag.FlagSet, role app.Role) {
	c := &f.cfg
	if role != app.RoleWorldsim {
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "HTTP address to listen on")
		fs.StringVar(&c.Secret, "secret", "", "secret for signing player tokens (default: generated once and kept in the store)")
		fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated extra origins allowed to open WebSockets")
		fs.Float64Var(&c.LinesPerSecond, "lines-per-second", 4, "lines and chat requests one player may send a second")
		fs.IntVar(&c.LineBurst, "line-burst", 8, "lines and chat requests one player may send at once")
		fs.BoolVar(&c.MetricsPublic, "metrics-public", false, "serve /metrics to every address (default: to this machine only)")
		fs.IntVar(&c.MaxConnsPerAddress, "max-conns-per-address", 200, "WebSocket connections one address may hold")
		fs.StringVar(&c.TTSURL, "tts-url", "", "OpenAI-compatible speech server (/v1/audio/speech) that speaks characters' replies, e.g. http://127.0.0.1:8880 (default: the page uses the browser's voices)")
		fs.StringVar(&c.TTSModel, "tts-model", "", "model name to send to the --tts-url server (default tts-1)")
		fs.StringVar(&c.TTSVoice, "tts-voice", "", "voice for characters whose card names none (default alloy)")
		fs.StringVar(&c.TTSAPIKey, "tts-api-key", "", "API key for the --tts-url server")
	} else {
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8090", "HTTP address for /healthz, /readyz and /metrics")
		fs.BoolVar(&c.MetricsPublic, "metrics-public", false, "serve /metrics to every address (default: to this machine only)")
	}
	fs.StringVar(&c.DataDir, "data", defaultDataDir(), "data folder (embedded store, embedded NATS, generated model)")
	fs.StringVar(&c.NATSURL, "nats", "", "external NATS URL (default: an embedded NATS server with JetStream)")
	fs.IntVar(&c.Replicas, "replicas", 0, "NATS servers that keep a copy of each stream and bucket (default: 3 when the cluster has 3 or more, else 1)")
	fs.StringVar(&c.MongoURI, "mongo", "", "MongoDB URI (default: the embedded store in the data folder)")
	fs.StringVar(&c.MongoDB, "mongo-db", "", "MongoDB database name (default: from the URI, else maopao)")
	if role != app.RoleGateway {
		fs.StringVar(&c.LLMURL, "llm-url", "", "OpenAI-compatible server for replies, e.g. http://127.0.0.1:8081, or several serving the same model, comma-separated: each character goes to the engine that holds its prompt, and an engine that fails is taken out until it answers (default: the in-process MoE engine)")
		fs.StringVar(&c.LLMModel, "llm-model", "", "model name to send to the --llm-url server")
		fs.StringVar(&c.LLMAPIKey, "llm-api-key", "", "API key for the --llm-url server")
		fs.StringVar(&c.ModelPath, "model", "", "model for the in-process engine: a GGUF file, an installed model's name, or a catalogue name or owner/repo[:file] to pull (default: a bundled small untrained model)")
		fs.IntVar(&c.Threads, "threads", 0, "engine threads (default: all cores)")
		addCacheTypeFlags(fs, &c.CacheTypeK, &c.CacheTypeV)
		addServingFlags(fs, &f.serving)
	}
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "debug logging")
}

// applyEnv fills flags the user did not set from MAOPAO_* variables.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || err != nil {
			return
		}
		name := "MAOPAO_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(fl.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func (f *serverFlags) config() app.Config {
	c := f.cfg
	var o local.Options
	f.serving.apply(&o)
	c.EngineParallel, c.EngineMaxQueue, c.EnginePrefixCacheBytes = o.MaxConcurrent, o.MaxQueue, o.PrefixCacheBytes
	for _, o := range strings.Split(f.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	c.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return c
}

func newRoleCmd(use, short string, role app.Role) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg := f.config()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := resolveModelFlag(ctx, &cfg, cmd.ErrOrStderr()); err != nil {
				return err
			}
			srv, err := app.StartRole(ctx, role, cfg)
			if err != nil {
				return err
			}
			if srv.URL() != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "Maopao is running: open %s\n", srv.URL())
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "Maopao", use, "is running")
			}
			<-ctx.Done()
			cfg.Log.Info("shutting down")
			return srv.Close()
		},
	}
	f.register(cmd.Flags(), role)
	return cmd
}

func newServeCmd() *cobra.Command {
	return newRoleCmd("serve", "Run the whole platform in one process (gateway, world simulation, engine)", app.RoleAll)
}

func newGatewayCmd() *cobra.Command {
	return newRoleCmd("gateway", "Run only the player-facing gateway (HTTP + WebSocket) against NATS and the store", app.RoleGateway)
}

func newWorldsimCmd() *cobra.Command {
	return newRoleCmd("worldsim", "Run only the world simulation (and its engine) against NATS and the store", app.RoleWorldsim)
}

// resolveModelFlag turns a --model that is not a file into one: an
// installed model's name, or a model to pull first (with its progress on
// progress).
func resolveModelFlag(ctx context.Context, cfg *app.Config, progress io.Writer) error {
	if cfg.ModelPath == "" || cfg.LLMURL != "" {
		return nil
	}
	if _, err := os.Stat(cfg.ModelPath); err == nil {
		return nil
	}
	m, err := pullWithProgress(ctx, modelsDir(cfg.DataDir), cfg.ModelPath, progress)
	if err != nil {
		return fmt.Errorf("--model %s: %w", cfg.ModelPath, err)
	}
	cfg.ModelPath = m.Path
	return nil
}
