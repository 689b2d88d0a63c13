package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Progress is how a download is going.
type Progress struct {
	Name    string
	Done    int64 // bytes on disk, resumed ones included
	Total   int64 // -1 when unknown
	Resumed int64 // bytes that were already there when this run started
	Speed   float64
	ETA     time.Duration // 0 when unknown
}

// Puller downloads models into Dir.
type Puller struct {
	Dir string
	Hub *Hub
	// Progress, when set, is called as bytes arrive (at most a few times a
	// second) and once at the end.
	Progress func(Progress)
	// FreeSpace reports the bytes free for dir; nil asks the file system.
	FreeSpace func(dir string) (uint64, error)
}

// diskMargin is kept free beyond the file: a full disk breaks everything
// else on the machine too.
const diskMargin = 256 << 20

// ErrChecksum is returned (wrapped) when a download is not the file the
// source published; nothing of it is kept.
var ErrChecksum = errors.New("checksum mismatch")

// Pull makes the model ref installed and returns it: resolved, downloaded
// next to its final name (resuming what an earlier run left), checked
// against the SHA-256 the Hub publishes and the GGUF magic, and only then
// renamed into place. An interrupted download (ctx ends, the connection
// drops) leaves its part for the next Pull to resume.
func (p *Puller) Pull(ctx context.Context, ref string) (Installed, error) {
	remote, err := p.Hub.Resolve(ctx, ref)
	if err != nil {
		return Installed{}, err
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return Installed{}, fmt.Errorf("models: create %s: %w", p.Dir, err)
	}
	target := filepath.Join(p.Dir, filepath.Base(remote.File))
	if m, err := readSidecar(target); err == nil && remote.SHA256 != "" && m.SHA256 == remote.SHA256 {
		if st, err := os.Stat(target); err == nil && st.Size() == remote.Size {
			return inspect(target)
		}
	}
	if err := p.download(ctx, remote, target); err != nil {
		return Installed{}, err
	}
	side := sidecar{Name: remote.Name, Repo: remote.Repo, File: remote.File, URL: remote.URL, SHA256: remote.SHA256, PulledAt: time.Now().UTC()}
	if err := writeSidecar(target, side); err != nil {
		return Installed{}, err
	}
	return inspect(target)
}

func (p *Puller) download(ctx context.Context, r Remote, target string) error {
	part := target + ".partial"
	have := int64(0)
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	if r.Size >= 0 && have > r.Size {
		have = 0 // not a part of this file
	}
	if r.Size > 0 {
		free, err := p.freeSpace(p.Dir)
		if err == nil && free < uint64(r.Size-have)+diskMargin {
			return fmt.Errorf("models: %s needs %s more on disk and %s has %s free; make room or choose a smaller model",
				r.Name, HumanBytes(r.Size-have+diskMargin), p.Dir, HumanBytes(int64(free)))
		}
	}
	if r.Size >= 0 && have == r.Size && have > 0 {
		return p.finish(r, part, target)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	p.Hub.authorize(req)
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := p.Hub.client().Do(req)
	if err != nil {
		return interrupted(ctx, r, fmt.Errorf("models: download %s: %w", r.Name, err))
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start := contentRangeStart(resp.Header.Get("Content-Range")); start != have {
			return fmt.Errorf("models: download %s: the server resumed at byte %d, not %d", r.Name, start, have)
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		have = 0 // no resume from this server: start over
		flags |= os.O_TRUNC
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		_ = os.Remove(part)
		return p.download(ctx, r, target)
	default:
		return p.Hub.statusError(resp, r.Name)
	}
	if r.Size < 0 {
		if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			r.Size = have + n
		}
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer f.Close()
	track := &progressWriter{p: p, name: r.Name, done: have, resumed: have, total: r.Size, start: time.Now()}
	_, copyErr := io.Copy(io.MultiWriter(f, track), resp.Body)
	track.report(true)
	if err := f.Sync(); err != nil && copyErr == nil {
		copyErr = err
	}
	if err := f.Close(); err != nil && copyErr == nil {
		copyErr = err
	}
	if copyErr != nil {
		return interrupted(ctx, r, fmt.Errorf("models: download %s: %w", r.Name, copyErr))
	}
	if r.Size >= 0 && track.done != r.Size {
		return fmt.Errorf("models: download %s: the connection ended after %s of %s; run the same command again to resume",
			r.Name, HumanBytes(track.done), HumanBytes(r.Size))
	}
	return p.finish(r, part, target)
}

// interrupted explains a download that stopped before its end.
func interrupted(ctx context.Context, r Remote, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("models: download of %s interrupted; run the same command again to resume: %w", r.Name, ctx.Err())
	}
	return fmt.Errorf("%w (run the same command again to resume)", err)
}

// finish checks a complete part and moves it into place.
func (p *Puller) finish(r Remote, part, target string) error {
	if r.SHA256 != "" {
		sum, err := fileSHA256(part)
		if err != nil {
			return fmt.Errorf("models: check %s: %w", r.Name, err)
		}
		if sum != r.SHA256 {
			_ = os.Remove(part)
			return fmt.Errorf("models: %s: the download's SHA-256 is %s, the Hub publishes %s; nothing was kept, try again: %w", r.Name, sum, r.SHA256, ErrChecksum)
		}
	}
	if err := checkMagic(part); err != nil {
		_ = os.Remove(part)
		return fmt.Errorf("models: %s: %w; nothing was kept", r.Name, err)
	}
	if err := os.Rename(part, target); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return syncDir(filepath.Dir(target))
}

func checkMagic(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != "GGUF" {
		return errors.New("the file is not a GGUF model")
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not every file system can; the rename is what matters
	return nil
}

// contentRangeStart reads the first byte of "bytes 100-199/200".
func contentRangeStart(v string) int64 {
	v = strings.TrimPrefix(strings.TrimSpace(v), "bytes ")
	start, _, ok := strings.Cut(v, "-")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func (p *Puller) freeSpace(dir string) (uint64, error) {
	if p.FreeSpace != nil {
		return p.FreeSpace(dir)
	}
	return diskFree(dir)
}

// progressWriter counts bytes and reports them now and then.
type progressWriter struct {
	p                    *Puller
	name                 string
	done, resumed, total int64
	start, last          time.Time
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.done += int64(len(b))
	w.report(false)
	return len(b), nil
}

func (w *progressWriter) report(final bool) {
	if w.p.Progress == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(w.last) < 200*time.Millisecond {
		return
	}
	w.last = now
	pr := Progress{Name: w.name, Done: w.done, Total: w.total, Resumed: w.resumed}
	if secs := now.Sub(w.start).Seconds(); secs > 0 {
		pr.Speed = float64(w.done-w.resumed) / secs
	}
	if pr.Speed > 0 && w.total > w.done {
		pr.ETA = time.Duration(float64(w.total-w.done) / pr.Speed * float64(time.Second))
	}
	w.p.Progress(pr)
}

// sidecar remembers where an installed file came from.
type sidecar struct {
	Name     string    `json:"name"`
	Repo     string    `json:"repo,omitempty"`
	File     string    `json:"file"`
	URL      string    `json:"url"`
	SHA256   string    `json:"sha256,omitempty"`
	PulledAt time.Time `json:"pulled_at"`
}

func sidecarPath(model string) string { return model + ".json" }

func readSidecar(model string) (sidecar, error) {
	var s sidecar
	b, err := os.ReadFile(sidecarPath(model))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func writeSidecar(model string, s sidecar) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := sidecarPath(model) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return os.Rename(tmp, sidecarPath(model))
}
