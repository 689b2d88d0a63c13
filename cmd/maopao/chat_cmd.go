package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao/clients/chatcli"
)

// newChatCmd is owned by the clients work; the logic is in clients/chatcli.
func newChatCmd() *cobra.Command {
	var opt chatcli.Options
	var wopt chatcli.WorldOptions
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Chat with a character, or join a world, on a running server",
		Long: `Chat with a character on a running Maopao server, or join one of its worlds.

With --character (or --chat ID): --say sends one line, prints the reply as it
streams in and exits. --regenerate prints a new alternative reply to the last
line; --swipe N selects alternative N (from 1) of the last reply and prints
it (one past the last generates a new one). --new starts a new chat first.
--list-chats prints your chats with the character, one a line: id, title,
messages, updated. --export FILE writes the chat as a SillyTavern JSONL file;
--import FILE stores such a file as a new chat and prints its id.
--persona-name and --persona-description say who you are.

Without one of those, an interactive chat prints the conversation so far and
reads lines from stdin. Slash commands never reach the character: /regen,
/swipe N, /edit TEXT, /delete, /stop (or Ctrl-C during a reply), /new,
/chats, /open N, /persona NAME | DESCRIPTION, /help and /quit; //text says a
line starting with a slash.

With --world: join the world at --location (default its first place).
--say says one line in the room (addressed to --to, if given) and prints the
characters' replies as they stream in, then exits once they are done (or
after --timeout, with an error). --private <character> says the line
privately instead. Without --say, an interactive session shows who is here
and what is said; typed lines are said in the room, and /go, /to, /private,
/who, /where and /quit do the rest.

Worlds, places and characters are picked by id, else by name (any case),
else by a unique name prefix. The guest identity is kept in --identity, so
later runs continue as the same player.`,
		Example: `  maopao chat --url http://127.0.0.1:8080 --character Mira --say "hello"
  maopao chat --url http://127.0.0.1:8080 --character Mira --regenerate
  maopao chat --url http://127.0.0.1:8080 --character Mira --swipe 1
  maopao chat --url http://127.0.0.1:8080 --character Mira --new --say "Let's start over."
  maopao chat --url http://127.0.0.1:8080 --character Mira --list-chats
  maopao chat --url http://127.0.0.1:8080 --chat CHAT_ID --export chat.jsonl
  maopao chat --url http://127.0.0.1:8080 --character Mira --import chat.jsonl
  maopao chat --url http://127.0.0.1:8080 --character mi
  maopao chat --url http://127.0.0.1:8080 --world "misty harbour" --location tea-house --say "Evening!" --to xiaoyu
  maopao chat --url http://127.0.0.1:8080 --world misty --private xiaoyu --say "Can you keep a secret?"
  maopao chat --url http://127.0.0.1:8080 --world misty`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			worldOnly := []string{"location", "to", "private", "timeout"}
			chatOnly := []string{"chat", "new", "regenerate", "swipe", "list-chats", "export", "import", "image", "speak"}
			if wopt.World == "" {
				for _, name := range worldOnly {
					if f.Changed(name) {
						return errors.New("--" + name + " needs --world")
					}
				}
				opt.Stdin, opt.Stdout, opt.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
				interactive := opt.Say == "" && !opt.Regenerate && opt.Swipe == 0 && !opt.ListChats && opt.Export == "" && opt.Import == "" && !opt.New
				if interactive {
					// Ctrl-C stops a reply being written; it leaves only
					// when none is.
					ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM)
					defer stop()
					sig := make(chan os.Signal, 1)
					signal.Notify(sig, os.Interrupt)
					defer signal.Stop(sig)
					opt.Interrupt = sig
					return chatcli.Run(ctx, opt)
				}
				ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				return chatcli.Run(ctx, opt)
			}
			for _, name := range chatOnly {
				if f.Changed(name) {
					return errors.New("--" + name + " is for one-to-one chats, not --world")
				}
			}
			if opt.Character != "" {
				return errors.New("--character is for one-to-one chats; in a world use --to or --private")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			wopt.URL, wopt.Say, wopt.IdentityFile, wopt.Name = opt.URL, opt.Say, opt.IdentityFile, opt.Name
			wopt.Stdin, wopt.Stdout, wopt.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			return chatcli.RunWorld(ctx, wopt)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.URL, "url", "http://127.0.0.1:8080", "server base URL")
	f.StringVarP(&opt.Character, "character", "c", "", "character id, name, or unique name prefix (for a one-to-one chat)")
	f.StringVar(&opt.Say, "say", "", "send this line, print the reply (or replies) and exit")
	f.StringVar(&opt.Speak, "speak", "", "with --say: write the reply spoken (WAV) to this file (the server needs --tts-url)")
	f.StringArrayVar(&opt.Images, "image", nil, "show this picture (PNG, JPEG or WebP) with --say, in a one-to-one chat; repeat for more (at most 4)")
	f.StringVar(&opt.IdentityFile, "identity", "", "file keeping the guest identity (default $XDG_CONFIG_HOME/maopao/identity-<host>_<port>.json)")
	f.StringVar(&opt.Name, "name", "", "player name for a new guest identity")
	f.StringVar(&opt.ChatID, "chat", "", "continue this chat (an id from --list-chats) instead of the character's latest")
	f.BoolVar(&opt.New, "new", false, "start a new chat with --character")
	f.BoolVar(&opt.Regenerate, "regenerate", false, "print a new alternative reply to the last line")
	f.IntVar(&opt.Swipe, "swipe", 0, "select alternative N (from 1) of the last reply and print it")
	f.BoolVar(&opt.ListChats, "list-chats", false, "list your chats with --character: id, title, messages, updated")
	f.StringVar(&opt.Export, "export", "", "write the chat to FILE as SillyTavern JSONL")
	f.StringVar(&opt.Import, "import", "", "import a SillyTavern JSONL chat FILE as a new chat with --character; prints its id")
	f.StringVar(&opt.PersonaName, "persona-name", "", "your name in chats ({{user}})")
	f.StringVar(&opt.PersonaDescription, "persona-description", "", "who you are, as characters are told")
	f.StringVarP(&wopt.World, "world", "w", "", "world id, name, or unique name prefix to join")
	f.StringVar(&wopt.Location, "location", "", "place in the world to join at (id, name or prefix; default the world's first)")
	f.StringVar(&wopt.To, "to", "", "with --world and --say: the character the line is addressed to")
	f.StringVar(&wopt.Private, "private", "", "with --world and --say: say the line privately to this character")
	f.DurationVar(&wopt.Timeout, "timeout", 60*time.Second, "with --world and --say: how long to wait for the replies")
	return cmd
}
