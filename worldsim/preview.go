package worldsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/characters/lorebook"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
)

// PreviewService answers the creator studio's draft previews: it takes
// PreviewRequests from protocol.StudioPreviewSubject (in a queue group, so
// one service answers each), builds the prompt the draft would get in a
// real chat, and streams the lorebook entries that fired and the reply to
// the request's inbox. Nothing is stored: a draft is not a character yet.
// Fill the exported fields and call Run.
type PreviewService struct {
	Bus    bus.PubSub
	Engine engine.Generator
	Log    *slog.Logger
	// MaxTokens caps a reply (default 200).
	MaxTokens int
	// Sampling is used for every preview; nil samples like `maopao serve`'s
	// chat service.
	Sampling *engine.Request
	// MaxConcurrent bounds previews generating at once in this process
	// (default 2): previews share the engine with real chats, and a
	// creator hammering "send" must not starve players.
	MaxConcurrent int
	// MaxDuration bounds one preview whatever its deadline says (default 2m).
	MaxDuration time.Duration

	slots chan struct{}
	wg    sync.WaitGroup
}

// Run answers previews until ctx is cancelled, then stops the ones running.
func (s *PreviewService) Run(ctx context.Context) error {
	if s.Bus == nil || s.Engine == nil {
		return errors.New("worldsim: PreviewService needs Bus and Engine")
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.MaxTokens <= 0 {
		s.MaxTokens = 200
	}
	if s.Sampling == nil {
		s.Sampling = &engine.Request{Temperature: 0.8, TopP: 0.95, TopK: 40, RepeatPenalty: 1.1}
	}
	if s.MaxConcurrent <= 0 {
		s.MaxConcurrent = 2
	}
	if s.MaxDuration <= 0 {
		s.MaxDuration = 2 * time.Minute
	}
	s.slots = make(chan struct{}, s.MaxConcurrent)
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	sub, err := s.Bus.QueueSubscribe(protocol.StudioPreviewSubject, protocol.StudioPreviewQueue, func(m bus.Msg) { s.take(runCtx, m) })
	if err != nil {
		return fmt.Errorf("worldsim: subscribe %s: %w", protocol.StudioPreviewSubject, err)
	}
	// Until the server has the subscription, gateways get "no responders".
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Bus.Flush(fctx); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("worldsim: register the preview subscription: %w", err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	stop()
	s.wg.Wait()
	return nil
}

// take checks one request and starts answering it; it runs on the
// subscription's goroutine, so the work itself goes to its own.
func (s *PreviewService) take(ctx context.Context, m bus.Msg) {
	if m.Reply == "" {
		s.Log.Warn("dropping a preview request without a reply inbox")
		return
	}
	out := &previewStream{bus: s.Bus, inbox: m.Reply, log: s.Log}
	var req protocol.PreviewRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		out.fail(protocol.CodeBadJSON, "the preview request is not valid JSON: "+err.Error())
		return
	}
	if err := checkPreviewRequest(req); err != nil {
		out.fail(protocol.CodeInvalid, err.Error())
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		out.fail(protocol.CodeRateLimited, fmt.Sprintf("%d previews are already running here; try again in a moment", s.MaxConcurrent))
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		s.preview(ctx, req, out)
	}()
}

// checkPreviewRequest refuses what no gateway should send; gateways check
// the same things with better messages, so this only guards the engine.
func checkPreviewRequest(r protocol.PreviewRequest) error {
	if r.ID == "" || strings.ContainsAny(r.ID, ".*> \t\r\n") || len(r.ID) > 64 {
		return fmt.Errorf("id %q is not a NATS subject token", r.ID)
	}
	if len(r.Messages) == 0 {
		return errors.New("messages: the test chat is empty")
	}
	if len(r.Messages) > protocol.MaxPreviewMessages {
		return fmt.Errorf("messages: %d, more than %d", len(r.Messages), protocol.MaxPreviewMessages)
	}
	for i, m := range r.Messages {
		if m.Role != string(maopao.RoleUser) && m.Role != string(maopao.RoleCharacter) {
			return fmt.Errorf("messages[%d].role: %q, want user or character", i, m.Role)
		}
		if utf8.RuneCountInString(m.Content) > protocol.MaxPreviewMessageRunes {
			return fmt.Errorf("messages[%d].content: longer than %d characters", i, protocol.MaxPreviewMessageRunes)
		}
	}
	if r.Messages[len(r.Messages)-1].Role != string(maopao.RoleUser) {
		return errors.New("messages: the last line must be the user's, for the character to answer it")
	}
	return nil
}

func (s *PreviewService) preview(ctx context.Context, req protocol.PreviewRequest, out *previewStream) {
	limit := s.MaxDuration
	if !req.Deadline.IsZero() {
		limit = min(limit, time.Until(req.Deadline))
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	gone, err := s.Bus.Subscribe(protocol.StudioPreviewCancelSubject(req.ID), func(bus.Msg) { cancel() })
	if err != nil {
		out.fail(protocol.CodeUnavailable, "the preview service cannot listen for cancellation: "+err.Error())
		return
	}
	defer func() { _ = gone.Unsubscribe() }()

	history := make([]maopao.Message, len(req.Messages))
	for i, m := range req.Messages {
		history[i] = maopao.Message{Seq: int64(i + 1), Role: maopao.Role(m.Role), Content: m.Content}
	}
	user := strings.TrimSpace(req.UserName)
	if user == "" {
		user = "User"
	}
	prompt, lore := characters.BuildPromptReport(characters.PromptInput{
		Character: req.Character, UserName: user, History: history,
		ContextSize: s.Engine.ContextSize(), ReserveTokens: s.MaxTokens, CountTokens: s.Engine.CountTokens,
	})
	out.send(protocol.PreviewEvent{Kind: protocol.PreviewLore, Lore: loreData(lore)})

	gen := *s.Sampling
	gen.MaxTokens = s.MaxTokens
	gen.Messages = prompt
	res, err := s.Engine.Generate(ctx, gen, func(t engine.Token) error {
		if t.Text != "" {
			out.send(protocol.PreviewEvent{Kind: protocol.PreviewDelta, Text: t.Text})
		}
		return nil
	})
	switch {
	case err == nil:
		out.send(protocol.PreviewEvent{Kind: protocol.PreviewComplete, Text: strings.TrimSpace(res.Text), FinishReason: res.FinishReason})
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		out.fail(protocol.CodeEngine, fmt.Sprintf("the preview took longer than %v and was stopped", limit.Round(time.Second)))
	case ctx.Err() != nil:
		// Cancelled: by the gateway (nobody is listening) or by shutdown.
		out.fail(protocol.CodeUnavailable, "the preview was stopped")
	case errors.Is(err, engine.ErrPromptTooLong):
		out.fail(protocol.CodeEngine, "the draft does not fit the model's context: "+err.Error())
	default:
		s.Log.Error("preview generate", "preview", req.ID, "err", err)
		out.fail(protocol.CodeEngine, "the character could not answer: "+err.Error())
	}
}

func loreData(r lorebook.Result) *protocol.PreviewLoreData {
	d := &protocol.PreviewLoreData{Entries: loreEntries(r.Entries), Dropped: loreEntries(r.Dropped), Warnings: r.Warnings}
	if d.Warnings == nil {
		d.Warnings = []string{}
	}
	return d
}

func loreEntries(as []lorebook.Activated) []protocol.PreviewLoreEntry {
	out := make([]protocol.PreviewLoreEntry, 0, len(as))
	for _, a := range as {
		name := a.Entry.Name
		if name == "" {
			name = a.Entry.Comment
		}
		keys := a.Entry.Keys
		if keys == nil {
			keys = []string{}
		}
		out = append(out, protocol.PreviewLoreEntry{
			Index: a.Index, Name: name, Keys: keys, Reason: a.Reason,
			Position: a.Position, Depth: a.Depth, Tokens: a.Tokens,
		})
	}
	return out
}

// previewStream publishes one preview's events to its inbox, in order.
type previewStream struct {
	bus   bus.PubSub
	inbox string
	log   *slog.Logger
	seq   int
}

func (p *previewStream) send(ev protocol.PreviewEvent) {
	ev.Seq = p.seq
	p.seq++
	b, err := json.Marshal(ev)
	if err != nil {
		p.log.Error("encode preview event", "err", err)
		return
	}
	if err := p.bus.Publish(p.inbox, b); err != nil {
		p.log.Warn("publish preview event", "err", err)
	}
}

func (p *previewStream) fail(code, message string) {
	p.send(protocol.PreviewEvent{Kind: protocol.PreviewError, Error: &protocol.PreviewErrorData{Code: code, Message: message}})
}
