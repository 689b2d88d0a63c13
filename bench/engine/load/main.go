// Command load measures an OpenAI-compatible chat server under the load a
// platform puts on it, the same way for Maopao's `maopao engine serve` and
// llama.cpp's `llama-server`, so the two can be compared side by side
// (bench/engine/serving.sh runs both).
//
//	go run ./bench/engine/load -url http://127.0.0.1:8081 -mode throughput -chats 32 -tokens 64
//	go run ./bench/engine/load -url http://127.0.0.1:8081 -mode prefix -background 64
//
// throughput: -chats conversations at once, each a distinct short prompt
// asking for -tokens tokens (ignore_eos, greedy); the aggregate completion
// tokens per second of the wall time, median of -rounds.
//
// prefix: -background conversations keep generating while new players
// arrive at characters with a long persona (-persona-tokens, about): for each
// of -rounds characters, the first player's time to first token (cold: the
// persona was never seen) and a second player's (warm: same persona, other
// question, after other conversations came and went). Prints each ratio and
// their median; the servers' own counts of cached prompt tokens are read
// from the responses where they give them (llama-server's timings) or from
// /metrics (Maopao).
//
// Output is one JSON line per measurement on stdout, and a summary line.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type options struct {
	url, mode, model     string
	chats, tokens        int
	background, rounds   int
	personaTokens, churn int
	warmup               int
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8081", "server root")
	flag.StringVar(&o.mode, "mode", "throughput", "throughput or prefix")
	flag.StringVar(&o.model, "model", "", "model name to send")
	flag.IntVar(&o.chats, "chats", 32, "throughput: conversations at once")
	flag.IntVar(&o.tokens, "tokens", 64, "throughput: tokens each conversation generates")
	flag.IntVar(&o.background, "background", 64, "prefix: conversations generating meanwhile")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (throughput) or characters (prefix)")
	flag.IntVar(&o.personaTokens, "persona-tokens", 1500, "prefix: about how long each character's persona is")
	flag.IntVar(&o.churn, "churn", 8, "prefix: other short conversations between a character's first and second player")
	flag.IntVar(&o.warmup, "warmup", 1, "throughput: rounds run first and not counted (a fresh server pages its weights in and grows its buffers)")
	flag.Parse()
	ctx := context.Background()
	var err error
	switch o.mode {
	case "throughput":
		err = throughput(ctx, o)
	case "prefix":
		err = prefix(ctx, o)
	default:
		err = fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// client opens a connection per request: llama-server closes kept-alive
// connections after a few requests, and a POST that races such a close
// fails with EOF. A loopback connect costs far less than what is measured.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type outcome struct {
	ttft, total      time.Duration
	completionTokens int
	promptTokens     int
	cachedTokens     int // -1 when the server does not say
}

// chat sends one streaming request and times it.
func chat(ctx context.Context, o options, msgs []message, maxTokens int) (outcome, error) {
	body, _ := json.Marshal(map[string]any{
		"model": o.model, "messages": msgs, "stream": true, "max_tokens": maxTokens,
		"temperature": 0, "ignore_eos": true, "stream_options": map[string]bool{"include_usage": true},
		"cache_prompt": true,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.url, "/")+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return outcome{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return outcome{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return outcome{}, fmt.Errorf("%s: %s", resp.Status, b)
	}
	out := outcome{cachedTokens: -1}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
			Timings *struct {
				CacheN  int `json:"cache_n"`
				PromptN int `json:"prompt_n"`
			} `json:"timings"`
		}
		if json.Unmarshal([]byte(data), &ch) != nil {
			continue
		}
		if out.ttft == 0 && len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			out.ttft = time.Since(start)
		}
		if ch.Usage != nil {
			out.promptTokens, out.completionTokens = ch.Usage.PromptTokens, ch.Usage.CompletionTokens
		}
		if ch.Timings != nil {
			out.cachedTokens = ch.Timings.CacheN
		}
	}
	out.total = time.Since(start)
	if out.ttft == 0 {
		out.ttft = out.total
	}
	return out, sc.Err()
}

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func throughput(ctx context.Context, o options) error {
	var rates []float64
	for round := -o.warmup; round < o.rounds; round++ {
		var wg sync.WaitGroup
		outs := make([]outcome, o.chats)
		errs := make([]error, o.chats)
		start := time.Now()
		for i := 0; i < o.chats; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msgs := []message{{Role: "user", Content: fmt.Sprintf("Player %d of round %d asks the innkeeper about the road north.", i, round)}}
				outs[i], errs[i] = chat(ctx, o, msgs, o.tokens)
			}()
		}
		wg.Wait()
		wall := time.Since(start)
		tokens := 0
		var ttfts []float64
		for i := range outs {
			if errs[i] != nil {
				return fmt.Errorf("round %d chat %d: %w", round, i, errs[i])
			}
			tokens += outs[i].completionTokens
			ttfts = append(ttfts, outs[i].ttft.Seconds())
		}
		rate := float64(tokens) / wall.Seconds()
		if round < 0 {
			continue
		}
		rates = append(rates, rate)
		emit(map[string]any{"mode": "throughput", "round": round, "chats": o.chats, "tokens": tokens, "wall_s": wall.Seconds(),
			"tokens_per_s": rate, "median_ttft_s": median(ttfts)})
	}
	emit(map[string]any{"mode": "throughput", "summary": true, "chats": o.chats, "median_tokens_per_s": median(rates)})
	return nil
}

// persona writes a character description of about chars characters.
func persona(id, chars int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are character %d of the Lantern Inn. ", id)
	words := []string{"river", "lantern", "bridge", "tea", "story", "winter", "market", "boat", "song", "garden", "letter", "mountain"}
	for i := 0; b.Len() < chars; i++ {
		fmt.Fprintf(&b, "Character %d remembers the %s and the %s of year %d. ", id, words[(i*7+id)%len(words)], words[(i*5+id*3)%len(words)], 1900+i)
	}
	return b.String()
}

// metricCount reads one counter from Maopao's /metrics (-1 when absent).
func metricCount(ctx context.Context, o options, name string) float64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(o.url, "/")+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func prefix(ctx context.Context, o options) error {
	bg, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < o.background; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; bg.Err() == nil; n++ {
				msgs := []message{{Role: "user", Content: fmt.Sprintf("Background player %d, conversation %d, tells a long story.", i, n)}}
				_, _ = chat(bg, o, msgs, 256)
			}
		}()
	}
	time.Sleep(2 * time.Second) // let the background conversations start
	// How many characters make -persona-tokens in this model's tokenizer:
	// measured on a persona of the same kind that is not used again.
	probe, err := chat(ctx, o, []message{{Role: "system", Content: persona(999, 4000)}, {Role: "user", Content: "Hi"}}, 1)
	if err != nil {
		return fmt.Errorf("calibrate the persona length: %w", err)
	}
	chars := 4000 * o.personaTokens / max(probe.promptTokens, 1)
	var ratios []float64
	cachedBefore := metricCount(ctx, o, "maopao_engine_cached_prompt_tokens_total")
	promptBefore := metricCount(ctx, o, "maopao_engine_prompt_tokens_total")
	for round := 0; round < o.rounds; round++ {
		p := persona(1000+round, chars)
		cold, err := chat(ctx, o, []message{{Role: "system", Content: p}, {Role: "user", Content: "Hello! Who are you?"}}, 1)
		if err != nil {
			return fmt.Errorf("round %d cold: %w", round, err)
		}
		for c := 0; c < o.churn; c++ {
			msgs := []message{{Role: "system", Content: persona(5000+round*100+c, chars/8)}, {Role: "user", Content: "Just passing by."}}
			if _, err := chat(ctx, o, msgs, 1); err != nil {
				return fmt.Errorf("round %d churn: %w", round, err)
			}
		}
		warm, err := chat(ctx, o, []message{{Role: "system", Content: p}, {Role: "user", Content: "Good evening, what is for dinner?"}}, 1)
		if err != nil {
			return fmt.Errorf("round %d warm: %w", round, err)
		}
		ratio := warm.ttft.Seconds() / cold.ttft.Seconds()
		ratios = append(ratios, ratio)
		emit(map[string]any{"mode": "prefix", "round": round, "background": o.background, "prompt_tokens": cold.promptTokens,
			"cold_ttft_s": cold.ttft.Seconds(), "warm_ttft_s": warm.ttft.Seconds(), "warm_over_cold": ratio,
			"warm_cached_tokens": warm.cachedTokens})
	}
	summary := map[string]any{"mode": "prefix", "summary": true, "background": o.background, "median_warm_over_cold": median(ratios)}
	if cachedBefore >= 0 {
		cached := metricCount(ctx, o, "maopao_engine_cached_prompt_tokens_total") - cachedBefore
		prompt := metricCount(ctx, o, "maopao_engine_prompt_tokens_total") - promptBefore
		summary["hit_rate_tokens"] = cached / prompt
	}
	stop()
	wg.Wait()
	emit(summary)
	return nil
}
