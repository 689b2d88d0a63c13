package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/protocol"
)

// greetingNamespace makes a chat's greeting ID a function of the chat, so
// two tabs opening a new chat at once store one greeting.
var greetingNamespace = uuid.MustParse("1d4c9a7e-2b6f-4e0a-8c35-7f0e9b1a6d22")

// historyRead is how many stored messages are read for a chat's history:
// deleted ones are read and dropped, so more than the client asked for.
func historyRead(limit int) int { return 2 * limit }

// persona is who the player is in conv: the chat's own persona, else the
// player's.
func (c *conn) persona(ctx context.Context, conv *maopao.Conversation) protocol.Persona {
	p := protocol.Persona{Name: "Traveler"}
	if pl, err := c.s.Store.GetPlayer(ctx, c.playerID); err == nil {
		if pl.Name != "" {
			p.Name = pl.Name
		}
		p.Description = pl.Description
	}
	if conv != nil && conv.Persona != nil {
		if conv.Persona.Name != "" {
			p.Name = conv.Persona.Name
		}
		p.Description = conv.Persona.Description
	}
	return p
}

// visibleCharacter loads a character the player may chat with.
func (c *conn) visibleCharacter(ctx context.Context, ref, id string) (maopao.Character, bool) {
	ch, err := c.s.Store.GetCharacter(ctx, id)
	if err != nil || (ch.Visibility == maopao.VisibilityPrivate && ch.OwnerID != c.playerID) {
		if err != nil && !errors.Is(err, maopao.ErrNotFound) {
			c.sendError(ref, protocol.CodeUnavailable, "could not load the character; try again")
			return ch, false
		}
		c.sendError(ref, protocol.CodeUnknownCharacter, "no character with id "+quote(id))
		return ch, false
	}
	return ch, true
}

// ownChat loads one of the player's chats; anyone else's is unknown.
func (c *conn) ownChat(ctx context.Context, ref, id string) (maopao.Conversation, bool) {
	conv, err := c.s.Store.GetConversation(ctx, id)
	if err == nil && conv.PlayerID == c.playerID {
		return conv, true
	}
	if err != nil && !errors.Is(err, maopao.ErrNotFound) {
		c.sendError(ref, protocol.CodeUnavailable, "could not load the chat; try again")
		return conv, false
	}
	c.sendError(ref, protocol.CodeUnknownChat, "you have no chat with id "+quote(id))
	return conv, false
}

func (c *conn) openChat(ctx context.Context, ref string, o protocol.OpenChat) {
	var (
		conv maopao.Conversation
		err  error
	)
	charID := o.CharacterID
	if o.ConversationID != "" {
		var ok bool
		if conv, ok = c.ownChat(ctx, ref, o.ConversationID); !ok {
			return
		}
		if charID != "" && charID != conv.CharacterID {
			c.sendError(ref, protocol.CodeInvalid, "open_chat: that chat is with another character")
			return
		}
		charID = conv.CharacterID
	}
	ch, ok := c.visibleCharacter(ctx, ref, charID)
	if !ok {
		return
	}
	if o.ConversationID == "" {
		if conv, err = c.s.Store.OpenConversation(ctx, c.playerID, ch.ID); err != nil {
			c.sendError(ref, protocol.CodeUnavailable, "could not open the chat; try again")
			return
		}
	}
	c.sendChat(ctx, ref, conv, ch, o.HistoryLimit)
}

func (c *conn) newChat(ctx context.Context, ref string, n protocol.NewChat) {
	ch, ok := c.visibleCharacter(ctx, ref, n.CharacterID)
	if !ok {
		return
	}
	now := time.Now().UTC()
	conv, _, err := c.s.Store.CreateConversation(ctx, maopao.Conversation{ID: uuid.NewString(), PlayerID: c.playerID, CharacterID: ch.ID, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not start a new chat; try again")
		return
	}
	c.s.chatsChanged()
	c.sendChat(ctx, ref, conv, ch, 0)
}

// sendChat watches a chat, stores its greeting if it is new, and answers
// with chat_opened.
func (c *conn) sendChat(ctx context.Context, ref string, conv maopao.Conversation, ch maopao.Character, limit int) {
	// Watch before reading history, so no reply slips between the two.
	if err := c.s.watch(c, conv.ID); err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not subscribe to the chat; try again")
		return
	}
	c.mu.Lock()
	c.chats[conv.ID] = ch.ID
	c.mu.Unlock()
	if limit == 0 {
		limit = 100
	}
	persona := c.persona(ctx, &conv)
	msgs, err := c.s.Store.RecentMessages(ctx, conv.ID, historyRead(limit))
	if err == nil && len(msgs) == 0 {
		if g, ok := greetingMessage(conv, ch, persona.Name); ok {
			var stored maopao.Message
			if stored, _, err = c.s.Store.AppendMessage(ctx, g); err == nil {
				msgs = []maopao.Message{stored}
				c.s.chatsChanged() // a chat begins
			}
		}
	}
	if err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not load the history; try again")
		return
	}
	hist := make([]protocol.ChatMessage, 0, len(msgs))
	for _, m := range msgs {
		if !m.Deleted {
			hist = append(hist, protocol.ChatMessageOf(m))
		}
	}
	if len(hist) > limit {
		hist = hist[len(hist)-limit:]
	}
	c.sendFrame(protocol.ChatOpened{
		Envelope:       protocol.Envelope{Type: protocol.TypeChatOpened, Ref: ref},
		ConversationID: conv.ID, Chat: chatSummary(conv, msgs), Character: summary(ch, persona.Name), Persona: persona,
		History: hist, Pending: unanswered(msgs),
	})
}

// greetingMessage is a new chat's first message: the card's greeting, with
// its alternate greetings as swipes.
func greetingMessage(conv maopao.Conversation, ch maopao.Character, userName string) (maopao.Message, bool) {
	var texts []string
	for _, g := range append([]string{ch.FirstMes}, ch.AlternateGreetings...) {
		if t := characters.ExpandMacros(g, ch.Name, userName); t != "" {
			texts = append(texts, t)
		}
	}
	if len(texts) == 0 {
		return maopao.Message{}, false
	}
	m := maopao.Message{ID: uuid.NewSHA1(greetingNamespace, []byte(conv.ID)).String(), ConversationID: conv.ID, Role: maopao.RoleCharacter,
		Content: texts[0], Greeting: true, CreatedAt: conv.CreatedAt}
	if len(texts) > 1 {
		for _, t := range texts {
			m.Swipes = append(m.Swipes, maopao.Swipe{Text: t, CreatedAt: conv.CreatedAt})
		}
	}
	return m, true
}

// chatSummary describes a chat from its latest messages.
func chatSummary(conv maopao.Conversation, recent []maopao.Message) protocol.ChatSummary {
	s := protocol.ChatSummary{ID: conv.ID, CharacterID: conv.CharacterID, Title: conv.Title, CreatedAt: conv.CreatedAt, UpdatedAt: conv.UpdatedAt}
	if conv.ForkOf != nil {
		s.ForkOf = conv.ForkOf.ConversationID
	}
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i].InChat() {
			s.LastMessage = clipRunes(recent[i].Content, 120)
			break
		}
	}
	if n := len(recent); n > 0 {
		s.Messages = int(recent[n-1].Seq)
	}
	return s
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func (c *conn) listChats(ctx context.Context, ref string, l protocol.ListChats) {
	if _, ok := c.visibleCharacter(ctx, ref, l.CharacterID); !ok {
		return
	}
	convs, err := c.s.Store.ListConversations(ctx, c.playerID, l.CharacterID)
	if err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not list your chats; try again")
		return
	}
	if len(convs) > protocol.MaxChatListLength {
		convs = convs[:protocol.MaxChatListLength]
	}
	out := make([]protocol.ChatSummary, 0, len(convs))
	for _, conv := range convs {
		recent, err := c.s.Store.RecentMessages(ctx, conv.ID, 8)
		if err != nil {
			c.sendError(ref, protocol.CodeUnavailable, "could not list your chats; try again")
			return
		}
		out = append(out, chatSummary(conv, recent))
	}
	c.sendFrame(protocol.Chats{Envelope: protocol.Envelope{Type: protocol.TypeChats, Ref: ref}, CharacterID: l.CharacterID, Chats: out})
}

func (c *conn) renameChat(ctx context.Context, ref string, r protocol.RenameChat) {
	conv, ok := c.ownChat(ctx, ref, r.ConversationID)
	if !ok {
		return
	}
	conv.Title = r.Title
	stored, err := c.s.Store.UpdateConversation(ctx, conv)
	if err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not rename the chat; try again")
		return
	}
	recent, _ := c.s.Store.RecentMessages(ctx, conv.ID, 8)
	c.sendFrame(protocol.ChatUpdated{Envelope: protocol.Envelope{Type: protocol.TypeChatUpdated, Ref: ref}, Chat: chatSummary(stored, recent)})
}

func (c *conn) deleteChat(ctx context.Context, ref string, d protocol.DeleteChat) {
	if _, ok := c.ownChat(ctx, ref, d.ConversationID); !ok {
		return
	}
	if err := c.s.Store.DeleteConversation(ctx, d.ConversationID); err != nil && !errors.Is(err, maopao.ErrNotFound) {
		c.sendError(ref, protocol.CodeUnavailable, "could not delete the chat; try again")
		return
	}
	c.s.chatsChanged()
	c.mu.Lock()
	delete(c.chats, d.ConversationID)
	c.mu.Unlock()
	c.s.unwatch(c, d.ConversationID)
	c.sendFrame(protocol.ChatDeleted{Envelope: protocol.Envelope{Type: protocol.TypeChatDeleted, Ref: ref}, ConversationID: d.ConversationID})
}

// chatRequest hands a request about a chat's messages to its actor, in
// order with the player's lines.
func (c *conn) chatRequest(ctx context.Context, ref string, r protocol.ChatRequest) {
	charID, ok := c.allowedIn(ref, r.ConversationID)
	if !ok {
		return
	}
	if r.Type == protocol.TypeStop {
		b, _ := json.Marshal(protocol.ChatControl{Op: "stop"})
		if err := c.s.Bus.Publish(protocol.ChatControlSubject(r.ConversationID), b); err != nil {
			c.sendError(ref, protocol.CodeUnavailable, "could not stop the reply; try again")
			return
		}
		c.sendFrame(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: ref}, ConversationID: r.ConversationID})
		return
	}
	line := protocol.PlayerLine{
		MessageID: uuid.NewString(), ConversationID: r.ConversationID, PlayerID: c.playerID, CharacterID: charID,
		Target: r.MessageID, SwipeID: r.SwipeID, Text: r.Text, AcceptedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	switch r.Type {
	case protocol.TypeRegenerate:
		line.Op = protocol.OpRegenerate
	case protocol.TypeSwipe:
		line.Op = protocol.OpSwipe
	case protocol.TypeEditMessage:
		line.Op = protocol.OpEdit
	case protocol.TypeDeleteMessage:
		line.Op = protocol.OpDelete
	case protocol.TypeRewind:
		line.Op = protocol.OpRewind
	case protocol.TypeForkChat:
		line.Op, line.NewConversationID = protocol.OpFork, uuid.NewString()
	}
	c.publishLine(ctx, ref, line)
}

// publishLine puts a line or request into the chat's input stream and
// acks it once JetStream has it on disk: from then on a crash of any one
// part cannot lose it.
func (c *conn) publishLine(ctx context.Context, ref string, line protocol.PlayerLine) {
	b, _ := json.Marshal(line)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c.holdReplies(line.MessageID)
	if _, err := c.s.Bus.Append(pctx, protocol.ChatInputSubject(line.ConversationID), line.MessageID, b); err != nil {
		c.s.Log.Error("publish player line", "conversation", line.ConversationID, "err", err)
		c.s.metrics.errors.WithLabelValues(protocol.CodeUnavailable).Inc()
		c.releaseReplies(line.MessageID, protocol.Marshal(protocol.NewError(ref, protocol.CodeUnavailable, "your message was not accepted; please send it again")))
		return
	}
	if line.Op == "" {
		c.s.metrics.lines.Inc()
	}
	c.releaseReplies(line.MessageID, protocol.Marshal(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: ref}, ConversationID: line.ConversationID, MessageID: line.MessageID}))
}

func (c *conn) setPersona(ctx context.Context, ref string, p protocol.SetPersona) {
	if p.Name != "" {
		clean, msg := c.s.playerName(ctx, p.Name)
		if msg != "" {
			c.sendError(ref, protocol.CodeInvalid, "set_persona: name "+msg)
			return
		}
		p.Name = clean
	}
	if p.ConversationID != "" {
		conv, ok := c.ownChat(ctx, ref, p.ConversationID)
		if !ok {
			return
		}
		conv.Persona = nil
		if p.Name != "" {
			conv.Persona = &maopao.Persona{Name: p.Name, Description: p.Description}
		}
		stored, err := c.s.Store.UpdateConversation(ctx, conv)
		if err != nil {
			c.sendError(ref, protocol.CodeUnavailable, "could not save the persona; try again")
			return
		}
		c.sendFrame(protocol.PersonaSet{Envelope: protocol.Envelope{Type: protocol.TypePersona, Ref: ref}, Persona: c.persona(ctx, &stored), ConversationID: conv.ID})
		return
	}
	pl, err := c.s.Store.GetPlayer(ctx, c.playerID)
	if errors.Is(err, maopao.ErrNotFound) {
		pl, err = maopao.Player{ID: c.playerID, CreatedAt: time.Now().UTC()}, nil
	}
	if err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not save the persona; try again")
		return
	}
	pl.Name, pl.Description = p.Name, p.Description
	if err := c.s.Store.PutPlayer(ctx, pl); err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not save the persona; try again")
		return
	}
	c.sendFrame(protocol.PersonaSet{Envelope: protocol.Envelope{Type: protocol.TypePersona, Ref: ref}, Persona: protocol.Persona{Name: pl.Name, Description: pl.Description}})
}
