// Package chatcli is the terminal chat behind `maopao chat`: it keeps a guest
// identity in a file, picks a character by id or name, and either sends one
// line and prints the streamed reply, or runs an interactive chat on
// stdin/stdout. It talks to the server only through clients/chatclient.
package chatcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// Options configure Run.
type Options struct {
	URL          string // server base URL, http(s)://host:port
	Character    string // id, name, or unique name prefix
	Say          string // when set, send this one line and exit
	IdentityFile string // default DefaultIdentityPath(URL)
	Name         string // player name for a new guest session

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run connects, opens the chat and either sends opt.Say or chats
// interactively until /quit, end of input or ctx ends.
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
	c, err := connect(ctx, &opt)
	if err != nil {
		return err
	}
	defer c.Close()

	chars, err := c.ListCharacters(ctx)
	if err != nil {
		return err
	}
	ch, err := Resolve(chars, opt.Character)
	if err != nil {
		return err
	}
	op, err := c.OpenChat(ctx, ch.ID)
	if err != nil {
		return err
	}
	if opt.Say != "" {
		if _, err := c.Say(ctx, op.ConversationID, opt.Say, func(d protocol.Delta) {
			io.WriteString(opt.Stdout, d.Text)
		}); err != nil {
			fmt.Fprintln(opt.Stdout)
			return err
		}
		_, err := fmt.Fprintln(opt.Stdout)
		return err
	}
	return interactive(ctx, c, op, opt)
}

// connect dials with the stored identity (the default file for the URL
// unless one is given), getting a new guest session when there is none or
// the server rejects it.
func connect(ctx context.Context, opt *Options) (*chatclient.Client, error) {
	if opt.IdentityFile == "" {
		p, err := DefaultIdentityPath(opt.URL)
		if err != nil {
			return nil, err
		}
		opt.IdentityFile = p
	}
	id, err := LoadIdentity(opt.IdentityFile)
	if err != nil {
		return nil, err
	}
	if id.Token != "" {
		c, err := chatclient.Dial(ctx, opt.URL, id.Token)
		if err == nil {
			return c, nil
		}
		if !chatclient.IsCode(err, protocol.CodeBadToken) {
			return nil, err
		}
		fmt.Fprintf(opt.Stderr, "maopao: the server rejected the identity in %s (%v); starting a new guest session\n", opt.IdentityFile, err)
	}
	tok, pid, err := chatclient.NewSession(ctx, opt.URL, opt.Name)
	if err != nil {
		return nil, err
	}
	if err := SaveIdentity(opt.IdentityFile, Identity{URL: opt.URL, Token: tok, PlayerID: pid}); err != nil {
		return nil, err
	}
	return chatclient.Dial(ctx, opt.URL, tok)
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
		s[i] = fmt.Sprintf("%s (id %s)", c.Name, c.ID)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// interactive prints the chat so far and then runs a prompt loop.
func interactive(ctx context.Context, c *chatclient.Client, op protocol.ChatOpened, opt Options) error {
	out := opt.Stdout
	name := op.Character.Name
	fmt.Fprintf(out, "Chatting with %s. Type /quit or press Ctrl-D to leave.\n", name)
	if e := c.Welcome().Engine; e != "" {
		fmt.Fprintf(out, "[engine: %s]\n", e)
	}
	if len(op.History) == 0 && op.Character.Greeting != "" {
		fmt.Fprintf(out, "%s: %s\n", name, op.Character.Greeting)
	}
	for _, m := range op.History {
		switch m.Role {
		case "user":
			fmt.Fprintf(out, "you: %s\n", m.Content)
		case "character":
			fmt.Fprintf(out, "%s: %s\n", name, m.Content)
		default:
			fmt.Fprintf(out, "[%s] %s\n", m.Role, m.Content)
		}
	}
	stream := func(d protocol.Delta) { io.WriteString(out, d.Text) }
	// A pending reply may have started streaming before this connection
	// joined, so its first pieces never reach us: print it whole when done.
	if n := len(op.Pending); n > 0 {
		fmt.Fprintf(opt.Stderr, "(waiting for %s to answer %d earlier line(s)…)\n", name, n)
	}
	for _, id := range op.Pending {
		done, err := c.Await(ctx, id, nil)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			fmt.Fprintf(opt.Stderr, "maopao: %v\n", err)
			continue
		}
		fmt.Fprintf(out, "%s: %s\n", name, done.Message.Content)
	}

	lines := make(chan string)
	go func() {
		// This goroutine may outlive Run while blocked on a terminal read;
		// it ends with the process.
		defer close(lines)
		sc := bufio.NewScanner(opt.Stdin)
		sc.Buffer(make([]byte, 64<<10), protocol.MaxFrameBytes)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(opt.Stderr, "maopao: read input: %v\n", err)
		}
	}()
	for {
		fmt.Fprint(out, "you> ")
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ctx.Done():
			fmt.Fprintln(out)
			return nil
		}
		if !ok {
			fmt.Fprintln(out)
			return nil
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case line == "/quit" || line == "/exit":
			return nil
		}
		fmt.Fprintf(out, "%s: ", name)
		_, err := c.Say(ctx, op.ConversationID, line, stream)
		fmt.Fprintln(out)
		if ctx.Err() != nil {
			return nil
		}
		var fe *chatclient.FrameError
		if errors.As(err, &fe) {
			// The server refused this line or failed its reply; the chat
			// goes on.
			fmt.Fprintf(opt.Stderr, "maopao: %v\n", err)
			continue
		}
		if err != nil {
			return err
		}
	}
}
