package chatcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// WorldOptions configure RunWorld.
type WorldOptions struct {
	URL          string // server base URL, http(s)://host:port
	IdentityFile string // default DefaultIdentityPath(URL)
	Name         string // player name for a new guest session

	World    string // world id, name, or unique name prefix
	Location string // place to join at (id, name or prefix); "" = the world's first
	Say      string // when set, say this one line, print the replies and exit
	To       string // with Say: the character the line is addressed to
	Private  string // with Say: say it privately to this character instead

	// Timeout bounds the wait for the replies to Say (default 60s).
	Timeout time.Duration
	// Settle is how long the room must stay quiet after the last reply
	// before more replies are given up on (default 3s): several
	// characters may answer one line, and nothing says how many will.
	Settle time.Duration

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// RunWorld joins a world and either says opt.Say and prints the replies,
// or runs an interactive session until /quit, end of input or ctx ends.
func RunWorld(ctx context.Context, opt WorldOptions) error {
	if opt.Stdin == nil {
		opt.Stdin = os.Stdin
	}
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 60 * time.Second
	}
	if opt.Settle <= 0 {
		opt.Settle = 3 * time.Second
	}
	switch {
	case opt.URL == "":
		return errors.New("--url is required")
	case opt.To != "" && opt.Private != "":
		return errors.New("--to and --private do not go together: a line is said either in the room or privately")
	case (opt.To != "" || opt.Private != "") && opt.Say == "":
		return errors.New("--to and --private need --say")
	}
	copt := Options{URL: opt.URL, IdentityFile: opt.IdentityFile, Name: opt.Name, Stderr: opt.Stderr}
	c, _, err := connect(ctx, &copt)
	if err != nil {
		return err
	}
	defer c.Close()
	untrainedHint(c, opt.Stderr)

	worlds, err := c.ListWorlds(ctx)
	if err != nil {
		return err
	}
	wn, err := resolveNamed("world", "", worldChoices(worlds), opt.World)
	if err != nil {
		return err
	}
	var w protocol.WorldSummary
	for _, x := range worlds {
		if x.ID == wn.ID {
			w = x
		}
	}
	loc := ""
	if opt.Location != "" {
		ln, err := resolveNamed("place", " in "+w.Name, placeChoices(w), opt.Location)
		if err != nil {
			return err
		}
		loc = ln.ID
	}
	joined, err := c.JoinWorld(ctx, w.ID, loc)
	if err != nil {
		return err
	}
	s := &worldSession{c: c, opt: opt, feed: newFeed(opt.Stdout), me: c.Welcome().PlayerID}
	s.setPlace(joined)
	s.recent = joined.Recent
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.LeaveWorld(lctx, w.ID)
	}()
	if opt.Say != "" {
		return s.sayOnce(ctx)
	}
	return s.interactive(ctx)
}

// worldSession is one player's stay in a world.
type worldSession struct {
	c    *chatclient.Client
	opt  WorldOptions
	feed *feed
	me   string

	mu      sync.Mutex
	world   protocol.WorldSummary
	here    string
	present map[string]protocol.Actor
	chars   []protocol.CharacterSummary // every character, for private chats
	recent  []protocol.WorldEvent       // what was said here before joining
}

func (s *worldSession) setPlace(j protocol.WorldJoined) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.world, s.here = j.World, j.LocationID
	s.present = map[string]protocol.Actor{}
	for _, a := range j.Present {
		s.present[a.ID] = a
	}
	// The world may not have seen the player arrive when it answered.
	if _, ok := s.present[s.me]; !ok && s.me != "" {
		s.present[s.me] = protocol.Actor{Kind: "player", ID: s.me}
	}
}

func (s *worldSession) placeName(id string) string {
	for _, l := range s.world.Locations {
		if l.ID == id {
			return clean(l.Name)
		}
	}
	return clean(id)
}

// charactersHere lists the characters at the player's place.
func (s *worldSession) charactersHere() []named {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []named
	for _, a := range s.present {
		if a.Kind == "character" {
			out = append(out, named{a.ID, a.Name})
		}
	}
	return out
}

// addressee resolves a character among those present; one who exists but
// is elsewhere gets an error saying so.
func (s *worldSession) addressee(ctx context.Context, query string) (named, error) {
	here := s.charactersHere()
	n, err := resolveNamed("character", " here", here, query)
	if err == nil {
		return n, nil
	}
	if all, lerr := s.allCharacters(ctx); lerr == nil {
		if m, merr := resolveNamed("character", "", all, query); merr == nil {
			return named{}, fmt.Errorf("%s is not at %s; characters here: %s", clean(m.Name), s.placeName(s.here), namedChoices(here))
		}
	}
	return named{}, err
}

// allCharacters lists every character the player may talk to; private
// chats resolve against it because a world's summary does not name its
// residents.
func (s *worldSession) allCharacters(ctx context.Context) ([]named, error) {
	s.mu.Lock()
	have := s.chars
	s.mu.Unlock()
	if have == nil {
		got, err := s.c.ListCharacters(ctx)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.chars, have = got, got
		s.mu.Unlock()
	}
	return characterChoices(have), nil
}

// pump reads world events until ctx ends or the connection does. Error
// frames answering nothing are printed and reading goes on.
func (s *worldSession) pump(ctx context.Context) (<-chan protocol.WorldEvent, <-chan error) {
	evs := make(chan protocol.WorldEvent, 64)
	errc := make(chan error, 1)
	go func() {
		defer close(evs)
		for {
			ev, err := s.c.NextWorldEvent(ctx)
			var fe *chatclient.FrameError
			if errors.As(err, &fe) {
				fmt.Fprintf(s.opt.Stderr, "maopao: %v\n", err)
				continue
			}
			if err != nil {
				errc <- err
				return
			}
			select {
			case evs <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return evs, errc
}

// sayOnce says opt.Say and prints the replies to it: the lines that answer
// it and, since characters answer one another, the lines answering those.
func (s *worldSession) sayOnce(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opt := s.opt
	private := ""
	var msgID string
	var err error
	switch {
	case opt.Private != "":
		all, lerr := s.allCharacters(ctx)
		if lerr != nil {
			return lerr
		}
		ch, rerr := resolveNamed("character", "", all, opt.Private)
		if rerr != nil {
			return rerr
		}
		private = ch.ID
		msgID, err = s.c.PrivateSay(ctx, s.world.ID, ch.ID, opt.Say)
	default:
		to := ""
		if opt.To != "" {
			ch, rerr := s.addressee(ctx, opt.To)
			if rerr != nil {
				return rerr
			}
			to = ch.ID
		}
		fmt.Fprintf(opt.Stderr, "(%s, %s)\n", clean(s.world.Name), s.placeName(s.here))
		msgID, err = s.c.RoomSay(ctx, s.world.ID, opt.Say, to)
	}
	if err != nil {
		return err
	}
	evs, errc := s.pump(ctx)
	thread := map[string]bool{msgID: true} // lines whose answers count
	pending := map[string]string{}         // reply id → its speaker, while it streams
	finished := 0
	deadline := time.NewTimer(opt.Timeout)
	defer deadline.Stop()
	var quiet <-chan time.Time
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				return fmt.Errorf("connection ended while waiting for replies: %w", <-errc)
			}
			if ev.PrivateWith != private || (private == "" && ev.LocationID != "" && ev.LocationID != s.here) {
				continue
			}
			answer := thread[ev.ReplyTo] && ev.Actor.Kind == "character"
			switch {
			case ev.Kind == protocol.WorldSpeaking && answer:
				pending[ev.MessageID] = ev.Actor.ID
				thread[ev.MessageID] = true
				s.feed.speaking(ev)
			case ev.Kind == protocol.WorldDelta && pending[ev.MessageID] != "":
				s.feed.delta(ev)
			case ev.Kind == protocol.WorldSaid && (answer || pending[ev.MessageID] != ""):
				delete(pending, ev.MessageID)
				thread[ev.MessageID] = true
				finished++
				s.feed.said(ev)
			case ev.Kind == protocol.WorldError && thread[ev.ReplyTo]:
				if ev.Actor.ID == "" {
					return fmt.Errorf("the world could not take your line: %s %s", ev.Code, clean(ev.Text))
				}
				for id, who := range pending {
					if who == ev.Actor.ID {
						delete(pending, id)
					}
				}
				s.feed.failed(ev.Actor.ID, ev.ReplyTo)
				finished++
				fmt.Fprintf(opt.Stderr, "maopao: %s could not answer (%s) %s\n", clean(ev.Actor.Name), ev.Code, clean(ev.Text))
			default:
				continue
			}
			quiet = nil
			if finished > 0 && len(pending) == 0 {
				if private != "" {
					return nil // one character, one answer
				}
				quiet = time.After(opt.Settle)
			}
		case <-quiet:
			return nil
		case <-deadline.C:
			if finished > 0 && len(pending) == 0 {
				return nil
			}
			if finished == 0 && len(pending) == 0 {
				return fmt.Errorf("no reply to your line within %v (the line was accepted as %s; the characters may be busy or elsewhere)", opt.Timeout, msgID)
			}
			return fmt.Errorf("stopped waiting after %v: %d reply(ies) still unfinished", opt.Timeout, len(pending))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

const worldHelp = `Type a line to say it here. Commands:
  /go <place>             walk to a connected place
  /to <name> <text>       say something to one character here
  /private <name> <text>  say something only that character hears
  /who                    who is here
  /where                  this place and where you can go
  /quit                   leave (Ctrl-D too)`

func (s *worldSession) interactive(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := s.opt.Stdout
	fmt.Fprintf(out, "You are in %s.\n", clean(s.world.Name))
	if e := s.c.Welcome().Engine; e != "" {
		fmt.Fprintf(out, "[engine: %s]\n", clean(e))
	}
	s.where()
	s.who()
	for _, ev := range s.recent {
		s.feed.note("%s: %s", label(ev), clean(ev.Text))
	}
	fmt.Fprintln(out, worldHelp)

	evs, errc := s.pump(ctx)
	go func() {
		for ev := range evs {
			s.show(ev)
		}
		if err := <-errc; err != nil && ctx.Err() == nil {
			s.feed.note("maopao: %v", err)
			cancel()
		}
	}()

	lines := readLines(ctx, s.opt.Stdin, s.opt.Stderr)
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ctx.Done():
			return nil
		}
		if !ok {
			return nil
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		quit, err := s.command(ctx, line)
		if quit || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.feed.note("maopao: %v", err)
		}
	}
}

// command runs one typed line.
func (s *worldSession) command(ctx context.Context, line string) (quit bool, err error) {
	if !strings.HasPrefix(line, "/") {
		_, err := s.c.RoomSay(ctx, s.world.ID, line, "")
		return false, err
	}
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/quit", "/exit":
		return true, nil
	case "/help":
		s.feed.note("%s", worldHelp)
	case "/who":
		s.who()
	case "/where":
		s.where()
	case "/go":
		s.mu.Lock()
		places := placeChoices(s.world)
		s.mu.Unlock()
		p, err := resolveNamed("place", " in "+clean(s.world.Name), places, arg)
		if err != nil {
			return false, err
		}
		j, err := s.c.Move(ctx, s.world.ID, p.ID)
		if err != nil {
			return false, err
		}
		s.setPlace(j)
		s.where()
		s.who()
		for _, ev := range j.Recent {
			s.feed.note("%s: %s", label(ev), clean(ev.Text))
		}
	case "/to":
		name, text := splitName(s.charactersHere(), arg)
		if text == "" {
			return false, errors.New("usage: /to <name> <text>")
		}
		ch, err := s.addressee(ctx, name)
		if err != nil {
			return false, err
		}
		_, err = s.c.RoomSay(ctx, s.world.ID, text, ch.ID)
		return false, err
	case "/private":
		all, err := s.allCharacters(ctx)
		if err != nil {
			return false, err
		}
		name, text := splitName(all, arg)
		if text == "" {
			return false, errors.New("usage: /private <name> <text>")
		}
		ch, err := resolveNamed("character", "", all, name)
		if err != nil {
			return false, err
		}
		_, err = s.c.PrivateSay(ctx, s.world.ID, ch.ID, text)
		return false, err
	default:
		return false, fmt.Errorf("unknown command %s; /help lists them", clean(cmd))
	}
	return false, nil
}

// show prints one event of the live feed.
func (s *worldSession) show(ev protocol.WorldEvent) {
	s.mu.Lock()
	here, worldID := s.here, s.world.ID
	s.mu.Unlock()
	if ev.WorldID != worldID || (ev.PrivateWith == "" && ev.LocationID != "" && ev.LocationID != here) {
		return
	}
	switch ev.Kind {
	case protocol.WorldSpeaking:
		s.feed.speaking(ev)
	case protocol.WorldDelta:
		s.feed.delta(ev)
	case protocol.WorldSaid:
		if ev.Actor.Kind == "character" {
			s.feed.said(ev)
		} else if ev.Actor.ID != s.me {
			s.feed.note("%s: %s", label(ev), clean(ev.Text))
		}
	case protocol.WorldArrived, protocol.WorldLeft:
		s.mu.Lock()
		if ev.Kind == protocol.WorldArrived {
			s.present[ev.Actor.ID] = ev.Actor
		} else if ev.Actor.ID != s.me {
			delete(s.present, ev.Actor.ID)
		}
		s.mu.Unlock()
		if ev.Actor.ID != s.me {
			s.feed.note("* %s", clean(ev.Text))
		}
	case protocol.WorldError:
		if ev.Actor.ID != "" {
			s.feed.failed(ev.Actor.ID, ev.ReplyTo)
		}
		s.feed.note("! %s could not answer (%s) %s", label(ev), ev.Code, clean(ev.Text))
	}
}

func (s *worldSession) who() {
	s.mu.Lock()
	var names []string
	for _, a := range s.present {
		switch {
		case a.ID == s.me:
			names = append(names, "you")
		case a.Kind == "character":
			names = append(names, clean(a.Name))
		default:
			names = append(names, clean(a.Name)+" (player)")
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	if len(names) == 0 {
		names = []string{"nobody else"}
	}
	s.feed.note("Here: %s", strings.Join(names, ", "))
}

func (s *worldSession) where() {
	s.mu.Lock()
	var desc string
	var next []string
	for _, l := range s.world.Locations {
		if l.ID == s.here {
			desc = clean(l.Description)
			for _, c := range l.Connections {
				next = append(next, s.placeName(c)+" ("+clean(c)+")")
			}
		}
	}
	name := s.placeName(s.here)
	s.mu.Unlock()
	if desc != "" {
		name += " — " + desc
	}
	s.feed.note("At %s", name)
	if len(next) > 0 {
		s.feed.note("From here: %s", strings.Join(next, ", "))
	}
}
