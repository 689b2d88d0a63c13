package chatcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

const helpText = `Type a line to say it. Commands (never sent to the character):
  /regen            another reply to your last line (kept as an alternative)
  /swipe N          show alternative N of the last reply (one past the last makes a new one)
  /edit TEXT        change your last line to TEXT (then /regen to have it answered again)
  /delete           take the last message out of the chat
  /stop             stop the reply being written (Ctrl-C does too)
  /new              start a new chat with this character
  /chats            list your chats with this character
  /open N           continue chat N of the /chats list
  /persona NAME | DESCRIPTION   say who you are (the description is optional)
  /help             this list
  /quit             leave (Ctrl-D too)
  //text            say a line that starts with a slash`

// session is an interactive chat.
type session struct {
	live  *liveChat
	op    protocol.ChatOpened
	opt   Options
	out   io.Writer
	lines <-chan string
	ahead []string               // lines typed while a reply was being written
	chats []protocol.ChatSummary // the last /chats list
}

// interactive prints the chat so far and then runs a prompt loop.
func interactive(ctx context.Context, live *liveChat, op protocol.ChatOpened, opt Options) error {
	c := live.c
	s := &session{live: live, op: op, opt: opt, out: opt.Stdout}
	defer func() { s.live.c.Close() }()
	fmt.Fprintf(s.out, "Chatting with %s. /help lists the commands; /quit or Ctrl-D leaves.\n", clean(op.Character.Name))
	if e := c.Welcome().Engine; e != "" {
		fmt.Fprintf(s.out, "[engine: %s]\n", clean(e))
	}
	printHistory(s.out, op)
	s.awaitPending(ctx)

	lines := readLines(ctx, opt.Stdin, opt.Stderr)
	s.lines = lines
	for {
		fmt.Fprint(s.out, "you> ")
		var line string
		var ok bool
		if len(s.ahead) > 0 {
			line, ok, s.ahead = s.ahead[0], true, s.ahead[1:]
		} else {
			select {
			case line, ok = <-lines:
			case <-s.opt.Interrupt:
				fmt.Fprintln(s.out)
				return nil
			case <-ctx.Done():
				fmt.Fprintln(s.out)
				return nil
			}
		}
		if !ok {
			fmt.Fprintln(s.out)
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
		var fe *chatclient.FrameError
		var he *chatclient.HTTPError
		if errors.As(err, &fe) || errors.As(err, &he) {
			// The server refused this or failed its reply; the chat goes on.
			fmt.Fprintf(s.opt.Stderr, "maopao: %s\n", clean(err.Error()))
			continue
		}
		if err != nil {
			return err
		}
	}
}

// awaitPending prints replies still being written when the chat opened:
// their first pieces streamed before this connection joined.
func (s *session) awaitPending(ctx context.Context) {
	name := clean(s.op.Character.Name)
	if n := len(s.op.Pending); n > 0 {
		fmt.Fprintf(s.opt.Stderr, "(waiting for %s to answer %d earlier line(s)…)\n", name, n)
	}
	for _, id := range s.op.Pending {
		done, err := s.live.c.Await(ctx, id, nil)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fmt.Fprintf(s.opt.Stderr, "maopao: %s\n", clean(err.Error()))
			continue
		}
		fmt.Fprintf(s.out, "%s: %s\n", name, clean(done.Message.Content))
	}
}

// command runs one typed line.
func (s *session) command(ctx context.Context, line string) (quit bool, err error) {
	if strings.HasPrefix(line, "//") {
		return false, s.say(ctx, line[1:])
	}
	if !strings.HasPrefix(line, "/") {
		return false, s.say(ctx, line)
	}
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	conv := s.op.ConversationID
	switch cmd {
	case "/quit", "/exit":
		return true, nil
	case "/help":
		fmt.Fprintln(s.out, helpText)
	case "/regen", "/regenerate":
		return false, s.streamed(ctx, func(onDelta func(protocol.Delta)) (chatclient.RequestResult, error) {
			return s.live.c.Regenerate(ctx, conv, "", onDelta)
		})
	case "/swipe":
		n, perr := strconv.Atoi(arg)
		if perr != nil || n < 1 {
			fmt.Fprintln(s.out, "usage: /swipe N (N counts from 1)")
			return false, nil
		}
		last, ok := lastReply(s.op.History)
		if !ok {
			fmt.Fprintln(s.out, "there is no reply to swipe")
			return false, nil
		}
		return false, s.streamed(ctx, func(onDelta func(protocol.Delta)) (chatclient.RequestResult, error) {
			return s.live.c.Swipe(ctx, conv, last.ID, n-1, onDelta)
		})
	case "/edit":
		if arg == "" {
			fmt.Fprintln(s.out, "usage: /edit TEXT (replaces your last line)")
			return false, nil
		}
		id := ""
		for i := len(s.op.History) - 1; i >= 0 && id == ""; i-- {
			if s.op.History[i].Role == "user" {
				id = s.op.History[i].ID
			}
		}
		if id == "" {
			fmt.Fprintln(s.out, "you have said nothing to edit")
			return false, nil
		}
		res, err := s.live.c.EditMessage(ctx, conv, id, arg)
		if err != nil {
			return false, err
		}
		s.replace(res.Message)
		fmt.Fprintln(s.out, "(edited; /regen to have it answered again)")
	case "/delete":
		n := len(s.op.History)
		if n == 0 {
			fmt.Fprintln(s.out, "the chat is empty")
			return false, nil
		}
		if _, err := s.live.c.DeleteMessage(ctx, conv, s.op.History[n-1].ID); err != nil {
			return false, err
		}
		s.op.History = s.op.History[:n-1]
		fmt.Fprintln(s.out, "(deleted the last message)")
	case "/stop":
		fmt.Fprintln(s.out, "(no reply is being written)")
	case "/new":
		op, err := s.live.c.NewChat(ctx, s.op.Character.ID)
		if err != nil {
			return false, err
		}
		s.op, s.live.conv = op, op.ConversationID
		fmt.Fprintln(s.out, "(a new chat)")
		printHistory(s.out, op)
	case "/chats":
		chats, err := s.live.c.ListChats(ctx, s.op.Character.ID)
		if err != nil {
			return false, err
		}
		s.chats = chats
		for i, ch := range chats {
			mark := " "
			if ch.ID == conv {
				mark = "*"
			}
			fmt.Fprintf(s.out, "%s%d. %s (%d messages)\n", mark, i+1, clean(chatTitle(ch)), ch.Messages)
		}
	case "/open":
		n, perr := strconv.Atoi(arg)
		if perr != nil || n < 1 || n > len(s.chats) {
			fmt.Fprintln(s.out, "usage: /open N, with N from the /chats list")
			return false, nil
		}
		op, err := s.live.c.OpenChatByID(ctx, s.chats[n-1].ID)
		if err != nil {
			return false, err
		}
		s.op, s.live.conv = op, op.ConversationID
		printHistory(s.out, op)
	case "/persona":
		if arg == "" {
			p := s.op.Persona
			fmt.Fprintf(s.out, "you are %s", clean(p.Name))
			if p.Description != "" {
				fmt.Fprintf(s.out, ": %s", clean(p.Description))
			}
			fmt.Fprintln(s.out)
			return false, nil
		}
		name, desc, _ := strings.Cut(arg, "|")
		p, err := s.live.c.SetPersona(ctx, protocol.Persona{Name: strings.TrimSpace(name), Description: strings.TrimSpace(desc)}, "")
		if err != nil {
			return false, err
		}
		s.op.Persona = p
		fmt.Fprintf(s.out, "(you are now %s)\n", clean(p.Name))
	default:
		fmt.Fprintf(s.out, "unknown command %s; /help lists them (//text says a line starting with /)\n", clean(cmd))
	}
	return false, nil
}

// say sends a line and streams the reply, which /stop or Ctrl-C stop.
func (s *session) say(ctx context.Context, text string) error {
	return s.streamed(ctx, func(onDelta func(protocol.Delta)) (chatclient.RequestResult, error) {
		done, err := s.live.say(ctx, text, nil, onDelta)
		if err == nil {
			s.op.History = append(s.op.History, protocol.ChatMessage{ID: done.Message.ReplyTo, Role: "user", Content: text})
		}
		return chatclient.RequestResult{Message: done.Message, FinishReason: done.FinishReason}, err
	})
}

// streamed runs a request whose reply streams, printing it as it comes,
// and stops the reply on /stop or Ctrl-C.
func (s *session) streamed(ctx context.Context, run func(onDelta func(protocol.Delta)) (chatclient.RequestResult, error)) error {
	name := clean(s.op.Character.Name)
	type result struct {
		res chatclient.RequestResult
		err error
	}
	done := make(chan result, 1)
	pieces := make(chan protocol.Delta, 256)
	go func() {
		res, err := run(func(d protocol.Delta) { pieces <- d })
		done <- result{res, err}
	}()
	fmt.Fprintf(s.out, "%s: ", name)
	printed := false
	// Pieces are cleaned as a whole: an escape sequence may be split
	// between them, and clean of a prefix is a prefix of clean of the whole.
	var raw strings.Builder
	shown := 0
	show := func(d protocol.Delta) {
		if d.Restart {
			raw.Reset()
			shown = 0
			io.WriteString(s.out, restartNotice+name+": ")
		}
		raw.WriteString(d.Text)
		if text := clean(raw.String()); len(text) > shown {
			io.WriteString(s.out, text[shown:])
			shown = len(text)
			printed = true
		}
	}
	stop := func() {
		if err := s.live.c.Stop(ctx, s.op.ConversationID); err != nil {
			fmt.Fprintf(s.opt.Stderr, "\nmaopao: %s\n", clean(err.Error()))
		}
	}
	for {
		select {
		case p := <-pieces:
			show(p)
		case <-s.opt.Interrupt:
			stop()
		case l, ok := <-s.lines:
			switch {
			case !ok:
				s.lines = nil // end of input: finish this reply, then leave
				s.ahead = append(s.ahead, "/quit")
			case strings.TrimSpace(l) == "/stop":
				stop()
			default:
				s.ahead = append(s.ahead, l) // its turn comes after this reply
			}
		case r := <-done:
			for len(pieces) > 0 {
				show(<-pieces)
			}
			if r.err == nil {
				if !printed {
					io.WriteString(s.out, clean(r.res.Message.Content))
				}
				if r.res.FinishReason == "stopped" {
					io.WriteString(s.out, " [stopped]")
				}
				if len(r.res.Message.Swipes) > 1 {
					fmt.Fprintf(s.out, " [%d/%d]", r.res.Message.SwipeID+1, len(r.res.Message.Swipes))
				}
				s.replace(r.res.Message)
			}
			fmt.Fprintln(s.out)
			return r.err
		}
	}
}

// replace puts m into the local history (appending a new message).
func (s *session) replace(m protocol.ChatMessage) {
	if m.ID == "" {
		return
	}
	for i := range s.op.History {
		if s.op.History[i].ID == m.ID {
			s.op.History[i] = m
			return
		}
	}
	s.op.History = append(s.op.History, m)
}

// readLines feeds the lines of in to the returned channel, closed at the
// end of the input. Its goroutine may outlive the session while blocked on
// a terminal read; it ends with the process.
func readLines(ctx context.Context, in io.Reader, stderr io.Writer) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), protocol.MaxFrameBytes)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "maopao: read input: %v\n", err)
		}
	}()
	return lines
}
