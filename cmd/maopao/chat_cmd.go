package main

import (
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao/clients/chatcli"
)

// newChatCmd is owned by the clients work; the logic is in clients/chatcli.
func newChatCmd() *cobra.Command {
	var opt chatcli.Options
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Chat with a character on a running server",
		Long: `Chat with a character on a running Maopao server.

With --say, sends one line, prints the reply as it streams in and exits.
Without it, prints the conversation so far and reads lines from stdin
(/quit or Ctrl-D to leave). The guest identity is kept in --identity, so
later runs continue the same conversation.`,
		Example: `  maopao chat --url http://127.0.0.1:8080 --character Mira --say "hello"
  maopao chat --url http://127.0.0.1:8080 --character mi`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			opt.Stdin, opt.Stdout, opt.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			return chatcli.Run(ctx, opt)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.URL, "url", "http://127.0.0.1:8080", "server base URL")
	f.StringVarP(&opt.Character, "character", "c", "", "character id, name, or unique name prefix (required)")
	f.StringVar(&opt.Say, "say", "", "send this line, print the reply and exit")
	f.StringVar(&opt.IdentityFile, "identity", "", "file keeping the guest identity (default $XDG_CONFIG_HOME/maopao/identity-<host>_<port>.json)")
	f.StringVar(&opt.Name, "name", "", "player name for a new guest identity")
	return cmd
}
