// Package speech turns text into speech through an OpenAI-compatible
// /v1/audio/speech server (OpenAI's, LocalAI's, Kokoro-FastAPI's, a
// llama.cpp-family TTS server), and joins WAV pieces into one: replies are
// spoken a sentence at a time as they stream, and a whole message is the
// sentences one after another.
package speech

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxTextRunes bounds one synthesis request.
const MaxTextRunes = 1000

// maxAudioBytes bounds what is read back for one request.
const maxAudioBytes = 32 << 20

// Client speaks through an OpenAI-compatible speech server.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8880 (the /v1/audio/speech path is added)
	Model   string // the "model" field (default "tts-1")
	APIKey  string // sent as a bearer token when set
	Voice   string // the voice when a character names none (default "alloy")
	HTTP    *http.Client
}

// ErrUnavailable: the server could not be reached or failed; the page may
// fall back to the browser's own voices.
var ErrUnavailable = errors.New("speech: the speech server is unavailable")

// Synthesize speaks text in voice ("" for the client's default) and
// returns WAV audio.
func (c *Client) Synthesize(ctx context.Context, text, voice string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("speech: nothing to say")
	}
	if n := utf8.RuneCountInString(text); n > MaxTextRunes {
		return nil, fmt.Errorf("speech: %d characters, at most %d at once", n, MaxTextRunes)
	}
	if voice == "" {
		voice = c.Voice
	}
	if voice == "" {
		voice = "alloy"
	}
	model := c.Model
	if model == "" {
		model = "tts-1"
	}
	body, _ := json.Marshal(map[string]any{"model": model, "input": text, "voice": voice, "response_format": "wav"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/v1/audio/speech", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("speech: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAudioBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %v", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: %.200s", ErrUnavailable, resp.Status, bytes.TrimSpace(data))
	}
	if len(data) > maxAudioBytes {
		return nil, fmt.Errorf("%w: more than %d MiB of audio", ErrUnavailable, maxAudioBytes>>20)
	}
	if _, _, err := parseWAV(data); err != nil {
		return nil, fmt.Errorf("%w: the server's audio is not WAV: %v", ErrUnavailable, err)
	}
	return data, nil
}

// Sentences splits text into pieces of at most MaxTextRunes that end at
// sentence ends where they can (. ! ? … 。！？ and line breaks).
func Sentences(text string) []string {
	var out []string
	var cur strings.Builder
	n := 0
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
		n = 0
	}
	rs := []rune(text)
	for i, r := range rs {
		cur.WriteRune(r)
		n++
		end := strings.ContainsRune("。！？…\n", r) || (strings.ContainsRune(".!?", r) && (i+1 == len(rs) || unicode.IsSpace(rs[i+1])))
		if end || n >= MaxTextRunes {
			flush()
		}
	}
	flush()
	return out
}

// wavFormat is the fmt chunk of a WAV file.
type wavFormat []byte

// parseWAV finds the fmt and data chunks of a RIFF WAVE file.
func parseWAV(b []byte) (wavFormat, []byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, nil, errors.New("no RIFF WAVE header")
	}
	var format wavFormat
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size > len(body) {
			if id == "data" {
				size = len(body) // streamed WAVs may not know their length
			} else {
				return nil, nil, fmt.Errorf("chunk %q runs past the end", id)
			}
		}
		switch id {
		case "fmt ":
			format = wavFormat(body[:size])
		case "data":
			if format == nil {
				return nil, nil, errors.New("data before fmt")
			}
			return format, body[:size], nil
		}
		p += 8 + size + size%2
	}
	return nil, nil, errors.New("no data chunk")
}

// JoinWAV puts WAV pieces of one format one after another, as one file.
func JoinWAV(pieces [][]byte) ([]byte, error) {
	var format wavFormat
	var data bytes.Buffer
	for i, p := range pieces {
		f, d, err := parseWAV(p)
		if err != nil {
			return nil, fmt.Errorf("speech: piece %d: %w", i, err)
		}
		if format == nil {
			format = f
		} else if !bytes.Equal(format, f) {
			return nil, fmt.Errorf("speech: piece %d has another audio format", i)
		}
		data.Write(d)
	}
	if format == nil {
		return nil, errors.New("speech: no audio")
	}
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, binary.LittleEndian, uint32(4+8+len(format)+len(format)%2+8+data.Len()))
	out.WriteString("WAVEfmt ")
	binary.Write(&out, binary.LittleEndian, uint32(len(format)))
	out.Write(format)
	if len(format)%2 == 1 {
		out.WriteByte(0)
	}
	out.WriteString("data")
	binary.Write(&out, binary.LittleEndian, uint32(data.Len()))
	out.Write(data.Bytes())
	return out.Bytes(), nil
}
