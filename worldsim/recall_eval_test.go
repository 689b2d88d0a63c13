package worldsim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine/openai"
)

// labelledSet is testdata/recall/labelled.json.
type labelledSet struct {
	Memories []struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	} `json:"memories"`
	Queries []struct {
		Text     string   `json:"text"`
		Relevant []string `json:"relevant"`
	} `json:"queries"`
}

func loadLabelled(t *testing.T) labelledSet {
	t.Helper()
	data, err := os.ReadFile("testdata/recall/labelled.json")
	if err != nil {
		t.Fatal(err)
	}
	var set labelledSet
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// recallAtK is the share of queries whose relevant memory is among the k
// that relevance() ranks first.
func recallAtK(set labelledSet, mems []maopao.ChatMemory, qvecs [][]float32, k int) float64 {
	idx := make([]int, len(mems))
	for i := range idx {
		idx[i] = i
	}
	hits := 0
	for qi, q := range set.Queries {
		var qv []float32
		if qvecs != nil {
			qv = qvecs[qi]
		}
		rel := relevance(mems, idx, q.Text, qv)
		order := slices.Clone(idx)
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case rel[a] > rel[b]:
				return -1
			case rel[a] < rel[b]:
				return 1
			}
			return 0
		})
		for _, i := range order[:k] {
			if slices.Contains(q.Relevant, mems[i].ID) {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(len(set.Queries))
}

// TestRecallLabelled measures recall@3 on the labelled set: BM25 always
// (its score is kept from falling); with MAOPAO_EMBED_URL (an
// OpenAI-compatible /v1/embeddings server of a trained embedding model),
// embeddings alone and the hybrid recall uses too. docs/benchmarks.md has
// the numbers.
func TestRecallLabelled(t *testing.T) {
	set := loadLabelled(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	mems := make([]maopao.ChatMemory, len(set.Memories))
	for i, m := range set.Memories {
		mems[i] = maopao.ChatMemory{ID: m.ID, Kind: maopao.ChatMemorySaid, Text: m.Text, Importance: 5, CreatedAt: now, UpdatedAt: now}
	}
	bm25 := recallAtK(set, mems, nil, 3)
	t.Logf("recall@3 over %d queries: BM25 %.2f", len(set.Queries), bm25)
	if bm25 < 0.5 {
		t.Errorf("BM25 recall@3 fell to %.2f (it was 0.50 when the set was written)", bm25)
	}
	url := os.Getenv("MAOPAO_EMBED_URL")
	if url == "" {
		t.Log("MAOPAO_EMBED_URL unset: the embedding arms need a trained embedding model")
		return
	}
	c := openai.New(url)
	c.Model = os.Getenv("MAOPAO_EMBED_MODEL")
	texts := make([]string, len(mems))
	for i, m := range mems {
		texts[i] = m.Text
	}
	vecs, err := c.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range mems {
		mems[i].Embedding = EncodeEmbedding(vecs[i])
	}
	queries := make([]string, len(set.Queries))
	for i, q := range set.Queries {
		queries[i] = q.Text
	}
	qvecs, err := c.Embed(context.Background(), queries)
	if err != nil {
		t.Fatal(err)
	}
	hybrid := recallAtK(set, mems, qvecs, 3)
	cosOnly := make([]maopao.ChatMemory, len(mems))
	copy(cosOnly, mems)
	for i := range cosOnly {
		cosOnly[i].Text = fmt.Sprint(i) // no shared words: meaning alone
	}
	meaning := recallAtK(set, cosOnly, qvecs, 3)
	t.Logf("recall@3: embeddings %.2f, hybrid %.2f (BM25 %.2f)", meaning, hybrid, bm25)
}

// The hybrid's arithmetic: a memory that shares no word with the query but
// means the same (its embedding is the query's) is raised above one that
// shares a word and means something else.
func TestHybridRelevance(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	q := []float32{1, 0, 0}
	mems := []maopao.ChatMemory{
		{ID: "same-words", Text: "Ada said: my violin is old.", Embedding: QuantizeEmbedding([]float32{0, 1, 0}), CreatedAt: now, UpdatedAt: now},
		{ID: "same-meaning", Text: "Ada said: Tom practises his bow every evening.", Embedding: QuantizeEmbedding([]float32{1, 0, 0}), CreatedAt: now, UpdatedAt: now},
		{ID: "neither", Text: "Ada said: good morning.", Embedding: QuantizeEmbedding([]float32{0, 0, 1}), CreatedAt: now, UpdatedAt: now},
		{ID: "not-embedded", Text: "Ada said: the tea is warm."},
	}
	idx := []int{0, 1, 2, 3}
	plain := relevance(mems, idx, "does your brother still play the violin", nil)
	if plain[0] <= plain[1] {
		t.Fatalf("BM25 alone: %v (the shared word should win)", plain)
	}
	mixed := relevance(mems, idx, "does your brother still play the violin", q)
	if !(mixed[1] >= 0.5 && mixed[0] <= 0.5+1e-9 && mixed[2] == 0 && mixed[3] == 0) {
		t.Fatalf("hybrid: %v", mixed)
	}
	if got := cosineQ(q, QuantizeEmbedding([]float32{0.6, 0.8, 0})); got < 0.59 || got > 0.61 {
		t.Fatalf("cosine through quantization: %v, want 0.6", got)
	}
	// A model's 2,048-wide vectors keep their cosines through the
	// projection to EmbeddingDims, within a tenth.
	a, b, c := make([]float32, 2048), make([]float32, 2048), make([]float32, 2048)
	x := uint32(7)
	next := func() float32 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return float32(int32(x)) / (1 << 31) }
	for i := range a {
		a[i], c[i] = next(), next()
		b[i] = a[i] + 0.8*next() // near a
	}
	cos := func(u, v []float32) float64 {
		var d, nu, nv float64
		for i := range u {
			d, nu, nv = d+float64(u[i])*float64(v[i]), nu+float64(u[i])*float64(u[i]), nv+float64(v[i])*float64(v[i])
		}
		return d / math.Sqrt(nu*nv)
	}
	ea, eb, ec := EncodeEmbedding(a), EncodeEmbedding(b), EncodeEmbedding(c)
	if len(ea) != EmbeddingDims {
		t.Fatalf("encoded width %d, want %d", len(ea), EmbeddingDims)
	}
	qa := make([]float32, EmbeddingDims)
	for i, v := range ea {
		qa[i] = float32(int8(v)) / 127
	}
	for _, p := range []struct {
		e    []byte
		want float64
	}{{eb, cos(a, b)}, {ec, cos(a, c)}} {
		if got := cosineQ(qa, p.e); math.Abs(got-p.want) > 0.1 {
			t.Errorf("projected cosine %.3f, full %.3f", got, p.want)
		}
	}
}
