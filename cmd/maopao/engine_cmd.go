package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/announce"
	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/httpapi"
	"github.com/maopao/maopao/engine/local"
	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/tensor"
	"github.com/maopao/maopao/protocol"
)

// newEngineCmd groups the commands that run or exercise the local MoE
// engine directly, without the rest of the platform.
func newEngineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "engine", Short: "Run or exercise the local MoE engine"}
	cmd.AddCommand(engineGenerateCmd(), engineBenchCmd(), engineGenModelCmd(), engineServeCmd())
	return cmd
}

// defaultModelPath is where the bundled random-weight model lives when no
// --model is given.
func defaultModelPath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "maopao", "bundled-qwen3moe-q8_0.gguf")
}

// modelOrBundled returns path, or the bundled model (written on first use).
func modelOrBundled(cmd *cobra.Command, path string) (string, error) {
	if path != "" {
		return path, nil
	}
	path = defaultModelPath()
	made, err := modelgen.EnsureBundled(path)
	if err != nil {
		return "", err
	}
	if made {
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote the bundled untrained model to %s\n", path)
	}
	return path, nil
}

func engineGenerateCmd() *cobra.Command {
	var (
		modelPath, prompt, tmpl   string
		n, threads, ctxSize, topK int
		temp, topP, minP, repeat  float32
		seed                      uint64
		ids, chat, verbose        bool
		cacheK, cacheV            model.CacheType
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate text from a prompt (raw, or as a chat with --chat)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := modelOrBundled(cmd, modelPath)
			if err != nil {
				return err
			}
			e, err := local.Open(path, local.Options{Threads: threads, ContextSize: ctxSize, ChatTemplate: tmpl, MaxConcurrent: 1, CacheTypeK: cacheK, CacheTypeV: cacheV})
			if err != nil {
				return err
			}
			defer e.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			req := engine.Request{MaxTokens: n, Temperature: temp, TopK: topK, TopP: topP, MinP: minP, RepeatPenalty: repeat, Seed: seed}
			var toks []int
			if chat {
				req.Messages = []engine.ChatMessage{{Role: "user", Content: prompt}}
				toks = e.Prompt(req.Messages)
			} else {
				tk := e.Tokenizer()
				toks = tk.Encode(prompt, tk.AddBOS(), true)
			}
			out := cmd.OutOrStdout()
			if ids {
				fmt.Fprintln(out, "prompt:", joinInts(toks))
			}
			start := time.Now()
			first := time.Duration(0)
			var gen []int
			res, err := e.GenerateTokens(ctx, toks, req, func(t engine.Token) error {
				if first == 0 {
					first = time.Since(start)
				}
				if ids {
					if t.ID >= 0 {
						gen = append(gen, t.ID)
					}
					return nil
				}
				_, err := fmt.Fprint(out, t.Text)
				return err
			})
			if ids {
				fmt.Fprintln(out, "output:", joinInts(gen))
			} else if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				// The text is exactly what was generated (as llama.cpp
				// prints it); a terminal gets its prompt on a line of its own.
				fmt.Fprintln(out)
			}
			if verbose {
				total := time.Since(start)
				fmt.Fprintf(cmd.ErrOrStderr(), "%s\n%d prompt tokens, %d generated (%s); first token after %v, %.1f tokens/s after it\n",
					e.Describe(), res.PromptTokens, res.CompletionTokens, res.FinishReason, first.Round(time.Millisecond),
					float64(max(res.CompletionTokens-1, 0))/(total-first).Seconds())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&modelPath, "model", "m", "", "GGUF model file (default: the bundled untrained model)")
	f.StringVarP(&prompt, "prompt", "p", "", "prompt text")
	f.IntVarP(&n, "tokens", "n", 64, "tokens to generate at most")
	f.Float32Var(&temp, "temp", 0, "sampling temperature (0 = greedy)")
	f.IntVar(&topK, "top-k", 0, "top-k filter (0 = off)")
	f.Float32Var(&topP, "top-p", 0, "top-p filter (0 = off)")
	f.Float32Var(&minP, "min-p", 0, "min-p filter (0 = off)")
	f.Float32Var(&repeat, "repeat-penalty", 0, "repetition penalty (0 or 1 = off)")
	f.Uint64Var(&seed, "seed", 0, "sampling seed")
	f.BoolVar(&ids, "ids", false, "print token ids instead of text")
	f.BoolVar(&chat, "chat", false, "wrap the prompt as a user message in the chat template")
	f.StringVar(&tmpl, "template", "", "hand-written chat format to use instead of the model's own Jinja template (chatml, qwen3, llama3, mistral, olmoe, phi3, granite; default: the model's template)")
	f.IntVarP(&threads, "threads", "t", 0, "threads (0 = all CPUs)")
	f.IntVarP(&ctxSize, "ctx-size", "c", 0, "context size (0 = the model's, capped)")
	f.BoolVarP(&verbose, "verbose", "v", false, "print timings to stderr")
	addCacheTypeFlags(f, &cacheK, &cacheV)
	return cmd
}

// addCacheTypeFlags adds llama.cpp's KV cache type flags; main accepts
// their short spellings -ctk and -ctv too.
func addCacheTypeFlags(f *pflag.FlagSet, k, v *model.CacheType) {
	f.Var(k, "cache-type-k", "how the KV cache stores keys: f32, f16 or q8_0 (-ctk)")
	f.Var(v, "cache-type-v", "how the KV cache stores values: f32, f16 or q8_0 (-ctv)")
}

// announceEngine keeps the engine's entry in the platform's engines bucket
// while ctx lasts, when natsURL is set; the returned channel closes once
// the entry is removed again.
func announceEngine(ctx context.Context, cmd *cobra.Command, e *local.Engine, natsURL, announceURL, name, addr string) (<-chan struct{}, error) {
	done := make(chan struct{})
	if natsURL == "" {
		close(done)
		return done, nil
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	if announceURL == "" {
		host, port, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return nil, fmt.Errorf("--announce-url is needed: the engine listens on %s, which says nothing about how others reach it", addr)
		}
		announceURL = "http://" + net.JoinHostPort(host, port)
	}
	nc, err := bus.Connect(natsURL, "maopao-engine", log)
	if err != nil {
		return nil, err
	}
	kv, err := announce.Open(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("engines bucket: %w", err)
	}
	id := uuid.NewString()
	go func() {
		defer close(done)
		defer nc.Close()
		announce.Run(ctx, kv, protocol.EngineAnnounceEvery, func() protocol.EngineAnnouncement {
			l := e.Load()
			return protocol.EngineAnnouncement{ID: id, URL: announceURL, Model: name, Slots: l.Slots, Active: l.Active, Waiting: l.Waiting}
		}, log)
	}()
	fmt.Fprintf(cmd.ErrOrStderr(), "announcing %s on %s as engine %s\n", announceURL, natsURL, id)
	return done, nil
}

// servingFlags are how an engine serves many players: conversations at
// once, the prefix cache and the queue bound.
type servingFlags struct {
	parallel, maxQueue int
	cacheRAM           int64 // MiB
}

func addServingFlags(f *pflag.FlagSet, s *servingFlags) {
	f.IntVar(&s.parallel, "parallel", 4, "conversations the engine runs at once (llama.cpp's -np)")
	f.Int64Var(&s.cacheRAM, "cache-ram", 0, "MiB of KV cache kept for prompts of conversations no longer running (a character's persona stays computed for its next player), least recently used evicted first; 0 = as much as --parallel conversations take (at most 8192), -1 = none")
	f.IntVar(&s.maxQueue, "max-queue", 0, "requests that may wait for a conversation slot; past it they are refused (HTTP 503, Retry-After) (0 = 16 per slot)")
}

// apply sets the engine options the flags give.
func (s servingFlags) apply(o *local.Options) {
	o.MaxConcurrent, o.MaxQueue = s.parallel, s.maxQueue
	switch {
	case s.cacheRAM < 0:
		o.PrefixCacheBytes = -1
	case s.cacheRAM > 0:
		o.PrefixCacheBytes = s.cacheRAM << 20
	}
}

func joinInts(xs []int) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, x)
	}
	return b.String()
}

func engineBenchCmd() *cobra.Command {
	var modelPath, cpuProfile string
	var pp, tg, threads, reps int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure prompt processing and generation speed (like llama-bench)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := modelOrBundled(cmd, modelPath)
			if err != nil {
				return err
			}
			if pp < 0 || tg < 0 || reps < 1 || threads < 1 {
				return fmt.Errorf("bench: -p and -n must be >= 0, -r and -t >= 1")
			}
			f, err := gguf.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			m, err := model.Load(f)
			if err != nil {
				return err
			}
			m.Threads = threads
			if pp+tg > m.Config.ContextLength {
				return fmt.Errorf("bench: -p %d + -n %d exceeds the model's context of %d", pp, tg, m.Config.ContextLength)
			}
			c := m.Config
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "model: %s, %s, %d layers, hidden %d, %d experts top-%d, vocab %d, %.1fM params\n",
				filepath.Base(path), m.WeightType(), c.Layers, c.Hidden, c.Experts, c.ExpertsUsed, c.Vocab, float64(m.Params())/1e6)
			ctx := cmd.Context()
			rng := rand.New(rand.NewPCG(1, 2))
			tokens := make([]int, max(pp, tg))
			for i := range tokens {
				tokens[i] = rng.IntN(c.Vocab)
			}
			kv := model.NewKVCache(m, pp+tg+model.BlockSize, pp+tg+1)
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			defer stopProfile()
			run := func(name string, n int, once func() error) error {
				if n == 0 {
					return nil
				}
				if err := once(); err != nil { // warm-up
					return err
				}
				var rates []float64
				for r := 0; r < reps; r++ {
					start := time.Now()
					if err := once(); err != nil {
						return err
					}
					rates = append(rates, float64(n)/time.Since(start).Seconds())
				}
				sort.Float64s(rates)
				fmt.Fprintf(out, "%-6s t=%d: %8.1f tokens/s (median of %d; min %.1f, max %.1f)\n",
					fmt.Sprintf("%s%d", name, n), threads, rates[len(rates)/2], reps, rates[0], rates[len(rates)-1])
				return nil
			}
			err = run("pp", pp, func() error {
				kv.Remove(0)
				_, err := m.Forward(ctx, model.SeqBatch(0, 0, tokens[:pp]), kv)
				return err
			})
			if err != nil {
				return err
			}
			return run("tg", tg, func() error {
				kv.Remove(0)
				for i := 0; i < tg; i++ {
					if _, err := m.Forward(ctx, model.SeqBatch(0, i, tokens[i:i+1]), kv); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&modelPath, "model", "m", "", "GGUF model file (default: the bundled untrained model)")
	f.IntVarP(&pp, "prompt", "p", 512, "prompt tokens processed in one batch")
	f.IntVarP(&tg, "gen", "n", 128, "tokens generated one at a time")
	f.IntVarP(&threads, "threads", "t", 1, "threads")
	f.IntVarP(&reps, "reps", "r", 5, "repetitions (the median is reported)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the runs to this file (go tool pprof reads it)")
	return cmd
}

func engineGenModelCmd() *cobra.Command {
	var arch, typ, outPath, shape string
	var benchShape bool
	var seed int64
	cmd := &cobra.Command{
		Use:   "gen-model",
		Short: "Write a random-weight MoE model as GGUF (for tests, benchmarks and llama.cpp comparisons)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outPath == "" {
				return errors.New("gen-model: -o FILE is required")
			}
			t, err := modelgen.ParseType(typ)
			if err != nil {
				return err
			}
			if benchShape {
				shape = "bench"
			}
			var s modelgen.Spec
			switch shape {
			case "bench":
				s = modelgen.Bench(arch, t)
			case "tiny":
				s = modelgen.Tiny(arch)
			case "bundled":
				s = modelgen.Bundled()
				s.Arch = arch
			case "qwen3-30b-a3b":
				if arch != "qwen3moe" {
					return fmt.Errorf("gen-model: --shape qwen3-30b-a3b is a qwen3moe shape, not %s", arch)
				}
				s = modelgen.Qwen3A3B(t)
			default:
				return fmt.Errorf("gen-model: unknown --shape %q (bench, tiny, bundled, qwen3-30b-a3b)", shape)
			}
			s.Type = t
			if cmd.Flags().Changed("seed") {
				s.Seed = seed
			}
			start := time.Now()
			if err := modelgen.Write(outPath, s); err != nil {
				return err
			}
			if _, err := tensor.RowBytes(t, s.Hidden); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: hidden %d is not a multiple of the %v block (%d); those weights fall back to Q8_0 or F16\n",
					s.Hidden, t, t.BlockSize())
			}
			st, _ := os.Stat(outPath)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s %s, hidden %d, %d layers, %d experts top-%d, vocab %d, %.1f MiB in %v\n",
				outPath, s.Arch, s.Type, s.Hidden, s.Layers, s.Experts, s.ExpertsUsed, s.Vocab,
				float64(st.Size())/(1<<20), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", "qwen3moe", "architecture: llama (Mixtral), qwen2moe, qwen3moe, olmoe, granitemoe, qwen2, qwen3, granite")
	f.StringVar(&typ, "type", "Q8_0", "weight type: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K")
	f.StringVarP(&outPath, "output", "o", "", "output GGUF file")
	f.StringVar(&shape, "shape", "bundled", "model shape: bundled, tiny, bench, or qwen3-30b-a3b (Qwen3-30B-A3B's layer shapes, 4 layers)")
	f.BoolVar(&benchShape, "bench-shape", false, "the benchmark shape (same as --shape bench)")
	f.Int64Var(&seed, "seed", 0, "weight seed (default: the shape's)")
	return cmd
}

func engineServeCmd() *cobra.Command {
	var modelPath, addr, name, tmpl string
	var threads, ctxSize int
	var serving servingFlags
	var natsURL, announceURL string
	var metricsPublic bool
	var cacheK, cacheV model.CacheType
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the local engine over an OpenAI-compatible HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := modelOrBundled(cmd, modelPath)
			if err != nil {
				return err
			}
			opts := local.Options{Threads: threads, ContextSize: ctxSize, ChatTemplate: tmpl, CacheTypeK: cacheK, CacheTypeV: cacheV}
			serving.apply(&opts)
			e, err := local.Open(path, opts)
			if err != nil {
				return err
			}
			defer e.Close()
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return fmt.Errorf("engine serve: %w", err)
			}
			defer stopProfile()
			if name == "" {
				name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			api := httpapi.New(e, name)
			api.MetricsPublic = metricsPublic
			srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			announced, err := announceEngine(ctx, cmd, e, natsURL, announceURL, name, ln.Addr().String())
			if err != nil {
				return err
			}
			defer func() { <-announced }()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
			}()
			fmt.Fprintf(cmd.ErrOrStderr(), "%s\nserving %q on http://%s/v1/chat/completions\n", e.Describe(), name, ln.Addr())
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&modelPath, "model", "m", "", "GGUF model file (default: the bundled untrained model)")
	f.StringVar(&addr, "addr", "127.0.0.1:8081", "listen address")
	f.StringVar(&name, "name", "", "model name reported by the API (default: the file name)")
	f.StringVar(&tmpl, "template", "", "hand-written chat format to use instead of the model's own Jinja template (chatml, qwen3, llama3, mistral, olmoe, phi3, granite; default: the model's template)")
	f.IntVarP(&threads, "threads", "t", 0, "threads (0 = all CPUs)")
	f.IntVarP(&ctxSize, "ctx-size", "c", 0, "context size per conversation (0 = the model's, capped)")
	addServingFlags(f, &serving)
	f.StringVar(&natsURL, "nats", "", "NATS URL of the platform: the engine announces itself there, for world simulations started with --llm-url nats")
	f.StringVar(&announceURL, "announce-url", "", "the URL world simulations reach this engine at (default: http:// and the listen address)")
	f.BoolVar(&metricsPublic, "metrics-public", false, "serve /metrics to every address (default: to this machine only)")
	addCacheTypeFlags(f, &cacheK, &cacheV)
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the engine under load to this file, until the server stops (go tool pprof reads it)")
	return cmd
}

// startCPUProfile profiles the process into path until the returned stop
// is called; an empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
