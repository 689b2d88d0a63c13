package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/gateway"
)

// newWorldCmd is `maopao world list|create|edit|export|import`: worlds
// written as files, for creators who keep them in version control or move
// them between servers. docs/worlds.md describes the file.
func newWorldCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "world",
		Short: "Create, edit, export and import worlds on a running server",
		Long: `Create, edit, export and import worlds on a running server, as the logged-in
creator (maopao account login). A world body is the JSON of the REST API
(docs/worlds.md); a world file (export, import) is that body with the
residents' Character Cards (V3) inside, so the world moves to another server
whole. Edits apply to the running world at once.`,
	}
	cmd.AddCommand(worldListCmd(), worldCreateCmd(), worldEditCmd(), worldExportCmd(), worldImportCmd())
	return cmd
}

// WorldFileFormat names a Maopao world file.
const WorldFileFormat = "maopao-world"

// worldFile is a world with its residents' cards inside.
type worldFile struct {
	Format  string             `json:"format"`
	Version int                `json:"version"`
	World   gateway.WorldBody  `json:"world"`
	Cards   map[string]rawCard `json:"characters"` // by the character_id the residents use
}

// rawCard is a Character Card V3 as the server exported it, kept byte for
// byte.
type rawCard = json.RawMessage

func worldListCmd() *cobra.Command {
	var o serverOpts
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the worlds you can see, one a line: id, visibility, revision, name (yours marked *)",
		Example: "  maopao world list --url http://127.0.0.1:8080",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list gateway.WorldList
			if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/worlds", nil, &list); err != nil {
				return fmt.Errorf("list worlds: %w", err)
			}
			_, ident, _ := o.loggedIn()
			for _, w := range list.Worlds {
				mine := ""
				if w.OwnerID != "" && w.OwnerID == ident.PlayerID {
					mine = " *"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%d\t%s%s\n", w.ID, w.Visibility, w.Revision, oneLine(w.Name), mine)
			}
			return nil
		},
	}
	o.flags(cmd)
	return cmd
}

func worldCreateCmd() *cobra.Command {
	var o serverOpts
	cmd := &cobra.Command{
		Use:   "create FILE",
		Short: "Create a world from a world body (JSON; - for stdin); prints its id",
		Long: `Create a world from a world body, the JSON of POST /api/v1/worlds: name,
description, locations, residents (characters you may use, by id),
sim_minutes_per_second, visibility, lorebook. Prints the new world's id. A
world file made by export is taken too (its cards are imported first).`,
		Example: "  maopao world create market.json --url http://127.0.0.1:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInput(cmd, args[0])
			if err != nil {
				return err
			}
			if isWorldFile(data) {
				return importWorld(cmd, o, args[0], data, "")
			}
			var body gateway.WorldBody
			if err := decodeStrict(data, &body); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var wd maopao.World
			if err := authedJSON(cmd, o, http.MethodPost, "/api/v1/worlds", body, &wd); err != nil {
				return fmt.Errorf("create world: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), wd.ID)
			return err
		},
	}
	o.flags(cmd)
	return cmd
}

func worldEditCmd() *cobra.Command {
	var o serverOpts
	cmd := &cobra.Command{
		Use:   "edit ID [FILE]",
		Short: "Replace a world with a world body (JSON), or edit it in $EDITOR",
		Long: `Replace a world with the world body in FILE (- for stdin), or, without FILE,
open the world's body in $EDITOR (default vi) and save it when the editor
exits with changes. The edit is based on the revision the server had when
the command started (or the file's "revision", when it names one): if
someone saved in between, nothing is overwritten and the command says so.
A running world applies the new revision at once.`,
		Example: "  maopao world edit 2f0c... market.json --url http://127.0.0.1:8080\n  EDITOR=nano maopao world edit 2f0c... --url http://127.0.0.1:8080",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cur maopao.World
			if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/worlds/"+url.PathEscape(args[0]), nil, &cur); err != nil {
				return fmt.Errorf("load world %s: %w", args[0], err)
			}
			var data []byte
			var err error
			if len(args) == 2 {
				data, err = readInput(cmd, args[1])
			} else {
				data, err = editInEditor(cmd, bodyOf(cur))
				if errors.Is(err, errUnchanged) {
					fmt.Fprintln(cmd.ErrOrStderr(), "no changes; the world is as it was")
					return nil
				}
			}
			if err != nil {
				return err
			}
			var body gateway.WorldBody
			if err := decodeStrict(data, &body); err != nil {
				return fmt.Errorf("the world body: %w", err)
			}
			if body.Revision == 0 {
				body.Revision = cur.Revision
			}
			var wd maopao.World
			if err := authedJSON(cmd, o, http.MethodPut, "/api/v1/worlds/"+url.PathEscape(cur.ID), body, &wd); err != nil {
				return fmt.Errorf("save world %s: %w", cur.ID, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "saved %s revision %d\n", wd.ID, wd.Revision)
			return err
		},
	}
	o.flags(cmd)
	return cmd
}

func worldExportCmd() *cobra.Command {
	var (
		o   serverOpts
		out string
	)
	cmd := &cobra.Command{
		Use:     "export ID",
		Short:   "Write a world file: the world and its residents' Character Cards (V3)",
		Example: "  maopao world export 2f0c... -o market.world.json --url http://127.0.0.1:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var wd maopao.World
			if err := authedJSON(cmd, o, http.MethodGet, "/api/v1/worlds/"+url.PathEscape(args[0]), nil, &wd); err != nil {
				return fmt.Errorf("load world %s: %w", args[0], err)
			}
			f := worldFile{Format: WorldFileFormat, Version: 1, World: bodyOf(wd), Cards: map[string]rawCard{}}
			f.World.Revision = 0
			for _, r := range wd.Residents {
				var buf bytes.Buffer
				if _, err := cardExport(cmd.Context(), o, r.CharacterID, "json", "-", &buf); err != nil {
					return fmt.Errorf("resident %s: %w", r.CharacterID, err)
				}
				f.Cards[r.CharacterID] = buf.Bytes()
			}
			data, err := json.MarshalIndent(f, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if out == "" {
				out = slug(wd.Name) + ".world.json"
			}
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "wrote", out)
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", `file to write ("-" for stdout; default: the world's name + ".world.json")`)
	return cmd
}

func worldImportCmd() *cobra.Command {
	var (
		o          serverOpts
		visibility string
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Create a world from a world file: its cards become your characters; prints the world's id",
		Long: `Create a world from a world file (made by export): each resident's card is
imported as a new character of yours (with the world's visibility, so players
see the residents), then the world is created with them. Prints the new
world's id.`,
		Example: "  maopao world import market.world.json --url http://127.0.0.1:8080 --visibility public",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInput(cmd, args[0])
			if err != nil {
				return err
			}
			return importWorld(cmd, o, args[0], data, visibility)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&visibility, "visibility", "", "public, unlisted or private (default: the file's)")
	return cmd
}

// importWorld imports a world file's cards, then creates the world with
// the new characters in its residents' places.
func importWorld(cmd *cobra.Command, o serverOpts, name string, data []byte, visibility string) error {
	f, err := parseWorldFile(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	body := f.World
	if visibility != "" {
		body.Visibility = maopao.Visibility(visibility)
	}
	body.Revision = 0
	ids := map[string]string{}
	for _, r := range body.Residents {
		if ids[r.CharacterID] != "" {
			continue
		}
		id, warnings, err := cardImportBytes(cmd.Context(), o, "card.json", f.Cards[r.CharacterID], string(body.Visibility))
		if err != nil {
			return fmt.Errorf("import the card of %s: %w", r.CharacterID, err)
		}
		for _, w := range warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", r.CharacterID+":", w)
		}
		ids[r.CharacterID] = id
	}
	for i := range body.Residents {
		body.Residents[i].CharacterID = ids[body.Residents[i].CharacterID]
	}
	var wd maopao.World
	if err := authedJSON(cmd, o, http.MethodPost, "/api/v1/worlds", body, &wd); err != nil {
		return fmt.Errorf("create world: %w", err)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), wd.ID)
	return err
}

// parseWorldFile reads a world file: the format and version it must name,
// no unknown fields, and a card for every resident.
func parseWorldFile(data []byte) (worldFile, error) {
	if !isWorldFile(data) {
		return worldFile{}, fmt.Errorf("not a Maopao world file (no \"format\": %q; a world body goes to maopao world create)", WorldFileFormat)
	}
	var f worldFile
	if err := decodeStrict(data, &f); err != nil {
		return worldFile{}, err
	}
	if f.Version != 1 {
		return worldFile{}, fmt.Errorf("world file version %d; this maopao reads version 1", f.Version)
	}
	for i, r := range f.World.Residents {
		if len(f.Cards[r.CharacterID]) == 0 {
			return worldFile{}, fmt.Errorf("residents[%d]: no card for character %q in the file", i, r.CharacterID)
		}
	}
	return f, nil
}

// bodyOf is the editable part of a world, as a create or an edit sends it.
func bodyOf(w maopao.World) gateway.WorldBody {
	return gateway.WorldBody{Name: w.Name, Description: w.Description, Locations: w.Locations, Residents: w.Residents,
		SimMinutesPerSecond: w.SimMinutesPerSecond, Visibility: w.Visibility, Lorebook: w.Lorebook, Revision: w.Revision}
}

func isWorldFile(data []byte) bool {
	var probe struct {
		Format string `json:"format"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.Format == WorldFileFormat
}

// decodeStrict reads one JSON value, refusing unknown fields: a typo in a
// hand-written file should not be dropped in silence.
func decodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("not valid: %w", err)
	}
	if dec.More() {
		return errors.New("not valid: more than one JSON value")
	}
	return nil
}

// maxWorldFile bounds what is read: a world body is at most 4 MiB, its
// cards add at most some tens.
const maxWorldFile = 256 << 20

func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxWorldFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxWorldFile {
		return nil, fmt.Errorf("%s: more than %d MiB", name, maxWorldFile>>20)
	}
	return data, nil
}

var errUnchanged = errors.New("unchanged")

// editInEditor lets the creator edit v as JSON in $VISUAL or $EDITOR (vi
// by default) and returns the saved text, errUnchanged when nothing
// changed.
func editInEditor(cmd *cobra.Command, v any) ([]byte, error) {
	before, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	before = append(before, '\n')
	dir, err := os.MkdirTemp("", "maopao-world-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "world.json")
	if err := os.WriteFile(path, before, 0o600); err != nil {
		return nil, err
	}
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	// The variable may carry arguments ("code --wait"), as git allows.
	parts := strings.Fields(editor)
	ed := exec.CommandContext(cmd.Context(), parts[0], append(parts[1:], path)...)
	ed.Stdin, ed.Stdout, ed.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
	if err := ed.Run(); err != nil {
		return nil, fmt.Errorf("editor %q: %w (nothing saved)", editor, err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(bytes.TrimSpace(after), bytes.TrimSpace(before)) {
		return nil, errUnchanged
	}
	return after, nil
}

var notSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a file name of a world's name.
func slug(name string) string {
	s := strings.Trim(notSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if s == "" {
		return "world"
	}
	return s
}
