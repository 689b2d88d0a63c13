package main

import "github.com/spf13/cobra"

// newEngineCmd is owned by the engine work; see engine/local.
func newEngineCmd() *cobra.Command {
	return &cobra.Command{Use: "engine", Short: "Run or exercise the local MoE engine"}
}
