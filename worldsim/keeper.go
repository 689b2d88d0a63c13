package worldsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/storage"
	"github.com/maopao/maopao/worldsim/world"
)

// The slow half of a chat's long-term memory, as the world's residents
// have it (Generative Agents): after each reply the keeper asks the engine
// to rate the importance of new memories (the heuristic guess stands until
// then, and whenever the engine fails), writes reflections when the pair's
// memories since the last one weigh enough, and keeps a rolling summary of
// the chat's lines that left the prompt's window. Its results are chat
// memories like the others: the player sees, edits, pins and forgets them
// in the memory manager, and prompts recall them (a chat's summary stands
// in for its clipped transcript).
//
// It works one job at a time, once a chat has been quiet for a while (the
// player paused: the engine is not needed for their next reply), so it
// takes at most one engine slot, and rarely one a player waits for; jobs
// wait coalesced per chat, bounded, and a job dropped or lost in a crash
// is redone after the chat's next reply.

// Keeper settings.
const (
	// ChatReflectionThreshold: a reflection is written when the importance
	// of the pair's memories since the last one sums past it (worlds use
	// 150; a chat leaves one memory a line, not a dozen observations).
	ChatReflectionThreshold = 60
	// reflectOn is how many of the newest memories a reflection reads.
	reflectOn = 30
	// ratePerJob bounds the memories rated after one reply.
	ratePerJob = 4
	// summaryBatch: lines that left the window before the summary is
	// rewritten, so it is not rewritten for every line.
	summaryBatch = 6
	// maxKeeperJobs bounds the chats waiting for the keeper.
	maxKeeperJobs = 4096
	// summaryWords is what the summary is asked to stay under.
	summaryWords = 180
)

type keeperJob struct {
	PlayerID, CharacterID, ConversationID string
	PlayerName, CharacterName             string
	Window                                int       // the chat's history window
	due                                   time.Time // not before: the chat has been quiet this long
}

// memoryKeeper runs the jobs; the zero value is not usable, see newKeeper.
type memoryKeeper struct {
	store  storage.Store
	engine engine.Generator
	log    *slog.Logger
	now    func() time.Time
	quiet  time.Duration // how long a chat is quiet before its memory work

	mu      sync.Mutex
	pending map[string]keeperJob // by conversation
	order   []string
	wake    chan struct{}
}

func newKeeper(st storage.Store, gen engine.Generator, log *slog.Logger, quiet time.Duration) *memoryKeeper {
	return &memoryKeeper{store: st, engine: gen, log: log, now: time.Now, quiet: quiet, pending: map[string]keeperJob{}, wake: make(chan struct{}, 1)}
}

// enqueue asks for a chat's memory work once it has been quiet for a
// while; a chat already waiting is not queued twice, and its wait starts
// over.
func (k *memoryKeeper) enqueue(j keeperJob) {
	j.due = k.now().Add(k.quiet)
	k.mu.Lock()
	if _, ok := k.pending[j.ConversationID]; !ok {
		if len(k.order) >= maxKeeperJobs {
			k.mu.Unlock()
			return // optional work: the chat's next reply asks again
		}
		k.order = append(k.order, j.ConversationID)
	}
	k.pending[j.ConversationID] = j
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// next takes the first job that is due, or says how long until one is
// (0: none waiting).
func (k *memoryKeeper) next() (keeperJob, time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	var wait time.Duration
	for i, id := range k.order {
		j := k.pending[id]
		if d := j.due.Sub(now); d > 0 {
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		k.order = slices.Delete(k.order, i, i+1)
		delete(k.pending, id)
		return j, 0, true
	}
	return keeperJob{}, wait, false
}

// run does the jobs until ctx ends.
func (k *memoryKeeper) run(ctx context.Context) {
	for {
		j, wait, ok := k.next()
		if !ok {
			var timer *time.Timer
			var due <-chan time.Time
			if wait > 0 {
				timer = time.NewTimer(wait)
				due = timer.C
			}
			select {
			case <-ctx.Done():
			case <-k.wake:
			case <-due:
			}
			if timer != nil {
				timer.Stop()
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if err := k.work(ctx, j); err != nil && ctx.Err() == nil {
			k.log.Warn("chat memory work", "conversation", j.ConversationID, "err", err)
		}
	}
}

// work does one chat's memory work: ratings, then a reflection, then the
// summary. Each part is on its own: one failing leaves the others.
func (k *memoryKeeper) work(ctx context.Context, j keeperJob) error {
	mems, err := k.store.ChatMemories(ctx, j.PlayerID, j.CharacterID)
	if err != nil {
		return fmt.Errorf("read memories: %w", err)
	}
	return errors.Join(k.rate(ctx, mems), k.reflect(ctx, j, mems), k.summarize(ctx, j, mems), k.embed(ctx, j))
}

// embedPerJob bounds the memories embedded after one quiet spell.
const embedPerJob = 64

// embed gives the pair's memories that have none their embeddings, when
// the engine makes them (relevance by meaning beside BM25, recall.go).
func (k *memoryKeeper) embed(ctx context.Context, j keeperJob) error {
	emb, ok := engine.EmbedderOf(k.engine)
	if !ok {
		return nil
	}
	mems, err := k.store.ChatMemories(ctx, j.PlayerID, j.CharacterID)
	if err != nil {
		return fmt.Errorf("read memories: %w", err)
	}
	var todo []maopao.ChatMemory
	for _, m := range mems {
		if len(m.Embedding) == 0 && len(todo) < embedPerJob {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	texts := make([]string, len(todo))
	for i, m := range todo {
		texts[i] = m.Text
	}
	vecs, err := emb.Embed(ctx, texts)
	if errors.Is(err, engine.ErrNoEmbeddings) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("embed memories: %w", err)
	}
	for i, m := range todo {
		cur, err := k.store.GetChatMemory(ctx, m.ID)
		if err != nil || cur.Text != m.Text {
			continue // forgotten or rewritten meanwhile: the next spell embeds the new text
		}
		cur.Embedding = EncodeEmbedding(vecs[i])
		if err := k.store.PutChatMemory(ctx, cur); err != nil {
			return fmt.Errorf("store an embedding: %w", err)
		}
	}
	return nil
}

// ask runs one engine call for the keeper: short, greedy, and stopped
// with ctx.
func (k *memoryKeeper) ask(ctx context.Context, msgs []engine.ChatMessage, maxTokens int) (string, error) {
	res, err := k.engine.Generate(ctx, engine.Request{Messages: msgs, MaxTokens: maxTokens}, // zero sampling: greedy
		func(engine.Token) error { return nil })
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(res.Text), nil
}

// rate asks the engine for the importance of the newest memories it has
// not rated. A memory the player changed meanwhile is left as they made it.
func (k *memoryKeeper) rate(ctx context.Context, mems []maopao.ChatMemory) error {
	n := 0
	for _, m := range mems { // newest first
		if n == ratePerJob {
			break
		}
		if m.Rated || (m.Kind != maopao.ChatMemorySaid && m.Kind != maopao.ChatMemoryFact) {
			continue
		}
		n++
		answer, err := k.ask(ctx, world.RatingMessages(m.Text), 4)
		if err != nil {
			return fmt.Errorf("rate memory %s: %w", m.ID, err)
		}
		score, ok := world.ParseScore(answer)
		if !ok {
			continue // the guess stands
		}
		cur, err := k.store.GetChatMemory(ctx, m.ID)
		if err != nil || cur.Text != m.Text || cur.Kind != m.Kind || cur.Rated {
			continue // forgotten or edited meanwhile
		}
		cur.Importance, cur.Rated = score, true
		if err := k.store.PutChatMemory(ctx, cur); err != nil {
			return fmt.Errorf("store rating of %s: %w", m.ID, err)
		}
	}
	return nil
}

// reflect writes insights when the memories since the last reflection
// weigh enough: the engine reads the newest of them, numbered, and says
// what it makes of them, citing the numbers.
func (k *memoryKeeper) reflect(ctx context.Context, j keeperJob, mems []maopao.ChatMemory) error {
	// A reflection records (Covers) the newest memory it read: what came
	// after is new, whatever the clocks of the processes said.
	var last time.Time
	for _, m := range mems {
		if at := time.UnixMilli(m.Covers); m.Kind == maopao.ChatMemoryReflection && at.After(last) {
			last = at
		}
	}
	var recent []maopao.ChatMemory // newest first
	sum := 0
	for _, m := range mems {
		if m.Kind == maopao.ChatMemoryReflection || m.Kind == maopao.ChatMemorySummary || !m.CreatedAt.After(last) {
			continue
		}
		sum += m.Importance
		if len(recent) < reflectOn {
			recent = append(recent, m)
		}
	}
	if sum < ChatReflectionThreshold {
		return nil
	}
	slices.Reverse(recent) // oldest first, as the statements read
	covers := recent[len(recent)-1].CreatedAt.UnixMilli()
	for _, m := range recent {
		covers = max(covers, m.CreatedAt.UnixMilli())
	}
	var b strings.Builder
	b.WriteString("Statements about " + j.PlayerName + ", from their conversations with " + j.CharacterName + ":\n")
	for i, m := range recent {
		b.WriteString(strconv.Itoa(i+1) + ". " + oneLine(m.Text) + "\n")
	}
	b.WriteString("\nWhat 3 high-level insights about " + j.PlayerName + " can " + j.CharacterName +
		" infer from the statements above? Write one per line, each followed by the numbers of the statements it rests on, like: insight (because of 1, 5, 3)")
	answer, err := k.ask(ctx, []engine.ChatMessage{
		{Role: "system", Content: "You are the inner voice of " + j.CharacterName + ", thinking about what you have learned of " + j.PlayerName + "."},
		{Role: "user", Content: b.String()},
	}, 200)
	if err != nil {
		return fmt.Errorf("reflect: %w", err)
	}
	now := k.now().UTC()
	wrote := 0
	for _, line := range strings.Split(answer, "\n") {
		text, refs := world.ParseInsight(line)
		if text == "" || wrote == 3 {
			continue
		}
		var evidence []string
		for _, r := range refs {
			if r >= 1 && r <= len(recent) && !slices.Contains(evidence, recent[r-1].ID) {
				evidence = append(evidence, recent[r-1].ID)
			}
		}
		if len(evidence) == 0 {
			continue // an insight must rest on what was said, not on nothing
		}
		m := maopao.ChatMemory{ID: reflectionID(j.PlayerID, j.CharacterID, text), PlayerID: j.PlayerID, CharacterID: j.CharacterID,
			Kind: maopao.ChatMemoryReflection, Text: clip(text, 600), Importance: 7, Rated: true, Evidence: evidence, Covers: covers, CreatedAt: now, UpdatedAt: now}
		if err := k.store.PutChatMemory(ctx, m); err != nil {
			return fmt.Errorf("store reflection: %w", err)
		}
		wrote++
	}
	if wrote == 0 {
		// Nothing usable: mark the batch as reflected on all the same, or
		// every reply would ask again.
		m := maopao.ChatMemory{ID: reflectionID(j.PlayerID, j.CharacterID, now.String()), PlayerID: j.PlayerID, CharacterID: j.CharacterID,
			Kind: maopao.ChatMemoryReflection, Text: j.CharacterName + " has been getting to know " + j.PlayerName + ".", Importance: 3, Rated: true, Covers: covers, CreatedAt: now, UpdatedAt: now}
		return k.store.PutChatMemory(ctx, m)
	}
	return nil
}

func reflectionID(player, character, text string) string {
	return uuid.NewSHA1(memoryNamespace, []byte("reflection\x00"+player+"\x00"+character+"\x00"+text)).String()
}

// SummaryMemoryID is the ID of a chat's rolling summary.
func SummaryMemoryID(conversationID string) string {
	return uuid.NewSHA1(memoryNamespace, []byte("summary\x00"+conversationID)).String()
}

// summarize rewrites the chat's summary when enough lines left the
// prompt's window since it was last written: the engine reads the summary
// so far and those lines and writes the summary anew.
func (k *memoryKeeper) summarize(ctx context.Context, j keeperJob, mems []maopao.ChatMemory) error {
	id := SummaryMemoryID(j.ConversationID)
	var prev maopao.ChatMemory
	for _, m := range mems {
		if m.ID == id {
			prev = m
		}
	}
	window := j.Window
	if window <= 0 {
		window = 40
	}
	msgs, err := k.store.RecentMessages(ctx, j.ConversationID, 2*window+4*summaryBatch)
	if err != nil {
		return fmt.Errorf("read the chat: %w", err)
	}
	in := inChatHistory(msgs)
	if len(in) <= window {
		return nil
	}
	var left []maopao.Message
	for _, m := range in[:len(in)-window] {
		if m.Seq > prev.Covers && strings.TrimSpace(m.Content) != "" {
			left = append(left, m)
		}
	}
	if len(left) < summaryBatch {
		return nil
	}
	var b strings.Builder
	if prev.Text != "" {
		b.WriteString("The summary so far:\n" + prev.Text + "\n\n")
	}
	b.WriteString("What was said next:\n")
	for _, m := range left {
		who := j.PlayerName
		if m.Role == maopao.RoleCharacter {
			who = j.CharacterName
		}
		b.WriteString(who + ": " + clip(oneLine(m.Content), 600) + "\n")
	}
	b.WriteString("\nWrite the summary of this conversation between " + j.CharacterName + " and " + j.PlayerName + " anew, in at most " +
		strconv.Itoa(summaryWords) + " words of plain prose: what " + j.PlayerName + " told about themselves, what happened, promises made, and how they feel about each other. Only the summary.")
	answer, err := k.ask(ctx, []engine.ChatMessage{
		{Role: "system", Content: "You keep the memory of a long conversation: you write short, faithful summaries and invent nothing."},
		{Role: "user", Content: b.String()},
	}, summaryWords*2)
	if err != nil {
		return fmt.Errorf("summarize: %w", err)
	}
	if answer == "" {
		return nil
	}
	now := k.now().UTC()
	m := maopao.ChatMemory{ID: id, PlayerID: j.PlayerID, CharacterID: j.CharacterID, Kind: maopao.ChatMemorySummary,
		Text: clip(answer, 3000), Importance: 8, Rated: true, Source: j.ConversationID, Covers: left[len(left)-1].Seq, CreatedAt: now, UpdatedAt: now}
	if !prev.CreatedAt.IsZero() {
		m.CreatedAt, m.Pinned = prev.CreatedAt, prev.Pinned
	}
	return k.store.PutChatMemory(ctx, m)
}
