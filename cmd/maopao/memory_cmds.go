package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/clients/chatcli"
)

// newMemoryCmd is `maopao memory list|add|pin|unpin|edit|forget`: the
// memory manager in the terminal, for the identity `maopao chat` keeps.
func newMemoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "memory",
		Short: "See and change what a character remembers about you",
		Long: `See and change what a character remembers about you from your chats with it:
lines you said, facts you told about yourself, and notes you wrote. Pinned
memories are in every prompt; forgotten ones in none. Uses the identity
` + "`maopao chat`" + ` keeps for --url.`,
	}
	cmd.AddCommand(memoryListCmd(), memoryAddCmd(), memoryEditCmd(), memoryPinCmd("pin", true), memoryPinCmd("unpin", false), memoryForgetCmd())
	return cmd
}

func memoryListCmd() *cobra.Command {
	var o serverOpts
	var character, worldRef string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List what a character remembers about you, one memory a line: id, pinned or not, kind, text",
		Example: "  maopao memory list --url http://127.0.0.1:8080 --character Mira",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := resolveCharacterID(cmd, o, character)
			if err != nil {
				return err
			}
			if worldRef != "" {
				return listWorldMemories(cmd, o, worldRef, id)
			}
			for offset := 0; ; {
				var page struct {
					Memories []maopao.ChatMemory `json:"memories"`
					Next     *int                `json:"next"`
				}
				q := url.Values{"character": {id}, "offset": {fmt.Sprint(offset)}, "limit": {"200"}}
				if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/memories?"+q.Encode(), nil, &page); err != nil {
					return fmt.Errorf("list memories: %w", err)
				}
				for _, m := range page.Memories {
					pin := "-"
					if m.Pinned {
						pin = "pinned"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\n", m.ID, pin, m.Kind, oneLine(chatcli.Clean(m.Text)))
				}
				if page.Next == nil {
					return nil
				}
				offset = *page.Next
			}
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&character, "character", "", "the character: its id or its name")
	worldFlag(cmd, &worldRef)
	return cmd
}

// worldFlag adds --world: the memories a world's resident has of you,
// rather than those of your one-to-one chats.
func worldFlag(cmd *cobra.Command, ref *string) {
	cmd.Flags().StringVar(ref, "world", "", "a world (id or name): the memories its resident has of you there")
}

// memoryPath is the REST path of memory id, in a world when worldID is set.
func memoryPath(id, worldID string) string {
	p := "/api/v1/memories/" + url.PathEscape(id)
	if worldID != "" {
		p += "?world=" + url.QueryEscape(worldID)
	}
	return p
}

// resolveWorldID takes a world's id, or its name (exactly, any case, or a
// unique prefix) among the worlds the player may see.
func resolveWorldID(cmd *cobra.Command, o serverOpts, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	var list struct {
		Worlds []maopao.World `json:"worlds"`
	}
	if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/worlds", nil, &list); err != nil {
		return "", fmt.Errorf("list worlds: %w", err)
	}
	var prefixed []maopao.World
	for _, w := range list.Worlds {
		if w.ID == ref || strings.EqualFold(w.Name, ref) {
			return w.ID, nil
		}
		if strings.HasPrefix(strings.ToLower(w.Name), strings.ToLower(ref)) {
			prefixed = append(prefixed, w)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0].ID, nil
	}
	return "", fmt.Errorf("--world %q: no single world of that id or name", ref)
}

func listWorldMemories(cmd *cobra.Command, o serverOpts, worldRef, characterID string) error {
	worldID, err := resolveWorldID(cmd, o, worldRef)
	if err != nil {
		return err
	}
	for offset := 0; ; {
		var page struct {
			Memories []maopao.MemoryRecord `json:"memories"`
			Next     *int                  `json:"next"`
		}
		q := url.Values{"world": {worldID}, "character": {characterID}, "offset": {fmt.Sprint(offset)}, "limit": {"200"}}
		if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/memories?"+q.Encode(), nil, &page); err != nil {
			return fmt.Errorf("list memories: %w", err)
		}
		for _, m := range page.Memories {
			pin := "-"
			if m.Pinned {
				pin = "pinned"
			}
			kind := string(m.Kind)
			if m.PrivateTo != "" {
				kind += " (private)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\n", m.ID, pin, kind, oneLine(chatcli.Clean(m.Text)))
		}
		if page.Next == nil {
			return nil
		}
		offset = *page.Next
	}
}

func memoryAddCmd() *cobra.Command {
	var o serverOpts
	var character string
	var pinned bool
	cmd := &cobra.Command{
		Use:     "add TEXT",
		Short:   "Write a note for a character to remember about you; prints its id",
		Example: `  maopao memory add --character Mira --pin "I am allergic to peanuts."`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := resolveCharacterID(cmd, o, character)
			if err != nil {
				return err
			}
			var m maopao.ChatMemory
			body := map[string]any{"text": args[0], "pinned": pinned}
			if err := authedJSON(cmd, o, http.MethodPost, "/api/v1/memories?character="+url.QueryEscape(id), body, &m); err != nil {
				return fmt.Errorf("add memory: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), m.ID)
			return err
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&character, "character", "", "the character: its id or its name")
	cmd.Flags().BoolVar(&pinned, "pin", false, "pin it: in every prompt")
	return cmd
}

func memoryEditCmd() *cobra.Command {
	var o serverOpts
	var worldRef string
	cmd := &cobra.Command{
		Use:   "edit ID TEXT",
		Short: "Rewrite a memory (it becomes your note)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			worldID, err := resolveWorldID(cmd, o, worldRef)
			if err != nil {
				return err
			}
			if err := authedJSON(cmd, o, http.MethodPatch, memoryPath(args[0], worldID), map[string]any{"text": args[1]}, nil); err != nil {
				return fmt.Errorf("edit memory: %w", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "rewrote %s\n", args[0])
			return err
		},
	}
	o.flags(cmd)
	worldFlag(cmd, &worldRef)
	return cmd
}

func memoryPinCmd(use string, pin bool) *cobra.Command {
	var o serverOpts
	var worldRef string
	short := "Pin a memory: the character has it in every prompt"
	if !pin {
		short = "Unpin a memory: it is recalled when it fits the conversation"
	}
	cmd := &cobra.Command{
		Use:     use + " ID",
		Short:   short,
		Example: "  maopao memory " + use + " 6f1c2b8e-… --url http://127.0.0.1:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			worldID, err := resolveWorldID(cmd, o, worldRef)
			if err != nil {
				return err
			}
			if err := authedJSON(cmd, o, http.MethodPatch, memoryPath(args[0], worldID), map[string]any{"pinned": pin}, nil); err != nil {
				return fmt.Errorf("%s memory: %w", use, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%sned %s\n", use, args[0])
			return err
		},
	}
	o.flags(cmd)
	worldFlag(cmd, &worldRef)
	return cmd
}

func memoryForgetCmd() *cobra.Command {
	var o serverOpts
	var worldRef string
	cmd := &cobra.Command{
		Use:     "forget ID",
		Short:   "Make the character forget a memory: it leaves every later prompt",
		Example: "  maopao memory forget 6f1c2b8e-… --url http://127.0.0.1:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			worldID, err := resolveWorldID(cmd, o, worldRef)
			if err != nil {
				return err
			}
			if err := authedJSON(cmd, o, http.MethodDelete, memoryPath(args[0], worldID), nil, nil); err != nil {
				return fmt.Errorf("forget memory: %w", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "forgot %s\n", args[0])
			return err
		},
	}
	o.flags(cmd)
	worldFlag(cmd, &worldRef)
	return cmd
}

// authedJSON calls the server's REST API with the identity kept for it:
// body (if any) as JSON in, a 2xx JSON answer into dst (if any).
func authedJSON(cmd *cobra.Command, o serverOpts, method, path string, body, dst any) error {
	tok, err := o.token()
	if err != nil || tok == "" {
		return errors.New("no identity kept for this server: log in with `maopao account login` (or chat once with `maopao chat --url …`)")
	}
	endpoint, err := o.endpoint(path)
	if err != nil {
		return err
	}
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, endpoint, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return doJSON(req, dst)
}

// resolveCharacterID takes a character's id, or its name (exactly, any
// case) among the characters the player may see.
func resolveCharacterID(cmd *cobra.Command, o serverOpts, character string) (string, error) {
	if character == "" {
		return "", errors.New("--character is required: the character's id or name")
	}
	var one struct {
		ID string `json:"id"`
	}
	if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/characters/"+url.PathEscape(character), nil, &one); err == nil && one.ID != "" {
		return one.ID, nil
	}
	var list struct {
		Characters []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"characters"`
	}
	if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/characters?limit=200&q="+url.QueryEscape(character), nil, &list); err != nil {
		return "", fmt.Errorf("find character %q: %w", character, err)
	}
	var found []string
	for _, c := range list.Characters {
		if strings.EqualFold(c.Name, character) {
			found = append(found, c.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no character %q", character)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%d characters are named %q; give the id (%s)", len(found), character, strings.Join(found, ", "))
}

// oneLine keeps a listed text on its line: the list is one memory a line,
// its fields apart by tabs.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
