package world

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/maopao/maopao"
)

// Limits on what players send.
const (
	MaxTextRunes = 2000
	MaxNameRunes = 64
	MaxIDBytes   = 128
	seenCap      = 512 // player message IDs remembered for redelivery
)

// Step applies one input to the world and returns what the runner must do.
// It mutates s in place; nothing else is read or written, so the same state
// and inputs always give the same result. s must come from New, Replay or
// a JSON round trip of either. Bad input never panics: it is refused with
// an error event to the player who sent it.
func (s *State) Step(in Input) []Effect {
	s.Config = s.Config.withDefaults() // a hand-made or zero State works too
	s.index()
	var effs []Effect
	switch in := in.(type) {
	case Tick:
		effs = s.tick(in)
	case PlayerJoined:
		effs = s.playerJoined(in)
	case PlayerLeft:
		effs = s.playerLeft(in)
	case PlayerMoved:
		effs = s.playerMoved(in)
	case PlayerSaid:
		effs = s.playerSaid(in)
	case PrivateSaid:
		effs = s.privateSaid(in)
	case Generated:
		effs = s.generated(in)
	case WorldRevised:
		effs = s.revise(in)
	case CardsStaged:
		effs = s.stage(in)
	case MemoryChanged:
		effs = s.memoryChanged(in)
	case CardsUpdated:
		effs = s.cardsUpdated(in)
	case ImportanceRated:
		effs = s.rate(in.MemoryID, in.Score)
	case ReflectionWritten:
		// Only a running reflection can take insights; anything else keeps
		// waiting for its Generated.
		if s.running(in.WorkID, WorkReflect) {
			effs = s.reflected(s.finish(in.WorkID), in.Insights)
		}
	}
	effs = append(effs, s.startDue()...)
	return append(effs, s.dispatch()...)
}

func checkText(what, v string, maxRunes int) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		return fmt.Errorf("%s has %d characters, more than %d", what, n, maxRunes)
	}
	return nil
}

func checkID(what, v string) error {
	if v == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(v) > MaxIDBytes || !utf8.ValidString(v) {
		return fmt.Errorf("%s is not a valid ID (UTF-8, at most %d bytes)", what, MaxIDBytes)
	}
	return nil
}

func (s *State) refuse(playerID, messageID string, err error) []Effect {
	var effs []Effect
	if checkID("player", playerID) == nil {
		effs = append(effs, SendPrivate{playerID, Event{Kind: EventError, ReplyTo: messageID, Code: CodeInvalid, Text: err.Error(), SimMinute: s.Clock}})
	}
	if messageID != "" {
		// Refused for good: a redelivery would only be refused again.
		effs = append(effs, Ack{messageID})
	}
	return effs
}

func (s *State) playerJoined(in PlayerJoined) []Effect {
	err := checkID("player_id", in.PlayerID)
	if err == nil {
		err = checkText("name", in.Name, MaxNameRunes)
	}
	if _, ok := s.location(in.LocationID); err == nil && !ok {
		err = fmt.Errorf("location_id %q is not a location of world %q", in.LocationID, s.World.ID)
	}
	if err != nil {
		return s.refuse(in.PlayerID, "", fmt.Errorf("player_joined: %w", err))
	}
	name := strings.TrimSpace(in.Name)
	if k, ok := s.player(in.PlayerID); ok {
		// Another tab of a player already here: counted, and it moves
		// the player where that tab joined.
		p := &s.People[k]
		p.Name = name
		if in.Conn != "" && !slices.Contains(p.Conns, in.Conn) {
			p.Conns = append(slices.Clone(p.Conns), in.Conn)
		}
		return s.movePlayer(k, in.LocationID)
	}
	k, _ := s.player(in.PlayerID)
	s.People = append(s.People, Player{})
	copy(s.People[k+1:], s.People[k:])
	s.People[k] = Player{ID: in.PlayerID, Name: name, Location: in.LocationID}
	if in.Conn != "" {
		s.People[k].Conns = []string{in.Conn}
	}
	return s.arrive(KindPlayer, in.PlayerID, name, in.LocationID, "")
}

func (s *State) playerLeft(in PlayerLeft) []Effect {
	k, ok := s.player(in.PlayerID)
	if !ok {
		return nil // already gone: a redelivery
	}
	p := s.People[k]
	if in.Conn != "" && len(p.Conns) > 0 {
		i := slices.Index(p.Conns, in.Conn)
		if i < 0 {
			return nil // a redelivery of a tab already gone
		}
		if len(p.Conns) > 1 {
			// Another tab is still here: the player stays.
			s.People[k].Conns = slices.Delete(slices.Clone(p.Conns), i, i+1)
			return nil
		}
	}
	s.People = append(s.People[:k], s.People[k+1:]...)
	return s.depart(KindPlayer, p.ID, p.Name, p.Location, "")
}

func (s *State) playerMoved(in PlayerMoved) []Effect {
	k, ok := s.player(in.PlayerID)
	if !ok {
		return s.refuse(in.PlayerID, "", fmt.Errorf("player_moved: player %q has not joined world %q", in.PlayerID, s.World.ID))
	}
	if _, ok := s.location(in.LocationID); !ok {
		return s.refuse(in.PlayerID, "", fmt.Errorf("player_moved: location_id %q is not a location of world %q", in.LocationID, s.World.ID))
	}
	return s.movePlayer(k, in.LocationID)
}

func (s *State) movePlayer(k int, to string) []Effect {
	p := s.People[k]
	if p.Location == to {
		return nil
	}
	effs := s.depart(KindPlayer, p.ID, p.Name, p.Location, to)
	s.People[k].Location = to
	return append(effs, s.arrive(KindPlayer, p.ID, p.Name, to, p.Location)...)
}

func (s *State) locName(id string) string {
	if l, ok := s.location(id); ok && l.Name != "" {
		return l.Name
	}
	return id
}

// depart tells a location that someone left it; characters there remember.
func (s *State) depart(kind, id, name, from, to string) []Effect {
	text := name + " left " + s.locName(from) + "."
	if to != "" {
		text = name + " left " + s.locName(from) + " for " + s.locName(to) + "."
	}
	effs := []Effect{Broadcast{from, Event{Kind: EventLeft, From: id, FromName: name, FromKind: kind, LocationID: from, Text: text, SimMinute: s.Clock}}}
	for _, i := range s.actorsAt(from) {
		if s.Actors[i].Card.ID == id {
			continue
		}
		_, e := s.remember(i, Memory{Kind: maopao.MemoryObservation, Text: text, LocationID: from, Importance: 1, About: aboutPlayer(kind, id)})
		effs = append(effs, e)
	}
	return effs
}

// arrive tells a location that someone came; characters there remember,
// more keenly when they meet the newcomer for the first time.
func (s *State) arrive(kind, id, name, at, from string) []Effect {
	text := name + " arrived at " + s.locName(at) + "."
	effs := []Effect{Broadcast{at, Event{Kind: EventArrived, From: id, FromName: name, FromKind: kind, LocationID: at, Text: text, SimMinute: s.Clock}}}
	for _, i := range s.actorsAt(at) {
		a := &s.Actors[i]
		if a.Card.ID == id {
			continue
		}
		imp := guessImportance(1, "", "", kind == KindPlayer && meet(a, id))
		_, e := s.remember(i, Memory{Kind: maopao.MemoryObservation, Text: text, LocationID: at, Importance: imp, About: aboutPlayer(kind, id)})
		effs = append(effs, e)
	}
	return append(effs, s.arrivalEvents(at, kind, id)...)
}

func (s *State) seen(id string) bool {
	for _, x := range s.Seen {
		if x == id {
			return true
		}
	}
	return false
}

func (s *State) markSeen(id string) {
	if len(s.Seen) >= seenCap {
		copy(s.Seen, s.Seen[1:])
		s.Seen = s.Seen[:len(s.Seen)-1]
	}
	s.Seen = append(s.Seen, id)
}

func (s *State) playerSaid(in PlayerSaid) []Effect {
	if err := checkID("message_id", in.MessageID); err != nil {
		return s.refuse(in.PlayerID, "", fmt.Errorf("player_said: %w", err))
	}
	if s.seen(in.MessageID) {
		return []Effect{Ack{in.MessageID}}
	}
	k, ok := s.player(in.PlayerID)
	if !ok {
		return s.refuse(in.PlayerID, in.MessageID, fmt.Errorf("player_said: player %q has not joined world %q", in.PlayerID, s.World.ID))
	}
	p := s.People[k]
	if in.LocationID != "" && in.LocationID != p.Location {
		return s.refuse(p.ID, in.MessageID, fmt.Errorf("player_said: location_id %q is not where the player is (%q)", in.LocationID, p.Location))
	}
	if len(in.Pictures) > maxLinePictures {
		return s.refuse(p.ID, in.MessageID, fmt.Errorf("player_said: %d pictures, at most %d", len(in.Pictures), maxLinePictures))
	}
	if len(in.Pictures) == 0 || strings.TrimSpace(in.Text) != "" {
		if err := checkText("text", in.Text, MaxTextRunes); err != nil {
			return s.refuse(p.ID, in.MessageID, fmt.Errorf("player_said: %w", err))
		}
	}
	addressed := -1
	if in.AddressedTo != "" {
		i, ok := s.actorByID(in.AddressedTo)
		if !ok || s.Actors[i].Location != p.Location {
			return s.refuse(p.ID, in.MessageID, fmt.Errorf("player_said: addressed_to %q is not a character at %q", in.AddressedTo, p.Location))
		}
		addressed = i
	}
	s.markSeen(in.MessageID)
	line := Line{ID: in.MessageID, From: p.ID, FromName: p.Name, FromKind: KindPlayer, Text: strings.TrimSpace(in.Text), SimMinute: s.Clock, Pictures: in.Pictures}
	effs, heard := s.say(p.Location, line, -1)
	if len(line.Pictures) > 0 {
		// What the pictures show is remembered in words, once the engine
		// has looked; until then, that a picture was shown.
		w := s.newWork(WorkCaption, PriorityIdle, -1)
		w.Audience = Audience{LocationID: p.Location}
		w.ReplyTo, w.Pictures = line.ID, line.Pictures
		w.Query = p.ID // whom the caption's memory is about
		_, e := s.enqueue(w)
		effs = append(effs, e...)
	}
	for _, i := range s.responders(p.Location, line.Text, -1, addressed, 0) {
		w := s.newWork(WorkReply, PriorityReply, i)
		w.Audience = Audience{LocationID: p.Location}
		w.ReplyTo, w.Chain, w.Query = line.ID, 1, p.Name+" "+line.Text
		_, e := s.enqueue(w)
		effs = append(effs, e...)
	}
	effs = append(effs, s.askRating(line.FromName+" said: "+quote(line.Text), heard)...)
	return append(effs, Ack{in.MessageID})
}

// say puts a line into a room: everyone there sees it and every character
// there remembers it (a character elsewhere knows nothing of it). It
// returns the IDs of those memories, for a rating.
func (s *State) say(loc string, line Line, speaker int) ([]Effect, []string) {
	r := s.room(loc)
	r.Lines = appendLine(r.Lines, line, s.Config.TranscriptCap)
	effs := []Effect{Broadcast{loc, Event{Kind: EventSaid, ID: line.ID, ReplyTo: line.ReplyTo, From: line.From, FromName: line.FromName,
		FromKind: line.FromKind, LocationID: loc, Text: line.Text, SimMinute: line.SimMinute, Pictures: line.Pictures}}}
	heard := line.FromName + " said: " + quote(line.Text)
	if n := len(line.Pictures); n > 0 {
		heard = line.FromName + " showed " + countPictures(n)
		if line.Text != "" {
			heard += " and said: " + quote(line.Text)
		}
	}
	var targets []string
	for _, i := range s.actorsAt(loc) {
		a := &s.Actors[i]
		text, imp := heard, 0
		if i == speaker {
			text = "I said: " + quote(line.Text)
			imp = guessImportance(2, line.Text, "", false)
		} else {
			imp = guessImportance(2, line.Text, a.Card.Name, line.FromKind == KindPlayer && meet(a, line.From))
		}
		id, e := s.remember(i, Memory{Kind: maopao.MemoryDialogue, Text: text, LocationID: loc, Importance: imp, About: aboutPlayer(line.FromKind, line.From), Line: line.ID})
		targets = append(targets, id)
		effs = append(effs, e)
	}
	if speaker >= 0 && s.Actors[speaker].Location != loc {
		// An answer finished after its speaker walked on: still its own words.
		id, e := s.remember(speaker, Memory{Kind: maopao.MemoryDialogue, Text: "I said: " + quote(line.Text), LocationID: loc,
			Importance: guessImportance(2, line.Text, "", false), Line: line.ID})
		targets = append(targets, id)
		effs = append(effs, e)
	}
	return append(effs, s.keywordEvents(loc, line)...), targets
}

func quote(t string) string { return "“" + t + "”" }

func appendLine(l []Line, line Line, limit int) []Line {
	l = append(l, line)
	if len(l) > limit {
		n := copy(l, l[len(l)-limit:])
		l = l[:n]
	}
	return l
}

// askRating queues one engine rating for a line heard by several
// characters (the score applies to all their records), but only while
// the engine has little else to do.
func (s *State) askRating(text string, targets []string) []Effect {
	if len(targets) == 0 || !s.queueShort(s.Config.IdleQueueMax) {
		return nil
	}
	for k := range s.Queue {
		if s.Queue[k].Kind == WorkRate {
			return nil // one waiting rating is enough
		}
	}
	w := s.newWork(WorkRate, PriorityIdle, -1)
	w.Query, w.Targets = text, targets
	_, effs := s.enqueue(w)
	return effs
}

func (s *State) thread(playerID, charID string) *Thread {
	for k := range s.Thread {
		if t := &s.Thread[k]; t.PlayerID == playerID && t.CharacterID == charID {
			return t
		}
	}
	return nil
}

// touchThread moves (or adds) a private thread to the end, keeping the
// number of threads bounded by dropping the longest idle.
func (s *State) touchThread(playerID, charID string) *Thread {
	const maxThreads = 256
	for k := range s.Thread {
		if t := s.Thread[k]; t.PlayerID == playerID && t.CharacterID == charID {
			s.Thread = append(append(s.Thread[:k], s.Thread[k+1:]...), t)
			return &s.Thread[len(s.Thread)-1]
		}
	}
	if len(s.Thread) >= maxThreads {
		s.Thread = append(s.Thread[:0], s.Thread[1:]...)
	}
	s.Thread = append(s.Thread, Thread{PlayerID: playerID, CharacterID: charID})
	return &s.Thread[len(s.Thread)-1]
}

func (s *State) privateSaid(in PrivateSaid) []Effect {
	if err := checkID("message_id", in.MessageID); err != nil {
		return s.refuse(in.PlayerID, "", fmt.Errorf("private_said: %w", err))
	}
	if s.seen(in.MessageID) {
		return []Effect{Ack{in.MessageID}}
	}
	k, ok := s.player(in.PlayerID)
	if !ok {
		return s.refuse(in.PlayerID, in.MessageID, fmt.Errorf("private_said: player %q has not joined world %q", in.PlayerID, s.World.ID))
	}
	i, ok := s.actorByID(in.CharacterID)
	if !ok || s.Actors[i].Gone {
		return s.refuse(in.PlayerID, in.MessageID, fmt.Errorf("private_said: character_id %q does not live in world %q", in.CharacterID, s.World.ID))
	}
	if err := checkText("text", in.Text, MaxTextRunes); err != nil {
		return s.refuse(in.PlayerID, in.MessageID, fmt.Errorf("private_said: %w", err))
	}
	s.markSeen(in.MessageID)
	p := s.People[k]
	a := &s.Actors[i]
	line := Line{ID: in.MessageID, From: p.ID, FromName: p.Name, FromKind: KindPlayer, Text: strings.TrimSpace(in.Text), SimMinute: s.Clock}
	t := s.touchThread(p.ID, a.Card.ID)
	t.Lines = appendLine(t.Lines, line, s.Config.TranscriptCap)
	imp := guessImportance(2, line.Text, a.Card.Name, meet(a, p.ID))
	_, mem := s.remember(i, Memory{Kind: maopao.MemoryDialogue, Text: p.Name + " told me in private: " + quote(line.Text), PrivateTo: p.ID, About: p.ID, Importance: imp, Line: line.ID})
	effs := []Effect{mem}
	w := s.newWork(WorkPrivate, PriorityPrivate, i)
	w.Audience = Audience{PlayerID: p.ID}
	w.ReplyTo, w.Query = line.ID, p.Name+" "+line.Text
	_, e := s.enqueue(w)
	effs = append(effs, e...)
	return append(effs, Ack{in.MessageID})
}

// cleanReply trims what the engine wrote into one line of speech by the
// character: no leading "Name:" and never empty.
func cleanReply(text, name string) string {
	text = strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD"))
	for _, prefix := range []string{name + ":", name + "："} {
		if len(text) >= len(prefix) && strings.EqualFold(text[:len(prefix)], prefix) {
			text = strings.TrimSpace(text[len(prefix):])
		}
	}
	if r := []rune(text); len(r) > MaxTextRunes {
		text = string(r[:MaxTextRunes])
	}
	if text == "" {
		text = "…"
	}
	return text
}

func (s *State) generated(in Generated) []Effect {
	w := s.finish(in.WorkID)
	if w == nil {
		return nil // unknown or already handled: a redelivery
	}
	if in.Code != "" {
		s.Stats.Failed++
		return s.failed(w, in.Code)
	}
	s.Stats.Generated++
	switch w.Kind {
	case WorkReply, WorkTalk:
		return s.spoke(w, in.Text)
	case WorkPrivate:
		return s.spokePrivately(w, in.Text)
	case WorkRate:
		score, ok := parseScore(in.Text)
		if !ok {
			return nil // keep the heuristic guess
		}
		var effs []Effect
		for _, id := range w.Targets {
			effs = append(effs, s.rate(id, score)...)
		}
		return effs
	case WorkReflect:
		return s.reflected(w, strings.Split(in.Text, "\n"))
	case WorkCaption:
		return s.captioned(w, in.Text)
	}
	return nil
}

// maxLinePictures bounds the pictures of one line (as the gateway does).
const maxLinePictures = 4

func countPictures(n int) string {
	if n == 1 {
		return "a picture"
	}
	return fmt.Sprintf("%d pictures", n)
}

// captioned gives the residents still at the place a memory of what the
// pictures showed.
func (s *State) captioned(w *Work, text string) []Effect {
	caption := cleanReply(text, "")
	who := w.Query
	if k, ok := s.player(w.Query); ok {
		who = s.People[k].Name
	}
	var effs []Effect
	for _, i := range s.actorsAt(w.Audience.LocationID) {
		_, e := s.remember(i, Memory{Kind: maopao.MemoryObservation, Text: who + " showed " + countPictures(len(w.Pictures)) + ": " + caption,
			LocationID: w.Audience.LocationID, About: w.Query, Importance: guessImportance(3, caption, s.Actors[i].Card.Name, false)})
		effs = append(effs, e)
	}
	return effs
}

func (s *State) failed(w *Work, code string) []Effect {
	switch w.Kind {
	case WorkReply:
		return []Effect{Broadcast{w.Audience.LocationID, s.errorEvent(w, code, "")}}
	case WorkPrivate:
		return []Effect{SendPrivate{w.Audience.PlayerID, s.errorEvent(w, code, "")}}
	case WorkTalk:
		s.endConversation(w.Conv)
	case WorkReflect:
		// Give up on this batch; the next memories will call for another.
		s.Actors[w.Actor].Reflect = false
		s.addImportance(w.Actor, -w.Covered)
	case WorkCaption:
		if code == CodeNoVision {
			return []Effect{Broadcast{w.Audience.LocationID, s.errorEvent(w, code, "the characters here cannot see pictures with this model; they hear the words only")}}
		}
	}
	return nil
}

// spoke delivers a character's line to the room it was meant for and lets
// the line draw further answers, or carries the conversation on.
func (s *State) spoke(w *Work, text string) []Effect {
	a := &s.Actors[w.Actor]
	loc := w.Audience.LocationID
	if a.Gone || (w.Kind == WorkTalk && a.Location != loc) {
		return nil // it walked off mid-conversation (or out of the world): the line is never said
	}
	line := Line{ID: s.lineID(w), From: a.Card.ID, FromName: a.Card.Name, FromKind: KindCharacter,
		Text: cleanReply(text, a.Card.Name), SimMinute: s.Clock, ReplyTo: w.ReplyTo}
	effs, heard := s.say(loc, line, w.Actor)
	if w.Kind == WorkTalk {
		effs = append(effs, s.nextTurn(w.Conv, line)...)
	} else {
		for _, i := range s.responders(loc, line.Text, w.Actor, -1, w.Chain) {
			r := s.newWork(WorkReply, PriorityReply, i)
			r.Audience = Audience{LocationID: loc}
			r.ReplyTo, r.Chain, r.Query = line.ID, w.Chain+1, a.Card.Name+" "+line.Text
			_, e := s.enqueue(r)
			effs = append(effs, e...)
		}
	}
	return append(effs, s.askRating(line.FromName+" said: "+quote(line.Text), heard)...)
}

func (s *State) spokePrivately(w *Work, text string) []Effect {
	a := &s.Actors[w.Actor]
	if a.Gone {
		return nil // it left the world while it was answering
	}
	pid := w.Audience.PlayerID
	line := Line{ID: s.lineID(w), From: a.Card.ID, FromName: a.Card.Name, FromKind: KindCharacter,
		Text: cleanReply(text, a.Card.Name), SimMinute: s.Clock, ReplyTo: w.ReplyTo}
	t := s.touchThread(pid, a.Card.ID)
	t.Lines = appendLine(t.Lines, line, s.Config.TranscriptCap)
	name := pid
	if k, ok := s.player(pid); ok {
		name = s.People[k].Name
	}
	_, mem := s.remember(w.Actor, Memory{Kind: maopao.MemoryDialogue, Text: "I told " + name + " in private: " + quote(line.Text),
		PrivateTo: pid, About: pid, Importance: guessImportance(2, line.Text, "", false), Line: line.ID})
	return []Effect{SendPrivate{pid, Event{Kind: EventSaid, ID: line.ID, ReplyTo: line.ReplyTo, From: a.Card.ID, FromName: a.Card.Name,
		FromKind: KindCharacter, Text: line.Text, SimMinute: s.Clock}}, mem}
}

// parseScore reads the first number 1..10 in a rating answer.
func parseScore(text string) (int, bool) {
	for k := 0; k < len(text); k++ {
		if text[k] < '0' || text[k] > '9' {
			continue
		}
		n := 0
		j := k
		for ; j < len(text) && text[j] >= '0' && text[j] <= '9' && n <= 10; j++ {
			n = n*10 + int(text[j]-'0')
		}
		if n >= 1 && n <= 10 {
			return n, true
		}
		k = j
	}
	return 0, false
}

// startDue queues reflections that came due, while the engine has room.
func (s *State) startDue() []Effect {
	var effs []Effect
	// Each due actor is looked at once per Step, whatever enqueue does.
	for n := len(s.Due); n > 0 && len(s.Due) > 0 && s.queueShort(s.Config.IdleQueueMax); n-- {
		i := s.Due[0]
		s.Due = s.Due[1:]
		a := &s.Actors[i]
		if a.Reflect || a.ImpSum <= s.Config.ReflectionThreshold {
			continue
		}
		a.Reflect = true
		w := s.newWork(WorkReflect, PriorityIdle, i)
		w.Covered = a.ImpSum
		_, e := s.enqueue(w)
		effs = append(effs, e...)
	}
	if len(s.Due) == 0 {
		s.Due = nil
	}
	return effs
}

// reflected stores a reflection's insights as memories with their evidence.
func (s *State) reflected(w *Work, insights []string) []Effect {
	s.Actors[w.Actor].Reflect = false
	s.addImportance(w.Actor, -w.Covered)
	s.Stats.Reflections++
	var effs []Effect
	n := 0
	for _, raw := range insights {
		text, refs := parseInsight(raw)
		if text == "" || n >= 5 {
			continue
		}
		n++
		var ev []string
		for _, r := range refs {
			if r >= 1 && r <= len(w.Evidence) {
				ev = append(ev, w.Evidence[r-1])
			}
		}
		if len(ev) == 0 {
			ev = append(ev, w.Evidence...)
		}
		sort.Strings(ev)
		ev = compactStrings(ev)
		_, e := s.remember(w.Actor, Memory{Kind: maopao.MemoryReflection, Text: text, Evidence: ev,
			Importance: guessImportance(5, text, "", false)})
		effs = append(effs, e)
	}
	return effs
}

func compactStrings(l []string) []string {
	out := l[:0]
	for k, v := range l {
		if k == 0 || v != l[k-1] {
			out = append(out, v)
		}
	}
	return out
}

// parseInsight reads "1. insight (because of 2, 5)" into the insight and
// the statement numbers it cites.
func parseInsight(line string) (string, []int) {
	line = strings.TrimSpace(line)
	line = strings.TrimLeft(line, "-*•0123456789.) ")
	var refs []int
	low := strings.ToLower(line)
	if k := strings.LastIndex(low, "(because of"); k >= 0 {
		inner := line[k+len("(because of"):]
		line = strings.TrimSpace(line[:k])
		n, in := 0, false
		for _, c := range inner {
			if c >= '0' && c <= '9' {
				n, in = n*10+int(c-'0'), true
				if n > 1000 {
					n = 1001
				}
				continue
			}
			if in {
				refs = append(refs, n)
			}
			n, in = 0, false
			if c == ')' {
				break
			}
		}
	}
	if r := []rune(line); len(r) > 500 {
		line = string(r[:500])
	}
	return line, refs
}

// aboutPlayer is what a memory of someone's doing is About: the player,
// when it was a player.
func aboutPlayer(kind, id string) string {
	if kind == KindPlayer {
		return id
	}
	return ""
}
