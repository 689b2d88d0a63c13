// Package hubtest is a stand-in for the Hugging Face Hub in tests: the tree
// API with sizes and SHA-256, resolve URLs that redirect to a file server
// honouring Range requests, gated repositories, and downloads that drop
// their connection or crawl on demand. Tests never touch the real Hub.
package hubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server mimics the Hugging Face Hub's endpoints: the tree API (sizes and SHA-256),
// resolve URLs that redirect to a file server honouring Range, and a gated
// repository that needs a token.
type Server struct {
	*httptest.Server
	mu        sync.Mutex
	files     map[string][]byte // "owner/repo/path" → content
	sha       map[string]string // overrides of the published SHA-256
	gated     map[string]bool   // repositories that need the token
	cutAfter  int64             // the next download stops after this many bytes (0: no cut)
	slow      time.Duration     // pause between 64 KiB pieces
	ranges    []string          // Range headers seen
	downloads int
}

// GoodToken is the token gated repositories accept.
const GoodToken = "hf_good"

// Start runs a mock Hub until the test ends.
func Start(t testing.TB) *Server {
	h := &Server{files: map[string][]byte{}, sha: map[string]string{}, gated: map[string]bool{}}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

// Add publishes a file in a repository.
func (h *Server) Add(repo, path string, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[repo+"/"+path] = data
}

// PublishSHA makes the tree API publish sum as the file's SHA-256.
func (h *Server) PublishSHA(repo, path, sum string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sha[repo+"/"+path] = sum
}

// Gate makes a repository answer 401 without the token GoodToken.
func (h *Server) Gate(repo string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gated[repo] = true
}

// CutNext makes the next download drop its connection after n bytes.
func (h *Server) CutNext(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cutAfter = n
}

// SetSlow pauses between 64 KiB pieces of every download.
func (h *Server) SetSlow(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.slow = d
}

// Downloads counts the file downloads served.
func (h *Server) Downloads() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.downloads
}

// LastRange is the Range header of the last download ("" for none).
func (h *Server) LastRange() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ranges) == 0 {
		return ""
	}
	return h.ranges[len(h.ranges)-1]
}

func (h *Server) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := r.URL.Path
	repoOf := func(s string) string {
		parts := strings.SplitN(strings.TrimPrefix(s, "/"), "/", 3)
		if len(parts) < 2 {
			return ""
		}
		return parts[0] + "/" + parts[1]
	}
	switch {
	case strings.HasPrefix(p, "/api/models/"):
		rest := strings.TrimPrefix(p, "/api/models/")
		repo := repoOf("/" + rest)
		if h.gated[repo] && r.Header.Get("Authorization") != "Bearer "+GoodToken {
			http.Error(w, "gated", http.StatusUnauthorized)
			return
		}
		var list []map[string]any
		for k, data := range h.files {
			if !strings.HasPrefix(k, repo+"/") {
				continue
			}
			sum := sha256.Sum256(data)
			oid := hex.EncodeToString(sum[:])
			if o, ok := h.sha[k]; ok {
				oid = o
			}
			list = append(list, map[string]any{"type": "file", "path": strings.TrimPrefix(k, repo+"/"), "size": 134, "oid": "gitsha",
				"lfs": map[string]any{"oid": oid, "size": len(data), "pointerSize": 134}})
		}
		if list == nil {
			http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(list)
	case strings.Contains(p, "/resolve/main/"):
		repo := repoOf(p)
		if h.gated[repo] && r.Header.Get("Authorization") != "Bearer "+GoodToken {
			http.Error(w, "gated", http.StatusUnauthorized)
			return
		}
		file := p[strings.Index(p, "/resolve/main/")+len("/resolve/main/"):]
		http.Redirect(w, r, "/cdn/"+repo+"/"+file, http.StatusFound)
	case strings.HasPrefix(p, "/cdn/"):
		data, ok := h.files[strings.TrimPrefix(p, "/cdn/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.downloads++
		h.ranges = append(h.ranges, r.Header.Get("Range"))
		start := int64(0)
		if rg := r.Header.Get("Range"); rg != "" {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
			if err != nil || n >= int64(len(data)) {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			start = n
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
			w.Header().Set("Content-Length", strconv.Itoa(len(data)-int(n)))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}
		body := data[start:]
		cut := h.cutAfter
		h.cutAfter = 0
		slow := h.slow
		h.mu.Unlock()
		defer h.mu.Lock()
		for sent := int64(0); sent < int64(len(body)); {
			n := min(int64(len(body))-sent, 64<<10)
			if cut > 0 && sent+n > cut {
				n = cut - sent
			}
			if _, err := w.Write(body[sent : sent+n]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			sent += n
			if cut > 0 && sent >= cut {
				// Drop the connection in the middle of the body.
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			if slow > 0 {
				select {
				case <-time.After(slow):
				case <-r.Context().Done():
					return
				}
			}
		}
	default:
		http.NotFound(w, r)
	}
}
