package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao/clients/chatcli"
)

// The creator commands keep their token in the same identity file as
// `maopao chat`, so a creator who logs in chats as themselves too.

type serverOpts struct {
	url      string
	identity string
}

func (o *serverOpts) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.url, "url", "http://127.0.0.1:8080", "server base URL")
	cmd.Flags().StringVar(&o.identity, "identity", "", "file keeping the identity (default $XDG_CONFIG_HOME/maopao/identity-<host>_<port>.json, shared with `maopao chat`)")
}

func (o *serverOpts) identityPath() (string, error) {
	if o.identity != "" {
		return o.identity, nil
	}
	return chatcli.DefaultIdentityPath(o.url)
}

// loggedIn reads the identity kept for the server, which must hold a token.
func (o *serverOpts) loggedIn() (string, chatcli.Identity, error) {
	path, err := o.identityPath()
	if err != nil {
		return "", chatcli.Identity{}, err
	}
	id, err := chatcli.LoadIdentity(path)
	if err != nil || id.Token == "" {
		return path, id, errors.New("no identity kept here: log in first with maopao account login")
	}
	return path, id, nil
}

func (o *serverOpts) endpoint(path string) (string, error) {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want http(s)://host[:port]", o.url)
	}
	return strings.TrimRight(o.url, "/") + path, nil
}

// newAccountCmd is `maopao account register|login`.
func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Register or log in as a creator on a running server",
		Long: `Register or log in as a creator on a running Maopao server.

The token is kept in the identity file ` + "`maopao chat`" + ` uses, so later chats
and card commands act as this account. Registering while the file holds a
guest identity turns that guest into the account, keeping its conversations.
The password comes from --password, else $MAOPAO_PASSWORD, else a prompt.`,
	}
	cmd.AddCommand(accountSubCmd("register", "Create an account (username: 3-32 letters, digits, '_', '-', '.'; password: 8+ characters)"),
		accountSubCmd("login", "Log in to an existing account"), accountRevokeCmd(), accountDeleteCmd())
	return cmd
}

// accountRevokeCmd is `maopao account sign-out-everywhere`.
func accountRevokeCmd() *cobra.Command {
	var o serverOpts
	cmd := &cobra.Command{
		Use:   "sign-out-everywhere",
		Short: "Make every token of this account stop working (other devices must log in again); keeps a new one here",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, id, err := o.loggedIn()
			if err != nil {
				return err
			}
			endpoint, err := o.endpoint("/api/v1/accounts/revoke-tokens")
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, endpoint, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+id.Token)
			var res struct {
				Token    string `json:"token"`
				PlayerID string `json:"player_id"`
				Username string `json:"username"`
			}
			if err := doJSON(req, &res); err != nil {
				return fmt.Errorf("sign out everywhere: %w", err)
			}
			if err := chatcli.SaveIdentity(path, chatcli.Identity{URL: o.url, Token: res.Token, PlayerID: res.PlayerID, Device: id.Device}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "signed %s out everywhere; a new token is kept in %s\n", res.Username, path)
			return err
		},
	}
	o.flags(cmd)
	return cmd
}

// accountDeleteCmd is `maopao account delete`.
func accountDeleteCmd() *cobra.Command {
	var (
		o        serverOpts
		password string
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete this account for good, with its chats, characters, worlds and what characters remember of it",
		Long: `Deletes the account kept in the identity file, after checking its password
again: its chats and messages, its characters (public ones too), its worlds,
characters' memories of it, and the username, which anyone may take after.
Every token of the account stops working. There is no undo.
The password comes from --password, else $MAOPAO_PASSWORD, else a prompt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, id, err := o.loggedIn()
			if err != nil {
				return err
			}
			pw, err := readPassword(cmd, password)
			if err != nil {
				return err
			}
			endpoint, err := o.endpoint("/api/v1/accounts/me")
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"password": pw})
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodDelete, endpoint, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+id.Token)
			req.Header.Set("Content-Type", "application/json")
			if err := doJSON(req, nil); err != nil {
				return fmt.Errorf("delete account: %w", err)
			}
			// The identity names a player that no longer exists.
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "account deleted; removed %s\n", path)
			return err
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&password, "password", "", "the account's password (else $MAOPAO_PASSWORD, else a prompt)")
	return cmd
}

func accountSubCmd(action, short string) *cobra.Command {
	var (
		o              serverOpts
		user, password string
	)
	cmd := &cobra.Command{
		Use:     action,
		Short:   short,
		Args:    cobra.NoArgs,
		Example: "  maopao account " + action + " --url http://127.0.0.1:8080 --user ada",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return errors.New("--user is required")
			}
			pw, err := readPassword(cmd, password)
			if err != nil {
				return err
			}
			return accountRun(cmd.Context(), cmd.OutOrStdout(), o, action, user, pw)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&user, "user", "", "username")
	cmd.Flags().StringVar(&password, "password", "", "password (visible to other local users in the process list; prefer $MAOPAO_PASSWORD or the prompt)")
	return cmd
}

func readPassword(cmd *cobra.Command, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv("MAOPAO_PASSWORD"); env != "" {
		return env, nil
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Password (shown as typed; set MAOPAO_PASSWORD to avoid the prompt): ")
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given")
	}
	return pw, nil
}

func accountRun(ctx context.Context, out io.Writer, o serverOpts, action, user, pw string) error {
	path, err := o.identityPath()
	if err != nil {
		return err
	}
	endpoint, err := o.endpoint("/api/v1/accounts/" + action)
	if err != nil {
		return err
	}
	fields := map[string]string{"username": user, "password": pw}
	prev, prevErr := chatcli.LoadIdentity(path)
	if prevErr == nil && prev.URL == o.url && prev.Device != "" {
		fields["device"] = prev.Device
	}
	body, _ := json.Marshal(fields)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if action == "register" {
		// A guest identity for this server becomes the account.
		if prevErr == nil && prev.Token != "" && prev.URL == o.url {
			req.Header.Set("Authorization", "Bearer "+prev.Token)
		}
	}
	var res struct {
		Token    string `json:"token"`
		PlayerID string `json:"player_id"`
		Username string `json:"username"`
		Device   string `json:"device"`
	}
	if err := doJSON(req, &res); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if err := chatcli.SaveIdentity(path, chatcli.Identity{URL: o.url, Token: res.Token, PlayerID: res.PlayerID, Device: res.Device}); err != nil {
		return err
	}
	verb := map[string]string{"register": "registered", "login": "logged in as"}[action]
	_, err = fmt.Fprintf(out, "%s %s (player %s); token kept in %s\n", verb, res.Username, res.PlayerID, path)
	return err
}

// newCardCmd is `maopao card import|export`.
func newCardCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "card", Short: "Import and export Character Cards on a running server"}
	cmd.AddCommand(cardImportCmd(), cardExportCmd())
	return cmd
}

func cardImportCmd() *cobra.Command {
	var (
		o          serverOpts
		visibility string
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Upload a Character Card (PNG, JSON or CHARX) as a new character; prints its id",
		Long: `Upload a Character Card (PNG, JSON or CHARX, at most 20 MiB) as a new
character owned by the logged-in account, and print the new character's id.
Warnings about what the card had but Maopao did not keep go to stderr.`,
		Example: "  maopao card import mira.png --url http://127.0.0.1:8080 --visibility public",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, warnings, err := cardImport(cmd.Context(), o, args[0], visibility)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), id)
			return err
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&visibility, "visibility", "", "public, unlisted or private (default private)")
	return cmd
}

func (o serverOpts) token() (string, error) {
	path, err := o.identityPath()
	if err != nil {
		return "", err
	}
	id, err := chatcli.LoadIdentity(path)
	if err != nil {
		return "", err
	}
	return id.Token, nil
}

func cardImport(ctx context.Context, o serverOpts, file, visibility string) (string, []string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", nil, err
	}
	return cardImportBytes(ctx, o, filepath.Base(file), data, visibility)
}

// cardImportBytes uploads a card held in memory under a file name (whose
// extension tells its format) and returns the new character's id.
func cardImportBytes(ctx context.Context, o serverOpts, file string, data []byte, visibility string) (string, []string, error) {
	tok, err := o.token()
	if err != nil {
		return "", nil, err
	}
	if tok == "" {
		return "", nil, errors.New("not logged in: run `maopao account login` (or register) first")
	}
	endpoint, err := o.endpoint("/api/v1/characters/import")
	if err != nil {
		return "", nil, err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if visibility != "" {
		if err := mw.WriteField("visibility", visibility); err != nil {
			return "", nil, err
		}
	}
	fw, err := mw.CreateFormFile("file", file)
	if err != nil {
		return "", nil, err
	}
	if _, err := fw.Write(data); err != nil {
		return "", nil, err
	}
	if err := mw.Close(); err != nil {
		return "", nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, &body)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	var res struct {
		ID       string   `json:"id"`
		Warnings []string `json:"warnings"`
	}
	if err := doJSON(req, &res); err != nil {
		return "", nil, fmt.Errorf("import %s: %w", file, err)
	}
	return res.ID, res.Warnings, nil
}

func cardExportCmd() *cobra.Command {
	var (
		o           serverOpts
		format, out string
	)
	cmd := &cobra.Command{
		Use:     "export ID",
		Short:   "Download a character as a Character Card (png, json or charx)",
		Example: "  maopao card export 2f0c... --format png -o mira.png --url http://127.0.0.1:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := cardExport(cmd.Context(), o, args[0], format, out, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if path != "-" {
				fmt.Fprintln(cmd.ErrOrStderr(), "wrote", path)
			}
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&format, "format", "png", "png, json or charx")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (\"-\" for stdout; default: the server's file name, in this folder)")
	return cmd
}

func cardExport(ctx context.Context, o serverOpts, id, format, out string, stdout io.Writer) (string, error) {
	endpoint, err := o.endpoint("/api/v1/characters/" + url.PathEscape(id) + "/export?format=" + url.QueryEscape(format))
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return "", err
	}
	// Anyone may export public characters; the token shows private ones.
	if tok, err := o.token(); err == nil && tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("export %s: %w", id, problemError(resp))
	}
	if out == "" {
		out = "character." + format
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
			// Only the base name: the server does not choose folders.
			out = filepath.Base(filepath.Clean("/" + params["filename"]))
		}
	}
	if out == "-" {
		_, err := io.Copy(stdout, resp.Body)
		return out, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", fmt.Errorf("export %s: read: %w", id, err)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return "", err
	}
	return out, nil
}

var httpClient = &http.Client{Timeout: 2 * time.Minute}

// doJSON sends req and decodes a 2xx JSON answer into dst, or returns the
// server's problem as the error.
func doJSON(req *http.Request, dst any) error {
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return problemError(resp)
	}
	if dst == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(dst); err != nil {
		return fmt.Errorf("unreadable answer from the server: %w", err)
	}
	return nil
}

// problemError turns an RFC 9457 problem answer into an error that says
// what the server said, field by field.
func problemError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p struct {
		Detail string `json:"detail"`
		Errors []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &p) != nil || p.Detail == "" {
		return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	msg := fmt.Sprintf("server answered %s: %s", resp.Status, p.Detail)
	if len(p.Errors) > 1 {
		var parts []string
		for _, e := range p.Errors {
			parts = append(parts, e.Path+": "+e.Message)
		}
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return errors.New(msg)
}
