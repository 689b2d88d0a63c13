package main

import (
	"errors"
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

With --character: --say sends one line, prints the reply as it streams in and
exits. Without --say, prints the conversation so far and reads lines from
stdin (/quit or Ctrl-D to leave).

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
  maopao chat --url http://127.0.0.1:8080 --character mi
  maopao chat --url http://127.0.0.1:8080 --world "misty harbour" --location tea-house --say "Evening!" --to xiaoyu
  maopao chat --url http://127.0.0.1:8080 --world misty --private xiaoyu --say "Can you keep a secret?"
  maopao chat --url http://127.0.0.1:8080 --world misty`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			f := cmd.Flags()
			worldOnly := []string{"location", "to", "private", "timeout"}
			if wopt.World == "" {
				for _, name := range worldOnly {
					if f.Changed(name) {
						return errors.New("--" + name + " needs --world")
					}
				}
				opt.Stdin, opt.Stdout, opt.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
				return chatcli.Run(ctx, opt)
			}
			if opt.Character != "" {
				return errors.New("--character is for one-to-one chats; in a world use --to or --private")
			}
			wopt.URL, wopt.Say, wopt.IdentityFile, wopt.Name = opt.URL, opt.Say, opt.IdentityFile, opt.Name
			wopt.Stdin, wopt.Stdout, wopt.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			return chatcli.RunWorld(ctx, wopt)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.URL, "url", "http://127.0.0.1:8080", "server base URL")
	f.StringVarP(&opt.Character, "character", "c", "", "character id, name, or unique name prefix (for a one-to-one chat)")
	f.StringVar(&opt.Say, "say", "", "send this line, print the reply (or replies) and exit")
	f.StringVar(&opt.IdentityFile, "identity", "", "file keeping the guest identity (default $XDG_CONFIG_HOME/maopao/identity-<host>_<port>.json)")
	f.StringVar(&opt.Name, "name", "", "player name for a new guest identity")
	f.StringVarP(&wopt.World, "world", "w", "", "world id, name, or unique name prefix to join")
	f.StringVar(&wopt.Location, "location", "", "place in the world to join at (id, name or prefix; default the world's first)")
	f.StringVar(&wopt.To, "to", "", "with --world and --say: the character the line is addressed to")
	f.StringVar(&wopt.Private, "private", "", "with --world and --say: say the line privately to this character")
	f.DurationVar(&wopt.Timeout, "timeout", 60*time.Second, "with --world and --say: how long to wait for the replies")
	return cmd
}
