// Command maopao is the single Maopao binary. Subcommands run the whole
// platform in one process (serve) or one role each (gateway, worldsim,
// engine), and talk to a running server (chat, account, card).
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "maopao",
		Short:         "Maopao: AI characters in an open world, on a local Mixture-of-Experts engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(llamaCppSpellings(os.Args[1:]))
	root.AddCommand(newServeCmd(), newGatewayCmd(), newWorldsimCmd(), newEngineCmd(), newChatCmd(), newAccountCmd(), newCardCmd(), newModelCmd(), newMemoryCmd(), newWorldCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "maopao:", err)
		os.Exit(1)
	}
}

// llamaCppSpellings accepts llama.cpp's single-dash multi-letter flags
// (-ctk f16, -ctv=q8_0) as their long names, which the flag parser would
// otherwise read as bundles of one-letter flags.
func llamaCppSpellings(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "-ctk":
			name = "--cache-type-k"
		case "-ctv":
			name = "--cache-type-v"
		}
		if hasValue {
			name += "=" + value
		}
		out[i] = name
	}
	return out
}
