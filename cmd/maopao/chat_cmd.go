package main

import "github.com/spf13/cobra"

// newChatCmd is owned by the clients work; see clients/chatclient.
func newChatCmd() *cobra.Command {
	return &cobra.Command{Use: "chat", Short: "Chat with a character on a running server"}
}
