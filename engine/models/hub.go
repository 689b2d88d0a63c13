package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
)

// DefaultEndpoint is the Hugging Face Hub; HF_ENDPOINT replaces it (a
// mirror, or a test server), as the Hub's own tools do.
const DefaultEndpoint = "https://huggingface.co"

// Hub talks to the Hugging Face Hub's file list and download URLs. Its
// zero value uses HF_ENDPOINT (else DefaultEndpoint), HF_TOKEN and
// http.DefaultClient.
type Hub struct {
	Endpoint string
	Token    string // sent as a bearer token, for gated repositories
	HTTP     *http.Client
}

// FromEnv is a Hub configured as the Hugging Face tools are: HF_ENDPOINT
// and HF_TOKEN.
func FromEnv() *Hub {
	return &Hub{Endpoint: os.Getenv("HF_ENDPOINT"), Token: os.Getenv("HF_TOKEN")}
}

func (h *Hub) endpoint() string {
	if h == nil || h.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(h.Endpoint, "/")
}

func (h *Hub) client() *http.Client {
	if h == nil || h.HTTP == nil {
		return http.DefaultClient
	}
	return h.HTTP
}

// Remote is one file to download.
type Remote struct {
	Name   string // the installed model's name
	Repo   string // "" for a plain URL
	File   string // path in the repository, or the URL's last segment
	URL    string
	Size   int64  // -1 when unknown
	SHA256 string // hex; "" when the source publishes none
}

// HubError is an answer of the Hub that is not the file: a missing
// repository or file, a gated one, a server error.
type HubError struct {
	Status int
	What   string // the repository or URL
	Msg    string
}

func (e *HubError) Error() string { return e.Msg }

// treeEntry is one file of the Hub's tree API.
type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	LFS  *struct {
		OID  string `json:"oid"` // the SHA-256 of the file
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// Resolve turns what a user typed into the file to download: a catalogue
// name ("qwen3-30b-a3b"), a repository ("owner/repo", its Q4_K_M file),
// a repository and file or quantisation ("owner/repo:file.gguf",
// "owner/repo:Q8_0"), or a URL.
func (h *Hub) Resolve(ctx context.Context, ref string) (Remote, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return Remote{}, errors.New("models: name a model: a catalogue name, owner/repo[:file] or a URL")
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" {
			return Remote{}, fmt.Errorf("models: %q is not a URL", ref)
		}
		file := path.Base(u.Path)
		if !strings.HasSuffix(strings.ToLower(file), ".gguf") {
			return Remote{}, fmt.Errorf("models: %q does not name a .gguf file", ref)
		}
		return Remote{Name: strings.TrimSuffix(file, path.Ext(file)), File: file, URL: ref, Size: -1}, nil
	}
	if e, ok := Lookup(ref); ok {
		r, err := h.find(ctx, e.Repo, e.Quant)
		r.Name = e.Name
		return r, err
	}
	repo, want, _ := strings.Cut(ref, ":")
	if strings.Count(repo, "/") != 1 || strings.HasPrefix(repo, "/") || strings.HasSuffix(repo, "/") {
		return Remote{}, fmt.Errorf("models: %q is neither a catalogue name (%s) nor owner/repo[:file] nor a URL", ref, catalogueNames())
	}
	if want == "" {
		want = "Q4_K_M"
	}
	return h.find(ctx, repo, want)
}

func catalogueNames() string {
	var names []string
	for _, e := range Catalogue {
		names = append(names, e.Name)
	}
	return strings.Join(names, ", ")
}

// find picks the GGUF file of repo that want names: its path, or a
// quantisation in its name.
func (h *Hub) find(ctx context.Context, repo, want string) (Remote, error) {
	files, err := h.tree(ctx, repo)
	if err != nil {
		return Remote{}, err
	}
	var match []treeEntry
	var ggufs []string
	for _, f := range files {
		low := strings.ToLower(f.Path)
		if f.Type != "file" || !strings.HasSuffix(low, ".gguf") || strings.Contains(low, "mmproj") {
			continue
		}
		ggufs = append(ggufs, f.Path)
		if f.Path == want || strings.Contains(strings.ReplaceAll(low, "-", "_"), strings.ToLower(strings.ReplaceAll(want, "-", "_"))) {
			match = append(match, f)
		}
	}
	// Prefer an exact path, then files that are not split in parts.
	for _, f := range match {
		if f.Path == want {
			match = []treeEntry{f}
			break
		}
	}
	if len(match) > 1 {
		var whole []treeEntry
		for _, f := range match {
			if !strings.Contains(f.Path, "-of-") {
				whole = append(whole, f)
			}
		}
		match = whole
	}
	switch {
	case len(match) == 0 && len(ggufs) == 0:
		return Remote{}, &HubError{Status: http.StatusNotFound, What: repo, Msg: fmt.Sprintf("%s has no GGUF files", repo)}
	case len(match) == 0:
		return Remote{}, &HubError{Status: http.StatusNotFound, What: repo, Msg: fmt.Sprintf("%s has no GGUF file matching %q; it has: %s", repo, want, strings.Join(ggufs, ", "))}
	case len(match) > 1:
		var names []string
		for _, f := range match {
			names = append(names, f.Path)
		}
		return Remote{}, fmt.Errorf("models: %q matches several files of %s: %s; name one as %s:FILE", want, repo, strings.Join(names, ", "), repo)
	}
	f := match[0]
	r := Remote{Name: strings.TrimSuffix(path.Base(f.Path), path.Ext(f.Path)), Repo: repo, File: f.Path, Size: f.Size,
		URL: h.endpoint() + "/" + repo + "/resolve/main/" + escapePath(f.Path)}
	if f.LFS != nil {
		r.SHA256, r.Size = strings.ToLower(f.LFS.OID), f.LFS.Size
	}
	return r, nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// tree lists a repository's files.
func (h *Hub) tree(ctx context.Context, repo string) ([]treeEntry, error) {
	u := h.endpoint() + "/api/models/" + repo + "/tree/main?recursive=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	h.authorize(req)
	resp, err := h.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("models: list the files of %s: %w", repo, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, h.statusError(resp, repo)
	}
	var files []treeEntry
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&files); err != nil {
		return nil, fmt.Errorf("models: the file list of %s is not what the Hub sends: %w", repo, err)
	}
	return files, nil
}

func (h *Hub) authorize(req *http.Request) {
	if h != nil && h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
}

// statusError explains an answer that is not the file in words a user can
// act on.
func (h *Hub) statusError(resp *http.Response, what string) error {
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg := fmt.Sprintf("%s is gated or private (HTTP %d): accept its terms on the Hub and set HF_TOKEN to an access token that may read it", what, resp.StatusCode)
		if h != nil && h.Token != "" {
			msg = fmt.Sprintf("%s refused the token in HF_TOKEN (HTTP %d): check that it may read this repository (gated models need their terms accepted)", what, resp.StatusCode)
		}
		return &HubError{Status: resp.StatusCode, What: what, Msg: msg}
	case http.StatusNotFound:
		return &HubError{Status: resp.StatusCode, What: what, Msg: fmt.Sprintf("%s was not found (HTTP 404): check the name", what)}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return &HubError{Status: resp.StatusCode, What: what, Msg: fmt.Sprintf("%s answered HTTP %d: %s", what, resp.StatusCode, strings.TrimSpace(string(body)))}
}
