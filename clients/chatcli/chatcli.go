// Package chatcli is the terminal chat behind `maopao chat`: it keeps a guest
// identity in a file, picks a character by id or name, and either runs one
// request (a line, a regeneration, a swipe, a chat list, an export or an
// import) and prints the result, or runs an interactive chat on
// stdin/stdout with slash commands. It talks to the server only through
// clients/chatclient. Everything the server sends is printed through clean,
// so a character's text cannot drive the player's terminal.
package chatcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// Options configure Run.
type Options struct {
	URL       string // server base URL, http(s)://host:port
	Character string // id, name, or unique name prefix
	ChatID    string // a chat to continue instead of the character's latest
	Say       string // when set, send this one line and exit
	// Images are picture files (PNG, JPEG, WebP) shown with Say (or
	// alone): each is uploaded first.
	Images []string
	// Speak, with Say, writes the reply spoken (WAV) to this file.
	Speak        string
	IdentityFile string // default DefaultIdentityPath(URL)
	Name         string // player name for a new guest session

	New        bool   // start a new chat with Character first
	Regenerate bool   // print a new alternative reply to the last line
	Swipe      int    // select alternative Swipe (1-based) of the last reply
	ListChats  bool   // print the player's chats with Character
	Export     string // write the chat to this file as SillyTavern JSONL
	Import     string // import this SillyTavern JSONL file as a new chat with Character

	// PersonaName and PersonaDescription set the player's persona first.
	PersonaName, PersonaDescription string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Interrupt, when set, receives Ctrl-C in an interactive chat: it
	// stops the reply being written, or leaves when none is.
	Interrupt <-chan os.Signal
}

// Run connects and does what opt asks: one request, or an interactive chat
// until /quit, end of input or ctx ends.
func Run(ctx context.Context, opt Options) error {
	if opt.Stdin == nil {
		opt.Stdin = os.Stdin
	}
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	if opt.URL == "" {
		return errors.New("--url is required")
	}
	if err := checkOptions(opt); err != nil {
		return err
	}
	c, token, err := connect(ctx, &opt)
	if err != nil {
		return err
	}
	defer c.Close()
	untrainedHint(c, opt.Stderr)
	if opt.PersonaName != "" || opt.PersonaDescription != "" {
		p := c.Welcome().Persona
		if opt.PersonaName != "" {
			p.Name = opt.PersonaName
		}
		if opt.PersonaDescription != "" {
			p.Description = opt.PersonaDescription
		}
		if _, err := c.SetPersona(ctx, p, ""); err != nil {
			return err
		}
	}

	var ch protocol.CharacterSummary
	if opt.Character != "" {
		chars, err := c.ListCharacters(ctx)
		if err != nil {
			return err
		}
		if ch, err = Resolve(chars, opt.Character); err != nil {
			return err
		}
	}
	switch {
	case opt.Import != "":
		data, err := os.ReadFile(opt.Import)
		if err != nil {
			return err
		}
		got, err := chatclient.ImportChat(ctx, opt.URL, token, ch.ID, data)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(opt.Stdout, got.ConversationID)
		return err
	case opt.ListChats:
		chats, err := c.ListChats(ctx, ch.ID)
		if err != nil {
			return err
		}
		for _, s := range chats {
			fmt.Fprintf(opt.Stdout, "%s\t%s\t%d\t%s\n", s.ID, clean(chatTitle(s)), s.Messages, s.UpdatedAt.Local().Format(time.DateTime))
		}
		return nil
	}

	var op protocol.ChatOpened
	switch {
	case opt.ChatID != "":
		op, err = c.OpenChatByID(ctx, opt.ChatID)
	case opt.New:
		op, err = c.NewChat(ctx, ch.ID)
	default:
		op, err = c.OpenChat(ctx, ch.ID)
	}
	if err != nil {
		return err
	}
	var raw strings.Builder
	shown := 0
	stream := func(d protocol.Delta) {
		if d.Restart {
			raw.Reset()
			shown = 0
			io.WriteString(opt.Stdout, restartNotice)
		}
		// Cleaned as a whole: an escape sequence may be split between pieces.
		raw.WriteString(d.Text)
		if text := clean(raw.String()); len(text) > shown {
			io.WriteString(opt.Stdout, text[shown:])
			shown = len(text)
		}
	}
	switch {
	case opt.Export != "":
		data, err := chatclient.ExportChat(ctx, opt.URL, token, op.ConversationID)
		if err != nil {
			return err
		}
		return os.WriteFile(opt.Export, data, 0o600)
	case opt.Regenerate:
		streamed := false
		res, err := c.Regenerate(ctx, op.ConversationID, "", func(d protocol.Delta) { streamed = true; stream(d) })
		if err == nil && !streamed {
			io.WriteString(opt.Stdout, clean(res.Message.Content))
		}
		fmt.Fprintln(opt.Stdout)
		return err
	case opt.Swipe > 0:
		last, ok := lastReply(op.History)
		if !ok {
			return errors.New("the chat has no reply to swipe")
		}
		streamed := false
		res, err := c.Swipe(ctx, op.ConversationID, last.ID, opt.Swipe-1, func(d protocol.Delta) { streamed = true; stream(d) })
		if err != nil {
			return err
		}
		if !streamed {
			io.WriteString(opt.Stdout, clean(res.Message.Content))
		}
		_, err = fmt.Fprintln(opt.Stdout)
		return err
	case opt.Say != "" || len(opt.Images) > 0:
		var pictures []string
		for _, file := range opt.Images {
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("--image: %w", err)
			}
			pic, err := chatclient.UploadPicture(ctx, opt.URL, token, data)
			if err != nil {
				return fmt.Errorf("--image %s: %w", file, err)
			}
			pictures = append(pictures, pic.ID)
		}
		live := &liveChat{c: c, url: opt.URL, token: token, conv: op.ConversationID, stderr: opt.Stderr}
		defer func() { live.c.Close() }()
		streamed := false
		done, err := live.say(ctx, opt.Say, pictures, func(d protocol.Delta) { streamed = true; stream(d) })
		if err == nil && !streamed {
			// A line sent again after its reply was written: the reply
			// comes whole.
			io.WriteString(opt.Stdout, clean(done.Message.Content))
		}
		fmt.Fprintln(opt.Stdout)
		if err == nil && opt.Speak != "" {
			wav, err := chatclient.MessageSpeech(ctx, opt.URL, token, done.Message.ID)
			var he *chatclient.HTTPError
			if errors.As(err, &he) && he.Status == http.StatusNotImplemented {
				return errors.New("--speak: this server has no speech backend (it runs without --tts-url)")
			}
			if err != nil {
				return fmt.Errorf("--speak: %w", err)
			}
			if err := os.WriteFile(opt.Speak, wav, 0o644); err != nil {
				return fmt.Errorf("--speak: %w", err)
			}
			fmt.Fprintf(opt.Stderr, "maopao: wrote the reply spoken to %s\n", opt.Speak)
		}
		return err
	case opt.New:
		printHistory(opt.Stdout, op)
		return nil
	}
	return interactive(ctx, &liveChat{c: c, url: opt.URL, token: token, conv: op.ConversationID, stderr: opt.Stderr}, op, opt)
}

func checkOptions(opt Options) error {
	actions := 0
	for _, on := range []bool{opt.Regenerate, opt.Swipe > 0, opt.ListChats, opt.Export != "", opt.Import != "", opt.Say != "" || len(opt.Images) > 0} {
		if on {
			actions++
		}
	}
	switch {
	case actions > 1:
		return errors.New("give one of --say, --regenerate, --swipe, --list-chats, --export and --import")
	case opt.Speak != "" && opt.Say == "" && len(opt.Images) == 0:
		return errors.New("--speak goes with --say: it writes the reply spoken")
	case opt.Swipe < 0:
		return errors.New("--swipe counts alternatives from 1")
	case opt.ChatID == "" && opt.Character == "" && !(opt.PersonaName != "" && actions == 0):
		return errors.New("--character (or --chat) is required")
	case (opt.ListChats || opt.Import != "" || opt.New) && opt.Character == "":
		return errors.New("--list-chats, --import and --new need --character")
	case opt.ChatID != "" && opt.New:
		return errors.New("--new starts another chat; it does not go with --chat")
	}
	return nil
}

// connect dials with the stored identity (the default file for the URL
// unless one is given), getting a new guest session when there is none or
// the server rejects it. It returns the token for REST calls too.
func connect(ctx context.Context, opt *Options) (*chatclient.Client, string, error) {
	if opt.IdentityFile == "" {
		p, err := DefaultIdentityPath(opt.URL)
		if err != nil {
			return nil, "", err
		}
		opt.IdentityFile = p
	}
	id, err := LoadIdentity(opt.IdentityFile)
	if err != nil {
		return nil, "", err
	}
	if id.Token != "" {
		c, err := chatclient.Dial(ctx, opt.URL, id.Token)
		if err == nil {
			return c, id.Token, nil
		}
		if !chatclient.IsCode(err, protocol.CodeBadToken) {
			return nil, "", err
		}
		fmt.Fprintf(opt.Stderr, "maopao: the server rejected the identity in %s (%v); starting a new guest session\n", opt.IdentityFile, err)
	}
	name := opt.Name
	if name == "" {
		name = opt.PersonaName
	}
	tok, pid, err := chatclient.NewSession(ctx, opt.URL, name)
	if err != nil {
		return nil, "", err
	}
	if err := SaveIdentity(opt.IdentityFile, Identity{URL: opt.URL, Token: tok, PlayerID: pid}); err != nil {
		return nil, "", err
	}
	c, err := chatclient.Dial(ctx, opt.URL, tok)
	return c, tok, err
}

// Resolve picks the character query names: an exact id, else a
// case-insensitive exact name, else a case-insensitive name prefix shared by
// no other character.
func Resolve(chars []protocol.CharacterSummary, query string) (protocol.CharacterSummary, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return protocol.CharacterSummary{}, fmt.Errorf("--character is required; choices: %s", choices(chars))
	}
	for _, c := range chars {
		if c.ID == q {
			return c, nil
		}
	}
	match := func(f func(c protocol.CharacterSummary) bool) []protocol.CharacterSummary {
		var got []protocol.CharacterSummary
		for _, c := range chars {
			if f(c) {
				got = append(got, c)
			}
		}
		return got
	}
	lq := strings.ToLower(q)
	for _, got := range [][]protocol.CharacterSummary{
		match(func(c protocol.CharacterSummary) bool { return strings.EqualFold(c.Name, q) }),
		match(func(c protocol.CharacterSummary) bool { return strings.HasPrefix(strings.ToLower(c.Name), lq) }),
	} {
		switch len(got) {
		case 0:
			continue
		case 1:
			return got[0], nil
		default:
			return protocol.CharacterSummary{}, fmt.Errorf("character %q is ambiguous; it matches: %s", q, choices(got))
		}
	}
	return protocol.CharacterSummary{}, fmt.Errorf("no character matches %q; choices: %s", q, choices(chars))
}

func choices(chars []protocol.CharacterSummary) string {
	if len(chars) == 0 {
		return "(the server lists no characters)"
	}
	s := make([]string, len(chars))
	for i, c := range chars {
		s[i] = fmt.Sprintf("%s (id %s)", clean(c.Name), c.ID)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func chatTitle(s protocol.ChatSummary) string {
	if s.Title != "" {
		return s.Title
	}
	if s.LastMessage != "" {
		return "“" + s.LastMessage + "”"
	}
	return "(new chat)"
}

// lastReply is the chat's last message if it is the character's.
func lastReply(h []protocol.ChatMessage) (protocol.ChatMessage, bool) {
	if n := len(h); n > 0 && h[n-1].Role == "character" {
		return h[n-1], true
	}
	return protocol.ChatMessage{}, false
}

// printHistory prints a chat as it stands.
func printHistory(out io.Writer, op protocol.ChatOpened) {
	name := clean(op.Character.Name)
	if len(op.History) == 0 && op.Character.Greeting != "" {
		fmt.Fprintf(out, "%s: %s\n", name, clean(op.Character.Greeting))
	}
	for _, m := range op.History {
		printMessage(out, name, m)
	}
}

func printMessage(out io.Writer, name string, m protocol.ChatMessage) {
	note := ""
	if n := len(m.Swipes); n > 1 {
		note = fmt.Sprintf(" [%d/%d]", m.SwipeID+1, n)
	}
	switch {
	case m.Status == "failed":
		fmt.Fprintf(out, "%s: [no answer: %s; /regen tries again]\n", name, clean(m.Code))
	case m.Role == "user":
		fmt.Fprintf(out, "you: %s\n", clean(m.Content))
	case m.Role == "character":
		if m.Status == "stopped" {
			note += " [stopped]"
		}
		fmt.Fprintf(out, "%s%s: %s\n", name, note, clean(m.Content))
	default:
		fmt.Fprintf(out, "[%s] %s\n", clean(m.Role), clean(m.Content))
	}
}

// untrainedHint says, once and in plain words, that replies are random text
// when the server has no trained model, and how to get one.
func untrainedHint(c *chatclient.Client, stderr io.Writer) {
	if c.Welcome().Untrained {
		fmt.Fprintln(stderr, "maopao: no trained model is installed on this server, so replies are random text; install one with \"maopao model pull\" and run \"maopao serve --model NAME\" (or use the page's \"Get a real model\")")
	}
}

// restartNotice is printed where a reply starts over because an engine
// failed in the middle of it (protocol.Delta.Restart).
const restartNotice = "\n[an engine failed mid-reply; another starts it over]\n"
