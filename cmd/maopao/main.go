// Command maopao is the single Maopao binary. Subcommands run the whole
// platform in one process (serve) or one role each (gateway, worldsim,
// engine), and talk to a running server (chat, account, card).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "maopao",
		Short:         "Maopao: AI characters in an open world, on a local Mixture-of-Experts engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newGatewayCmd(), newWorldsimCmd(), newEngineCmd(), newChatCmd(), newAccountCmd(), newCardCmd(), newModelCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "maopao:", err)
		os.Exit(1)
	}
}
