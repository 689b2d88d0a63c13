package main

import "github.com/spf13/cobra"

// newAccountCmd and newCardCmd are owned by the creator work; see gateway/creators_api.go.
func newAccountCmd() *cobra.Command {
	return &cobra.Command{Use: "account", Short: "Register or log in as a creator on a running server"}
}

func newCardCmd() *cobra.Command {
	return &cobra.Command{Use: "card", Short: "Import and export Character Cards on a running server"}
}
